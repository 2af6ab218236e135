//! Ground-truth files for `ringfence eval`: `account_id,person_id,ring_id` (CSV).

use std::path::Path;

use graph_core::eval::TruthRow;

use crate::error::{Error, Result};

/// Reads a ground-truth CSV. `account_id` is required; `person_id` defaults to the account id
/// and an empty or missing `ring_id` means "not in a ring". Column order does not matter.
///
/// # Errors
/// Unreadable file, no header, no `account_id` column, or a malformed line (with its number).
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>> {
    let file = std::fs::File::open(path).map_err(|source| Error::OpenInput {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(std::io::BufReader::new(file));
    let unreadable = |row: Option<u64>, message: String| Error::UnreadableInput {
        path: path.to_path_buf(),
        format: "csv",
        row,
        message,
    };
    let headers = rdr
        .headers()
        .map_err(|e| unreadable(None, e.to_string()))?
        .clone();
    if headers.is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let account = col("account_id").ok_or_else(|| Error::MissingIdColumn {
        path: path.to_path_buf(),
        column: "account_id",
        available: headers.iter().collect::<Vec<_>>().join(", "),
    })?;
    let (person, ring) = (col("person_id"), col("ring_id"));
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| unreadable(Some(i as u64 + 1), e.to_string()))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let Some(account_id) = get(Some(account)) else {
            continue;
        };
        out.push(TruthRow {
            account_id: account_id.to_owned(),
            person_id: get(person).unwrap_or(account_id).to_owned(),
            ring_id: get(ring).map(str::to_owned),
        });
    }
    Ok(out)
}
