//! Parquet in and out (arrow-rs): reading the canonical ingest output, writing link results.
//!
//! Schemas are a versioned contract documented in `docs/data-contract.md`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Float64Builder, Int64Array, ListBuilder,
    RecordBatch, StringArray, StringBuilder, StringViewArray, TimestampMillisecondArray,
    UInt32Array, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field as ArrowField, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::keys::Keyer;
use crate::record::{EntityType, Label};
use crate::table::{Attributes, Entities, LinkInput};

/// Version of the output schemas, written into `summary.json`.
pub const SCHEMA_VERSION: u32 = 1;

fn pq_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the named columns of every row group of a Parquet file, in parallel, calling
/// `each(row_group_index, batches)`; results come back in row-group order.
fn read_row_groups<T: Send>(
    path: &Path,
    columns: &[&str],
    each: impl Fn(usize, Vec<RecordBatch>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| pq_err(path, e))?;
    let schema = builder.parquet_schema().clone();
    let arrow_schema = builder.schema().clone();
    for c in columns {
        if arrow_schema.field_with_name(c).is_err() {
            return Err(Error::Schema {
                path: path.to_path_buf(),
                message: format!("missing column `{c}` (is this an ingest output folder?)"),
            });
        }
    }
    let groups = builder.metadata().num_row_groups();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| {
            let root = schema.get_column_root(i).name();
            columns.contains(&root)
        })
        .collect();
    (0..groups)
        .into_par_iter()
        .map(|g| {
            let b = ParquetRecordBatchReaderBuilder::try_new(open(path)?)
                .map_err(|e| pq_err(path, e))?;
            let mask = ProjectionMask::leaves(b.parquet_schema(), leaves.iter().copied());
            let reader = b
                .with_projection(mask)
                .with_row_groups(vec![g])
                .with_batch_size(65_536)
                .build()
                .map_err(|e| pq_err(path, e))?;
            let batches = reader
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| pq_err(path, e))?;
            each(g, batches)
        })
        .collect()
}

fn column(path: &Path, batch: &RecordBatch, name: &str, ty: &DataType) -> Result<ArrayRef> {
    let col = batch.column_by_name(name).ok_or_else(|| Error::Schema {
        path: path.to_path_buf(),
        message: format!("missing column `{name}`"),
    })?;
    if col.data_type() == ty {
        return Ok(col.clone());
    }
    cast(col, ty).map_err(|e| Error::Schema {
        path: path.to_path_buf(),
        message: format!(
            "column `{name}` has type {} (expected {ty}): {e}",
            col.data_type()
        ),
    })
}

fn strings(path: &Path, batch: &RecordBatch, name: &str) -> Result<StringViewArray> {
    let a = column(path, batch, name, &DataType::Utf8View)?;
    a.as_any()
        .downcast_ref::<StringViewArray>()
        .cloned()
        .ok_or_else(|| pq_err(path, "string cast"))
}

fn prim<A: Array + Clone + 'static>(
    path: &Path,
    batch: &RecordBatch,
    name: &str,
    ty: DataType,
) -> Result<A> {
    let a = column(path, batch, name, &ty)?;
    a.as_any()
        .downcast_ref::<A>()
        .cloned()
        .ok_or_else(|| pq_err(path, format!("cast of `{name}`")))
}

/// Reads `entities.parquet` and `attributes.parquet` of an ingest output folder, computing
/// property keys with `keyer`.
///
/// # Errors
/// Missing files or columns, unreadable Parquet.
pub fn read_ingest_dir(dir: &Path, keyer: Keyer) -> Result<LinkInput> {
    read_ingest(dir, keyer, None)
}

/// Like [`read_ingest_dir`], but keeps only the attributes of `kinds` and computes no
/// property keys (every key is 0): for work that compares values instead of linking on
/// keys, such as duplicate detection, which then reads a fraction of the data.
///
/// # Errors
/// As [`read_ingest_dir`].
pub fn read_ingest_dir_kinds(dir: &Path, keyer: Keyer, kinds: &[&str]) -> Result<LinkInput> {
    read_ingest(dir, keyer, Some(kinds))
}

