//! The column-mapping file: how a customer's column names map onto the data contract.
//!
//! See `ingest/README.md` for the format; `tests/data/mapping_example.toml` is a full example.

use std::collections::BTreeMap;
use std::path::Path;

use graph_core::{EntityType, Field, kinds};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::source::Format;

/// A parsed mapping file: one optional section per entity type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// `[accounts]`.
    pub accounts: Option<EntityMapping>,
    /// `[inquiries]`.
    pub inquiries: Option<EntityMapping>,
}

/// Where the value of one canonical field or custom kind comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSpec {
    /// One source column.
    One(String),
    /// Several source columns, joined with a single space (blank parts skipped).
    Concat(Vec<String>),
}

impl ColumnSpec {
    /// The source columns named.
    pub fn columns(&self) -> &[String] {
        match self {
            ColumnSpec::One(c) => std::slice::from_ref(c),
            ColumnSpec::Concat(cs) => cs,
        }
    }
}

/// The mapping of one entity type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityMapping {
    /// Input format for this entity type's sources (else from the file extension).
    pub format: Option<Format>,
    /// Field delimiter for CSV-like input (one ASCII character).
    pub delimiter: Option<u8>,
    /// Canonical field → source column(s). The `address` alias is stored as
    /// [`Field::AddressStreet`].
    pub columns: BTreeMap<Field, ColumnSpec>,
    /// `strftime` format for `birthdate`.
    pub birthdate_format: Option<String>,
    /// `strftime` format for `created_at`.
    pub created_at_format: Option<String>,
    /// Custom kind → source column(s).
    pub custom: BTreeMap<String, ColumnSpec>,
    /// Ground-truth columns of this table (`[accounts.truth]`), read only by
    /// `ringfence eval --mapping`; ingest ignores them.
    pub truth: TruthColumns,
}

