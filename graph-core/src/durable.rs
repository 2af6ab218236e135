//! Output files that are on disk when a run says it is done: each file is synced before it is
//! moved into place, and the folder after the moves, so a machine that crashes after a run
//! finished finds its files whole (a crash of the process alone loses nothing either way:
//! written data is in the kernel's cache).
//!
//! Syncing a file of a gigabyte at the end of a run waits for the disk to take all of it;
//! [`WriteBack`] syncs as the file grows, on a thread of its own, so the last sync waits for
//! the last megabytes only.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

/// Bytes written to an output file between two requests to sync it in the background.
pub const WRITE_BACK_BYTES: u64 = 32 << 20;

/// A file being written, synced to disk in the background as it grows (`fdatasync` on a
/// second descriptor of the file, by a thread of its own, asked for every `every` bytes
/// written): the sync that ends it ([`WriteBack::sync_all`]) waits for the last megabytes
/// instead of the whole file. At 1M accounts ingest writes about 1 GB, and that final sync
/// took 0.4 s with nothing else left to do.
///
/// Dropped without [`WriteBack::sync_all`] (a write failed), its thread ends after the syncs
/// already asked for, and their errors are dropped with it.
#[derive(Debug)]
pub struct WriteBack {
    file: File,
    every: u64,
    since_asked: u64,
    syncer: Option<Syncer>,
}

/// The background sync thread of a [`WriteBack`]: `ask` holds at most one request, so a
/// request not yet taken covers every byte written before it is.
#[derive(Debug)]
struct Syncer {
    ask: SyncSender<()>,
    thread: JoinHandle<io::Result<u64>>,
}

impl WriteBack {
    /// `file`, synced in the background every `every` bytes written.
    ///
    /// # Errors
    /// The file cannot be opened a second time, or no thread can be started.
    pub fn new(file: File, every: u64) -> io::Result<WriteBack> {
        let clone = file.try_clone()?;
        let (ask, asked) = sync_channel::<()>(1);
        let thread = thread::Builder::new()
            .name("ringfence-sync".to_owned())
            .spawn(move || {
                let mut syncs = 0u64;
                for () in asked {
                    clone.sync_data()?;
                    syncs += 1;
                }
                Ok(syncs)
            })?;
        Ok(WriteBack {
            file,
            every: every.max(1),
            since_asked: 0,
            syncer: Some(Syncer { ask, thread }),
        })
    }

    /// Waits for the background syncs asked for, then syncs the file, data and metadata.
    /// Returns how many background syncs ran.
    ///
    /// # Errors
    /// A failed sync, the background ones included: the kernel reports a failed write-back
    /// once per open file description, and the thread's descriptor is a duplicate of the
    /// file's, so the last sync could succeed after one of them failed.
    pub fn sync_all(mut self) -> io::Result<u64> {
        let mut syncs = 0;
        if let Some(Syncer { ask, thread }) = self.syncer.take() {
            drop(ask);
            syncs = thread
                .join()
                .map_err(|_| io::Error::other("the background sync thread panicked"))??;
        }
        self.file.sync_all()?;
        Ok(syncs)
    }
}

impl Write for WriteBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since_asked += n as u64;
        if self.since_asked >= self.every {
            self.since_asked = 0;
            if let Some(s) = &self.syncer {
                // Full: a request is waiting and will cover these bytes. Gone: the thread
                // stopped on an error, which `sync_all` reports.
                let _ = s.ask.try_send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes `bytes` to `path` and syncs it.
///
/// # Errors
/// Any failure to create, write or sync the file.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates folder `dir` and its missing parents; when `dir` did not exist, the folder above it
/// is synced, so that the new folder is on disk too.
///
/// # Errors
/// The folder cannot be created, or the folder above it synced.
pub fn create_dir_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => sync_dir(Path::new(".")),
    }
}

/// Syncs folder `dir`, so that the files created, moved or removed in it are so on disk.
///
/// # Errors
/// The folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_write_back_file_holds_every_byte_and_is_synced_as_it_grows() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out");
        let mut w = WriteBack::new(File::create(&path).unwrap(), 1000).unwrap();
        let mut want = Vec::new();
        for i in 0..200u32 {
            let chunk = vec![(i % 251) as u8; 97];
            w.write_all(&chunk).unwrap();
            want.extend_from_slice(&chunk);
        }
        w.flush().unwrap();
        let syncs = w.sync_all().unwrap();
        // The first request (at 1,000 bytes) is always taken; at most one is made per
        // 1,000 bytes written.
        assert!((1..=19).contains(&syncs), "{syncs} background syncs");
        assert_eq!(std::fs::read(&path).unwrap(), want);
    }

    #[test]
    fn a_write_back_file_never_asked_to_sync_in_the_background_still_syncs_at_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out");
        let mut w = WriteBack::new(File::create(&path).unwrap(), u64::MAX).unwrap();
        w.write_all("ünïcödé ✓".as_bytes()).unwrap();
        assert_eq!(w.sync_all().unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ünïcödé ✓");
    }

    #[test]
    fn synced_files_and_folders_are_there_and_a_missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("summary.json");
        write_synced(&path, b"{\"ok\": true}").unwrap();
        sync_dir(tmp.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"ok\": true}");
        let nested = tmp.path().join("a").join("b");
        create_dir_synced(&nested).unwrap();
        create_dir_synced(&nested).unwrap();
        assert!(nested.is_dir());
        let gone = tmp.path().join("gone");
        assert_eq!(sync_dir(&gone).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(write_synced(&gone.join("x"), b"").is_err());
    }
}
