//! The two databases behind one small interface, so the store's logic and SQL exist once.
//!
//! * [`Pools`] – the connection pools of one backend: SQLite (one writer connection and a
//!   pool of readers over WAL) or PostgreSQL (one pool; the server serialises nothing we rely
//!   on, so readers and writers share it).
//! * [`Sql`] – a statement and its bound values (text, optional text, integer). Statements use
//!   `$1, $2, …` placeholders, which both SQLite and PostgreSQL understand.
//! * [`Conn`], [`Tx`], [`Row`] – a connection, a transaction (or savepoint) and a result row
//!   of either backend; each method matches on the backend once and calls sqlx.
//!
//! The only per-backend text is the migrations (`migrations/sqlite`, `migrations/postgres`)
//! and the connection settings in [`Pools::open`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Encode, Postgres, Row as _, SqlStr, Sqlite, Transaction,
    Type,
};

use super::checkpoint::{self, BACKSTOP_FRAMES, WalState};
use super::{Result, StoreError, StoreOptions, Synchronous};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the default; no set-up).
    Sqlite,
    /// A PostgreSQL server (several API instances can share it).
    Postgres,
}

/// The pools of one backend. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) enum Pools {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        /// One connection for background checkpoints (`checkpoint.rs`).
        checkpointer: SqlitePool,
        /// The database file, which the checkpoints flush.
        db_path: std::sync::Arc<std::path::Path>,
    },
    Postgres(PgPool),
}

