//! Ringfence ingest: raw CSV / TSV / NDJSON / Parquet files in, canonical Parquet out.
//!
//! This is the only crate that knows polars and the raw input formats. It maps the customer's
//! columns onto the data contract (optionally through a [`Mapping`] file), normalises every
//! row with [`graph_core::normalize_record`] (in parallel, output order = input order), and
//! writes into the output folder:
//!
//! - `entities.parquet`: one row per usable account or inquiry, numbered `entity_idx`
//!   `0..n` (accounts first), with each inquiry's `anchor_idx`, and the trimmed raw PII;
//! - `attributes.parquet`: one row per normalised graph attribute `(entity_idx, kind, value)`;
//! - `rejects.parquet`: every unusable row and every dropped field, with file, row, reason
//!   and the raw row;
//! - `ingest_summary.json`: the [`Summary`], written last.
//!
//! Schemas are documented in `ingest/README.md` (versioned by [`SCHEMA_VERSION`]).
//! Input is streamed in chunks of [`IngestOptions::chunk_rows`] rows; memory stays bounded
//! apart from the id → index maps used for duplicate detection and inquiry anchors.
//!
//! ```no_run
//! use graph_core::EntityType;
//! use ingest::{IngestOptions, Source};
//!
//! let opts = IngestOptions::new(
//!     vec![
//!         Source::new("accounts.csv", EntityType::Account),
//!         Source::new("inquiries.ndjson", EntityType::Inquiry),
//!     ],
//!     "out/",
//! );
//! let summary = ingest::run(&opts, &mut |_progress| {})?;
//! println!("{} entities, {} rows rejected", summary.totals.entities_written, summary.totals.rows_rejected);
//! # Ok::<(), ingest::Error>(())
//! ```

mod error;
mod ids;
mod mapping;
mod output;
mod pipeline;
mod plan;
mod read;
mod source;
mod summary;

use std::path::PathBuf;

use graph_core::{EntityType, NormalizeOptions};

pub use error::{Error, Result};
pub use mapping::{ColumnSpec, EntityMapping, Mapping, TruthColumns};
pub use output::{
    ATTRIBUTES_FILE, ENTITIES_FILE, REJECTS_FILE, SCHEMA_VERSION, SUMMARY_FILE, attributes_schema,
    entities_schema, pii_fields, rejects_schema,
};
pub use pipeline::run;
pub use source::{Format, Source};
pub use summary::{FileSummary, Summary, Totals};

/// Default number of rows per processing chunk (a chunk's accepted rows, up to 65,536, are one
/// row group of `entities.parquet`). The chunks in flight are most of ingest's memory, and
/// every byte of it is faulted in and zeroed by the kernel once: 65,536 rather than 262,144
/// halved the peak at 1M accounts (1.8 → 0.9 GB) for the same speed; 16,384 rather than
/// 65,536 took it from 1.15 to 0.65 GB and a few percent off the time, for an
/// `entities.parquet` 1.7% larger (smaller row groups; BENCHMARKS.md, twenty-third session).
pub const DEFAULT_CHUNK_ROWS: usize = 16_384;

/// What to ingest and where to put it.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Input files. Accounts are processed before inquiries whatever the order given (stable
    /// otherwise), so inquiries can be anchored to accounts.
    pub sources: Vec<Source>,
    /// Column mapping; `None` means the files use canonical column names.
    pub mapping: Option<Mapping>,
    /// Output folder (created if missing).
    pub out_dir: PathBuf,
    /// Normalisation options; the mapping's `[*.formats]` override the date formats per
    /// entity type.
    pub normalize: NormalizeOptions,
    /// Rows per processing chunk (default [`DEFAULT_CHUNK_ROWS`]).
    pub chunk_rows: usize,
    /// The deployment's keyer: with one, `attributes.parquet` also holds each row's property
    /// key and typed-filler flag (and the keyer's check), which a link with the same secret
    /// reads instead of hashing every value again. The CLI always passes one.
    pub keyer: Option<graph_core::Keyer>,
}

impl IngestOptions {
    /// Options with no mapping, default normalisation and the default chunk size.
    pub fn new(sources: Vec<Source>, out_dir: impl Into<PathBuf>) -> IngestOptions {
        IngestOptions {
            sources,
            mapping: None,
            out_dir: out_dir.into(),
            normalize: NormalizeOptions::default(),
            chunk_rows: DEFAULT_CHUNK_ROWS,
            keyer: None,
        }
    }
}

/// Progress events for a progress bar. Sent from the calling thread, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress {
    /// A file is about to be read.
    FileStarted {
        /// The file.
        path: PathBuf,
        /// What its rows are.
        entity_type: EntityType,
        /// The format it is read as.
        format: Format,
        /// Its size in bytes, when known.
        bytes_total: Option<u64>,
        /// Its row count, when the format knows it up front (Parquet).
        rows_total: Option<u64>,
    },
    /// A chunk of rows has been processed.
    Rows {
        /// The file.
        path: PathBuf,
        /// Rows processed so far in this file.
        rows_done: u64,
        /// Bytes of the file consumed so far, when known (CSV, NDJSON).
        bytes_done: Option<u64>,
    },
    /// A file is done.
    FileFinished {
        /// The file.
        path: PathBuf,
        /// Its counts.
        summary: FileSummary,
    },
}

mod truth;
pub use truth::{read_truth, read_truth_mapped};
