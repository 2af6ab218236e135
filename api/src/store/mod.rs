//! The store: accounts, inquiries (their raw PII and session signals), labels, API keys
//! (hashed), idempotency records and saved graph queries, in SQLite through sqlx.
//!
//! # Durability
//! The database runs in WAL mode with `synchronous = FULL` by default: a transaction's commit
//! returns only after its WAL frames are fsynced, so an acknowledged write survives a `kill -9`
//! *and* a power loss. With `synchronous = NORMAL` (`--synchronous normal`) the WAL is fsynced
//! only at checkpoints: a killed process still loses nothing (the frames are in the operating
//! system's page cache, which outlives the process), but a power cut can lose the last
//! transactions — faster, and safe against everything but the machine dying.
//!
//! # Connections
//! One writer connection (writes are serialised in the process, so no transaction ever waits
//! on SQLite's lock or fails with `SQLITE_BUSY`) and a small pool of readers, which WAL lets
//! read a consistent snapshot while the writer commits.
//!
//! The SQL is plain and portable (no SQLite-only syntax beyond `AUTOINCREMENT`), so a
//! PostgreSQL backend can follow with its own migrations and the same queries.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use graph_core::EntityType;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
// Dynamic SQL below only ever splices in `table()` and `columns()`, fixed names chosen by
// entity type; every value is bound.
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this id exists.
    #[error("{0} already exists")]
    Duplicate(String),
    /// No such record.
    #[error("{0} not found")]
    NotFound(String),
    /// Another request holds this idempotency key.
    #[error("idempotency key in use")]
    IdempotencyTaken,
    /// The database URL or options are unusable (caused by the user).
    #[error("invalid database: {0}")]
    Config(String),
    /// Stored data that cannot be read back (internal).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Result with [`StoreError`].
pub type Result<T> = std::result::Result<T, StoreError>;

/// How commits reach the disk (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Synchronous {
    /// fsync on every commit: survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints: survives a killed process, may lose the last commits on power loss.
    Normal,
}

/// A stored account or inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Account or inquiry.
    pub entity_type: EntityType,
    /// Insertion order.
    pub seq: i64,
    /// `acct_…` or `inq_…`.
    pub id: String,
    /// For inquiries: the account they belong to.
    pub account_id: Option<String>,
    /// Data-contract fields as sent (raw strings).
    pub fields: BTreeMap<String, String>,
    /// When the store first saw it (RFC 3339, UTC).
    pub inserted_at: String,
    /// Last change (RFC 3339, UTC).
    pub updated_at: String,
}

/// An API key as stored (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `key_…`.
    pub id: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// A name for people.
    pub name: String,
    /// Creation time.
    pub created_at: String,
    /// Revocation time.
    pub revoked_at: Option<String>,
}

/// A stored idempotency record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// SHA-256 of method, path and body.
    pub request_hash: String,
    /// The resource the request created or changed.
    pub resource_id: Option<String>,
    /// The response, once known.
    pub response: Option<(u16, String)>,
}

/// A claim on an idempotency key, written in the transaction of the change.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyClaim<'a> {
    /// The caller's API key id.
    pub key_id: &'a str,
    /// The `Idempotency-Key` header.
    pub idem_key: &'a str,
    /// Hash of the request.
    pub request_hash: &'a str,
}

/// One write.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// A new record.
    Insert {
        /// Account or inquiry.
        entity_type: EntityType,
        /// Prefixed id.
        id: String,
        /// For inquiries.
        account_id: Option<String>,
        /// Fields as sent.
        fields: BTreeMap<String, String>,
    },
    /// New fields for a stored record.
    Update {
        /// Account or inquiry.
        entity_type: EntityType,
        /// Prefixed id.
        id: String,
        /// For inquiries.
        account_id: Option<String>,
        /// All fields after the change.
        fields: BTreeMap<String, String>,
    },
    /// Sets or clears a stored record's label (and logs who did).
    Label {
        /// Account or inquiry.
        entity_type: EntityType,
        /// Prefixed id.
        id: String,
        /// `fraud`, `legit`, or `None` to clear.
        label: Option<String>,
        /// The caller's key id.
        key_id: String,
    },
}

impl WriteOp {
    /// The record's id.
    pub fn id(&self) -> &str {
        match self {
            WriteOp::Insert { id, .. } | WriteOp::Update { id, .. } | WriteOp::Label { id, .. } => {
                id
            }
        }
    }
}

