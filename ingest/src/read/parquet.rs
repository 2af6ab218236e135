//! Parquet input, read with polars one row slice at a time; every column becomes text.
//!
//! Strings stay as they are, numbers and booleans are formatted by polars' string cast,
//! binary columns are decoded as UTF-8 (lossily), and anything polars cannot cast to a string
//! (lists, structs) is formatted value by value.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use super::{Chunk, ChunkReader, Row, Span, clean_header_name};
use crate::error::{Error, Result};

pub(crate) struct ParquetInput {
    path: PathBuf,
    columns: Vec<String>,
    /// The file's own column names (before trimming), in order.
    file_columns: Vec<String>,
    metadata: Option<FileMetadataRef>,
    total: usize,
    offset: usize,
}

impl std::fmt::Debug for ParquetInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetInput")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ParquetInput {
    pub(crate) fn open(path: &Path) -> Result<ParquetInput> {
        let file = File::open(path).map_err(|source| Error::OpenInput {
            path: path.to_path_buf(),
            source,
        })?;
        if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
            return Err(Error::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let unreadable = |e: PolarsError| Error::UnreadableInput {
            path: path.to_path_buf(),
            format: "parquet",
            row: None,
            message: e.to_string(),
        };
        let mut reader = ParquetReader::new(file);
        let schema = reader.schema().map_err(unreadable)?;
        let total = reader.num_rows().map_err(unreadable)?;
        let metadata = reader.get_metadata().map_err(unreadable)?.clone();
        let file_columns: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let columns = file_columns.iter().map(|c| clean_header_name(c)).collect();
        Ok(ParquetInput {
            path: path.to_path_buf(),
            columns,
            file_columns,
            metadata: Some(metadata),
            total,
            offset: 0,
        })
    }

    fn unreadable(&self, row: usize, e: impl std::fmt::Display) -> Error {
        Error::UnreadableInput {
            path: self.path.clone(),
            format: "parquet",
            row: Some(row as u64 + 1),
            message: e.to_string(),
        }
    }
}

/// Turns one column into optional strings, one per row.
fn column_strings(col: &Column) -> PolarsResult<Vec<Option<String>>> {
    match col.dtype() {
        DataType::String => Ok(col.str()?.iter().map(|v| v.map(str::to_owned)).collect()),
        DataType::Binary => Ok(col
            .binary()?
            .iter()
            .map(|v| v.map(|b| String::from_utf8_lossy(b).into_owned()))
            .collect()),
        _ => match col.cast(&DataType::String) {
            Ok(c) => Ok(c.str()?.iter().map(|v| v.map(str::to_owned)).collect()),
            Err(_) => {
                let s = col.as_materialized_series();
                Ok((0..s.len())
                    .map(|i| match s.get(i) {
                        Ok(AnyValue::Null) | Err(_) => None,
                        Ok(v) => Some(v.to_string()),
                    })
                    .collect())
            }
        },
    }
}

impl ChunkReader for ParquetInput {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn observed(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }

    fn rows_total(&self) -> Option<u64> {
        Some(self.total as u64)
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Chunk>> {
        if self.offset >= self.total {
            return Ok(None);
        }
        let file = File::open(&self.path).map_err(|source| Error::OpenInput {
            path: self.path.clone(),
            source,
        })?;
        let mut reader = ParquetReader::new(file)
            .with_slice(Some((self.offset, max_rows)))
            .with_columns(Some(self.file_columns.clone()));
        if let Some(m) = &self.metadata {
            reader.set_metadata(Arc::clone(m));
        }
        let df = reader
            .finish()
            .map_err(|e| self.unreadable(self.offset, e))?;
        let height = df.height();
        if height == 0 {
            self.offset = self.total;
            return Ok(None);
        }
        let ncols = self.columns.len();
        let mut chunk = Chunk::with_capacity(height);
        let first_span = chunk.start_row(ncols * height);
        for (j, col) in df.columns().iter().enumerate() {
            let values = column_strings(col).map_err(|e| self.unreadable(self.offset, e))?;
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    let span: Span = chunk.push_text(v);
                    chunk.set_span(first_span + i * ncols + j, span);
                }
            }
        }
        for i in 0..height {
            chunk.rows.push(Row::Parsed {
                number: (self.offset + i + 1) as u64,
                first: first_span + i * ncols,
                raw: None,
            });
        }
        self.offset += height;
        Ok(Some(chunk))
    }
}
