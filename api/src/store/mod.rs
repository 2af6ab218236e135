//! The store: accounts, inquiries (their raw PII and session signals), labels, API keys
//! (hashed), idempotency records and saved graph queries, in SQLite (a file, the default) or
//! PostgreSQL (by URL, for several API instances) through sqlx.
//!
//! One [`Store`] API, one set of SQL statements: `backend.rs` puts both databases behind a
//! small interface (a connection, a transaction, a row), and the only per-backend text is the
//! migrations (`migrations/sqlite`, `migrations/postgres`) and the connection settings.
//!
//! # Durability
//! Every write is acknowledged after its transaction committed. SQLite runs in WAL mode with
//! `synchronous = FULL` by default: a commit returns only after its WAL frames are fsynced,
//! so an acknowledged write survives a `kill -9` *and* a power loss. With `--synchronous
//! normal` the WAL is fsynced only at checkpoints: a killed process still loses nothing (the
//! frames are in the operating system's page cache, which outlives the process), but a power
//! cut can lose the last transactions. On PostgreSQL, `full` is `synchronous_commit = on` (the
//! commit waits for the server's WAL flush) and `normal` is `synchronous_commit = off` (a
//! killed ringfence loses nothing, a crash of the server may lose the last commits).
//!
//! # Connections
//! SQLite: one writer connection (writes are serialised in the process, so no transaction ever
//! waits on SQLite's lock or fails with `SQLITE_BUSY`), a small pool of readers, which WAL
//! lets read a consistent snapshot while the writer commits, and one connection that
//! checkpoints in the background (`checkpoint.rs`), so commits do not. PostgreSQL: one pool
//! for both.
//!
//! # Text
//! PostgreSQL's `TEXT` cannot hold the NUL character. Record fields are stored as JSON, which
//! escapes it, so fields keep any character on both backends; the few plain text columns
//! (ids, an inquiry's account id, key and query names) refuse NUL with
//! [`StoreError::InvalidText`] on both backends alike, and lookups of an id with NUL find
//! nothing.

mod backend;
mod checkpoint;

use std::collections::BTreeMap;
use std::sync::Arc;

use graph_core::EntityType;
use sha2::{Digest, Sha256};

pub use self::backend::{Backend, redact_url};
use self::backend::{Conn, Pools, Row, Sql};

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
    /// The database server cannot be reached (the URL is shown without its password).
    #[error("cannot connect to {url}: {source}")]
    Unreachable {
        /// The URL, password redacted.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A plain text column was given a NUL character (caused by the user; names the field).
    #[error("{0} must not contain the NUL character")]
    InvalidText(&'static str),
    /// The store cannot take writes now: a write batch failed (nothing of it was applied), or
    /// the writer stopped and is restarting (the write may or may not have been applied).
    /// Retry, with an `Idempotency-Key` to be safe.
    #[error("the store cannot take writes now: {0}")]
    Unavailable(String),
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

impl StoreError {
    /// Whether the user caused it (an unusable database URL, a NUL in a plain text column).
    pub fn is_user_error(&self) -> bool {
        matches!(self, StoreError::Config(_) | StoreError::InvalidText(_))
    }
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

/// How [`Store::open`] opens a store. A [`Synchronous`] alone converts into one with the
/// other fields at their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How commits reach the disk.
    pub synchronous: Synchronous,
    /// PostgreSQL: connections this process keeps at most (the writer task uses one at a
    /// time; the others serve reads, idempotency records and key lookups). At least 2. SQLite
    /// ignores it: one writer, four readers and the checkpointer, always.
    pub pg_connections: u32,
}

/// [`StoreOptions::pg_connections`] unless told otherwise.
pub const DEFAULT_PG_CONNECTIONS: u32 = 10;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous: Synchronous::default(),
            pg_connections: DEFAULT_PG_CONNECTIONS,
        }
    }
}

impl From<Synchronous> for StoreOptions {
    fn from(synchronous: Synchronous) -> Self {
        StoreOptions {
            synchronous,
            ..StoreOptions::default()
        }
    }
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

/// Records per multi-row `INSERT` of [`Store::import`] (5 values each: well under SQLite's
/// 32,766 and PostgreSQL's 65,535 bound values per statement).
pub const IMPORT_CHUNK: usize = 500;

/// One record to import: type, id, account id (inquiries), fields.
pub type ImportRow = (EntityType, String, Option<String>, BTreeMap<String, String>);

/// The store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
    /// The background checkpoint task (SQLite), stopped when the last clone is dropped.
    _checkpoints: Option<Arc<AbortOnDrop>>,
}

