//! Resolving a mapping against a file's columns: which column (or columns) feeds each
//! canonical field and custom kind.

use std::path::Path;

use graph_core::{EntityType, Field, RawRecord};

use crate::error::{Error, Result};
use crate::mapping::{ColumnSpec, EntityMapping};
use crate::read::Chunk;

/// Where one value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Src {
    /// One column, by index.
    One(usize),
    /// Several columns joined with a space; `slot` indexes the row's concatenation buffer.
    Concat { cols: Vec<usize>, slot: usize },
}

/// The resolved column plan of one source file.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    entity_type: EntityType,
    /// Present canonical fields and their sources, in `Field::ALL` order.
    fields: Vec<(Field, Src)>,
    /// Custom kinds and their sources.
    custom: Vec<(String, Src)>,
    /// Number of concatenated sources.
    concat_slots: usize,
}

/// Every column name a mapping may look up for an entity type: canonical names and the
/// mapping's source columns.
pub(crate) fn wanted_columns(mapping: Option<&EntityMapping>) -> Vec<String> {
    let mut out: Vec<String> = Field::ALL.iter().map(|f| f.name().to_owned()).collect();
    if let Some(m) = mapping {
        for spec in m.columns.values().chain(m.custom.values()) {
            out.extend(spec.columns().iter().cloned());
        }
    }
    out
}

fn find_exact(columns: &[String], name: &str) -> Option<usize> {
    columns.iter().position(|c| c == name)
}

impl Plan {
    /// Resolves `mapping` against the file's `columns`.
    ///
    /// A canonical field the mapping does not mention is taken from the column of the same
    /// name (exact first, then case-insensitive), when there is one.
    ///
    /// # Errors
    /// [`Error::MappingColumnMissing`] when the mapping names a column the file lacks;
    /// [`Error::MissingIdColumn`] when nothing feeds the entity's id field.
    pub(crate) fn resolve(
        path: &Path,
        entity_type: EntityType,
        columns: &[String],
        observed: &dyn Fn(&str) -> bool,
        mapping: Option<&EntityMapping>,
    ) -> Result<Plan> {
        let available = || {
            let seen: Vec<&str> = columns
                .iter()
                .map(String::as_str)
                .filter(|c| observed(c))
                .collect();
            if seen.is_empty() {
                "(none)".to_owned()
            } else {
                seen.join(", ")
            }
        };
        let mut concat_slots = 0;
        let mut resolve_spec = |target: &str, spec: &ColumnSpec| -> Result<Src> {
            let mut cols = Vec::with_capacity(spec.columns().len());
            for name in spec.columns() {
                match find_exact(columns, name).filter(|_| observed(name)) {
                    Some(i) => cols.push(i),
                    None => {
                        return Err(Error::MappingColumnMissing {
                            path: path.to_path_buf(),
                            target: target.to_owned(),
                            column: name.clone(),
                            available: available(),
                        });
                    }
                }
            }
            Ok(match spec {
                ColumnSpec::One(_) => Src::One(cols[0]),
                ColumnSpec::Concat(_) => {
                    concat_slots += 1;
                    Src::Concat {
                        cols,
                        slot: concat_slots - 1,
                    }
                }
            })
        };
        let mut fields = Vec::new();
        for &field in Field::ALL {
            let mapped = mapping.and_then(|m| m.columns.get(&field));
            let src = match mapped {
                Some(spec) => Some(resolve_spec(field.name(), spec)?),
                None => find_exact(columns, field.name())
                    .or_else(|| {
                        columns
                            .iter()
                            .position(|c| c.eq_ignore_ascii_case(field.name()))
                    })
                    .map(Src::One),
            };
            if let Some(src) = src {
                fields.push((field, src));
            }
        }
        let mut custom = Vec::new();
        if let Some(m) = mapping {
            for (kind, spec) in &m.custom {
                custom.push((kind.clone(), resolve_spec(kind, spec)?));
            }
        }
        let id_field = match entity_type {
            EntityType::Account => Field::AccountId,
            EntityType::Inquiry => Field::InquiryId,
        };
        let id_present = fields.iter().any(|(f, src)| {
            *f == id_field
                && match src {
                    Src::One(c) => columns.get(*c).is_some_and(|name| observed(name)),
                    Src::Concat { .. } => true,
                }
        });
        if !id_present {
            return Err(Error::MissingIdColumn {
                path: path.to_path_buf(),
                column: id_field.name(),
                available: available(),
            });
        }
        Ok(Plan {
            entity_type,
            fields,
            custom,
            concat_slots,
        })
    }

    /// Whether the plan has a source for `field`.
    pub(crate) fn source(&self, field: Field) -> Option<&Src> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, s)| s)
    }

    /// The concatenated values of one row (one string per concat slot).
    pub(crate) fn concat_values(&self, chunk: &Chunk, first: usize) -> Vec<String> {
        if self.concat_slots == 0 {
            return Vec::new();
        }
        let mut out = vec![String::new(); self.concat_slots];
        let sources = self
            .fields
            .iter()
            .map(|(_, s)| s)
            .chain(self.custom.iter().map(|(_, s)| s));
        for src in sources {
            if let Src::Concat { cols, slot } = src {
                let buf = &mut out[*slot];
                for &c in cols {
                    let v = chunk.value(first, c).map(str::trim).unwrap_or("");
                    if !v.is_empty() {
                        if !buf.is_empty() {
                            buf.push(' ');
                        }
                        buf.push_str(v);
                    }
                }
            }
        }
        out
    }

    /// The raw value of a source for one row (`concat` from [`Plan::concat_values`]).
    pub(crate) fn value<'a>(
        src: &Src,
        chunk: &'a Chunk,
        first: usize,
        concat: &'a [String],
    ) -> Option<&'a str> {
        match src {
            Src::One(c) => chunk.value(first, *c),
            Src::Concat { slot, .. } => concat.get(*slot).map(String::as_str),
        }
    }

    /// Builds the row's [`RawRecord`].
    pub(crate) fn record<'a>(
        &'a self,
        chunk: &'a Chunk,
        first: usize,
        concat: &'a [String],
    ) -> RawRecord<'a> {
        let mut raw = RawRecord::new(self.entity_type);
        for (field, src) in &self.fields {
            raw.set(*field, Plan::value(src, chunk, first, concat));
        }
        for (kind, src) in &self.custom {
            if let Some(v) = Plan::value(src, chunk, first, concat).filter(|v| !v.trim().is_empty())
            {
                raw.custom.push((kind.as_str(), v));
            }
        }
        raw
    }
}