/// A connection URL with its password replaced by `***`, for messages and logs. Everything
/// between the user name and the last `@` is hidden, so an unescaped `/`, `?` or `@` in a
/// password errs on the side of hiding too much.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Pools {
    /// Opens the database `url` names and runs its migrations: `postgres://…` or
    /// `postgresql://…` for PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a plain path for
    /// SQLite (created when missing).
    pub(super) async fn open(url: &str, options: StoreOptions) -> Result<Pools> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url, options).await
        } else {
            Self::open_sqlite(url, options.synchronous).await
        }
    }

    async fn open_postgres(url: &str, options: StoreOptions) -> Result<Pools> {
        if options.pg_connections < 2 {
            return Err(StoreError::Config(format!(
                "{} PostgreSQL connections: at least 2 are needed (the writer task holds one)",
                options.pg_connections
            )));
        }
        let redacted = redact_url(url);
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("{redacted}: {e}")))?
            .application_name("ringfence");
        // `full`: every commit waits for its WAL flush on the server (PostgreSQL's default).
        // `normal`: commits return before the flush, like SQLite's NORMAL: a killed ringfence
        // loses nothing (the server has the commit), a crash of the server or the machine can
        // lose the last commits.
        let opts = match options.synchronous {
            Synchronous::Full => opts.options([("synchronous_commit", "on")]),
            Synchronous::Normal => opts.options([("synchronous_commit", "off")]),
        };
        let pool = PgPoolOptions::new()
            .max_connections(options.pg_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Unreachable {
                url: redacted,
                source,
            })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Pools::Postgres(pool))
    }

    async fn open_sqlite(url: &str, sync: Synchronous) -> Result<Pools> {
        let opts = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?
        } else if url.contains("://") {
            return Err(StoreError::Config(format!(
                "{}: unknown database; give postgres://USER:PASSWORD@HOST/DB, sqlite://PATH or a file path",
                redact_url(url)
            )));
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(StoreError::Config(
                "an in-memory database would lose every write; give a file".into(),
            ));
        }
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match sync {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(
                opts.clone()
                    .pragma("wal_autocheckpoint", BACKSTOP_FRAMES.to_string()),
            )
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let db_path = opts.get_filename().into();
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Pools::Sqlite {
            writer,
            reader,
            checkpointer,
            db_path,
        })
    }

    pub(super) fn backend(&self) -> Backend {
        match self {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for reads.
    pub(super) async fn reader(&self) -> Result<Held> {
        Ok(match self {
            Pools::Sqlite { reader, .. } => Held::Sqlite(reader.acquire().await?),
            Pools::Postgres(p) => Held::Postgres(p.acquire().await?),
        })
    }

    /// A connection for writes outside the writer task (keys, idempotency responses), and
    /// for reads that must see the latest commit.
    pub(super) async fn writer(&self) -> Result<Held> {
        Ok(match self {
            Pools::Sqlite { writer, .. } => Held::Sqlite(writer.acquire().await?),
            Pools::Postgres(p) => Held::Postgres(p.acquire().await?),
        })
    }

    /// A write transaction.
    pub(super) async fn begin(&self) -> Result<Tx<'static>> {
        Ok(match self {
            Pools::Sqlite { writer, .. } => Tx::Sqlite(writer.begin().await?),
            Pools::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read transaction whose statements all see one snapshot. (A SQLite read transaction
    /// does; PostgreSQL's default, READ COMMITTED, takes a snapshot per statement.)
    pub(super) async fn begin_snapshot(&self) -> Result<Tx<'static>> {
        Ok(match self {
            Pools::Sqlite { reader, .. } => Tx::Sqlite(reader.begin().await?),
            Pools::Postgres(p) => Tx::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// SQLite: one background checkpoint (`checkpoint.rs`): a passive one on the
    /// checkpointer's connection and, when the log holds `catch_up_frames` or more, one more
    /// with the writer connection held, so the log can start over. `None` on PostgreSQL, which
    /// checkpoints in its own server process.
    pub(super) async fn checkpoint(&self, catch_up_frames: i64) -> Result<Option<WalState>> {
        let Pools::Sqlite {
            writer,
            checkpointer,
            db_path,
            ..
        } = self
        else {
            return Ok(None);
        };
        let mut conn = checkpointer.acquire().await?;
        let mut state = checkpoint::passive(&mut conn).await?;
        if !state.complete() {
            // SQLite fsyncs the database file only after a pass that reached the end of the
            // log, which under steady writes is only the held one below; flush what this pass
            // copied now, so that one has little left to flush while writes wait.
            checkpoint::sync_file(db_path).await?;
        }
        if state.frames < catch_up_frames {
            return Ok(Some(state));
        }
        // Passes without the writer until little is left, so the held one is short.
        for _ in 0..checkpoint::MAX_CLOSING_PASSES {
            if state.frames - state.checkpointed <= checkpoint::HELD_PASS_FRAMES {
                break;
            }
            state = checkpoint::passive(&mut conn).await?;
            checkpoint::sync_file(db_path).await?;
        }
        // Even when that pass was complete, it may have run during a write transaction, which
        // then appended to the log instead of starting it over (SQLite decides when a
        // transaction begins). Holding the only writer connection, no transaction is open, the
        // last frames are copied, and the next one starts the log over.
        let waited = std::time::Instant::now();
        let _writer = writer.acquire().await?;
        let held = std::time::Instant::now();
        let last = checkpoint::passive(&mut conn).await?;
        tracing::debug!(
            frames = state.frames,
            left = state.frames - state.checkpointed,
            wait_ms = held.duration_since(waited).as_secs_f64() * 1e3,
            held_ms = held.elapsed().as_secs_f64() * 1e3,
            "closing checkpoint with the writer held"
        );
        Ok(Some(last))
    }

    /// Whether [`Pools::close`] was called.
    pub(super) fn is_closed(&self) -> bool {
        match self {
            Pools::Sqlite { writer, .. } => writer.is_closed(),
            Pools::Postgres(p) => p.is_closed(),
        }
    }

    pub(super) async fn close(&self) {
        match self {
            Pools::Sqlite {
                writer,
                reader,
                checkpointer,
                ..
            } => {
                checkpointer.close().await;
                writer.close().await;
                reader.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }
}

/// One bound value.
#[derive(Debug, Clone, Copy)]
enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
}

/// A statement with its values.
#[derive(Debug)]
pub(super) struct Sql<'a> {
    sql: SqlStr,
    args: Vec<Arg<'a>>,
}

impl<'a> Sql<'a> {
    /// A fixed statement.
    pub(super) fn new(sql: &'static str) -> Self {
        Sql {
            sql: SqlStr::from_static(sql),
            args: Vec::new(),
        }
    }

    /// A statement assembled at run time. Callers only ever splice in fixed table and column
    /// names chosen by entity type and numbered placeholders; every value is bound.
    pub(super) fn assembled(sql: String) -> Self {
        Sql {
            sql: sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql)),
            args: Vec::new(),
        }
    }

    pub(super) fn text(mut self, v: &'a str) -> Self {
        self.args.push(Arg::Text(v));
        self
    }

    pub(super) fn opt_text(mut self, v: Option<&'a str>) -> Self {
        self.args.push(Arg::OptText(v));
        self
    }

    pub(super) fn int(mut self, v: i64) -> Self {
        self.args.push(Arg::Int(v));
        self
    }

    fn query<DB: Database>(self) -> Query<'static, DB, DB::Arguments>
    where
        for<'t> &'t str: Encode<'t, DB> + Type<DB>,
        for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
        for<'t> i64: Encode<'t, DB> + Type<DB>,
    {
        let mut q = sqlx::query::<DB>(self.sql);
        for a in self.args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
            };
        }
        q
    }
}

/// A pooled connection of either backend.
#[derive(Debug)]
pub(super) enum Held {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Held {
    pub(super) fn conn(&mut self) -> Conn<'_> {
        match self {
            Held::Sqlite(c) => Conn::Sqlite(c),
            Held::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A transaction (or a savepoint inside one) of either backend. Dropped without
/// [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub(super) enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

impl Tx<'_> {
    pub(super) fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(t),
            Tx::Postgres(t) => Conn::Postgres(t),
        }
    }

    /// A savepoint: rolling it back undoes only what was done inside it.
    pub(super) async fn savepoint(&mut self) -> Result<Tx<'_>> {
        Ok(match self {
            Tx::Sqlite(t) => Tx::Sqlite(sqlx::Connection::begin(&mut **t).await?),
            Tx::Postgres(t) => Tx::Postgres(sqlx::Connection::begin(&mut **t).await?),
        })
    }

    pub(super) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub(super) async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// A connection of either backend, borrowed from a pool or a transaction.
#[derive(Debug)]
pub(super) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// Runs a statement; returns the number of rows it changed.
    pub(super) async fn execute(&mut self, s: Sql<'_>) -> std::result::Result<u64, sqlx::Error> {
        Ok(match self {
            Conn::Sqlite(c) => s.query::<Sqlite>().execute(&mut **c).await?.rows_affected(),
            Conn::Postgres(c) => s
                .query::<Postgres>()
                .execute(&mut **c)
                .await?
                .rows_affected(),
        })
    }

    /// At most one row.
    pub(super) async fn fetch_optional(
        &mut self,
        s: Sql<'_>,
    ) -> std::result::Result<Option<Row>, sqlx::Error> {
        Ok(match self {
            Conn::Sqlite(c) => s
                .query::<Sqlite>()
                .fetch_optional(&mut **c)
                .await?
                .map(Row::Sqlite),
            Conn::Postgres(c) => s
                .query::<Postgres>()
                .fetch_optional(&mut **c)
                .await?
                .map(Row::Postgres),
        })
    }

    /// Exactly one row.
    pub(super) async fn fetch_one(&mut self, s: Sql<'_>) -> std::result::Result<Row, sqlx::Error> {
        self.fetch_optional(s)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Every row.
    pub(super) async fn fetch_all(
        &mut self,
        s: Sql<'_>,
    ) -> std::result::Result<Vec<Row>, sqlx::Error> {
        Ok(match self {
            Conn::Sqlite(c) => s
                .query::<Sqlite>()
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Conn::Postgres(c) => s
                .query::<Postgres>()
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }
}

/// A result row of either backend; columns by index or name.
#[derive(Debug)]
pub(super) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

/// A column index valid for both backends' rows (`usize` or `&str`).
pub(super) trait Column: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}
impl<I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow>> Column for I {}

macro_rules! get {
    ($row:expr, $i:expr) => {
        match $row {
            Row::Sqlite(r) => r.try_get($i),
            Row::Postgres(r) => r.try_get($i),
        }
    };
}

impl Row {
    pub(super) fn text(&self, i: impl Column) -> std::result::Result<String, sqlx::Error> {
        get!(self, i)
    }

    pub(super) fn opt_text(
        &self,
        i: impl Column,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        get!(self, i)
    }

    pub(super) fn int(&self, i: impl Column) -> std::result::Result<i64, sqlx::Error> {
        get!(self, i)
    }

    pub(super) fn opt_int(&self, i: impl Column) -> std::result::Result<Option<i64>, sqlx::Error> {
        get!(self, i)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact_url("postgres://rf:s3cret@db.internal:5432/rf?sslmode=require"),
            "postgres://rf:***@db.internal:5432/rf?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://rf@localhost/rf"),
            "postgres://rf@localhost/rf"
        );
        assert_eq!(
            redact_url("postgresql://u:p@ss:w@h/db"),
            "postgresql://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u:pa/ss?x@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("store.db"), "store.db");
    }
}
