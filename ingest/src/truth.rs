//! Ground truth for `ringfence eval`: either a truth file (`account_id,person_id,ring_id`,
//! CSV), or any table fed through a mapping file whose `[accounts.truth]` section names the
//! column holding each row's true identity (how public record-linkage benchmarks ship it).

use std::path::Path;

use graph_core::Field;
use graph_core::eval::TruthRow;

use crate::error::{Error, Result};
use crate::mapping::{ColumnSpec, Mapping};
use crate::source::Format;

/// Reads a ground-truth CSV. `account_id` is required; `person_id` defaults to the account id
/// and an empty or missing `ring_id` means "not in a ring". Column order does not matter.
///
/// # Errors
/// Unreadable file, no header, no `account_id` column, or a malformed line (with its number).
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>> {
    read(
        path,
        b',',
        "account_id",
        Some("person_id"),
        Some("ring_id"),
        false,
    )
}

/// Reads the ground truth held in a table's own columns, as described by `mapping`: the id
/// column is the one `[accounts.columns] account_id` names (default `account_id`), the true
/// identity comes from `[accounts.truth] person_id`, the ring (optional) from
/// `[accounts.truth] ring_id`. CSV and TSV tables are read (the mapping's delimiter applies).
///
/// # Errors
/// As [`read_truth`]; [`Error::Mapping`] when the mapping has no `[accounts.truth] person_id`,
/// maps `account_id` to several columns or names a format other than CSV/TSV; a named column
/// missing from the table is [`Error::MappingColumnMissing`].
pub fn read_truth_mapped(path: &Path, mapping: &Mapping) -> Result<Vec<TruthRow>> {
    let err = |message: String| Error::Mapping {
        path: None,
        message,
    };
    let section = mapping
        .accounts
        .as_ref()
        .ok_or_else(|| err("has no [accounts] section, so it names no truth columns".into()))?;
    let person = section.truth.person_id.as_deref().ok_or_else(|| {
        err(
            "has no [accounts.truth] person_id: name the column holding each row's true identity"
                .into(),
        )
    })?;
    let id = match section.columns.get(&Field::AccountId) {
        None => "account_id",
        Some(ColumnSpec::One(c)) => c.as_str(),
        Some(ColumnSpec::Concat(_)) => {
            return Err(err(
                "[accounts.columns] account_id joins several columns; the truth table needs one id column"
                    .into(),
            ));
        }
    };
    let format = section.format.or_else(|| Format::from_path(path));
    let delimiter = match format {
        Some(Format::Tsv) => b'\t',
        None | Some(Format::Csv) => b',',
        Some(other) => {
            return Err(err(format!(
                "truth tables are read as CSV or TSV, not {}",
                other.as_str()
            )));
        }
    };
    read(
        path,
        section.delimiter.unwrap_or(delimiter),
        id,
        Some(person),
        section.truth.ring_id.as_deref(),
        true,
    )
}

/// `strict`: the person and ring columns were named by a mapping, so their absence is an
/// error rather than a default.
fn read(
    path: &Path,
    delimiter: u8,
    id_col: &str,
    person_col: Option<&str>,
    ring_col: Option<&str>,
    strict: bool,
) -> Result<Vec<TruthRow>> {
    let file = std::fs::File::open(path).map_err(|source| Error::OpenInput {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
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
    let available = || headers.iter().collect::<Vec<_>>().join(", ");
    // A UTF-8 byte-order mark sticks to the first header name.
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
    };
    let account = col(id_col).ok_or_else(|| {
        if strict {
            Error::MappingColumnMissing {
                path: path.to_path_buf(),
                target: "account_id".into(),
                column: id_col.to_owned(),
                available: available(),
            }
        } else {
            Error::MissingIdColumn {
                path: path.to_path_buf(),
                column: "account_id",
                available: available(),
            }
        }
    })?;
    let optional = |name: Option<&str>, target: &str| -> Result<Option<usize>> {
        match name {
            None => Ok(None),
            Some(n) => match col(n) {
                Some(i) => Ok(Some(i)),
                None if strict => Err(Error::MappingColumnMissing {
                    path: path.to_path_buf(),
                    target: target.to_owned(),
                    column: n.to_owned(),
                    available: available(),
                }),
                None => Ok(None),
            },
        }
    };
    let person = optional(person_col, "truth.person_id")?;
    let ring = optional(ring_col, "truth.ring_id")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn truth_file_defaults() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "t.csv",
            "\u{feff}account_id,ring_id\na1,\na2,r1\n,r9\n",
        );
        let t = read_truth(&p).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].person_id, "a1");
        assert_eq!(t[1].ring_id.as_deref(), Some("r1"));
    }

    #[test]
    fn mapped_truth_reads_the_tables_own_columns() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "bench.tsv",
            "rec_id\tgiven\tent\nr1\tann\te1\nr2\tanne\te1\nr3\tbob\te2\n",
        );
        let m = Mapping::from_toml_str(
            "[accounts]\ncolumns = { account_id = \"rec_id\", name_first = \"given\" }\ntruth = { person_id = \"ent\" }\n",
        )
        .unwrap();
        let t = read_truth_mapped(&p, &m).unwrap();
        let persons: Vec<_> = t
            .iter()
            .map(|r| (r.account_id.as_str(), r.person_id.as_str()))
            .collect();
        assert_eq!(persons, [("r1", "e1"), ("r2", "e1"), ("r3", "e2")]);
    }

    #[test]
    fn mapped_truth_errors_name_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "b.csv", "rec_id,ent\nr1,e1\n");
        let no_truth =
            Mapping::from_toml_str("[accounts]\ncolumns = { account_id = \"rec_id\" }\n").unwrap();
        let e = read_truth_mapped(&p, &no_truth).unwrap_err().to_string();
        assert!(e.contains("[accounts.truth] person_id"), "{e}");
        let wrong_col = Mapping::from_toml_str(
            "[accounts]\ncolumns = { account_id = \"rec_id\" }\ntruth = { person_id = \"entity\" }\n",
        )
        .unwrap();
        let e = read_truth_mapped(&p, &wrong_col).unwrap_err();
        assert!(e.is_user_error());
        assert!(e.to_string().contains("`entity`"), "{e}");
        let parquet = Mapping::from_toml_str(
            "[accounts]\nformat = \"parquet\"\ntruth = { person_id = \"ent\" }\n",
        )
        .unwrap();
        let e = read_truth_mapped(&p, &parquet).unwrap_err().to_string();
        assert!(e.contains("CSV or TSV"), "{e}");
        assert!(
            Mapping::from_toml_str("[accounts]\ntruth = { person = \"ent\" }\n").is_err(),
            "unknown keys in [accounts.truth] are rejected"
        );
    }
}
