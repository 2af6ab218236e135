//! A strict, streaming CSV/TSV reader with row-level errors.
//!
//! General CSV parsers (polars' included) either stop at the first bad line or silently repair
//! it; ingest needs every bad line rejected on its own with its line number and raw text, and
//! the rest of the file read. The dialect is RFC 4180 with these choices:
//! - a field is quoted only if its first byte is `"`; inside, `""` is a quote; a bare `"`
//!   inside an unquoted field is kept as a literal character (common in real exports);
//! - text after a closing quote other than the delimiter or the line end (`"ab"cd`) makes the
//!   row `bad_quoting`;
//! - a quoted field still open at the end of the file (or after [`MAX_RECORD_BYTES`]) is
//!   `unterminated_quote`: only its first line is rejected and reading resumes on the next
//!   line, so one stray quote cannot swallow the rest of the file;
//! - `\n` and `\r\n` line ends; blank lines are skipped; a UTF-8 byte-order mark is dropped.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{Chunk, ChunkReader, MAX_CHUNK_TEXT, Row, Span, clean_header_name};
use crate::error::{Error, Result};

/// A record (one row, possibly spanning lines inside quotes) may not be longer than this.
const MAX_RECORD_BYTES: usize = 64 << 20;
const INITIAL_BUF: usize = 1 << 20;
/// End a chunk early once its text arena reaches this size.
const CHUNK_TEXT_SOFT_LIMIT: usize = MAX_CHUNK_TEXT / 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just saw a `"` inside a quoted field: either an escaped quote or the closing one.
    QuoteInQuoted,
    /// Saw `\r` right after a closing quote; only a line end may follow cleanly.
    AfterQuoteCr,
}

enum Record {
    /// End of input.
    Eof,
    /// An empty line.
    Blank { lines: u64 },
    /// A record; its fields are in the reader's scratch buffers, or, when `plain` (read by
    /// [`CsvReader::try_plain`]), lie within its raw text (see [`CsvReader::fields`]).
    Fields {
        raw_start: usize,
        raw_end: usize,
        bad_quote: bool,
        lines: u64,
        plain: bool,
    },
    /// A quoted field that never closes, or a record over the size limit.
    Runaway { in_quotes: bool },
}

pub(crate) struct CsvReader {
    path: PathBuf,
    input: File,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    delim: u8,
    header: Vec<String>,
    /// Physical lines taken by the header (and blank lines before it).
    header_lines: u64,
    /// Physical lines consumed so far.
    lines: u64,
    bytes_done: u64,
    /// The fields of the last record, one after the other, unquoted, unless the record was
    /// plain: then its raw text holds them, between delimiters and quotes.
    field_bytes: Vec<u8>,
    /// Where each field of the last record starts in its text ([`CsvReader::fields`]).
    field_starts: Vec<usize>,
    /// Where each field of the last record ends in its text.
    field_ends: Vec<usize>,
    /// Text bytes and spans of the previous chunk, to size the next one.
    last_chunk: (usize, usize),
    /// Whether lines take [`CsvReader::try_plain`] when they can (tests turn it off to
    /// compare it with the state machine).
    plain_lines: bool,
}

impl std::fmt::Debug for CsvReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CsvReader {
    pub(crate) fn open(path: &Path, delim: u8) -> Result<CsvReader> {
        CsvReader::open_with(path, delim, true, INITIAL_BUF)
    }

