//! Readers for the raw input formats. Each turns a file into a header (column names) and a
//! stream of [`Chunk`]s of at most `chunk_rows` rows whose values are all text.

mod csv;
mod ndjson;
mod parquet;

use std::path::Path;

use crate::error::Result;
use crate::source::Format;

/// Marks a null value in [`Chunk::spans`].
const NULL_LEN: u32 = u32::MAX;

/// A chunk may not grow its text arena past this, so spans fit in `u32`.
pub(crate) const MAX_CHUNK_TEXT: usize = 1 << 31;

/// One value: a range of [`Chunk::text`], or null.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub(crate) const NULL: Span = Span {
        start: 0,
        len: NULL_LEN,
    };
}

/// A row of a chunk.
#[derive(Debug)]
pub(crate) enum Row {
    /// A row whose values could be read: `ncols` spans from `first`.
    Parsed {
        /// 1-based row number in the file (header excluded).
        number: u64,
        /// Index of its first span.
        first: usize,
        /// The original line, for formats whose raw row is not a plain column list (NDJSON).
        raw: Option<Span>,
    },
    /// A row that could not be read at all.
    Bad {
        /// 1-based row number in the file (header excluded).
        number: u64,
        /// Stable machine code.
        code: &'static str,
        /// Human sentence.
        reason: String,
        /// The raw line text, lossily decoded.
        raw: String,
    },
}

/// A batch of rows with all their values in one text arena, so a chunk costs a handful of
/// allocations rather than one per value.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    text: String,
    spans: Vec<Span>,
    /// The rows, in file order.
    pub rows: Vec<Row>,
    /// Bytes of the input consumed so far (for progress), when the reader knows.
    pub bytes_done: Option<u64>,
}

impl Chunk {
    pub(crate) fn with_capacity(rows: usize) -> Chunk {
        Chunk {
            rows: Vec::with_capacity(rows),
            ..Chunk::default()
        }
    }

    /// Reserves room for `text` more bytes of values and `spans` more values, so a reader
    /// that knows the size of its previous chunk fills the next one without regrowing (each
    /// doubling copies the arena and touches fresh pages).
    pub(crate) fn reserve(&mut self, text: usize, spans: usize) {
        self.text.reserve(text);
        self.spans.reserve(spans);
    }

    /// The value at `first + col`, `None` when null.
    pub(crate) fn value(&self, first: usize, col: usize) -> Option<&str> {
        let span = self.spans.get(first + col)?;
        self.span_str(*span)
    }

    pub(crate) fn span_str(&self, span: Span) -> Option<&str> {
        if span.len == NULL_LEN {
            return None;
        }
        let start = span.start as usize;
        self.text.get(start..start + span.len as usize)
    }

    /// Appends a value to the arena and returns its span.
    pub(crate) fn push_text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        // The arena stays below MAX_CHUNK_TEXT (readers end a chunk before), so these fit.
        Span {
            start: start as u32,
            len: s.len() as u32,
        }
    }

    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Starts a parsed row of `ncols` null values and returns the index of its first span.
    pub(crate) fn start_row(&mut self, ncols: usize) -> usize {
        let first = self.spans.len();
        self.spans.resize(first + ncols, Span::NULL);
        first
    }

    pub(crate) fn set_span(&mut self, index: usize, span: Span) {
        if let Some(s) = self.spans.get_mut(index) {
            *s = span;
        }
    }

    pub(crate) fn push_span(&mut self, span: Span) {
        self.spans.push(span);
    }

    pub(crate) fn spans_len(&self) -> usize {
        self.spans.len()
    }

    /// The number of rows (parsed or bad).
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// A reader of one input file.
pub(crate) trait ChunkReader: Send {
    /// The columns each parsed row has values for, in order.
    fn columns(&self) -> &[String];
    /// Whether a column was actually seen in the file (for NDJSON, in its first
    /// [`ndjson::KEY_LINES`] lines; for the other formats, whether it is in the header).
    fn observed(&self, column: &str) -> bool;
    /// Reads up to `max_rows` more rows; `None` at end of file.
    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Chunk>>;
    /// Total rows when the format knows it up front (Parquet).
    fn rows_total(&self) -> Option<u64> {
        None
    }
}

/// Opens a reader for `path`.
///
/// `wanted` lists column names the caller may look up; NDJSON, whose keys can differ line to
/// line, extracts exactly those (plus the keys of its first lines).
pub(crate) fn open(
    path: &Path,
    format: Format,
    delimiter: Option<u8>,
    wanted: &[String],
) -> Result<Box<dyn ChunkReader>> {
    Ok(match format {
        Format::Csv => Box::new(csv::CsvReader::open(path, delimiter.unwrap_or(b','))?),
        Format::Tsv => Box::new(csv::CsvReader::open(path, delimiter.unwrap_or(b'\t'))?),
        Format::Ndjson => Box::new(ndjson::NdjsonReader::open(path, wanted)?),
        Format::Parquet => Box::new(parquet::ParquetInput::open(path)?),
    })
}

/// Trims header names and drops a UTF-8 byte-order mark.
pub(crate) fn clean_header_name(name: &str) -> String {
    name.trim_start_matches('\u{feff}').trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_from_the_arena() {
        let mut c = Chunk::with_capacity(1);
        let first = c.start_row(3);
        let a = c.push_text("alpha");
        let b = c.push_text("  beta ");
        c.set_span(first, a);
        c.set_span(first + 2, b);
        assert_eq!(c.value(first, 0), Some("alpha"));
        assert_eq!(c.value(first, 1), None);
        assert_eq!(c.value(first, 2), Some("  beta "));
        assert_eq!(c.value(first, 3), None);
        assert_eq!(c.text_len(), 12);
    }
}
