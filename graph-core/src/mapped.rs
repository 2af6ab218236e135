//! Parquet column chunks read from a memory-mapped file: pages are slices of the page cache,
//! where reading them with `read(2)` copied every byte into a fresh buffer the kernel first
//! zeroed (a batch link reads ~1 GB per million accounts).
//!
//! The crate's one `unsafe` block (ARCHITECTURE.md, "Invariants") is the mapping itself.

use std::fs::File;

use bytes::{Buf, Bytes};
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};

/// The bytes `start..start + len` of a file, mapped, for the Parquet reader, which asks for
/// bytes by their offset in the file. Freed (unmapped) with the last array decoded from it.
pub(crate) struct Span {
    start: u64,
    bytes: Bytes,
    file_len: u64,
}

impl Span {
    /// Maps bytes `start..end` of `file`, which is `file_len` bytes long (its length when it
    /// was opened).
    ///
    /// # Errors
    /// A span beyond `file_len` (touching the mapping there would kill the process with
    /// `SIGBUS`, so it is refused before mapping); a failed `mmap(2)`.
    pub(crate) fn map(file: &File, file_len: u64, start: u64, end: u64) -> std::io::Result<Span> {
        if start > end || end > file_len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "bytes {start}..{end} asked for, past the end of the file ({file_len} bytes)"
                ),
            ));
        }
        let len = usize::try_from(end - start).map_err(std::io::Error::other)?;
        if len == 0 {
            return Ok(Span {
                start,
                bytes: Bytes::new(),
                file_len,
            });
        }
        // SAFETY: the mapping is read-only and private, and within the file's length as
        // checked above. Mapping is unsound only if the file changes while mapped: ingest
        // never rewrites its outputs in place (it writes new files and renames them over the
        // old ones, which leaves a mapped file as it was), so that takes another program
        // truncating or writing into an ingest output folder during a link, which a link
        // does not guard against reading with `read(2)` either (it would read a torn file).
        #[allow(unsafe_code)]
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(start)
                .len(len)
                .map(file)?
        };
        Ok(Span {
            start,
            bytes: Bytes::from_owner(map),
            file_len,
        })
    }

    /// Bytes `start..start + len` of the file (to the span's end without `len`), which must
    /// be inside the span.
    fn slice(&self, start: u64, len: Option<usize>) -> Result<Bytes> {
        let held = self.bytes.len();
        let outside = || {
            ParquetError::EOF(format!(
                "bytes at {start} (+{len:?}) asked for, outside the {held} bytes mapped from {}",
                self.start
            ))
        };
        let from = (start.checked_sub(self.start))
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o <= held)
            .ok_or_else(outside)?;
        let to = match len {
            None => held,
            Some(l) => (from.checked_add(l))
                .filter(|&t| t <= held)
                .ok_or_else(outside)?,
        };
        Ok(self.bytes.slice(from..to))
    }
}

impl Length for Span {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for Span {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        self.slice(start, Some(length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        let file = File::open(f.path()).unwrap();
        (f, file)
    }

    #[test]
    fn a_span_answers_by_file_offset_and_refuses_bytes_outside_it() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let (_tmp, file) = file_of(&data);
        // An offset that is not a multiple of the page size, as column chunks start.
        let span = Span::map(&file, 10_000, 4_097, 9_000).unwrap();
        assert_eq!(span.len(), 10_000);
        assert_eq!(
            span.get_bytes(4_097, 3).unwrap().as_ref(),
            &data[4_097..4_100]
        );
        assert_eq!(
            span.get_bytes(8_990, 10).unwrap().as_ref(),
            &data[8_990..9_000]
        );
        let mut rest = Vec::new();
        span.get_read(8_000)
            .unwrap()
            .read_to_end(&mut rest)
            .unwrap();
        assert_eq!(rest, &data[8_000..9_000]);
        assert!(span.get_bytes(8_991, 10).is_err(), "past the span's end");
        assert!(span.get_bytes(4_096, 1).is_err(), "before its start");
        assert!(span.get_bytes(u64::MAX, 1).is_err());
        assert!(span.get_bytes(4_097, usize::MAX).is_err());
        assert!(span.get_read(9_001).is_err());
        assert!(span.get_read(9_000).unwrap().bytes().next().is_none());
    }

    #[test]
    fn a_span_past_the_end_of_the_file_is_refused_before_mapping() {
        let (_tmp, file) = file_of(&[7; 100]);
        let err = Span::map(&file, 100, 50, 101).err().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("past the end"), "{err}");
        assert!(Span::map(&file, 100, 60, 50).is_err());
        let empty = Span::map(&file, 100, 100, 100).unwrap();
        assert!(empty.get_bytes(100, 0).unwrap().is_empty());
        assert!(empty.get_bytes(100, 1).is_err());
    }
}