fn read_ingest(dir: &Path, keyer: Keyer, only: Option<&[&str]>) -> Result<LinkInput> {
    let epath = dir.join("entities.parquet");
    let cols = [
        "entity_id",
        "entity_type",
        "anchor_idx",
        "created_at_ms",
        "label",
    ];
    let parts = read_row_groups(&epath, &cols, |_, batches| {
        let mut e = Entities::default();
        e.reserve(batches.iter().map(RecordBatch::num_rows).sum());
        for b in batches {
            let id = strings(&epath, &b, "entity_id")?;
            let ty = strings(&epath, &b, "entity_type")?;
            let anchor: UInt32Array = prim(&epath, &b, "anchor_idx", DataType::UInt32)?;
            let created: Int64Array = prim(&epath, &b, "created_at_ms", DataType::Int64)?;
            let label = strings(&epath, &b, "label")?;
            for i in 0..b.num_rows() {
                let t = EntityType::parse(ty.value(i)).ok_or_else(|| Error::Schema {
                    path: epath.clone(),
                    message: format!("unknown entity_type `{}`", ty.value(i)),
                })?;
                let lab = if label.is_null(i) {
                    None
                } else {
                    match label.value(i) {
                        "fraud" => Some(Label::Fraud),
                        "legit" => Some(Label::Legit),
                        _ => None,
                    }
                };
                e.ids.push(id.value(i).to_owned());
                e.types.push(t);
                e.anchor.push(anchor.value(i));
                e.created_at
                    .push((!created.is_null(i)).then(|| created.value(i)));
                e.label.push(lab);
            }
        }
        Ok(e)
    })?;
    let mut entities = Entities::default();
    entities.reserve(parts.iter().map(Entities::len).sum());
    for p in parts {
        entities.ids.extend(p.ids);
        entities.types.extend(p.types);
        entities.anchor.extend(p.anchor);
        entities.created_at.extend(p.created_at);
        entities.label.extend(p.label);
    }
    let n = entities.len();
    if n >= u32::MAX as usize {
        return Err(Error::TooLarge(n));
    }
    if let Some(bad) = entities.anchor.iter().find(|&&a| a as usize >= n) {
        return Err(Error::Schema {
            path: epath,
            message: format!("anchor_idx {bad} out of range"),
        });
    }

    let apath = dir.join("attributes.parquet");
    let parts = read_row_groups(&apath, &["entity_idx", "kind", "value"], |_, batches| {
        let mut a = Attributes::default();
        // Sized once, up front, when every row is kept: growing by doubling copied each buffer
        // several times over and faulted in fresh pages each time.
        if only.is_none() {
            let mut bytes = 0;
            for b in &batches {
                bytes += strings(&apath, b, "value")?
                    .lengths()
                    .map(|l| l as usize)
                    .sum::<usize>();
            }
            a.reserve(batches.iter().map(RecordBatch::num_rows).sum(), bytes);
        }
        let mut last_kind: Option<(String, u16)> = None;
        for b in batches {
            let ent: UInt32Array = prim(&apath, &b, "entity_idx", DataType::UInt32)?;
            let kind = strings(&apath, &b, "kind")?;
            let value = strings(&apath, &b, "value")?;
            for i in 0..b.num_rows() {
                let e = ent.value(i);
                if e as usize >= n {
                    return Err(Error::Schema {
                        path: apath.clone(),
                        message: format!("entity_idx {e} out of range (entities: {n})"),
                    });
                }
                let k = kind.value(i);
                let kid = match &last_kind {
                    Some((name, id)) if name == k => *id,
                    _ if only.is_some_and(|o| !o.contains(&k)) => continue,
                    _ => {
                        let id = a.kind_id(k);
                        last_kind = Some((k.to_owned(), id));
                        id
                    }
                };
                if only.is_some() {
                    a.push_keyed(e, kid, 0, value.value(i));
                } else {
                    a.push(&keyer, e, kid, value.value(i));
                }
            }
        }
        Ok(a)
    })?;
    let attributes = Attributes::concat(parts);
    Ok(LinkInput {
        entities,
        attributes,
        keyer,
    })
}