/// Where a table's own ground truth sits: the column holding the true identity (entity id) of
/// each row, and optionally its planted ring. Public record-linkage benchmarks ship their
/// truth this way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TruthColumns {
    /// Column with the true identity of the row (rows with the same value are duplicates).
    pub person_id: Option<String>,
    /// Column with the ring of the row (empty: not in a ring).
    pub ring_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    accounts: Option<SectionRepr>,
    inquiries: Option<SectionRepr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionRepr {
    format: Option<String>,
    delimiter: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, SpecRepr>,
    #[serde(default)]
    formats: FormatsRepr,
    #[serde(default)]
    custom: BTreeMap<String, SpecRepr>,
    #[serde(default)]
    truth: TruthRepr,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TruthRepr {
    person_id: Option<String>,
    ring_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FormatsRepr {
    birthdate: Option<String>,
    created_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SpecRepr {
    One(String),
    Many(Vec<String>),
}

impl Mapping {
    /// Reads and validates a mapping file.
    ///
    /// # Errors
    /// [`Error::Mapping`] when the file cannot be read or is invalid.
    pub fn from_toml_file(path: &Path) -> Result<Mapping> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Mapping {
            path: Some(path.to_path_buf()),
            message: format!("cannot read: {e}"),
        })?;
        Mapping::from_toml_str(&text).map_err(|e| match e {
            Error::Mapping { message, .. } => Error::Mapping {
                path: Some(path.to_path_buf()),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates a mapping from TOML text.
    ///
    /// # Errors
    /// [`Error::Mapping`] for invalid TOML, unknown keys or field names, a custom kind that
    /// shadows a built-in kind, an empty column list, a bad delimiter or format.
    pub fn from_toml_str(s: &str) -> Result<Mapping> {
        let repr: FileRepr = toml::from_str(s).map_err(|e| mapping_err(e.to_string()))?;
        Ok(Mapping {
            accounts: repr.accounts.map(|r| section(r, "accounts")).transpose()?,
            inquiries: repr
                .inquiries
                .map(|r| section(r, "inquiries"))
                .transpose()?,
        })
    }

    /// The section for an entity type, if the mapping has one.
    pub fn for_type(&self, entity_type: EntityType) -> Option<&EntityMapping> {
        match entity_type {
            EntityType::Account => self.accounts.as_ref(),
            EntityType::Inquiry => self.inquiries.as_ref(),
        }
    }
}

fn mapping_err(message: String) -> Error {
    Error::Mapping {
        path: None,
        message,
    }
}

fn spec(repr: SpecRepr, ctx: &str) -> Result<ColumnSpec> {
    match repr {
        SpecRepr::One(c) if c.trim().is_empty() => {
            Err(mapping_err(format!("{ctx}: empty column name")))
        }
        SpecRepr::One(c) => Ok(ColumnSpec::One(c.trim().to_owned())),
        SpecRepr::Many(cs) => {
            if cs.is_empty() || cs.iter().any(|c| c.trim().is_empty()) {
                return Err(mapping_err(format!(
                    "{ctx}: column list is empty or has an empty name"
                )));
            }
            let mut cs: Vec<String> = cs.into_iter().map(|c| c.trim().to_owned()).collect();
            Ok(if cs.len() == 1 {
                ColumnSpec::One(cs.remove(0))
            } else {
                ColumnSpec::Concat(cs)
            })
        }
    }
}

fn section(r: SectionRepr, name: &str) -> Result<EntityMapping> {
    let format = match r.format.as_deref() {
        None => None,
        Some(f) => Some(Format::from_name(f).ok_or_else(|| {
            mapping_err(format!(
                "[{name}] format `{f}` is not one of csv, tsv, ndjson, jsonl, parquet"
            ))
        })?),
    };
    let delimiter = match r.delimiter.as_deref() {
        None => None,
        Some(d) => {
            let d = if d == "\\t" { "\t" } else { d };
            match d.as_bytes() {
                [b] if b.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => Some(*b),
                _ => {
                    return Err(mapping_err(format!(
                        "[{name}] delimiter must be one ASCII character other than a quote or newline, got {d:?}"
                    )));
                }
            }
        }
    };
    let mut columns = BTreeMap::new();
    for (key, value) in r.columns {
        let field = if key == "address" {
            Field::AddressStreet
        } else {
            Field::from_name(&key).ok_or_else(|| {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                mapping_err(format!(
                    "[{name}.columns] `{key}` is not a canonical field; expected `address` or one of: {}",
                    names.join(", ")
                ))
            })?
        };
        let s = spec(value, &format!("[{name}.columns] {key}"))?;
        if columns.insert(field, s).is_some() {
            return Err(mapping_err(format!(
                "[{name}.columns] both `address` and `address_street` are mapped; use one"
            )));
        }
    }
    let mut custom = BTreeMap::new();
    for (kind, value) in r.custom {
        let valid = !kind.is_empty()
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(mapping_err(format!(
                "[{name}.custom] kind `{kind}` must be lower-case ASCII letters, digits and `_`"
            )));
        }
        if kinds::BUILT_IN.contains(&kind.as_str()) {
            return Err(mapping_err(format!(
                "[{name}.custom] kind `{kind}` is a built-in kind; map it under [{name}.columns] instead"
            )));
        }
        let s = spec(value, &format!("[{name}.custom] {kind}"))?;
        custom.insert(kind, s);
    }
    let truth_col = |c: Option<String>, key: &str| match c.map(|c| c.trim().to_owned()) {
        Some(c) if c.is_empty() => Err(mapping_err(format!(
            "[{name}.truth] {key}: empty column name"
        ))),
        other => Ok(other),
    };
    let truth = TruthColumns {
        person_id: truth_col(r.truth.person_id, "person_id")?,
        ring_id: truth_col(r.truth.ring_id, "ring_id")?,
    };
    Ok(EntityMapping {
        truth,
        format,
        delimiter,
        columns,
        birthdate_format: r.formats.birthdate,
        created_at_format: r.formats.created_at,
        custom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let m = Mapping::from_toml_str(
            r#"
            [accounts]
            format = "csv"
            delimiter = ";"
            [accounts.columns]
            account_id = "cust_no"
            address_street = ["house_no", "street"]
            name = "full_name"
            [accounts.formats]
            birthdate = "%Y%m%d"
            [accounts.custom]
            loyalty_id = "loyalty_no"
            [inquiries.columns]
            address = "addr_line"
            "#,
        )
        .expect("valid mapping");
        let a = m.accounts.as_ref().expect("accounts");
        assert_eq!(a.format, Some(Format::Csv));
        assert_eq!(a.delimiter, Some(b';'));
        assert_eq!(
            a.columns[&Field::AccountId],
            ColumnSpec::One("cust_no".into())
        );
        assert_eq!(
            a.columns[&Field::AddressStreet],
            ColumnSpec::Concat(vec!["house_no".into(), "street".into()])
        );
        assert_eq!(a.birthdate_format.as_deref(), Some("%Y%m%d"));
        assert_eq!(a.custom["loyalty_id"], ColumnSpec::One("loyalty_no".into()));
        let i = m.for_type(EntityType::Inquiry).expect("inquiries");
        assert_eq!(
            i.columns[&Field::AddressStreet],
            ColumnSpec::One("addr_line".into())
        );
    }

    #[test]
    fn rejects_bad_mappings() {
        for (toml, needle) in [
            ("[accounts.columns]\nemial = \"x\"", "emial"),
            ("[accounts.custom]\nemail = \"x\"", "built-in"),
            ("[accounts]\ndelimiter = \"ab\"", "delimiter"),
            ("[accounts]\nformat = \"xlsx\"", "xlsx"),
            (
                "[accounts.columns]\naddress = \"a\"\naddress_street = \"b\"",
                "both",
            ),
            ("[accounts.columns]\nname = []", "empty"),
            ("[acounts]\n", "acounts"),
        ] {
            let err = Mapping::from_toml_str(toml).expect_err(toml).to_string();
            assert!(err.contains(needle), "{toml}: {err}");
        }
    }

    #[test]
    fn tab_delimiter_escape() {
        let m = Mapping::from_toml_str("[accounts]\ndelimiter = \"\\\\t\"").expect("valid");
        assert_eq!(m.accounts.and_then(|a| a.delimiter), Some(b'\t'));
        let m = Mapping::from_toml_str("[accounts]\ndelimiter = \"\\t\"").expect("valid");
        assert_eq!(m.accounts.and_then(|a| a.delimiter), Some(b'\t'));
    }
}