/// An idempotency claim owned by a queued write.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The caller's API key id.
    pub key_id: String,
    /// The `Idempotency-Key` header.
    pub idem_key: String,
    /// Hash of the request.
    pub request_hash: String,
}

/// A write and its idempotency claim, committed together.
#[derive(Debug, Clone)]
pub struct Job {
    /// The write.
    pub op: WriteOp,
    /// The claim, when the request carried an `Idempotency-Key`.
    pub claim: Option<Claim>,
}

/// A saved graph-query template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    /// `gq_…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// The template (JSON).
    pub template: String,
    /// Creation time.
    pub created_at: String,
}

/// One record to import: type, id, account id (inquiries), fields.
pub type ImportRow = (EntityType, String, Option<String>, BTreeMap<String, String>);

/// The store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn table(t: EntityType) -> &'static str {
    match t {
        EntityType::Account => "accounts",
        EntityType::Inquiry => "inquiries",
    }
}

/// Now, RFC 3339 with milliseconds, UTC.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Random bytes as lower-case hex.
///
/// # Errors
/// The operating system's random source failed.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Config(format!("no randomness: {e}")))?;
    Ok(hex(&buf))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// SHA-256 of a string, hex.
pub fn sha256_hex(s: &[u8]) -> String {
    hex(&Sha256::digest(s))
}

