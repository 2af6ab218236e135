//! The output files: their schemas (a versioned contract, see `ingest/README.md`) and the
//! incremental Parquet writers behind them (arrow-rs: the batches are built as Arrow arrays
//! straight from the normalised rows, without a polars frame per chunk).
//!
//! Each file is written under a temporary name in the output folder and renamed into place
//! only when the whole run has succeeded, `ingest_summary.json` last, so an interrupted run
//! never leaves files that look complete.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{
    DataType as ArrowType, Field as ArrowField, Schema as ArrowSchema, SchemaRef,
};
use graph_core::durable::{WRITE_BACK_BYTES, WriteBack};
use graph_core::{Field, ParallelWriter};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use polars::prelude::{DataType, PlSmallStr, Schema};

use crate::error::{Error, Result};

/// Version of the output schemas; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// File names inside the output folder.
pub const ENTITIES_FILE: &str = "entities.parquet";
/// See [`ENTITIES_FILE`].
pub const ATTRIBUTES_FILE: &str = "attributes.parquet";
/// See [`ENTITIES_FILE`].
pub const REJECTS_FILE: &str = "rejects.parquet";
/// See [`ENTITIES_FILE`].
pub const SUMMARY_FILE: &str = "ingest_summary.json";

/// Canonical fields copied verbatim (trimmed) into `entities.parquet` after the fixed
/// columns: every field except those already represented by a fixed column.
pub fn pii_fields() -> impl Iterator<Item = Field> {
    Field::ALL.iter().copied().filter(|f| {
        !matches!(
            f,
            Field::AccountId | Field::InquiryId | Field::CreatedAt | Field::Status | Field::Label
        )
    })
}

fn schema(cols: &[(&str, DataType)]) -> Schema {
    cols.iter()
        .map(|(n, t)| (PlSmallStr::from(*n), t.clone()))
        .collect()
}

/// Schema of `entities.parquet`.
pub fn entities_schema() -> Schema {
    let mut cols = vec![
        ("entity_idx", DataType::UInt32),
        ("entity_id", DataType::String),
        ("entity_type", DataType::String),
        ("account_id", DataType::String),
        ("anchor_idx", DataType::UInt32),
        ("created_at_ms", DataType::Int64),
        ("status", DataType::String),
        ("label", DataType::String),
        ("source_file", DataType::String),
        ("source_row", DataType::UInt64),
    ];
    cols.extend(pii_fields().map(|f| (f.name(), DataType::String)));
    schema(&cols)
}

/// Schema of `attributes.parquet`; `with_keys` when ingest was given a keyer, which adds
/// each row's property key and typed-filler flag
/// ([`graph_core::ATTRIBUTE_KEY_COLUMN`], [`graph_core::ATTRIBUTE_FILLER_COLUMN`]).
pub fn attributes_schema(with_keys: bool) -> Schema {
    let mut cols = vec![
        ("entity_idx", DataType::UInt32),
        ("kind", DataType::String),
        ("value", DataType::String),
    ];
    if with_keys {
        cols.push((graph_core::ATTRIBUTE_KEY_COLUMN, DataType::UInt64));
        cols.push((graph_core::ATTRIBUTE_FILLER_COLUMN, DataType::Boolean));
    }
    schema(&cols)
}

/// Schema of `rejects.parquet`.
pub fn rejects_schema() -> Schema {
    schema(&[
        ("source_file", DataType::String),
        ("row_number", DataType::UInt64),
        ("entity_id", DataType::String),
        ("field", DataType::String),
        ("code", DataType::String),
        ("reason", DataType::String),
        ("raw", DataType::String),
        ("action", DataType::String),
    ])
}

/// A temporary file that is removed on drop unless it was renamed into place.
#[derive(Debug)]
pub(crate) struct TempFile {
    pub tmp: PathBuf,
    pub dest: PathBuf,
    committed: bool,
}

impl TempFile {
    pub(crate) fn new(dir: &Path, name: &str) -> TempFile {
        TempFile {
            tmp: dir.join(format!(".{name}.{}.tmp", std::process::id())),
            dest: dir.join(name),
            committed: false,
        }
    }

