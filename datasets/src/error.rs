//! The crate's error type.

use std::path::PathBuf;

/// Errors from [`generate_to_dir`](crate::generate_to_dir).
///
/// [`Error::InvalidConfig`] is the caller's mistake; [`Error::Io`] comes from the file system.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`Config`](crate::Config) knob is out of range; the message names it.
    #[error("invalid dataset config: {0}")]
    InvalidConfig(String),
    /// Creating the output directory, or creating or writing a file, failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
