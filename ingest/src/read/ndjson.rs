//! NDJSON input: one JSON object per line.
//!
//! Keys may differ from line to line. The reader extracts the keys it was asked for (canonical
//! names and everything the mapping names) plus every key seen in its first [`KEY_LINES`]
//! lines; a mapped key counts as present in the file when one of those first lines has it.
//! Values: strings as they are, numbers and booleans as their JSON text, `null` as absent,
//! arrays and objects as compact JSON text (so they still reach the graph, and the PII
//! columns, verbatim).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Chunk, ChunkReader, MAX_CHUNK_TEXT, Row};
use crate::error::{Error, Result};

/// The lines whose keys decide which columns an NDJSON file has (see the module's comment):
/// a fixed number, so a file gives the same columns whatever the chunk size.
pub(crate) const KEY_LINES: usize = 65_536;

/// A parsed line, before the column list is fixed.
enum Line {
    Object {
        number: u64,
        raw: String,
        map: serde_json::Map<String, Value>,
    },
    Bad {
        number: u64,
        code: &'static str,
        reason: String,
        raw: String,
    },
}

pub(crate) struct NdjsonReader {
    path: PathBuf,
    input: BufReader<File>,
    columns: Vec<String>,
    index: HashMap<String, usize>,
    observed: HashSet<String>,
    /// Lines read ahead to learn the keys.
    pending: VecDeque<Line>,
    line_no: u64,
    bytes_done: u64,
    buf: Vec<u8>,
    eof: bool,
}

impl std::fmt::Debug for NdjsonReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NdjsonReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl NdjsonReader {
    pub(crate) fn open(path: &Path, wanted: &[String]) -> Result<NdjsonReader> {
        let file = File::open(path).map_err(|source| Error::OpenInput {
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = NdjsonReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 20, file),
            columns: Vec::new(),
            index: HashMap::new(),
            observed: HashSet::new(),
            pending: VecDeque::new(),
            line_no: 0,
            bytes_done: 0,
            buf: Vec::new(),
            eof: false,
        };
        while r.pending.len() < KEY_LINES {
            match r.read_line()? {
                Some(line) => r.pending.push_back(line),
                None => break,
            }
        }
        if r.pending.is_empty() {
            return Err(Error::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let add = |name: &str, r: &mut NdjsonReader| {
            if !r.index.contains_key(name) {
                r.index.insert(name.to_owned(), r.columns.len());
                r.columns.push(name.to_owned());
            }
        };
        let mut seen: Vec<String> = Vec::new();
        for line in &r.pending {
            if let Line::Object { map, .. } = line {
                for key in map.keys() {
                    if !r.observed.contains(key) {
                        r.observed.insert(key.clone());
                        seen.push(key.clone());
                    }
                }
            }
        }
        for key in &seen {
            add(key, &mut r);
        }
        for name in wanted {
            add(name, &mut r);
        }
        Ok(r)
    }

    /// Reads the next non-blank line; `None` at end of file.
    fn read_line(&mut self) -> Result<Option<Line>> {
        loop {
            if self.eof {
                return Ok(None);
            }
            self.buf.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| Error::ReadInput {
                    path: self.path.clone(),
                    row: Some(self.line_no + 1),
                    source,
                })?;
            if n == 0 {
                self.eof = true;
                return Ok(None);
            }
            self.bytes_done += n as u64;
            self.line_no += 1;
            let number = self.line_no;
            let mut bytes = self.buf.as_slice();
            if number == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes = &bytes[3..];
            }
            let bytes = bytes.trim_ascii();
            if bytes.is_empty() {
                continue;
            }
            let text = match std::str::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    return Ok(Some(Line::Bad {
                        number,
                        code: "invalid_utf8",
                        reason: "the line is not valid UTF-8".to_owned(),
                        raw: String::from_utf8_lossy(bytes).into_owned(),
                    }));
                }
            };
            return Ok(Some(match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Line::Object {
                    number,
                    raw: text.to_owned(),
                    map,
                },
                Ok(other) => Line::Bad {
                    number,
                    code: "not_an_object",
                    reason: format!(
                        "the line is JSON but not an object (found {})",
                        kind(&other)
                    ),
                    raw: text.to_owned(),
                },
                Err(e) => Line::Bad {
                    number,
                    code: "invalid_json",
                    reason: format!("the line is not valid JSON: {e}"),
                    raw: text.to_owned(),
                },
            }));
        }
    }

    fn push(&self, chunk: &mut Chunk, line: Line) {
        match line {
            Line::Bad {
                number,
                code,
                reason,
                raw,
            } => {
                chunk.rows.push(Row::Bad {
                    number,
                    code,
                    reason,
                    raw,
                });
            }
            Line::Object { number, raw, map } => {
                let first = chunk.start_row(self.columns.len());
                for (key, value) in &map {
                    let Some(&col) = self.index.get(key) else {
                        continue;
                    };
                    let span = match value {
                        Value::Null => continue,
                        Value::String(s) => chunk.push_text(s),
                        Value::Bool(b) => chunk.push_text(if *b { "true" } else { "false" }),
                        Value::Number(n) => chunk.push_text(&n.to_string()),
                        nested => chunk.push_text(&nested.to_string()),
                    };
                    chunk.set_span(first + col, span);
                }
                let raw = chunk.push_text(&raw);
                chunk.rows.push(Row::Parsed {
                    number,
                    first,
                    raw: Some(raw),
                });
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl ChunkReader for NdjsonReader {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn observed(&self, column: &str) -> bool {
        self.observed.contains(column)
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Chunk>> {
        let mut chunk = Chunk::with_capacity(max_rows.min(1 << 16));
        while chunk.len() < max_rows && chunk.text_len() < MAX_CHUNK_TEXT / 4 {
            let line = match self.pending.pop_front() {
                Some(l) => l,
                None => match self.read_line()? {
                    Some(l) => l,
                    None => break,
                },
            };
            self.push(&mut chunk, line);
        }
        chunk.bytes_done = Some(self.bytes_done);
        Ok(if chunk.rows.is_empty() {
            None
        } else {
            Some(chunk)
        })
    }
}