/// A task aborted when this is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Checkpoints every [`checkpoint::EVERY`] while writes come in, backing off to
/// [`checkpoint::IDLE_EVERY`] while none do, until the pools are closed. A failure is logged
/// and retried at the next pass; should the task stop, the writer's own automatic checkpoint
/// still bounds the log.
async fn run_checkpoints(pools: Pools) {
    let mut wait = checkpoint::EVERY;
    let mut last = None;
    let mut next = tokio::time::Instant::now() + wait;
    loop {
        tokio::time::sleep_until(next).await;
        let started = tokio::time::Instant::now();
        if pools.is_closed() {
            return;
        }
        match pools.checkpoint(checkpoint::CATCH_UP_FRAMES).await {
            Ok(Some(state)) => {
                wait = checkpoint::next_wait(wait, last, state);
                last = Some(state);
            }
            Ok(None) => return,
            Err(e) => {
                if pools.is_closed() {
                    return;
                }
                wait = checkpoint::EVERY;
                tracing::warn!(error = %e, "background checkpoint failed; retrying");
            }
        }
        next = started + wait;
    }
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

/// The part of a generated resource id after its prefix: 24 hex digits, the first 12 the
/// milliseconds since 1970 and the last 12 random (48 bits), like a UUIDv7. Ids made later
/// sort later, so each insert adds to the end of the id index instead of a random page of it
/// (a random page costs a page write at every checkpoint). The id reveals when the record was
/// created, which its `created_at` shows anyway.
///
/// # Errors
/// The operating system's random source failed.
pub fn time_ordered_hex() -> Result<String> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Ok(format!(
        "{:012x}{}",
        millis & 0xffff_ffff_ffff,
        random_hex(6)?
    ))
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

fn fields_json(fields: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(fields).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Refuses NUL in a plain text column (PostgreSQL cannot store it; SQLite is held to the same
/// rule so both backends answer alike).
fn plain_text(field: &'static str, v: &str) -> Result<()> {
    if v.contains('\0') {
        Err(StoreError::InvalidText(field))
    } else {
        Ok(())
    }
}

fn record(t: EntityType, row: &Row) -> Result<Record> {
    Ok(Record {
        entity_type: t,
        seq: row.int("seq")?,
        id: row.text("id")?,
        account_id: if t == EntityType::Inquiry {
            row.opt_text("account_id")?
        } else {
            None
        },
        fields: parse_fields(&row.text("fields")?)?,
        inserted_at: row.text("inserted_at")?,
        updated_at: row.text("updated_at")?,
    })
}

fn columns(t: EntityType) -> &'static str {
    match t {
        EntityType::Account => "seq, id, fields, inserted_at, updated_at",
        EntityType::Inquiry => "seq, id, account_id, fields, inserted_at, updated_at",
    }
}

fn key_row(r: &Row) -> Result<ApiKey> {
    let scopes = r.text("scopes")?;
    Ok(ApiKey {
        id: r.text("id")?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        name: r.text("name")?,
        created_at: r.text("created_at")?,
        revoked_at: r.opt_text("revoked_at")?,
    })
}

impl Store {
    /// Opens the database at `url` and runs its migrations: `postgres://USER:PASSWORD@HOST/DB`
    /// (or `postgresql://…`) for PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a plain path
    /// for SQLite, created when missing.
    ///
    /// # Errors
    /// Unusable URL, unreachable server, unopenable file, failed migration.
    pub async fn open(url: &str, options: impl Into<StoreOptions>) -> Result<Store> {
        Self::open_with(url, options, true).await
    }

    /// [`Store::open`], with or without the background checkpoint task.
    async fn open_with(
        url: &str,
        options: impl Into<StoreOptions>,
        background: bool,
    ) -> Result<Store> {
        let pools = Pools::open(url, options.into()).await?;
        let checkpoints = match pools.backend() {
            Backend::Sqlite if background => Some(Arc::new(AbortOnDrop(tokio::spawn(
                run_checkpoints(pools.clone()),
            )))),
            Backend::Sqlite | Backend::Postgres => None,
        };
        Ok(Store {
            pools,
            _checkpoints: checkpoints,
        })
    }

    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        self.pools.backend()
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// The database is unreachable.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.pools.reader().await?;
        c.conn().execute(Sql::new("SELECT 1")).await?;
        Ok(())
    }

    /// Whether the database takes writes: a transaction that writes a row to the change log
    /// and rolls back. The writer task's supervisor probes with it after a failed batch.
    ///
    /// # Errors
    /// The database cannot write.
    pub async fn probe_write(&self) -> Result<()> {
        let mut tx = self.pools.begin().await?;
        Self::log_change(&mut tx.conn(), EntityType::Account, "probe").await?;
        tx.rollback().await
    }

    /// Closes the pools (waits for open connections).
    pub async fn close(&self) {
        self.pools.close().await;
    }

    async fn claim(
        conn: &mut Conn<'_>,
        claim: Option<IdempotencyClaim<'_>>,
        resource_id: &str,
    ) -> Result<()> {
        if let Some(c) = claim {
            plain_text("Idempotency-Key", c.idem_key)?;
            let at = now();
            let r = conn
                .execute(
                    Sql::new(
                        "INSERT INTO idempotency (key_id, idem_key, request_hash, resource_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .text(c.key_id)
                    .text(c.idem_key)
                    .text(c.request_hash)
                    .text(resource_id)
                    .text(&at),
                )
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

    async fn log_change(conn: &mut Conn<'_>, t: EntityType, id: &str) -> Result<()> {
        let at = now();
        conn.execute(
            Sql::new("INSERT INTO changes (entity_type, entity_id, at) VALUES ($1, $2, $3)")
                .text(t.as_str())
                .text(id)
                .text(&at),
        )
        .await?;
        Ok(())
    }

    /// Applies a batch of writes in one transaction (one commit, one fsync), each inside its
    /// own savepoint: a write that fails for its own reason (duplicate id, missing record,
    /// idempotency key taken, NUL in a plain text column) is rolled back alone and reported in
    /// its slot; the others commit. Returns once the commit is durable.
    ///
    /// # Errors
    /// The outer error when the transaction itself fails (nothing of the batch is stored).
    pub async fn write_batch(&self, jobs: &[&Job]) -> Result<Vec<Result<Record>>> {
        let at = now();
        let mut tx = self.pools.begin().await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut sp = tx.savepoint().await?;
            match Self::apply(&mut sp.conn(), job, &at).await {
                Ok(r) => {
                    sp.commit().await?;
                    out.push(Ok(r));
                }
                Err(
                    e @ (StoreError::Duplicate(_)
                    | StoreError::NotFound(_)
                    | StoreError::IdempotencyTaken
                    | StoreError::InvalidText(_)),
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

    async fn apply(conn: &mut Conn<'_>, job: &Job, at: &str) -> Result<Record> {
        let id = job.op.id();
        plain_text("id", id)?;
        let claim = job.claim.as_ref().map(|c| IdempotencyClaim {
            key_id: &c.key_id,
            idem_key: &c.idem_key,
            request_hash: &c.request_hash,
        });
        Self::claim(conn, claim, id).await?;
        let rec = match &job.op {
            WriteOp::Insert {
                entity_type: t,
                id,
                account_id,
                fields,
            } => {
                if let Some(a) = account_id {
                    plain_text("account_id", a)?;
                }
                let json = fields_json(fields)?;
                let sql = match t {
                    EntityType::Account => Sql::new(
                        "INSERT INTO accounts (id, fields, inserted_at, updated_at) \
                         VALUES ($1, $2, $3, $4) RETURNING seq",
                    ),
                    EntityType::Inquiry => Sql::new(
                        "INSERT INTO inquiries (id, fields, inserted_at, updated_at, account_id) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                    ),
                };
                let mut q = sql.text(id).text(&json).text(at).text(at);
                if *t == EntityType::Inquiry {
                    q = q.opt_text(account_id.as_deref());
                }
                let seq = match conn.fetch_one(q).await {
                    Ok(row) => row.int(0)?,
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
                if let Some(a) = account_id {
                    plain_text("account_id", a)?;
                }
                let json = fields_json(fields)?;
                let q = match t {
                    EntityType::Account => Sql::new(
                        "UPDATE accounts SET fields = $1, updated_at = $2 WHERE id = $3 \
                         RETURNING seq, inserted_at",
                    )
                    .text(&json)
                    .text(at)
                    .text(id),
                    EntityType::Inquiry => Sql::new(
                        "UPDATE inquiries SET fields = $1, updated_at = $2, account_id = $3 \
                         WHERE id = $4 RETURNING seq, inserted_at",
                    )
                    .text(&json)
                    .text(at)
                    .opt_text(account_id.as_deref())
                    .text(id),
                };
                let row = conn
                    .fetch_optional(q)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(id.clone()))?;
                Record {
                    entity_type: *t,
                    seq: row.int(0)?,
                    id: id.clone(),
                    account_id: account_id.clone(),
                    fields: fields.clone(),
                    inserted_at: row.text(1)?,
                    updated_at: at.to_owned(),
                }
            }
            WriteOp::Label {
                entity_type: t,
                id,
                label,
                key_id,
            } => {
                let sql = format!("SELECT {} FROM {} WHERE id = $1", columns(*t), table(*t));
                let row = conn
                    .fetch_optional(Sql::assembled(sql).text(id))
                    .await?
                    .ok_or_else(|| StoreError::NotFound(id.clone()))?;
                let mut rec = record(*t, &row)?;
                match label {
                    Some(l) => rec.fields.insert("label".to_owned(), l.clone()),
                    None => rec.fields.remove("label"),
                };
                let json = fields_json(&rec.fields)?;
                let sql = format!(
                    "UPDATE {} SET fields = $1, updated_at = $2 WHERE id = $3",
                    table(*t)
                );
                conn.execute(Sql::assembled(sql).text(&json).text(at).text(id))
                    .await?;
                conn.execute(
                    Sql::new(
                        "INSERT INTO labels (entity_type, entity_id, label, key_id, at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .text(t.as_str())
                    .text(id)
                    .opt_text(label.as_deref())
                    .text(key_id)
                    .text(at),
                )
                .await?;
                rec.updated_at = at.to_owned();
                rec
            }
        };
        Self::log_change(conn, rec.entity_type, &rec.id).await?;
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

    /// One record.
    ///
    /// # Errors
    /// Database failure.
    pub async fn get(&self, t: EntityType, id: &str) -> Result<Option<Record>> {
        if id.contains('\0') {
            return Ok(None);
        }
        let mut c = self.pools.reader().await?;
        Self::get_on(&mut c.conn(), t, id).await
    }

    async fn get_on(conn: &mut Conn<'_>, t: EntityType, id: &str) -> Result<Option<Record>> {
        let sql = format!("SELECT {} FROM {} WHERE id = $1", columns(t), table(t));
        let row = conn.fetch_optional(Sql::assembled(sql).text(id)).await?;
        row.map(|r| record(t, &r)).transpose()
    }

    /// Up to `limit` records after insertion number `after`, in insertion order.
    ///
    /// # Errors
    /// Database failure.
    pub async fn list(&self, t: EntityType, after: i64, limit: u32) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE seq > $1 ORDER BY seq LIMIT $2",
            columns(t),
            table(t)
        );
        let mut c = self.pools.reader().await?;
        let rows = c
            .conn()
            .fetch_all(Sql::assembled(sql).int(after).int(i64::from(limit)))
            .await?;
        rows.iter().map(|r| record(t, r)).collect()
    }

    /// Every record, with the number of the last change they include (one read transaction
    /// on one snapshot, so the two agree).
    ///
    /// # Errors
    /// Database failure, corrupt rows.
    pub async fn snapshot(&self) -> Result<(Vec<Record>, i64)> {
        let mut tx = self.pools.begin_snapshot().await?;
        let mut conn = tx.conn();
        let last = conn
            .fetch_one(Sql::new("SELECT MAX(seq) FROM changes"))
            .await?
            .opt_int(0)?;
        let mut out = Vec::new();
        for t in [EntityType::Account, EntityType::Inquiry] {
            let sql = format!("SELECT {} FROM {} ORDER BY seq", columns(t), table(t));
            let rows = conn.fetch_all(Sql::assembled(sql)).await?;
            out.reserve(rows.len());
            for r in &rows {
                out.push(record(t, r)?);
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
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let rows = conn
            .fetch_all(
                Sql::new(
                    "SELECT entity_type, entity_id, MAX(seq) FROM changes WHERE seq > $1 \
                     GROUP BY entity_type, entity_id",
                )
                .int(after),
            )
            .await?;
        let mut last = after;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let t = r.text(0)?;
            let id = r.text(1)?;
            last = last.max(r.int(2)?);
            let t = EntityType::parse(&t)
                .ok_or_else(|| StoreError::Corrupt(format!("entity type {t:?}")))?;
            if let Some(rec) = Self::get_on(&mut conn, t, &id).await? {
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
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let a = conn
            .fetch_one(Sql::new("SELECT COUNT(*) FROM accounts"))
            .await?
            .int(0)?;
        let i = conn
            .fetch_one(Sql::new("SELECT COUNT(*) FROM inquiries"))
            .await?
            .int(0)?;
        Ok((a, i))
    }

    /// Inserts many new records in one transaction (bulk import). Existing ids are skipped;
    /// returns how many were inserted. Rows go in as multi-row `INSERT`s of up to
    /// [`IMPORT_CHUNK`] records (one round trip each on PostgreSQL, instead of two per record).
    ///
    /// # Errors
    /// Database failure; [`StoreError::InvalidText`] for an id with NUL (nothing is stored).
    pub async fn import(&self, records: &[ImportRow]) -> Result<u64> {
        for (_, id, account_id, _) in records {
            plain_text("id", id)?;
            if let Some(a) = account_id {
                plain_text("account_id", a)?;
            }
        }
        let at = now();
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let mut n = 0;
        for chunk in records.chunk_by(|a, b| a.0 == b.0) {
            for chunk in chunk.chunks(IMPORT_CHUNK) {
                n += Self::import_chunk(&mut conn, chunk, &at).await?;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Inserts records of one type, skipping ids already stored, and logs a change for each
    /// record inserted.
    async fn import_chunk(conn: &mut Conn<'_>, rows: &[ImportRow], at: &str) -> Result<u64> {
        let Some(t) = rows.first().map(|r| r.0) else {
            return Ok(0);
        };
        let inquiry = t == EntityType::Inquiry;
        let per_row = if inquiry { 5 } else { 4 };
        let jsons = rows
            .iter()
            .map(|r| fields_json(&r.3))
            .collect::<Result<Vec<_>>>()?;
        let mut sql = format!(
            "INSERT INTO {} (id, fields, inserted_at, updated_at{}) VALUES ",
            table(t),
            if inquiry { ", account_id" } else { "" }
        );
        for i in 0..rows.len() {
            let b = i * per_row;
            if i > 0 {
                sql.push_str(", ");
            }
            if inquiry {
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
            } else {
                sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
            }
        }
        sql.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
        let mut q = Sql::assembled(sql);
        for (r, json) in rows.iter().zip(&jsons) {
            q = q.text(&r.1).text(json).text(at).text(at);
            if inquiry {
                q = q.opt_text(r.2.as_deref());
            }
        }
        let inserted = conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect::<std::result::Result<Vec<String>, _>>()?;
        if inserted.is_empty() {
            return Ok(0);
        }
        let mut sql = String::from("INSERT INTO changes (entity_type, entity_id, at) VALUES ");
        for i in 0..inserted.len() {
            let b = i * 3;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${}, ${})", b + 1, b + 2, b + 3));
        }
        let mut q = Sql::assembled(sql);
        for id in &inserted {
            q = q.text(t.as_str()).text(id).text(at);
        }
        conn.execute(q).await?;
        Ok(inserted.len() as u64)
    }

    // ----- idempotency -----

    /// The idempotency record of `(key_id, idem_key)`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn idempotency(&self, key_id: &str, idem_key: &str) -> Result<Option<Idempotency>> {
        if idem_key.contains('\0') {
            return Ok(None);
        }
        // Read through the writer: a record claimed a moment ago must be seen.
        let mut c = self.pools.writer().await?;
        let row = c
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT request_hash, resource_id, status, body FROM idempotency \
                     WHERE key_id = $1 AND idem_key = $2",
                )
                .text(key_id)
                .text(idem_key),
            )
            .await?;
        row.map(|r| -> Result<Idempotency> {
            let status = r.opt_int(2)?;
            let body = r.opt_text(3)?;
            Ok(Idempotency {
                request_hash: r.text(0)?,
                resource_id: r.opt_text(1)?,
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
        let mut c = self.pools.writer().await?;
        c.conn()
            .execute(
                Sql::new(
                    "UPDATE idempotency SET status = $1, body = $2 \
                     WHERE key_id = $3 AND idem_key = $4",
                )
                .int(i64::from(status))
                .text(body)
                .text(key_id)
                .text(idem_key),
            )
            .await?;
        Ok(())
    }

    // ----- API keys -----

    /// Creates an API key; returns it and its token (`rf_live_` + 64 hex digits), which is
    /// not stored and cannot be shown again.
    ///
    /// # Errors
    /// Database failure; [`StoreError::InvalidText`] for a name with NUL.
    pub async fn create_key(&self, name: &str, scopes: &[String]) -> Result<(ApiKey, String)> {
        plain_text("name", name)?;
        for s in scopes {
            plain_text("scopes", s)?;
        }
        let token = format!("rf_live_{}", random_hex(32)?);
        let id = format!("key_{}", random_hex(8)?);
        let at = now();
        let hash = sha256_hex(token.as_bytes());
        let scope_list = scopes.join(" ");
        let mut c = self.pools.writer().await?;
        c.conn()
            .execute(
                Sql::new(
                    "INSERT INTO api_keys (id, hash, scopes, name, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .text(&id)
                .text(&hash)
                .text(&scope_list)
                .text(name)
                .text(&at),
            )
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

    /// The key whose token hashes to `hash`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        if hash.contains('\0') {
            return Ok(None);
        }
        let mut c = self.pools.reader().await?;
        let row = c
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT id, scopes, name, created_at, revoked_at FROM api_keys WHERE hash = $1",
                )
                .text(hash),
            )
            .await?;
        row.as_ref().map(key_row).transpose()
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// Database failure.
    pub async fn keys(&self) -> Result<Vec<ApiKey>> {
        let mut c = self.pools.reader().await?;
        let rows = c
            .conn()
            .fetch_all(Sql::new(
                "SELECT id, scopes, name, created_at, revoked_at FROM api_keys \
                 ORDER BY created_at, id",
            ))
            .await?;
        rows.iter().map(key_row).collect()
    }

    /// Revokes a key. Returns whether it existed and was active.
    ///
    /// # Errors
    /// Database failure.
    pub async fn revoke_key(&self, id: &str) -> Result<bool> {
        if id.contains('\0') {
            return Ok(false);
        }
        let at = now();
        let mut c = self.pools.writer().await?;
        let n = c
            .conn()
            .execute(
                Sql::new(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .text(&at)
                .text(id),
            )
            .await?;
        Ok(n == 1)
    }

    // ----- saved graph queries -----

    /// Saves a graph-query template.
    ///
    /// # Errors
    /// Database failure; [`StoreError::InvalidText`] for a name or template with NUL.
    pub async fn create_query(&self, name: &str, template: &str) -> Result<SavedQuery> {
        plain_text("name", name)?;
        plain_text("template", template)?;
        let id = format!("gq_{}", random_hex(8)?);
        let at = now();
        let mut c = self.pools.writer().await?;
        c.conn()
            .execute(
                Sql::new(
                    "INSERT INTO graph_queries (id, name, template, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .text(&id)
                .text(name)
                .text(template)
                .text(&at),
            )
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
        if id.contains('\0') {
            return Ok(None);
        }
        let mut c = self.pools.reader().await?;
        let row = c
            .conn()
            .fetch_optional(
                Sql::new("SELECT id, name, template, created_at FROM graph_queries WHERE id = $1")
                    .text(id),
            )
            .await?;
        row.map(|r| -> Result<SavedQuery> {
            Ok(SavedQuery {
                id: r.text(0)?,
                name: r.text(1)?,
                template: r.text(2)?,
                created_at: r.text(3)?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn insert_accounts(store: &Store, from: usize, n: usize) {
        let mut f = BTreeMap::new();
        f.insert("email".to_owned(), "someone@example.com".to_owned());
        for i in from..from + n {
            store
                .insert(EntityType::Account, &format!("acct_{i}"), None, &f)
                .await
                .unwrap();
        }
    }

    #[test]
    fn generated_ids_sort_by_time_and_differ() {
        let a = time_ordered_hex().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = time_ordered_hex().unwrap();
        let c = time_ordered_hex().unwrap();
        for id in [&a, &b, &c] {
            assert_eq!(id.len(), 24, "{id}");
            assert!(
                id.bytes()
                    .all(|x| x.is_ascii_hexdigit() && !x.is_ascii_uppercase())
            );
        }
        assert!(a < b && a < c, "{a} {b} {c}");
        assert_ne!(b, c);
    }

    #[tokio::test]
    async fn a_complete_checkpoint_lets_the_next_commit_start_the_log_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open_with(path.to_str().unwrap(), Synchronous::Full, false)
            .await
            .unwrap();
        insert_accounts(&store, 0, 200).await;
        // Nothing writes meanwhile, so a passive pass copies every frame.
        let first = store.pools.checkpoint(i64::MAX).await.unwrap().unwrap();
        assert!(first.complete() && first.frames >= 200, "{first:?}");
        insert_accounts(&store, 200, 1).await;
        let next = store.pools.checkpoint(i64::MAX).await.unwrap().unwrap();
        assert!(next.frames < 20, "the log did not start over: {next:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_writes_a_catch_up_completes_the_log_and_it_starts_over() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open_with(path.to_str().unwrap(), Synchronous::Full, false)
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let writes = tokio::spawn({
            let (store, stop, done) = (store.clone(), stop.clone(), done.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    insert_accounts(&store, done.load(Ordering::Relaxed), 1).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let mut restarts = 0;
        let wait_for = |n: usize| {
            let done = done.clone();
            async move {
                let target = done.load(Ordering::Relaxed) + n;
                while done.load(Ordering::Relaxed) < target {
                    tokio::task::yield_now().await;
                }
            }
        };
        for _ in 0..20 {
            // A log of dozens of writes, so one that starts over is plainly shorter after two.
            wait_for(30).await;
            // With the writer held, no commit lands while the last frames are copied.
            let caught_up = store.pools.checkpoint(1).await.unwrap().unwrap();
            assert!(caught_up.complete(), "{caught_up:?}");
            wait_for(2).await;
            let next = store.pools.checkpoint(i64::MAX).await.unwrap().unwrap();
            if next.frames < caught_up.frames {
                restarts += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writes.await.unwrap();
        // SQLite restarts the log only when no reader holds an old snapshot at that moment, so
        // not after every catch-up; it must after most.
        assert!(
            restarts >= 10,
            "the log started over after {restarts} of 20 catch-ups"
        );
        let n = done.load(Ordering::Relaxed);
        assert_eq!(store.counts().await.unwrap().0, i64::try_from(n).unwrap());
    }

    #[tokio::test]
    async fn the_background_task_copies_the_log_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(path.to_str().unwrap(), Synchronous::Full)
            .await
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let empty = size();
        // The writer's own automatic checkpoint is far away (BACKSTOP_FRAMES), so only the
        // background task grows the database file.
        insert_accounts(&store, 0, 300).await;
        let mut waited = 0;
        while size() == empty {
            assert!(waited < 100, "no checkpoint within 10 s");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
        store.close().await;
        let reopened = Store::open(path.to_str().unwrap(), Synchronous::Full)
            .await
            .unwrap();
        assert_eq!(reopened.counts().await.unwrap().0, 300);
    }

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
    async fn import_skips_stored_and_repeated_ids_and_logs_each_insert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(path.to_str().unwrap(), Synchronous::Normal)
            .await
            .unwrap();
        let row = |t, id: &str| (t, id.to_owned(), None, BTreeMap::new());
        let mut rows: Vec<ImportRow> = (0..IMPORT_CHUNK + 3)
            .map(|i| row(EntityType::Account, &format!("acct_{i}")))
            .collect();
        rows.push(row(EntityType::Account, "acct_1"));
        rows.push(row(EntityType::Inquiry, "inq_1"));
        rows.push(row(EntityType::Account, "acct_last"));
        let n = store.import(&rows).await.unwrap();
        assert_eq!(n, IMPORT_CHUNK as u64 + 5);
        assert_eq!(store.import(&rows).await.unwrap(), 0);
        assert_eq!(store.counts().await.unwrap(), (IMPORT_CHUNK as i64 + 4, 1));
        let (all, last) = store.snapshot().await.unwrap();
        assert_eq!((all.len() as i64, last), (n as i64, n as i64));
        let bad = [row(EntityType::Account, "acct_\0")];
        let e = store.import(&bad).await.unwrap_err();
        assert!(matches!(e, StoreError::InvalidText("id")), "{e}");
    }

    #[tokio::test]
    async fn memory_databases_and_other_schemes_are_refused() {
        for url in ["sqlite::memory:", "mysql://localhost/x"] {
            let e = Store::open(url, Synchronous::Full).await.unwrap_err();
            assert!(matches!(e, StoreError::Config(_)), "{url}: {e}");
        }
    }
}
