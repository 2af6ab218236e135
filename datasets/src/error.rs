//! The crate's error type.

use std::path::PathBuf;

/// Errors from [`generate_to_dir`](crate::generate_to_dir).
///
/// [`Error::InvalidConfig`] is the caller's mistake; the others come from the file system.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`Config`](crate::Config) knob is out of range; the message names it.
    #[error("invalid dataset config: {0}")]
    InvalidConfig(String),
    /// Creating the output directory or a file failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a CSV record failed (in practice an I/O error underneath).
    #[error("cannot write CSV to {}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
