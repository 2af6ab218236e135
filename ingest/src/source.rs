//! Input sources and their formats.

use std::fmt;
use std::path::{Path, PathBuf};

use graph_core::EntityType;

/// An input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values with a header line (delimiter overridable by the mapping).
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet; every column is read as text.
    Parquet,
}

impl Format {
    /// Guesses the format from a file extension (`.csv`, `.tsv`, `.ndjson`, `.jsonl`,
    /// `.parquet`, case-insensitive).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::from_name(&ext)
    }

    /// Parses a format name as used in mapping files and on the command line.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// Whether its rows are accounts or inquiries.
    pub entity_type: EntityType,
    /// Its format; `None` means: the mapping's `format` for this entity type, else the file
    /// extension.
    pub format: Option<Format>,
}

impl Source {
    /// A source whose format comes from the mapping or the file extension.
    pub fn new(path: impl Into<PathBuf>, entity_type: EntityType) -> Source {
        Source {
            path: path.into(),
            entity_type,
            format: None,
        }
    }

    /// Builder: sets the format explicitly.
    pub fn with_format(mut self, format: Format) -> Source {
        self.format = Some(format);
        self
    }
}