/// Writes one record batch to `path` atomically (temp file, then rename).
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<()> {
    let tmp: PathBuf = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).map_err(|e| pq_err(path, e))?,
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| pq_err(path, e))?;
    w.write(batch).map_err(|e| pq_err(path, e))?;
    w.close().map_err(|e| pq_err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Column builder helpers for output tables.
#[derive(Debug, Default)]
pub struct TableBuilder {
    fields: Vec<ArrowField>,
    columns: Vec<ArrayRef>,
}

impl TableBuilder {
    /// A new, empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &str, nullable: bool, a: ArrayRef) -> Self {
        self.fields
            .push(ArrowField::new(name, a.data_type().clone(), nullable));
        self.columns.push(a);
        self
    }

    /// A non-null string column.
    pub fn str<S: AsRef<str>>(self, name: &str, values: impl IntoIterator<Item = S>) -> Self {
        let mut b = StringBuilder::new();
        for v in values {
            b.append_value(v.as_ref());
        }
        self.push(name, false, Arc::new(b.finish()))
    }

    /// A nullable string column.
    pub fn opt_str(self, name: &str, values: impl IntoIterator<Item = Option<String>>) -> Self {
        let a: StringArray = values.into_iter().collect();
        self.push(name, true, Arc::new(a))
    }

    /// A `u32` column.
    pub fn u32(self, name: &str, values: impl IntoIterator<Item = u32>) -> Self {
        self.push(
            name,
            false,
            Arc::new(values.into_iter().collect::<UInt32Array>()),
        )
    }

    /// A `u64` column.
    pub fn u64(self, name: &str, values: impl IntoIterator<Item = u64>) -> Self {
        self.push(
            name,
            false,
            Arc::new(values.into_iter().collect::<UInt64Array>()),
        )
    }

    /// An `f64` column.
    pub fn f64(self, name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        self.push(
            name,
            false,
            Arc::new(values.into_iter().collect::<Float64Array>()),
        )
    }

    /// A boolean column.
    pub fn bool(self, name: &str, values: impl IntoIterator<Item = bool>) -> Self {
        let a: BooleanArray = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(a))
    }

    /// A nullable UTC millisecond timestamp column.
    pub fn timestamp_ms(self, name: &str, values: impl IntoIterator<Item = Option<i64>>) -> Self {
        let a = values
            .into_iter()
            .collect::<TimestampMillisecondArray>()
            .with_timezone("UTC");
        let a: ArrayRef = Arc::new(a);
        let mut s = self;
        s.fields.push(ArrowField::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ));
        s.columns.push(a);
        s
    }

    /// A list-of-strings column.
    pub fn str_list(self, name: &str, values: impl IntoIterator<Item = Vec<String>>) -> Self {
        let mut b = ListBuilder::new(StringBuilder::new());
        for v in values {
            for s in v {
                b.values().append_value(s);
            }
            b.append(true);
        }
        self.push(name, false, Arc::new(b.finish()))
    }

    /// A list-of-`f64` column.
    pub fn f64_list(self, name: &str, values: impl IntoIterator<Item = Vec<f64>>) -> Self {
        let mut b = ListBuilder::new(Float64Builder::new());
        for v in values {
            b.values().append_slice(&v);
            b.append(true);
        }
        self.push(name, false, Arc::new(b.finish()))
    }

    /// Finishes the table.
    ///
    /// # Errors
    /// Columns of different lengths (a bug).
    pub fn finish(self) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(self.fields));
        RecordBatch::try_new(schema, self.columns).map_err(|e| Error::Parquet {
            path: PathBuf::from("<table>"),
            message: e.to_string(),
        })
    }
}

/// A string-column reader for result files (`clusters.parquet`, …), used by evaluation.
///
/// # Errors
/// Missing file or column.
pub fn read_columns(path: &Path, columns: &[&str]) -> Result<Vec<Vec<Option<String>>>> {
    let parts = read_row_groups(path, columns, |_, batches| {
        let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
        for b in batches {
            for (ci, c) in columns.iter().enumerate() {
                let a = column(path, &b, c, &DataType::Utf8)?;
                let s = a
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| pq_err(path, "cast"))?;
                out[ci]
                    .extend((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned())));
            }
        }
        Ok(out)
    })?;
    let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
    for p in parts {
        for (ci, v) in p.into_iter().enumerate() {
            out[ci].extend(v);
        }
    }
    Ok(out)
}
