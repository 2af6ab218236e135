//! SQLite checkpoints off the commit path.
//!
//! In WAL mode a commit appends pages to the write-ahead log; a checkpoint copies them into
//! the database file and fsyncs it. Left to SQLite, the commit that crosses 1,000 WAL pages
//! runs the checkpoint itself, and every write queued behind it waits for the database
//! file's fsync (about 9 ms on the benchmark machine, most of the 10 ms p99 budget for a
//! write; BENCHMARKS.md).
//!
//! Here a background task on its own connection runs a `PASSIVE` checkpoint every
//! [`EVERY`] (20 ms) while writes come in, and backs off to [`IDLE_EVERY`] while none do
//! ([`next_wait`]): it copies what is committed without taking any lock a writer needs. Under a
//! steady stream of writes a passive checkpoint never catches the last frame, and SQLite only
//! starts the log over once every frame is in the database file, so when the log reaches
//! [`CATCH_UP_FRAMES`] the task holds the writer connection (the only one that writes) for
//! one more pass: it copies the few frames the last pass left, and the next commit starts the
//! log from the beginning. That pause is rare (once per 128 MiB of log) and short (the
//! background pass already copied the rest).
//!
//! Before that held pass, passes without the writer repeat until little is left to copy, and
//! after each pass that did not reach the end of the log the task flushes the database file
//! itself (`fdatasync` on its own descriptor): SQLite fsyncs it only after a pass that reached
//! the end, which under steady writes is only the held one, and that pass would otherwise
//! flush everything the others copied while writes wait.
//!
//! The writer's own automatic checkpoint stays on at [`BACKSTOP_FRAMES`], far above the catch
//! up, so the log stays bounded should the task ever fall behind.

use std::time::Duration;

use sqlx::Row as _;
use sqlx::sqlite::SqliteConnection;

use super::{Result, StoreError};

/// How often the background connection checkpoints. Often, so each flush of the database
/// file is small: a commit's fsync of the log queues behind whatever flush is running. In
/// 25 s at 2k writes/s, 29–213 commits took over 10 ms with a pass every 250 ms, and 5–25 in
/// four of five measurements with one every 20 ms (BENCHMARKS.md).
pub(super) const EVERY: Duration = Duration::from_millis(20);

/// The longest wait between passes once the log is idle: [`next_wait`] doubles the wait after
/// each pass that found nothing new, up to this, so an idle server wakes 5 times a second
/// instead of 50. Kept short because a pass is also what syncs the log under
/// `--synchronous normal` (SQLite syncs it before copying): the first commit after an idle
/// spell reaches the disk within this, like PostgreSQL's `wal_writer_delay` (200 ms).
pub(super) const IDLE_EVERY: Duration = Duration::from_millis(200);

/// A log this long (pages) is brought to its end with the writer held, so the next commit
/// starts it over: 128 MiB of 4 KiB pages.
pub(super) const CATCH_UP_FRAMES: i64 = 32_768;

/// Before the pass with the writer held, passes without it (at most this many) until at most
/// [`HELD_PASS_FRAMES`] frames are left to copy.
pub(super) const MAX_CLOSING_PASSES: usize = 8;

/// Frames the pass with the writer held may be left to copy.
pub(super) const HELD_PASS_FRAMES: i64 = 64;

/// The writer connection's `wal_autocheckpoint`: only reached if the background task falls
/// behind (SQLite's default is 1,000).
pub(super) const BACKSTOP_FRAMES: i64 = 4 * CATCH_UP_FRAMES;

/// The write-ahead log after a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalState {
    /// Pages in the log.
    pub frames: i64,
    /// Of those, pages now in the database file.
    pub checkpointed: i64,
}

impl WalState {
    /// Whether every page of the log is in the database file (the next commit starts the log
    /// over, unless a reader still reads from it).
    pub fn complete(&self) -> bool {
        self.frames == self.checkpointed
    }
}

/// The wait before the next pass, after one that waited `wait` and left the log `after`
/// (`before`: what the pass before it left). A pass that found the log as the last one left it,
/// every page copied, means nothing was committed in between: the wait doubles, up to
/// [`IDLE_EVERY`]. Anything else (new frames, a log started over, frames left to copy) goes
/// back to [`EVERY`]. A write after an idle spell is never delayed by this, only the copy of
/// its pages to the database file (at most [`IDLE_EVERY`] later).
pub(super) fn next_wait(wait: Duration, before: Option<WalState>, after: WalState) -> Duration {
    if before == Some(after) && after.complete() {
        (wait * 2).clamp(EVERY, IDLE_EVERY)
    } else {
        EVERY
    }
}

/// Passes a busy log is tried again before [`passive`] reports it ([`BUSY_BACKOFF`] apart,
/// doubling).
const BUSY_RETRIES: u32 = 5;