    /// [`CsvReader::open`], choosing whether simple lines take the fast path and
    /// the buffer's first size (tests make it tiny, so records cross refills).
    fn open_with(
        path: &Path,
        delim: u8,
        plain_lines: bool,
        initial_buf: usize,
    ) -> Result<CsvReader> {
        // The mapping accepts no other delimiter; the fast path relies on it.
        debug_assert!(delim.is_ascii() && !matches!(delim, b'"' | b'\n' | b'\r'));
        let input = File::open(path).map_err(|source| Error::OpenInput {
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = CsvReader {
            path: path.to_path_buf(),
            input,
            buf: vec![0; initial_buf.max(1)],
            pos: 0,
            end: 0,
            eof: false,
            delim,
            header: Vec::new(),
            header_lines: 0,
            lines: 0,
            bytes_done: 0,
            field_bytes: Vec::new(),
            field_starts: Vec::new(),
            field_ends: Vec::new(),
            last_chunk: (0, 0),
            plain_lines,
        };
        r.fill().map_err(|source| Error::OpenInput {
            path: path.to_path_buf(),
            source,
        })?;
        if r.buf[..r.end].starts_with(b"\xEF\xBB\xBF") {
            r.pos = 3;
            r.bytes_done = 3;
        }
        r.read_header()?;
        Ok(r)
    }

    fn unreadable(&self, message: String) -> Error {
        Error::UnreadableInput {
            path: self.path.clone(),
            format: "csv",
            row: None,
            message,
        }
    }

    fn read_header(&mut self) -> Result<()> {
        loop {
            match self.next_record().map_err(|source| Error::OpenInput {
                path: self.path.clone(),
                source,
            })? {
                Record::Eof => {
                    return Err(Error::EmptyFile {
                        path: self.path.clone(),
                    });
                }
                Record::Blank { lines } => self.lines += lines,
                Record::Runaway { .. } => {
                    return Err(self.unreadable(
                        "the header line has an unterminated quoted field".to_owned(),
                    ));
                }
                Record::Fields {
                    raw_start,
                    raw_end,
                    bad_quote,
                    lines,
                    plain,
                } => {
                    self.lines += lines;
                    if bad_quote {
                        return Err(self.unreadable(
                            "the header line has text after a closing quote".to_owned(),
                        ));
                    }
                    let text =
                        utf8_fields(self.fields(raw_start, raw_end, plain), &self.field_ends)
                            .map_err(|_| {
                                self.unreadable("the header line is not valid UTF-8".to_owned())
                            })?;
                    let header = self
                        .spans()
                        .map(|(start, end)| clean_header_name(text.get(start..end).unwrap_or("")))
                        .collect();
                    self.header = header;
                    self.header_lines = self.lines;
                    return Ok(());
                }
            }
        }
    }

    /// Reads more input into the buffer, keeping the unconsumed tail. Grows the buffer when
    /// it is full, so a record always fits.
    fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let new_len = self.buf.len() * 2;
            self.buf.resize(new_len, 0);
        }
        while self.end < self.buf.len() {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn next_record(&mut self) -> io::Result<Record> {
        loop {
            if let Some(rec) = self.try_parse() {
                return Ok(rec);
            }
            // The record runs past the buffered bytes.
            if self.end - self.pos >= MAX_RECORD_BYTES {
                let in_quotes = matches!(self.scan_state(), State::Quoted);
                return Ok(Record::Runaway { in_quotes });
            }
            self.fill()?;
        }
    }

    /// The parser state at the end of the buffered bytes (used only to word a runaway error).
    fn scan_state(&mut self) -> State {
        let mut state = State::FieldStart;
        for &b in &self.buf[self.pos..self.end] {
            state = match (state, b) {
                (State::FieldStart, b'"') => State::Quoted,
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::QuoteInQuoted, b'"') | (State::Quoted, _) => State::Quoted,
                (_, b'\n') => State::FieldStart,
                (_, c) if c == self.delim => State::FieldStart,
                _ => State::Unquoted,
            };
        }
        state
    }

    /// The text of the last record's fields: its raw text `buf[raw_start..raw_end]` when it
    /// was `plain`, else the unquoted copies in `field_bytes`, back to back. Field `k` is
    /// `field_starts[k]..field_ends[k]` of it ([`CsvReader::spans`]).
    fn fields(&self, raw_start: usize, raw_end: usize, plain: bool) -> &[u8] {
        if plain {
            self.buf.get(raw_start..raw_end).unwrap_or_default()
        } else {
            &self.field_bytes
        }
    }

    /// Where each field of the last record lies in [`CsvReader::fields`]: start and end.
    fn spans(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.field_starts
            .iter()
            .copied()
            .zip(self.field_ends.iter().copied())
    }

    /// A record on one line whose fields are read where they lie, without copying: cut at
    /// the delimiters, and a quoted field taken between its quotes. A line takes it when each
    /// of its quoted fields holds no quote and no line break and is followed by a delimiter
    /// or the line end ([`cut_quoted`]): lines without a quote (94% of the generator's account
    /// lines, 16% of its inquiry lines) and lines quoting a user agent because it contains
    /// commas (the other inquiry lines). `None` for any other line (the state machine of
    /// [`CsvReader::try_parse`] reads it: escaped quotes, line breaks in a field, text after
    /// a closing quote) or one that does not end in the buffered bytes.
    ///
    /// Copying each field into `field_bytes` and from there into the chunk was 5% of
    /// ingest's CPU: a byte-by-byte scan and two small copies per field.
    fn try_plain(&mut self) -> Option<Record> {
        let bytes = self.buf.get(self.pos..self.end)?;
        let (line, consumed) = match memchr::memchr(b'\n', bytes) {
            Some(t) => (&bytes[..t], t + 1),
            None if self.eof && !bytes.is_empty() => (bytes, bytes.len()),
            None => return None,
        };
        // A `\r\n` line end: the `\r` belongs to neither the last field nor the raw text
        // (after a closing quote too, as the state machine reads it).
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (starts, ends) = (&mut self.field_starts, &mut self.field_ends);
        starts.clear();
        ends.clear();
        if memchr::memchr(b'"', line).is_none() {
            if line.is_empty() {
                self.pos += consumed;
                self.bytes_done += consumed as u64;
                return Some(Record::Blank { lines: 1 });
            }
            starts.push(0);
            for d in memchr::memchr_iter(self.delim, line) {
                ends.push(d);
                starts.push(d + 1);
            }
            ends.push(line.len());
        } else if !cut_quoted(line, self.delim, starts, ends) {
            return None;
        }
        let raw_start = self.pos;
        self.pos += consumed;
        self.bytes_done += consumed as u64;
        Some(Record::Fields {
            raw_start,
            raw_end: raw_start + line.len(),
            bad_quote: false,
            lines: 1,
            plain: true,
        })
    }

    /// Parses one record from the buffer into the scratch vectors. `None` when more input is
    /// needed.
    fn try_parse(&mut self) -> Option<Record> {
        if self.plain_lines
            && let Some(rec) = self.try_plain()
        {
            return Some(rec);
        }
        let delim = self.delim;
        let bytes = &self.buf[self.pos..self.end];
        let fb = &mut self.field_bytes;
        let fe = &mut self.field_ends;
        fb.clear();
        fe.clear();
        let mut state = State::FieldStart;
        let mut bad_quote = false;
        let mut any_quote = false;
        let mut inner_newlines = 0u64;
        let mut i = 0;
        let mut term = None;
        while i < bytes.len() {
            let b = bytes[i];
            match state {
                State::Unquoted => {
                    // Hot loop: copy the run of ordinary bytes in one go.
                    let run = bytes[i..].iter().position(|&c| c == delim || c == b'\n');
                    match run {
                        Some(n) => {
                            fb.extend_from_slice(&bytes[i..i + n]);
                            i += n;
                            if bytes[i] == b'\n' {
                                term = Some(i);
                                break;
                            }
                            fe.push(fb.len());
                            state = State::FieldStart;
                        }
                        None => {
                            fb.extend_from_slice(&bytes[i..]);
                            i = bytes.len();
                            continue;
                        }
                    }
                }
                State::FieldStart => {
                    if b == b'"' {
                        any_quote = true;
                        state = State::Quoted;
                    } else if b == delim {
                        fe.push(fb.len());
                    } else if b == b'\n' {
                        term = Some(i);
                        break;
                    } else {
                        fb.push(b);
                        state = State::Unquoted;
                    }
                }
                State::Quoted => {
                    if b == b'"' {
                        state = State::QuoteInQuoted;
                    } else {
                        if b == b'\n' {
                            inner_newlines += 1;
                        }
                        fb.push(b);
                    }
                }
                State::QuoteInQuoted => {
                    if b == b'"' {
                        fb.push(b'"');
                        state = State::Quoted;
                    } else if b == delim {
                        fe.push(fb.len());
                        state = State::FieldStart;
                    } else if b == b'\n' {
                        term = Some(i);
                        break;
                    } else if b == b'\r' {
                        state = State::AfterQuoteCr;
                    } else {
                        bad_quote = true;
                        fb.push(b);
                        state = State::Unquoted;
                    }
                }
                State::AfterQuoteCr => {
                    if b == b'\n' {
                        term = Some(i);
                        break;
                    }
                    bad_quote = true;
                    if b == delim {
                        fe.push(fb.len());
                        state = State::FieldStart;
                    } else {
                        fb.push(b);
                        state = State::Unquoted;
                    }
                }
            }
            i += 1;
        }
        let (raw_end, consumed, lines) = match term {
            Some(t) => (t, t + 1, inner_newlines + 1),
            None if !self.eof => return None,
            None if bytes.is_empty() => return Some(Record::Eof),
            None if state == State::Quoted => return Some(Record::Runaway { in_quotes: true }),
            None => (bytes.len(), bytes.len(), inner_newlines + 1),
        };
        // Drop the `\r` of a `\r\n` line end from an unquoted last field and from the raw text.
        let mut raw_end_trim = raw_end;
        if raw_end > 0 && bytes[raw_end - 1] == b'\r' {
            raw_end_trim -= 1;
            if state == State::Unquoted && fb.last() == Some(&b'\r') {
                fb.pop();
            }
        }
        let raw_start = self.pos;
        self.pos += consumed;
        self.bytes_done += consumed as u64;
        if fe.is_empty() && fb.is_empty() && !any_quote {
            return Some(Record::Blank { lines });
        }
        fe.push(fb.len());
        // The fields lie back to back: each starts where the one before ends.
        let fs = &mut self.field_starts;
        fs.clear();
        fs.push(0);
        fs.extend_from_slice(&fe[..fe.len() - 1]);
        Some(Record::Fields {
            raw_start,
            raw_end: raw_start + raw_end_trim,
            bad_quote,
            lines,
            plain: false,
        })
    }

    /// Rejects the first line of a runaway record: returns its text and moves past it.
    fn skip_line(&mut self) -> io::Result<String> {
        let mut text = Vec::new();
        loop {
            let avail = &self.buf[self.pos..self.end];
            if let Some(n) = avail.iter().position(|&c| c == b'\n') {
                if text.len() < 4096 {
                    text.extend_from_slice(&avail[..n.min(4096)]);
                }
                self.pos += n + 1;
                self.bytes_done += n as u64 + 1;
                break;
            }
            if text.len() < 4096 {
                text.extend_from_slice(&avail[..avail.len().min(4096)]);
            }
            self.bytes_done += avail.len() as u64;
            self.pos = self.end;
            if self.eof {
                break;
            }
            self.fill()?;
            if self.pos == self.end && self.eof {
                break;
            }
        }
        self.lines += 1;
        if text.last() == Some(&b'\r') {
            text.pop();
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}

/// Cuts a line (its line end removed) that has a quote into fields where they lie, into
/// `starts` and `ends`: a field is either quoted, holding no quote, and followed by a
/// delimiter or the line's end, or unquoted (not starting with a quote; a quote inside it is
/// kept as it is). `false` for any other line (the state machine reads it; the lists are then
/// left part-filled).
fn cut_quoted(line: &[u8], delim: u8, starts: &mut Vec<usize>, ends: &mut Vec<usize>) -> bool {
    let mut i = 0;
    loop {
        let rest = line.get(i..).unwrap_or_default();
        let (start, end, next) = if rest.first() == Some(&b'"') {
            let Some(close) = memchr::memchr(b'"', &rest[1..]).map(|n| i + 1 + n) else {
                return false;
            };
            match line.get(close + 1) {
                None => (i + 1, close, None),
                Some(&b) if b == delim => (i + 1, close, Some(close + 2)),
                Some(_) => return false,
            }
        } else {
            // A quote inside an unquoted field is kept as it is, as the state machine keeps it.
            match memchr::memchr(delim, rest).map(|n| i + n) {
                None => (i, line.len(), None),
                Some(d) => (i, d, Some(d + 1)),
            }
        };
        starts.push(start);
        ends.push(end);
        match next {
            Some(n) => i = n,
            None => return true,
        }
    }
}

/// The text of a record's fields (`bytes`, field `k` ending at `ends[k]`: see
/// [`CsvReader::fields`]) when every field is valid UTF-8 on its own; else the index of the
/// first field that is not (`None` if the bad bytes are past the last field's end, which
/// cannot happen). Fields unquoted back to back can be valid together and not apart (`a\xC3`
/// and `\xA9b` make `aéb`), so each must also end on a character boundary; the fields of a
/// plain line end before a delimiter or a quote (ASCII bytes), which always is one.
fn utf8_fields<'a>(bytes: &'a [u8], ends: &[usize]) -> std::result::Result<&'a str, Option<usize>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => match ends.iter().position(|&end| !text.is_char_boundary(end)) {
            None => Ok(text),
            Some(col) => Err(Some(col)),
        },
        Err(e) => {
            // The first field that holds the bad byte, or that ends inside a character of
            // the valid text before it (fields joined back to back can hide that).
            let bad_at = e.valid_up_to();
            let valid = std::str::from_utf8(&bytes[..bad_at]).unwrap_or_default();
            Err(ends
                .iter()
                .position(|&end| end > bad_at || !valid.is_char_boundary(end)))
        }
    }
}