    pub(crate) fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.dest).map_err(|e| Error::write(&self.dest, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover temp file is harmless, just untidy.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Rows per row group of `entities.parquet` and `attributes.parquet`: the linker reads row
/// groups in parallel, so a file of a few large groups would read on one core.
pub(crate) const ROW_GROUP_ROWS: usize = 65_536;

/// The Arrow type written for a column of the (polars) output schema: strings as `Utf8View`,
/// the type polars wrote and the linker reads without a cast.
fn arrow_type(t: &DataType) -> ArrowType {
    match t {
        DataType::UInt32 => ArrowType::UInt32,
        DataType::UInt64 => ArrowType::UInt64,
        DataType::Int64 => ArrowType::Int64,
        DataType::Boolean => ArrowType::Boolean,
        _ => ArrowType::Utf8View,
    }
}

/// The Arrow schema of one of the output schemas (every column nullable, as polars wrote).
pub(crate) fn arrow_schema(schema: &Schema) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        schema
            .iter()
            .map(|(name, t)| ArrowField::new(name.as_str(), arrow_type(t), true))
            .collect::<Vec<_>>(),
    ))
}

/// How a column is written, when it should not get the default layout (dictionary encoding,
/// LZ4_RAW pages, statistics for numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Values that rarely repeat within a row group (ids, emails): no dictionary, which for
    /// them could only hash every value and then fall back to plain encoding.
    Unique,
    /// Values not worth compressing, without a dictionary: those that neither repeat nor
    /// compress (random device ids and fingerprints, indices in no order), and the attribute
    /// values, which LZ4 makes a third smaller (1.49 times at 1M accounts) but which every
    /// link and duplicate detection run reads back: at 1M accounts, uncompressed values made
    /// ingest 9% faster, the link's value reads twice as fast and `attributes.parquet` 32%
    /// larger.
    Uncompressed,
    /// Integers that ascend (entity indices, row numbers): delta-encoded, a bit or two a
    /// value, and not compressed further.
    Ascending,
}

/// The codec of compressed pages: LZ4_RAW rather than Snappy, for about the same size (the
/// attribute values at 1M accounts: 1.49 times smaller against 1.53) in less time, both to
/// compress and to decompress (about a third of Snappy's time). Zstandard level 1 makes the
/// files a third smaller but ingest about 6% slower.
const CODEC: Compression = Compression::LZ4_RAW;

/// File metadata entries (key, value).
pub(crate) type Metadata = Vec<(String, String)>;

/// The writer properties of a file of `schema` whose columns named in `layouts` are laid out
/// as given there (the others get the default layout), with `metadata` in its footer.
fn properties(
    schema: &ArrowSchema,
    layouts: &[(&str, Layout)],
    metadata: Metadata,
) -> WriterProperties {
    // Statistics (min, max, null count) for the numeric columns only: for strings the
    // running min and max compare every value, 3% of a run, for bounds nothing uses.
    let mut props = WriterProperties::builder()
        .set_compression(CODEC)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for f in schema.fields() {
        if f.data_type() != &ArrowType::Utf8View {
            props = props.set_column_statistics_enabled(
                ColumnPath::from(f.name().as_str()),
                EnabledStatistics::Chunk,
            );
        }
    }
    for &(name, layout) in layouts {
        let col = || ColumnPath::from(name);
        props = props.set_column_dictionary_enabled(col(), false);
        match layout {
            Layout::Unique => {}
            Layout::Uncompressed => {
                props = props.set_column_compression(col(), Compression::UNCOMPRESSED);
            }
            Layout::Ascending => {
                props = props
                    .set_column_encoding(col(), Encoding::DELTA_BINARY_PACKED)
                    .set_column_compression(col(), Compression::UNCOMPRESSED);
            }
        }
    }
    if !metadata.is_empty() {
        let kv = metadata.into_iter().map(|(k, v)| KeyValue::new(k, v));
        props = props.set_key_value_metadata(Some(kv.collect()));
    }
    props.build()
}

/// One Parquet output being written batch by batch (arrow-rs): each row group's columns are
/// encoded and compressed by their own rayon tasks (graph-core's [`ParallelWriter`]).
pub(crate) struct ParquetOut {
    file: TempFile,
    schema: SchemaRef,
    writer: ParallelWriter<BufWriter<WriteBack>>,
    pub rows: u64,
}

impl std::fmt::Debug for ParquetOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetOut")
            .field("file", &self.file)
            .field("rows", &self.rows)
            .finish()
    }
}