/// The wait before the first pass tried again.
const BUSY_BACKOFF: Duration = Duration::from_millis(1);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on `conn`: copies what no reader still needs, never
/// waits for a lock. A pass that finds the log busy (another connection checkpointing, or
/// the log being started over at that instant: SQLite then reports `busy` 1 and no log) is
/// tried again a few times; still busy, it is [`StoreError::Unavailable`], a passing state.
pub(super) async fn passive(conn: &mut SqliteConnection) -> Result<WalState> {
    let mut backoff = BUSY_BACKOFF;
    for attempt in 0..=BUSY_RETRIES {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut *conn)
            .await?;
        let (busy, frames, checkpointed): (i64, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if frames >= 0 {
            return Ok(WalState {
                frames,
                checkpointed,
            });
        }
        if busy == 0 {
            // No log and not busy: the database is not in WAL mode, which `Pools::open`
            // never leaves it in.
            return Err(StoreError::Corrupt(
                "wal_checkpoint reported no write-ahead log".to_owned(),
            ));
        }
        if attempt < BUSY_RETRIES {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(StoreError::Unavailable(format!(
        "the write-ahead log stayed busy through {} checkpoint passes",
        BUSY_RETRIES + 1
    )))
}

/// Flushes the database file's written pages to disk (`fdatasync` on a second descriptor,
/// which flushes the file whoever wrote it), on a blocking thread.
pub(super) async fn sync_file(path: &std::sync::Arc<std::path::Path>) -> Result<()> {
    let path = path.clone();
    tokio::task::spawn_blocking(move || std::fs::File::open(&path)?.sync_data())
        .await
        .map_err(|e| StoreError::Unavailable(format!("database file sync task: {e}")))?
        .map_err(|e| StoreError::Db(sqlx::Error::Io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn wal(frames: i64, checkpointed: i64) -> WalState {
        WalState {
            frames,
            checkpointed,
        }
    }

    #[tokio::test]
    async fn a_log_busy_with_another_checkpoint_is_unavailable_then_checkpoints_again() {
        #![allow(clippy::unwrap_used)]
        use sqlx::Connection as _;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(60));
        let connect = || SqliteConnection::connect_with(&opts);
        let mut writer = connect().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut writer)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut writer)
            .await
            .unwrap();
        // A reader on the older snapshot, then more frames it does not see.
        let mut reader = connect().await.unwrap();
        sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
        sqlx::query("SELECT count(*) FROM t")
            .fetch_one(&mut reader)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut writer)
            .await
            .unwrap();
        // A RESTART checkpoint holds the checkpoint lock while it waits for that reader. When
        // it finds the lock taken by one of the passes below, SQLite answers "busy" at once
        // instead of waiting: it tries again until it has checkpointed (it then waited
        // through the reader; the race made this test fail under load).
        let mut other = connect().await.unwrap();
        let restart = tokio::spawn(async move {
            use sqlx::Row as _;
            loop {
                let row = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                    .fetch_one(&mut other)
                    .await
                    .unwrap();
                if row.get::<i64, _>(0) == 0 {
                    break;
                }
            }
        });
        let mut conn = connect().await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let busy = loop {
            match passive(&mut conn).await {
                Err(e) => break e,
                Ok(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(state) => panic!("the log was never busy: {state:?}"),
            }
        };
        assert!(matches!(busy, StoreError::Unavailable(_)), "{busy:?}");
        // The reader done, the other checkpoint ends and passes run again.
        sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
        restart.await.unwrap();
        let state = passive(&mut conn).await.unwrap();
        assert!(state.complete(), "{state:?}");
    }

    #[test]
    fn an_idle_log_backs_the_passes_off_to_the_idle_interval() {
        let idle = wal(120, 120);
        let mut wait = EVERY;
        let mut waits = Vec::new();
        for _ in 0..8 {
            wait = next_wait(wait, Some(idle), idle);
            waits.push(wait.as_millis());
        }
        assert_eq!(waits, [40, 80, 160, 200, 200, 200, 200, 200]);
    }

    #[test]
    fn any_new_or_uncopied_frame_brings_the_passes_back_to_the_busy_interval() {
        let slow = IDLE_EVERY;
        // New frames since the last pass.
        assert_eq!(next_wait(slow, Some(wal(120, 120)), wal(130, 130)), EVERY);
        // The log started over (a commit after a complete checkpoint).
        assert_eq!(next_wait(slow, Some(wal(120, 120)), wal(4, 4)), EVERY);
        // Frames a reader kept from being copied.
        assert_eq!(next_wait(slow, Some(wal(120, 100)), wal(120, 100)), EVERY);
        // The first pass.
        assert_eq!(next_wait(slow, None, wal(0, 0)), EVERY);
    }
}
