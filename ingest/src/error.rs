//! The crate's one error type.
//!
//! Errors name the file they concern (and the row, where one row is at fault), the way
//! ripgrep's `ignore::Error` wraps `WithPath` / `WithLineNumber`. [`Error::is_user_error`]
//! separates problems with the input or the options (the user can fix them) from internal
//! failures such as a full disk while writing the output.

use std::io;
use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop an ingest run. Row-level problems never do: they become rows of
/// `rejects.parquet`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file could not be opened or read from the start.
    #[error("{}: cannot open input: {source}", path.display())]
    OpenInput {
        /// The input file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// An input file has no header / no content at all.
    #[error("{}: file is empty (no header line)", path.display())]
    EmptyFile {
        /// The input file.
        path: PathBuf,
    },
    /// The input format could not be told from the file name and none was given.
    #[error(
        "{}: cannot tell the input format from the file name; use .csv, .tsv, .ndjson, .jsonl \
         or .parquet, or set `format` in the mapping file",
        path.display()
    )]
    UnknownFormat {
        /// The input file.
        path: PathBuf,
    },
    /// The file is not readable as the format it claims to be (corrupt Parquet, a header
    /// line that is not valid UTF-8, …).
    #[error("{}{}: unreadable {format} input: {message}", path.display(), fmt_row(*row))]
    UnreadableInput {
        /// The input file.
        path: PathBuf,
        /// The format the file was read as.
        format: &'static str,
        /// 1-based data row (or line) where reading failed, if known.
        row: Option<u64>,
        /// What went wrong.
        message: String,
    },
    /// After applying the mapping, the file has no column for the entity's id.
    #[error(
        "{}: no `{column}` column (after mapping); the file's columns are: {available}",
        path.display()
    )]
    MissingIdColumn {
        /// The input file.
        path: PathBuf,
        /// `account_id` or `inquiry_id`.
        column: &'static str,
        /// The file's columns, comma separated.
        available: String,
    },
    /// The mapping file names a source column that the file does not have.
    #[error(
        "{}: the mapping maps `{target}` to column `{column}`, but the file has no such column; \
         its columns are: {available}",
        path.display()
    )]
    MappingColumnMissing {
        /// The input file.
        path: PathBuf,
        /// The canonical field or custom kind being mapped.
        target: String,
        /// The missing source column.
        column: String,
        /// The file's columns, comma separated.
        available: String,
    },
    /// The mapping file itself is invalid (bad TOML, unknown field name, …).
    #[error("mapping{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Mapping {
        /// The mapping file, when it was read from one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// Not a single account row could be used, so there is nothing to link.
    #[error(
        "no usable account rows: {sources} account source(s) gave {rows_read} row(s), all rejected \
         or absent (see rejects)"
    )]
    NoAccountRows {
        /// Number of account sources.
        sources: usize,
        /// Rows read from them.
        rows_read: u64,
    },
    /// The options are inconsistent (no sources, `chunk_rows` of 0, …).
    #[error("invalid ingest options: {0}")]
    InvalidOptions(String),
    /// Reading an input failed part-way (I/O error after the file was opened).
    #[error("{}{}: read error: {source}", path.display(), fmt_row(*row))]
    ReadInput {
        /// The input file.
        path: PathBuf,
        /// 1-based data row being read, if known.
        row: Option<u64>,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// Writing an output file failed.
    #[error("{}: cannot write output: {message}", path.display())]
    WriteOutput {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A bug or an environment failure inside the pipeline (a worker thread died, …).
    #[error("internal error: {0}")]
    Internal(String),
}

fn fmt_row(row: Option<u64>) -> String {
    row.map(|r| format!(" row {r}")).unwrap_or_default()
}

impl Error {
    /// True when the input, the mapping or the options are at fault (a CLI reports these
    /// plainly and exits with a usage-style code); false for internal failures.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::OpenInput { .. }
            | Error::EmptyFile { .. }
            | Error::UnknownFormat { .. }
            | Error::UnreadableInput { .. }
            | Error::MissingIdColumn { .. }
            | Error::MappingColumnMissing { .. }
            | Error::Mapping { .. }
            | Error::NoAccountRows { .. }
            | Error::InvalidOptions(_) => true,
            Error::ReadInput { .. } | Error::WriteOutput { .. } | Error::Internal(_) => false,
        }
    }

    /// The file the error concerns, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::OpenInput { path, .. }
            | Error::EmptyFile { path }
            | Error::UnknownFormat { path }
            | Error::UnreadableInput { path, .. }
            | Error::MissingIdColumn { path, .. }
            | Error::MappingColumnMissing { path, .. }
            | Error::ReadInput { path, .. }
            | Error::WriteOutput { path, .. } => Some(path),
            Error::Mapping { path, .. } => path.as_deref(),
            Error::NoAccountRows { .. } | Error::InvalidOptions(_) | Error::Internal(_) => None,
        }
    }

    /// The 1-based data row the error concerns, if any.
    pub fn row(&self) -> Option<u64> {
        match self {
            Error::UnreadableInput { row, .. } | Error::ReadInput { row, .. } => *row,
            _ => None,
        }
    }

    pub(crate) fn write(path: &Path, err: impl std::fmt::Display) -> Error {
        Error::WriteOutput {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}