impl ParquetOut {
    /// Creates the file's temporary name for `schema`, its columns laid out as `layouts`
    /// says (see [`Layout`]; columns it does not name get the default layout).
    pub(crate) fn create(
        dir: &Path,
        name: &str,
        schema: &Schema,
        layouts: &[(&str, Layout)],
        metadata: Metadata,
    ) -> Result<ParquetOut> {
        let file = TempFile::new(dir, name);
        let f = File::create(&file.tmp)
            .and_then(|f| WriteBack::new(f, WRITE_BACK_BYTES))
            .map_err(|e| Error::write(&file.dest, e))?;
        let schema = arrow_schema(schema);
        let writer = ParallelWriter::try_new(
            BufWriter::with_capacity(1 << 20, f),
            schema.clone(),
            properties(&schema, layouts, metadata),
        )
        .map_err(|e| Error::write(&file.dest, e))?;
        Ok(ParquetOut {
            file,
            schema,
            writer,
            rows: 0,
        })
    }

    /// The Arrow schema batches must have.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Writes `batch` as row groups of at most [`ROW_GROUP_ROWS`] rows.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let dest = &self.file.dest;
        let mut at = 0;
        while at < batch.num_rows() {
            let n = ROW_GROUP_ROWS.min(batch.num_rows() - at);
            self.writer
                .write(&batch.slice(at, n))
                .and_then(|()| self.writer.close_group())
                .map_err(|e| Error::write(dest, e))?;
            at += n;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes the footer, flushes and syncs; the file still has its temporary name.
    pub(crate) fn finish(self) -> Result<TempFile> {
        let dest = &self.file.dest;
        let sink = self.writer.finish().map_err(|e| Error::write(dest, e))?;
        sink.into_inner()
            .map_err(|e| Error::write(dest, e.into_error()))?
            .sync_all()
            .map_err(|e| Error::write(dest, e))?;
        Ok(self.file)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::{Array, AsArray, StringViewArray, UInt32Array};
    use arrow::datatypes::UInt32Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn attributes(range: std::ops::Range<u32>, schema: &SchemaRef) -> RecordBatch {
        let kinds = ["email", "browser_fingerprint"];
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(UInt32Array::from_iter_values(range.clone())),
                Arc::new(StringViewArray::from_iter_values(
                    range.clone().map(|i| kinds[i as usize % 2]),
                )),
                Arc::new(StringViewArray::from_iter_values(
                    range.map(|i| format!("value number {i}")),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn batches_become_row_groups_of_at_most_65536_rows_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = ParquetOut::create(
            dir.path(),
            ATTRIBUTES_FILE,
            &attributes_schema(false),
            &[("entity_idx", Layout::Ascending), ("value", Layout::Unique)],
            Metadata::new(),
        )
        .unwrap();
        let schema = out.schema().clone();
        out.write(&attributes(0..100_000, &schema)).unwrap();
        out.write(&attributes(100_000..100_000, &schema)).unwrap();
        out.write(&attributes(100_000..150_000, &schema)).unwrap();
        assert_eq!(out.rows, 150_000);
        let file = out.finish().unwrap();
        file.commit().unwrap();

        let b = ParquetRecordBatchReaderBuilder::try_new(
            File::open(dir.path().join(ATTRIBUTES_FILE)).unwrap(),
        )
        .unwrap();
        let groups: Vec<i64> = b
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [65_536, 34_464, 50_000]);
        // Statistics for numbers only.
        let g = &b.metadata().row_groups()[0];
        assert!(g.column(0).statistics().is_some());
        assert!(g.column(2).statistics().is_none());
        // The layouts: ascending indices delta-encoded and not compressed, the values plain
        // and compressed, the kinds in a dictionary.
        assert_eq!(g.column(0).compression(), Compression::UNCOMPRESSED);
        assert!(
            g.column(0)
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED)
        );
        assert_eq!(g.column(1).compression(), CODEC);
        assert!(g.column(1).dictionary_page_offset().is_some());
        assert_eq!(g.column(2).compression(), CODEC);
        assert!(g.column(2).dictionary_page_offset().is_none());
        assert_eq!(b.schema().field(2).data_type(), &ArrowType::Utf8View);
        let mut at = 0u32;
        for batch in b.build().unwrap() {
            let batch = batch.unwrap();
            let idx = batch.column(0).as_primitive::<UInt32Type>();
            let kind = batch.column(1).as_string_view();
            let value = batch.column(2).as_string_view();
            for i in 0..batch.num_rows() {
                assert_eq!(idx.value(i), at);
                assert_eq!(
                    kind.value(i),
                    ["email", "browser_fingerprint"][at as usize % 2]
                );
                assert_eq!(value.value(i), format!("value number {at}"));
                assert!(value.is_valid(i));
                at += 1;
            }
        }
        assert_eq!(at, 150_000);
    }
}
