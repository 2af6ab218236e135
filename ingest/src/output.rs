//! The output files: their schemas (a versioned contract, see `ingest/README.md`) and the
//! incremental Parquet writers behind them.
//!
//! Each file is written under a temporary name in the output folder and renamed into place
//! only when the whole run has succeeded, `ingest_summary.json` last, so an interrupted run
//! never leaves files that look complete.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use graph_core::Field;
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::{
    DataFrame, DataType, ParquetCompression, ParquetWriter, PlSmallStr, Schema, StatisticsOptions,
};

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

/// Schema of `attributes.parquet`.
pub fn attributes_schema() -> Schema {
    schema(&[
        ("entity_idx", DataType::UInt32),
        ("kind", DataType::String),
        ("value", DataType::String),
    ])
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

/// A `Write` handle shared with the Parquet writer, so the buffer can be flushed and the file
/// synced after the writer has written its footer (polars' batched writer does not give its
/// sink back).
#[derive(Debug, Clone)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("writer lock poisoned"))?
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("writer lock poisoned"))?
            .flush()
    }
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

/// One Parquet output being written batch by batch.
pub(crate) struct ParquetOut {
    file: TempFile,
    sink: SharedFile,
    writer: BatchedWriter<SharedFile>,
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
    pub(crate) fn create(dir: &Path, name: &str, schema: &Schema) -> Result<ParquetOut> {
        let file = TempFile::new(dir, name);
        let f = File::create(&file.tmp).map_err(|e| Error::write(&file.dest, e))?;
        let sink = SharedFile(Arc::new(Mutex::new(BufWriter::with_capacity(1 << 20, f))));
        let writer = ParquetWriter::new(sink.clone())
            .with_compression(ParquetCompression::Snappy)
            .with_statistics(StatisticsOptions::default())
            .batched(schema)
            .map_err(|e| Error::write(&file.dest, e))?;
        Ok(ParquetOut {
            file,
            sink,
            writer,
            rows: 0,
        })
    }

    pub(crate) fn write(&mut self, df: &DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        self.writer
            .write_batch(df)
            .map_err(|e| Error::write(&self.file.dest, e))?;
        self.rows += df.height() as u64;
        Ok(())
    }

    /// Writes the footer, flushes and syncs; the file still has its temporary name.
    pub(crate) fn finish(self) -> Result<TempFile> {
        let dest = self.file.dest.clone();
        self.writer.finish().map_err(|e| Error::write(&dest, e))?;
        let mut guard = self
            .sink
            .0
            .lock()
            .map_err(|_| Error::write(&dest, "writer lock poisoned"))?;
        guard.flush().map_err(|e| Error::write(&dest, e))?;
        guard
            .get_ref()
            .sync_all()
            .map_err(|e| Error::write(&dest, e))?;
        drop(guard);
        Ok(self.file)
    }
}
