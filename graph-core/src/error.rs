//! Errors of the graph engine.

use std::path::PathBuf;

/// Errors from graph-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The link configuration is invalid (caused by the user).
    #[error("invalid link configuration: {0}")]
    Config(String),
    /// An input file does not have the expected columns or types (caused by the user).
    #[error("{path}: {message}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Parquet or Arrow failed underneath.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// Two records of one type share an id (caused by the input).
    #[error("duplicate {entity_type} id {id:?}")]
    DuplicateId {
        /// `account` or `inquiry`.
        entity_type: &'static str,
        /// The id.
        id: String,
    },
    /// More entities than the engine's 32-bit indexes can address.
    #[error("too many entities: {0} (the limit is 4,294,967,294)")]
    TooLarge(usize),
}

impl Error {
    /// Whether the error was caused by input or configuration (as opposed to the machine).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Schema { .. }
                | Error::TooLarge(_)
                | Error::DuplicateId { .. }
        )
    }
}

/// Result with graph-core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