fn parse_fields(s: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("fields: {e}")))
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`, `sqlite:path` or a
    /// plain path) and runs the migrations.
    ///
    /// # Errors
    /// Unusable URL, unopenable file, failed migration.
    pub async fn open(url: &str, sync: Synchronous) -> Result<Store> {
        let opts = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?
        } else if url.contains("://") {
            return Err(StoreError::Config(format!(
                "{url}: only SQLite is supported so far (sqlite://PATH or a file path)"
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
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Store { writer, reader })
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// The database is unreachable.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Closes both pools (waits for open connections).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn claim(
        conn: &mut SqliteConnection,
        claim: Option<IdempotencyClaim<'_>>,
        resource_id: &str,
    ) -> Result<()> {
        if let Some(c) = claim {
            let r = sqlx::query(
                "INSERT INTO idempotency (key_id, idem_key, request_hash, resource_id, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(c.key_id)
            .bind(c.idem_key)
            .bind(c.request_hash)
            .bind(resource_id)
            .bind(now())
            .execute(&mut *conn)
            .await;
            match r {
                Err(e) if unique_violation(&e) => return Err(StoreError::IdempotencyTaken),
                r => {
                    r?;
                }
            }
        }
        Ok(())
    }

    async fn log_change(conn: &mut SqliteConnection, t: EntityType, id: &str) -> Result<()> {
        sqlx::query("INSERT INTO changes (entity_type, entity_id, at) VALUES (?, ?, ?)")
            .bind(t.as_str())
            .bind(id)
            .bind(now())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Applies a batch of writes in one transaction (one commit, one fsync), each inside its
    /// own savepoint: a write that fails for its own reason (duplicate id, missing record,
    /// idempotency key taken) is rolled back alone and reported in its slot; the others commit.
    /// Returns once the commit is durable.
    ///
    /// # Errors
    /// The outer error when the transaction itself fails (nothing of the batch is stored).
    pub async fn write_batch(&self, jobs: &[&Job]) -> Result<Vec<Result<Record>>> {
        let at = now();
        let mut tx = self.writer.begin().await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut sp = sqlx::Connection::begin(&mut *tx).await?;
            match Self::apply(&mut sp, job, &at).await {
                Ok(r) => {
                    sp.commit().await?;
                    out.push(Ok(r));
                }
                Err(
                    e @ (StoreError::Duplicate(_)
                    | StoreError::NotFound(_)
                    | StoreError::IdempotencyTaken),
                ) => {
                    sp.rollback().await?;
                    out.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn write_one(&self, job: Job) -> Result<Record> {
        let mut r = self.write_batch(&[&job]).await?;
        r.pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("empty batch result".into())))
    }

    async fn apply(conn: &mut SqliteConnection, job: &Job, at: &str) -> Result<Record> {
        let id = job.op.id();
        let claim = job.claim.as_ref().map(|c| IdempotencyClaim {
            key_id: &c.key_id,
            idem_key: &c.idem_key,
            request_hash: &c.request_hash,
        });
        Self::claim(&mut *conn, claim, id).await?;
        let rec = match &job.op {
            WriteOp::Insert {
                entity_type: t,
                id,
                account_id,
                fields,
            } => {
                let json = serde_json::to_string(fields)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let sql = match t {
                    EntityType::Account => {
                        "INSERT INTO accounts (id, fields, inserted_at, updated_at) VALUES (?, ?, ?, ?) RETURNING seq"
                    }
                    EntityType::Inquiry => {
                        "INSERT INTO inquiries (id, fields, inserted_at, updated_at, account_id) VALUES (?, ?, ?, ?, ?) RETURNING seq"
                    }
                };
                let mut q = sqlx::query(sql).bind(id).bind(&json).bind(at).bind(at);
                if *t == EntityType::Inquiry {
                    q = q.bind(account_id.as_deref());
                }
                let seq: i64 = match q.fetch_one(&mut *conn).await {
                    Ok(row) => row.try_get(0)?,
                    Err(e) if unique_violation(&e) => {
                        return Err(StoreError::Duplicate(id.clone()));
                    }
                    Err(e) => return Err(e.into()),
                };
                Record {
                    entity_type: *t,
                    seq,
                    id: id.clone(),
                    account_id: account_id.clone(),
                    fields: fields.clone(),
                    inserted_at: at.to_owned(),
                    updated_at: at.to_owned(),
                }
            }
            WriteOp::Update {
                entity_type: t,
                id,
                account_id,
                fields,
            } => {
                let json = serde_json::to_string(fields)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let sql = match t {
                    EntityType::Account => {
                        "UPDATE accounts SET fields = ?, updated_at = ? WHERE id = ? RETURNING seq, inserted_at"
                    }
                    EntityType::Inquiry => {
                        "UPDATE inquiries SET fields = ?, updated_at = ?, account_id = ? WHERE id = ? RETURNING seq, inserted_at"
                    }
                };
                let mut q = sqlx::query(sql).bind(json).bind(at);
                if *t == EntityType::Inquiry {
                    q = q.bind(account_id.as_deref());
                }
                let row = q
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(id.clone()))?;
                Record {
                    entity_type: *t,
                    seq: row.try_get(0)?,
                    id: id.clone(),
                    account_id: account_id.clone(),
                    fields: fields.clone(),
                    inserted_at: row.try_get(1)?,
                    updated_at: at.to_owned(),
                }
            }
            WriteOp::Label {
                entity_type: t,
                id,
                label,
                key_id,
            } => {
                let sql = format!(
                    "SELECT seq, fields, inserted_at{} FROM {} WHERE id = ?",
                    if *t == EntityType::Inquiry {
                        ", account_id"
                    } else {
                        ""
                    },
                    table(*t)
                );
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(id.clone()))?;
                let seq: i64 = row.try_get(0)?;
                let mut fields = parse_fields(row.try_get(1)?)?;
                let inserted_at: String = row.try_get(2)?;
                let account_id: Option<String> = if *t == EntityType::Inquiry {
                    row.try_get(3)?
                } else {
                    None
                };
                match label {
                    Some(l) => fields.insert("label".to_owned(), l.clone()),
                    None => fields.remove("label"),
                };
                let json = serde_json::to_string(&fields)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {} SET fields = ?, updated_at = ? WHERE id = ?",
                    table(*t)
                )))
                .bind(&json)
                .bind(at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO labels (entity_type, entity_id, label, key_id, at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(t.as_str())
                .bind(id)
                .bind(label.as_deref())
                .bind(key_id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                Record {
                    entity_type: *t,
                    seq,
                    id: id.clone(),
                    account_id,
                    fields,
                    inserted_at,
                    updated_at: at.to_owned(),
                }
            }
        };
        Self::log_change(&mut *conn, rec.entity_type, &rec.id).await?;
        Ok(rec)
    }

    /// Inserts a new record in its own transaction.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the id exists.
    pub async fn insert(
        &self,
        t: EntityType,
        id: &str,
        account_id: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Record> {
        self.write_one(Job {
            op: WriteOp::Insert {
                entity_type: t,
                id: id.to_owned(),
                account_id: account_id.map(str::to_owned),
                fields: fields.clone(),
            },
            claim: None,
        })
        .await
    }

    /// Replaces a record's fields in its own transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn update(
        &self,
        t: EntityType,
        id: &str,
        account_id: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Record> {
        self.write_one(Job {
            op: WriteOp::Update {
                entity_type: t,
                id: id.to_owned(),
                account_id: account_id.map(str::to_owned),
                fields: fields.clone(),
            },
            claim: None,
        })
        .await
    }

    fn record(t: EntityType, row: &sqlx::sqlite::SqliteRow) -> Result<Record> {
        Ok(Record {
            entity_type: t,
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            account_id: if t == EntityType::Inquiry {
                row.try_get("account_id")?
            } else {
                None
            },
            fields: parse_fields(row.try_get("fields")?)?,
            inserted_at: row.try_get("inserted_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    fn columns(t: EntityType) -> &'static str {
        match t {
            EntityType::Account => "seq, id, fields, inserted_at, updated_at",
            EntityType::Inquiry => "seq, id, account_id, fields, inserted_at, updated_at",
        }
    }

    /// One record.
    ///
    /// # Errors
    /// Database failure.
    pub async fn get(&self, t: EntityType, id: &str) -> Result<Option<Record>> {
        let sql = format!("SELECT {} FROM {} WHERE id = ?", Self::columns(t), table(t));
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| Self::record(t, &r)).transpose()
    }

    /// Up to `limit` records after insertion number `after`, in insertion order.
    ///
    /// # Errors
    /// Database failure.
    pub async fn list(&self, t: EntityType, after: i64, limit: u32) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE seq > ? ORDER BY seq LIMIT ?",
            Self::columns(t),
            table(t)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| Self::record(t, r)).collect()
    }

    /// Every record, with the number of the last change they include (one read transaction,
    /// so the two agree).
    ///
    /// # Errors
    /// Database failure, corrupt rows.
    pub async fn snapshot(&self) -> Result<(Vec<Record>, i64)> {
        let mut tx = self.reader.begin().await?;
        let last: Option<i64> = sqlx::query("SELECT MAX(seq) FROM changes")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let mut out = Vec::new();
        for t in [EntityType::Account, EntityType::Inquiry] {
            let sql = format!("SELECT {} FROM {} ORDER BY seq", Self::columns(t), table(t));
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
            out.reserve(rows.len());
            for r in &rows {
                out.push(Self::record(t, r)?);
            }
        }
        tx.commit().await?;
        Ok((out, last.unwrap_or(0)))
    }

    /// Records changed after change number `after`, with the last change number seen.
    ///
    /// # Errors
    /// Database failure.
    pub async fn changed_since(&self, after: i64) -> Result<(Vec<Record>, i64)> {
        let rows = sqlx::query(
            "SELECT entity_type, entity_id, MAX(seq) FROM changes WHERE seq > ? \
             GROUP BY entity_type, entity_id",
        )
        .bind(after)
        .fetch_all(&self.reader)
        .await?;
        let mut last = after;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let t: String = r.try_get(0)?;
            let id: String = r.try_get(1)?;
            let seq: i64 = r.try_get(2)?;
            last = last.max(seq);
            let t = EntityType::parse(&t)
                .ok_or_else(|| StoreError::Corrupt(format!("entity type {t:?}")))?;
            if let Some(rec) = self.get(t, &id).await? {
                out.push(rec);
            }
        }
        Ok((out, last))
    }

    /// Number of accounts and inquiries.
    ///
    /// # Errors
    /// Database failure.
    pub async fn counts(&self) -> Result<(i64, i64)> {
        let a: i64 = sqlx::query("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        let i: i64 = sqlx::query("SELECT COUNT(*) FROM inquiries")
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        Ok((a, i))
    }

    /// Inserts many new records in one transaction (bulk import). Existing ids are skipped;
    /// returns how many were inserted.
    ///
    /// # Errors
    /// Database failure.
    pub async fn import(&self, records: &[ImportRow]) -> Result<u64> {
        let at = now();
        let mut tx = self.writer.begin().await?;
        let mut n = 0;
        for (t, id, account_id, fields) in records {
            let json =
                serde_json::to_string(fields).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let r = match t {
                EntityType::Account => sqlx::query(
                    "INSERT OR IGNORE INTO accounts (id, fields, inserted_at, updated_at) VALUES (?, ?, ?, ?)",
                )
                .bind(id)
                .bind(&json)
                .bind(&at)
                .bind(&at),
                EntityType::Inquiry => sqlx::query(
                    "INSERT OR IGNORE INTO inquiries (id, fields, inserted_at, updated_at, account_id) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(&json)
                .bind(&at)
                .bind(&at)
                .bind(account_id.as_deref()),
            }
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                n += 1;
                Self::log_change(&mut tx, *t, id).await?;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    // ----- idempotency -----

    /// The idempotency record of `(key_id, idem_key)`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn idempotency(&self, key_id: &str, idem_key: &str) -> Result<Option<Idempotency>> {
        // Read through the writer: a record claimed a moment ago must be seen.
        let row = sqlx::query(
            "SELECT request_hash, resource_id, status, body FROM idempotency \
             WHERE key_id = ? AND idem_key = ?",
        )
        .bind(key_id)
        .bind(idem_key)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| -> Result<Idempotency> {
            let status: Option<i64> = r.try_get(2)?;
            let body: Option<String> = r.try_get(3)?;
            Ok(Idempotency {
                request_hash: r.try_get(0)?,
                resource_id: r.try_get(1)?,
                response: status.zip(body).map(|(s, b)| (s as u16, b)),
            })
        })
        .transpose()
    }

    /// Stores the response of an idempotent request.
    ///
    /// # Errors
    /// Database failure.
    pub async fn complete_idempotency(
        &self,
        key_id: &str,
        idem_key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency SET status = ?, body = ? WHERE key_id = ? AND idem_key = ?",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(key_id)
        .bind(idem_key)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    // ----- API keys -----

    /// Creates an API key; returns it and its token (`rf_live_` + 64 hex digits), which is
    /// not stored and cannot be shown again.
    ///
    /// # Errors
    /// Database failure.
    pub async fn create_key(&self, name: &str, scopes: &[String]) -> Result<(ApiKey, String)> {
        let token = format!("rf_live_{}", random_hex(32)?);
        let id = format!("key_{}", random_hex(8)?);
        let at = now();
        sqlx::query(
            "INSERT INTO api_keys (id, hash, scopes, name, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(sha256_hex(token.as_bytes()))
        .bind(scopes.join(" "))
        .bind(name)
        .bind(&at)
        .execute(&self.writer)
        .await?;
        Ok((
            ApiKey {
                id,
                scopes: scopes.to_vec(),
                name: name.to_owned(),
                created_at: at,
                revoked_at: None,
            },
            token,
        ))
    }

    fn key_row(r: &sqlx::sqlite::SqliteRow) -> Result<ApiKey> {
        let scopes: String = r.try_get("scopes")?;
        Ok(ApiKey {
            id: r.try_get("id")?,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }

    /// The key whose token hashes to `hash`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(
            "SELECT id, scopes, name, created_at, revoked_at FROM api_keys WHERE hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Self::key_row).transpose()
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// Database failure.
    pub async fn keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(
            "SELECT id, scopes, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Self::key_row).collect()
    }

    /// Revokes a key. Returns whether it existed and was active.
    ///
    /// # Errors
    /// Database failure.
    pub async fn revoke_key(&self, id: &str) -> Result<bool> {
        let r =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now())
                .bind(id)
                .execute(&self.writer)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    // ----- saved graph queries -----

    /// Saves a graph-query template.
    ///
    /// # Errors
    /// Database failure.
    pub async fn create_query(&self, name: &str, template: &str) -> Result<SavedQuery> {
        let id = format!("gq_{}", random_hex(8)?);
        let at = now();
        sqlx::query(
            "INSERT INTO graph_queries (id, name, template, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(name)
        .bind(template)
        .bind(&at)
        .execute(&self.writer)
        .await?;
        Ok(SavedQuery {
            id,
            name: name.to_owned(),
            template: template.to_owned(),
            created_at: at,
        })
    }

    /// A saved graph query.
    ///
    /// # Errors
    /// Database failure.
    pub async fn query(&self, id: &str) -> Result<Option<SavedQuery>> {
        let row =
            sqlx::query("SELECT id, name, template, created_at FROM graph_queries WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|r| -> Result<SavedQuery> {
            Ok(SavedQuery {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                template: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_round_trip_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(path.to_str().unwrap(), Synchronous::Full)
            .await
            .unwrap();
        let mut f = BTreeMap::new();
        f.insert(
            "email".to_owned(),
            "a'; DROP TABLE accounts; --@x.com".to_owned(),
        );
        let r = store
            .insert(EntityType::Account, "acct_1", None, &f)
            .await
            .unwrap();
        assert_eq!(
            store.get(EntityType::Account, "acct_1").await.unwrap(),
            Some(r)
        );
        let e = store
            .insert(EntityType::Account, "acct_1", None, &f)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Duplicate(_)), "{e}");
        let (all, last) = store.snapshot().await.unwrap();
        assert_eq!((all.len(), last), (1, 1));
        let e = store
            .update(EntityType::Account, "acct_2", None, &f)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    }

    #[tokio::test]
    async fn memory_databases_and_other_schemes_are_refused() {
        for url in ["sqlite::memory:", "postgres://localhost/x"] {
            let e = Store::open(url, Synchronous::Full).await.unwrap_err();
            assert!(matches!(e, StoreError::Config(_)), "{url}: {e}");
        }
    }
}