impl ChunkReader for CsvReader {
    fn columns(&self) -> &[String] {
        &self.header
    }

    fn observed(&self, column: &str) -> bool {
        self.header.iter().any(|h| h == column)
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Chunk>> {
        let ncols = self.header.len();
        let mut chunk = Chunk::with_capacity(max_rows.min(1 << 16));
        // A little over the previous chunk's size: the next one is usually alike.
        let (text, spans) = self.last_chunk;
        chunk.reserve(
            (text + text / 8).min(CHUNK_TEXT_SOFT_LIMIT + MAX_RECORD_BYTES),
            spans + spans / 8,
        );
        while chunk.len() < max_rows && chunk.text_len() < CHUNK_TEXT_SOFT_LIMIT {
            let number = self.lines + 1 - self.header_lines;
            let rec = self.next_record().map_err(|source| Error::ReadInput {
                path: self.path.clone(),
                row: Some(number),
                source,
            })?;
            match rec {
                Record::Eof => break,
                Record::Blank { lines } => self.lines += lines,
                Record::Runaway { in_quotes } => {
                    let raw = self.skip_line().map_err(|source| Error::ReadInput {
                        path: self.path.clone(),
                        row: Some(number),
                        source,
                    })?;
                    let (code, reason) = if in_quotes {
                        ("unterminated_quote", "a quoted field is never closed; the line was skipped and reading resumed on the next line".to_owned())
                    } else {
                        (
                            "row_too_long",
                            format!("the row is longer than {MAX_RECORD_BYTES} bytes"),
                        )
                    };
                    chunk.rows.push(Row::Bad {
                        number,
                        code,
                        reason,
                        raw,
                    });
                }
                Record::Fields {
                    raw_start,
                    raw_end,
                    bad_quote,
                    lines,
                    plain,
                } => {
                    self.lines += lines;
                    let raw_text = || {
                        String::from_utf8_lossy(&self.buf[raw_start..raw_end.max(raw_start)])
                            .into_owned()
                    };
                    let nfields = self.field_ends.len();
                    if bad_quote {
                        chunk.rows.push(Row::Bad {
                            number,
                            code: "bad_quoting",
                            reason: "text follows a closing quote inside a field".to_owned(),
                            raw: raw_text(),
                        });
                    } else if nfields != ncols {
                        chunk.rows.push(Row::Bad {
                            number,
                            code: "wrong_field_count",
                            reason: format!("expected {ncols} fields, found {nfields}"),
                            raw: raw_text(),
                        });
                    } else {
                        let bytes = self.fields(raw_start, raw_end, plain);
                        match utf8_fields(bytes, &self.field_ends) {
                            Ok(text) => {
                                let base = chunk.push_text(text);
                                for (start, end) in self.spans() {
                                    chunk.push_span(Span {
                                        start: base.start + start as u32,
                                        len: (end - start) as u32,
                                    });
                                }
                                let first = chunk.spans_len() - ncols;
                                chunk.rows.push(Row::Parsed {
                                    number,
                                    first,
                                    raw: None,
                                });
                            }
                            Err(col) => {
                                let col_name = col
                                    .and_then(|c| self.header.get(c))
                                    .map(|h| format!(" (column `{h}`)"))
                                    .unwrap_or_default();
                                chunk.rows.push(Row::Bad {
                                    number,
                                    code: "invalid_utf8",
                                    reason: format!("the row is not valid UTF-8{col_name}"),
                                    raw: raw_text(),
                                });
                            }
                        }
                    }
                }
            }
        }
        chunk.bytes_done = Some(self.bytes_done);
        self.last_chunk = (chunk.text_len(), chunk.spans_len());
        Ok(if chunk.rows.is_empty() {
            None
        } else {
            Some(chunk)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::{Just, prop_oneof};

    type Parsed = Vec<(u64, Result<Vec<String>, &'static str>)>;

    /// Parses `text` and returns the header and, per row, either the values or `Err(code)`.
    fn parse(text: &[u8], delim: u8) -> (Vec<String>, Parsed) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let r = CsvReader::open(&path, delim).unwrap();
        rows_of(r)
    }

    /// The header and rows `r` reads (as [`parse`]).
    fn rows_of(mut r: CsvReader) -> (Vec<String>, Parsed) {
        let ncols = r.columns().len();
        let mut rows = Vec::new();
        while let Some(chunk) = r.next_chunk(2).unwrap() {
            for row in &chunk.rows {
                match row {
                    Row::Parsed { number, first, .. } => rows.push((
                        *number,
                        Ok((0..ncols)
                            .map(|c| chunk.value(*first, c).unwrap().to_owned())
                            .collect()),
                    )),
                    Row::Bad { number, code, .. } => rows.push((*number, Err(*code))),
                }
            }
        }
        (r.columns().to_vec(), rows)
    }

    fn ok(v: &[&str]) -> Result<Vec<String>, &'static str> {
        Ok(v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn quoting_rules() {
        let (h, rows) = parse(
            b"a,b,c\n1,\"x,y\",\"he said \"\"hi\"\"\"\n2,5\" screen,\n3,\"\",\"\"\"\"\n4,\"x\"y,z\n5,last,no-newline",
            b',',
        );
        assert_eq!(h, ["a", "b", "c"]);
        assert_eq!(
            rows,
            vec![
                (1, ok(&["1", "x,y", "he said \"hi\""])),
                (2, ok(&["2", "5\" screen", ""])),
                (3, ok(&["3", "", "\""])),
                (4, Err("bad_quoting")),
                (5, ok(&["5", "last", "no-newline"])),
            ]
        );
    }

    #[test]
    fn crlf_multiline_and_blank_lines() {
        let (_, rows) = parse(
            b"a;b\r\n\r\n1;\"two\r\nlines\"\r\n2;\"q\"\r\n\r\n3;x\r\n",
            b';',
        );
        assert_eq!(
            rows,
            vec![
                (2, ok(&["1", "two\r\nlines"])),
                (4, ok(&["2", "q"])),
                (6, ok(&["3", "x"]))
            ]
        );
    }

    #[test]
    fn header_names_are_cleaned() {
        let (h, rows) = parse("\u{feff} id ,\"Name\"\n1,2\n".as_bytes(), b',');
        assert_eq!(h, ["id", "Name"]);
        assert_eq!(rows, vec![(1, ok(&["1", "2"]))]);
    }

    #[test]
    fn buffer_refills_keep_records_whole() {
        // Records far larger than the initial buffer, and many small ones across refills.
        let big = "x".repeat(3 * INITIAL_BUF);
        let mut text = format!("a,b\n1,\"{big}\"\n");
        for i in 0..50_000 {
            text.push_str(&format!("{i},v{i}\n"));
        }
        let (_, rows) = parse(text.as_bytes(), b',');
        assert_eq!(rows.len(), 50_001);
        assert_eq!(rows[0].1.as_ref().unwrap()[1].len(), big.len());
        assert_eq!(rows[50_000], (50_001, ok(&["49999", "v49999"])));
    }

    /// A row as read, bad rows with their reason and raw text.
    type Detailed = (u64, Result<Vec<String>, (&'static str, String, String)>);
    /// The header, the rows and the bytes read; or the error opening the file.
    type Read = Result<(Vec<String>, Vec<Detailed>, Option<u64>), String>;

    /// `text` read with the fast path for simple lines and with the state machine alone, with
    /// a first buffer of `buf` bytes.
    fn read_both_ways(text: &[u8], delim: u8, buf: usize) -> (Read, Read) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let read = |plain: bool| -> Read {
            let mut r =
                CsvReader::open_with(&path, delim, plain, buf).map_err(|e| e.to_string())?;
            let ncols = r.columns().len();
            let (mut rows, mut bytes_done) = (Vec::new(), None);
            while let Some(chunk) = r.next_chunk(2).unwrap() {
                bytes_done = chunk.bytes_done;
                for row in &chunk.rows {
                    rows.push(match row {
                        Row::Parsed { number, first, .. } => (
                            *number,
                            Ok((0..ncols)
                                .map(|c| chunk.value(*first, c).unwrap().to_owned())
                                .collect()),
                        ),
                        Row::Bad {
                            number,
                            code,
                            reason,
                            raw,
                        } => (*number, Err((*code, reason.clone(), raw.clone()))),
                    });
                }
            }
            Ok((r.columns().to_vec(), rows, bytes_done))
        };
        (read(true), read(false))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Random text of delimiters, quotes, line ends, multi-byte and invalid UTF-8 read by
        /// the fast path as the state machine alone reads it: rows, values, reject codes,
        /// reasons and raw text.
        #[test]
        fn plain_lines_read_as_the_state_machine_reads_them(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b"a"[..], b"bc", "é".as_bytes(), "✓".as_bytes(), b" ", b",", b";", b"\"",
                    b"\n", b"\r", b"\r\n", "\u{feff}".as_bytes(), b"\\",
                    // Halves of "é", and a byte that is never UTF-8.
                    b"\xC3", b"\xA9", b"\xFF",
                ]),
                0..60,
            ),
            semicolon in proptest::bool::ANY,
            buf in prop_oneof![1usize..16, Just(INITIAL_BUF)],
        ) {
            let delim = if semicolon { b';' } else { b',' };
            let (fast, state_machine) = read_both_ways(&parts.concat(), delim, buf);
            proptest::prop_assert_eq!(fast, state_machine);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1000, ..Default::default() })]

        /// Lines of three fields (one in eight with a fourth), each plain, quoted (delimiters
        /// and `\r` inside), quoted with an escaped quote, quoted over two lines, quoted with
        /// text after the closing quote, or plain with a quote inside, read by the fast path as
        /// the state machine alone reads them: random bytes rarely make the lines the fast path
        /// takes with quoted fields, nor records over several lines between them.
        #[test]
        fn quoted_lines_read_as_the_state_machine_reads_them(
            lines in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        (
                            0u8..8,
                            proptest::collection::vec(
                                proptest::sample::select(vec![
                                    &b"a"[..], b"Mozilla/5.0 (X11; Linux)", "é".as_bytes(), b" ",
                                    b",", b";", b"\r", b"\xC3", b"\xA9", b"\xFF",
                                ]),
                                0..4,
                            ),
                        ),
                        3..=3,
                    ),
                    0u8..8,
                    0u8..4,
                ),
                1..8,
            ),
            semicolon in proptest::bool::ANY,
            buf in prop_oneof![1usize..16, Just(INITIAL_BUF)],
        ) {
            let delim = if semicolon { b';' } else { b',' };
            let mut text = Vec::new();
            for (fields, extra, line_end) in &lines {
                let fourth = (*extra == 0).then(|| (0, vec![&b"z"[..]]));
                for (k, (shape, parts)) in fields.iter().chain(&fourth).enumerate() {
                    if k > 0 {
                        text.push(delim);
                    }
                    let body = parts.concat();
                    match shape {
                        0 | 1 => text.extend(body.iter().filter(|&&b| b != delim)),
                        2 | 3 => text.extend([&b"\""[..], &body, b"\""].concat()),
                        4 => text.extend([&b"\"a\"\""[..], &body, b"\""].concat()),
                        5 => text.extend([&b"\"line\nbreak "[..], &body, b"\""].concat()),
                        6 => text.extend([&b"\""[..], &body, b"\"x"].concat()),
                        _ => text.extend(
                            [&b"5\" screen"[..], &body].concat().iter().filter(|&&b| b != delim),
                        ),
                    }
                }
                text.extend_from_slice([&b"\n"[..], b"\r\n", b"", b"\r"][usize::from(*line_end)]);
            }
            let (fast, state_machine) = read_both_ways(&text, delim, buf);
            proptest::prop_assert_eq!(fast, state_machine);
        }
    }

    /// Quoted fields are read where they lie: the user agent of an inquiry line, an empty
    /// quoted field, a quoted last field before a CRLF line end, a quote inside an unquoted
    /// field, a quoted last field and a `\r` at the end of the file.
    #[test]
    fn quoted_fields_without_escapes() {
        let text = b"id,ua,x\n1,\"Mozilla/5.0 (X11, Linux)\",z\n\"2\",\"\",\"\"\r\n3,5\" screen,\"a;b\"\n4,y,\"z\"\r";
        let (_, rows) = parse(text, b',');
        assert_eq!(
            rows,
            vec![
                (1, ok(&["1", "Mozilla/5.0 (X11, Linux)", "z"])),
                (2, ok(&["2", "", ""])),
                (3, ok(&["3", "5\" screen", "a;b"])),
                (4, ok(&["4", "y", "z"])),
            ]
        );
        let (fast, state_machine) = read_both_ways(text, b',', INITIAL_BUF);
        assert_eq!(fast, state_machine);
    }

    /// Fields valid only once joined (`a\xC3` and `\xA9b` make `aéb`) are a bad row, named by
    /// the first bad field's column, on the fast path (lines 1 and 2) as in the state machine
    /// (lines 3 and 4, whose escaped quote sends them there: their fields are joined back to
    /// back before they are checked).
    #[test]
    fn fields_must_be_utf8_each() {
        let text = b"x,y\na\xC3,\xA9b\n\"a\xC3\",\"\xA9\xFF\"\n\"a\xC3\"\"\",\xA9b\n\"\"\"a\xC3\",\"\xA9\xFF\"\n1,2\n";
        let (_, rows) = parse(text, b',');
        let bad = || Err("invalid_utf8");
        assert_eq!(
            rows,
            vec![
                (1, bad()),
                (2, bad()),
                (3, bad()),
                (4, bad()),
                (5, ok(&["1", "2"]))
            ]
        );
        let (Ok((_, fast, _)), Ok((_, state_machine, _))) = read_both_ways(text, b',', 7) else {
            panic!("the file opens");
        };
        assert_eq!(fast, state_machine);
        for (_, row) in &fast[..4] {
            let Err((_, reason, _)) = row else {
                panic!("{row:?}")
            };
            assert!(reason.ends_with("(column `x`)"), "{reason}");
        }
    }

    #[test]
    fn empty_and_header_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.csv");
        std::fs::write(&path, b"\n\r\n").unwrap();
        assert!(matches!(
            CsvReader::open(&path, b','),
            Err(Error::EmptyFile { .. })
        ));
        std::fs::write(&path, b"a,b\n").unwrap();
        let mut r = CsvReader::open(&path, b',').unwrap();
        assert!(r.next_chunk(10).unwrap().is_none());
    }
}
