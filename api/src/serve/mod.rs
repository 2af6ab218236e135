//! `ringfence serve`: the real-time risk service.
//!
//! * [`app`] builds the axum [`Router`] over an [`AppState`], so tests drive it in-process.
//! * [`AppState::load`] builds the live graph from the store with the batch linker; [`run`]
//!   opens the store, binds, builds the graph (answering `/readyz` with 503 meanwhile), serves,
//!   and shuts down gracefully on SIGTERM or Ctrl-C (in-flight requests finish, the store is
//!   closed cleanly).
//! * Every write is committed to the store before it touches the live graph, and acknowledged
//!   only after both; a crashed process rebuilds the graph from the store on start.
//! * One writer task commits the writes (group commit), under a supervisor: a failed batch
//!   answers its writes with 503 and the service refuses writes (and `/readyz` says 503) until
//!   a probe write succeeds; a panic of the writer rebuilds the graph from the store (a batch
//!   may have committed without reaching it) and restarts the writer.

pub mod auth;
pub mod error;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod routes;
pub mod service;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path as UrlPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use graph_core::{LinkConfig, LiveGraph, NormalizeOptions};
use serde_json::{Value, json};
use tower_http::timeout::TimeoutLayer;

use self::auth::KeyCache;
use self::error::ApiError;
use self::metrics::{Metrics, WritePhase};
use crate::store::{
    DEFAULT_PG_CONNECTIONS, Job, Record, Store, StoreError, StoreOptions, Synchronous,
};

/// Largest accepted request body, in bytes.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Longest a request may take before it is answered with 503 `timeout`, unless set with
/// [`AppState::set_request_timeout`] (`ringfence serve --request-timeout-ms`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared state of the service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The store.
    pub store: Store,
    /// The live graph. Readers take the read lock for microseconds; a write holds the write
    /// lock only while it applies one record to the graph.
    graph: RwLock<LiveGraph>,
    /// Held by the writer task from a batch's commit to its last graph update (and by a
    /// re-link while it replays and swaps), so the graph applies changes in commit order.
    pub write_lock: tokio::sync::Mutex<()>,
    /// The queue of the writer task (see `writer`).
    writes: tokio::sync::mpsc::Sender<Pending>,
    /// The one normalisation's options.
    pub normalize: NormalizeOptions,
    /// API key lookups.
    pub keys: KeyCache,
    /// Metrics.
    pub metrics: Metrics,
    /// The graph has been built.
    ready: AtomicBool,
    /// The writer can commit: false after a failed batch until a probe write succeeds, and
    /// while a panicked writer is replaced.
    writer_ok: AtomicBool,
    /// Test hook: the writer panics after its next commit (see [`AppState::inject_writer_panic`]).
    panic_next_batch: AtomicBool,
    /// Request timeout in milliseconds, read when the router is built.
    request_timeout_ms: std::sync::atomic::AtomicU64,
    /// Stored records the graph could not use at the last build (they fail normalisation).
    pub skipped: std::sync::atomic::AtomicU64,
    /// The duplicate model given with `--dedupe-model` (otherwise each build trains one).
    dedupe_model: std::sync::OnceLock<graph_core::dedupe::Model>,
    /// Wakes the background rescorer (see `rescorer`).
    rescore: Arc<tokio::sync::Notify>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// State over an open store with an empty graph (not ready until [`AppState::load`]).
    /// Starts the writer task, so it must be called inside a tokio runtime.
    pub fn new(
        store: Store,
        keyer: graph_core::Keyer,
        config: LinkConfig,
        normalize: NormalizeOptions,
    ) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(WRITE_QUEUE);
        let inner = Arc::new(Inner {
            store,
            graph: RwLock::new(LiveGraph::new(keyer, config)),
            write_lock: tokio::sync::Mutex::new(()),
            writes: tx,
            normalize,
            keys: KeyCache::default(),
            metrics: Metrics::default(),
            ready: AtomicBool::new(false),
            writer_ok: AtomicBool::new(true),
            panic_next_batch: AtomicBool::new(false),
            request_timeout_ms: std::sync::atomic::AtomicU64::new(
                REQUEST_TIMEOUT.as_millis() as u64
            ),
            skipped: Default::default(),
            dedupe_model: std::sync::OnceLock::new(),
            rescore: Arc::new(tokio::sync::Notify::new()),
        });
        tokio::spawn(supervise(Arc::downgrade(&inner), rx));
        tokio::spawn(rescorer(Arc::downgrade(&inner), inner.rescore.clone()));
        AppState(inner)
    }

    /// Sets the request timeout of routers built after this call (default [`REQUEST_TIMEOUT`]).
    pub fn set_request_timeout(&self, timeout: Duration) {
        self.request_timeout_ms
            .store(timeout.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.load(Ordering::Relaxed))
    }

    /// Fault injection for tests: the writer task panics right after its next commit, before
    /// the batch reaches the graph — the worst moment, which the supervisor must repair.
    #[doc(hidden)]
    pub fn inject_writer_panic(&self) {
        self.panic_next_batch.store(true, Ordering::Release);
    }

    /// Queues a write and waits until it is committed and applied to the graph. Returns the
    /// stored record and the entity's risk after the write.
    ///
    /// # Errors
    /// The write's own store error, or [`StoreError::Corrupt`] when the batch failed or the
    /// service is stopping.
    pub async fn submit(
        &self,
        job: Job,
        graph: GraphOp,
    ) -> Result<(Record, Option<graph_core::Risk>), StoreError> {
        if !self.writer_ok.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the writer is recovering".into()));
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.writes
            .send(Pending {
                job,
                graph,
                reply,
                queued: Instant::now(),
            })
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await.map_err(|_| {
            StoreError::Unavailable(
                "the writer stopped during this write; it may have been applied".into(),
            )
        })?
    }

    /// Read access to the live graph. A poisoned lock (a panic while writing) is still
    /// readable: the graph is rebuilt by the next re-link.
    pub fn graph_read(&self) -> RwLockReadGuard<'_, LiveGraph> {
        self.graph
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write access to the live graph.
    pub fn graph_write(&self) -> RwLockWriteGuard<'_, LiveGraph> {
        self.graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Uses `model` for duplicates from the next graph build on, instead of training one on
    /// the store's records at each build. Returns `false` when a model was already set.
    pub fn set_dedupe_model(&self, model: graph_core::dedupe::Model) -> bool {
        self.dedupe_model.set(model).is_ok()
    }

    /// Whether the graph has been built and the writer can commit (what `/readyz` says).
    pub fn is_ready(&self) -> bool {
        self.is_loaded() && self.writer_ok()
    }

    /// Whether the graph has been built (reads can be served).
    pub fn is_loaded(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Whether the writer can commit (writes can be taken).
    pub fn writer_ok(&self) -> bool {
        self.writer_ok.load(Ordering::Acquire)
    }

    /// Builds the live graph from the store (the batch linker, in parallel) and marks the
    /// service ready.
    ///
    /// # Errors
    /// Store failures.
    pub async fn load(&self) -> anyhow::Result<Value> {
        let stats = relink(self).await?;
        self.ready.store(true, Ordering::Release);
        Ok(stats)
    }
}

/// Most writes queued at once; senders wait beyond it.
const WRITE_QUEUE: usize = 4096;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// What a committed write does to the live graph.
#[derive(Debug, Clone)]
pub enum GraphOp {
    /// Add or replace a record.
    Upsert(graph_core::Normalized),
    /// Set or clear a label.
    Label(graph_core::EntityType, String, Option<graph_core::Label>),
}

type Answer = Result<(Record, Option<graph_core::Risk>), StoreError>;

/// A queued write.
#[derive(Debug)]
pub struct Pending {
    job: Job,
    graph: GraphOp,
    reply: tokio::sync::oneshot::Sender<Answer>,
    /// When the write was queued.
    queued: Instant,
}

type Queue = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Pending>>>;

/// Runs the writer task and replaces it when it panics. The queue outlives the task (it sits
/// behind a mutex the task holds), so writes queued meanwhile are served by the next writer.
/// A panic may strike after a batch committed and before it reached the graph, so the graph
/// is rebuilt from the store before the new writer starts; until then the service refuses
/// writes with 503 and `/readyz` says 503 (reads go on from the graph as it is).
async fn supervise(state: std::sync::Weak<Inner>, rx: tokio::sync::mpsc::Receiver<Pending>) {
    let queue: Queue = Arc::new(tokio::sync::Mutex::new(rx));
    loop {
        let task = tokio::spawn(writer(state.clone(), queue.clone()));
        let Err(e) = task.await else {
            return; // The queue closed or the service is gone.
        };
        if !e.is_panic() {
            return;
        }
        let Some(inner) = state.upgrade() else {
            return;
        };
        inner.writer_ok.store(false, Ordering::Release);
        inner.metrics.writer_restarts.inc();
        tracing::error!("the writer task panicked; rebuilding the graph from the store");
        let st = AppState(inner);
        if st.is_loaded() {
            let mut wait = Duration::from_millis(100);
            while let Err(e) = relink(&st).await {
                tracing::error!(error = %e, "rebuild after a writer panic failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
        st.writer_ok.store(true, Ordering::Release);
        tracing::info!("writer restarted");
    }
}

/// After a failed batch: answers every queued write with 503 and probes the store with a
/// rolled-back write (backing off to 5 s) until it takes writes again. Returns false when the
/// service is gone.
async fn recover_store(
    state: &std::sync::Weak<Inner>,
    rx: &mut tokio::sync::mpsc::Receiver<Pending>,
) -> bool {
    let mut wait = Duration::from_millis(50);
    loop {
        while let Ok(p) = rx.try_recv() {
            let _ = p.reply.send(Err(StoreError::Unavailable(
                "an earlier write batch failed; the store is being probed".into(),
            )));
        }
        let Some(inner) = state.upgrade() else {
            return false;
        };
        match inner.store.probe_write().await {
            Ok(()) => {
                inner.writer_ok.store(true, Ordering::Release);
                tracing::info!("the store takes writes again");
                return true;
            }
            Err(e) => tracing::warn!(error = %e, "the store still refuses writes"),
        }
        drop(inner);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// The single writer: takes every write queued at the moment (up to [`MAX_BATCH`]), commits
/// them in one transaction — one fsync for the batch (group commit), each write in its own
/// savepoint — then applies them to the live graph in commit order and answers each. Under
/// load, batches grow and the fsync cost is shared; alone, a write is a batch of one.
///
/// When the batch's transaction fails (the database is down, the disk is full), nothing of it
/// is stored: each write is answered 503, and the writer refuses writes until the store takes
/// them again ([`recover_store`]).
async fn writer(state: std::sync::Weak<Inner>, queue: Queue) {
    let mut rx = queue.lock().await;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let mut jobs = Vec::with_capacity(batch.len());
        let mut ops = Vec::with_capacity(batch.len());
        let mut owed = Owed {
            state: state.clone(),
            replies: Vec::with_capacity(batch.len()),
        };
        let Some(inner) = state.upgrade() else {
            break;
        };
        let taken = Instant::now();
        for p in batch {
            inner.metrics.observe_write(
                WritePhase::Queued,
                taken.duration_since(p.queued).as_secs_f64(),
            );
            jobs.push(p.job);
            ops.push(p.graph);
            owed.replies.push(Some(p.reply));
        }
        let writing = inner.write_lock.lock().await;
        let refs: Vec<&Job> = jobs.iter().collect();
        let committing = Instant::now();
        let results = inner.store.write_batch(&refs).await;
        let committed = Instant::now();
        inner.metrics.observe_write(
            WritePhase::Commit,
            committed.duration_since(committing).as_secs_f64(),
        );
        match results {
            Err(e) => {
                tracing::error!(error = %e, writes = jobs.len(), "write batch failed; refusing writes until the store takes them");
                inner.writer_ok.store(false, Ordering::Release);
                inner.metrics.failed_batches.inc();
                for i in 0..jobs.len() {
                    owed.answer(
                        i,
                        Err(StoreError::Unavailable(format!(
                            "the write batch failed: {e}"
                        ))),
                    );
                }
                drop(writing);
                drop(inner);
                if !recover_store(&state, &mut rx).await {
                    break;
                }
                continue;
            }
            Ok(results) => {
                if inner.panic_next_batch.swap(false, Ordering::AcqRel) {
                    panic!("injected writer fault: panicking after a commit");
                }
                for (i, (op, r)) in ops.into_iter().zip(results).enumerate() {
                    let answer = r.map(|record| {
                        // The graph lock is taken per write, so readers slip in between.
                        let mut g = inner
                            .graph
                            .write()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let (t, id) = match op {
                            GraphOp::Upsert(n) => {
                                let key = (n.entity.entity_type, n.entity.id.clone());
                                let started = Instant::now();
                                let change = g.upsert(n);
                                let took = started.elapsed();
                                if took >= SLOW_WRITE {
                                    tracing::debug!(
                                        took_ms = took.as_secs_f64() * 1e3,
                                        reclustered = change.reclustered,
                                        changed_clusters = change.changed_clusters.len(),
                                        deferred = change.deferred,
                                        "slow graph update"
                                    );
                                }
                                key
                            }
                            GraphOp::Label(t, id, label) => {
                                g.set_label(t, &id, label);
                                (t, id)
                            }
                        };
                        let risk = g.risk(t, &id);
                        let stale = g.stale_clusters() > 0;
                        drop(g);
                        if stale {
                            inner.rescore.notify_one();
                        }
                        inner.metrics.graph_writes.inc();
                        (record, risk)
                    });
                    owed.answer(i, answer);
                }
                let applied = committed.elapsed();
                inner
                    .metrics
                    .observe_write(WritePhase::Graph, applied.as_secs_f64());
                let took = taken.elapsed();
                if took >= SLOW_WRITE {
                    tracing::debug!(
                        writes = jobs.len(),
                        lock_ms = committing.duration_since(taken).as_secs_f64() * 1e3,
                        commit_ms = committed.duration_since(committing).as_secs_f64() * 1e3,
                        graph_ms = applied.as_secs_f64() * 1e3,
                        "slow write batch"
                    );
                }
            }
        }
        drop(writing);
    }
}

/// A write batch taking this long (from the writer taking it to its last answer), or one graph
/// update taking this long, is logged at debug level: the batch with the time of each stage
/// (`lock_ms`: from taking the batch to starting its transaction, which waits for the write
/// lock a re-link may hold), the update with what it changed.
const SLOW_WRITE: Duration = Duration::from_millis(5);

/// The answers a batch owes its callers. Should the writer panic with answers outstanding,
/// dropping this (as the panic unwinds) first marks the writer down and only then answers them
/// 503, so no caller hears back before the service refuses writes and `/readyz` says so.
struct Owed {
    state: std::sync::Weak<Inner>,
    replies: Vec<Option<tokio::sync::oneshot::Sender<Answer>>>,
}

impl Owed {
    fn answer(&mut self, i: usize, answer: Answer) {
        if let Some(r) = self.replies.get_mut(i).and_then(Option::take) {
            let _ = r.send(answer);
        }
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        if self.replies.iter().all(Option::is_none) {
            return;
        }
        if let Some(inner) = self.state.upgrade() {
            inner.writer_ok.store(false, Ordering::Release);
        }
        for r in self.replies.iter_mut().filter_map(Option::take) {
            let _ = r.send(Err(StoreError::Unavailable(
                "the writer stopped during this write; it may have been applied".into(),
            )));
        }
    }
}

/// The background rescorer: clusters too large to rescore inside a write are marked stale by
/// the graph; this task rescores them one at a time — the sub-graph is copied under the read
/// lock, scored on a blocking thread without any lock, and swapped in under a short write
/// lock (dropped if the cluster changed meanwhile; it is then rescored again).
async fn rescorer(state: std::sync::Weak<Inner>, wake: Arc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        loop {
            let Some(inner) = state.upgrade() else {
                return;
            };
            let job = {
                let g = inner
                    .graph
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                g.prepare_rescore().map(|j| (j, g.config().clone()))
            };
            let Some((mut job, config)) = job else {
                break;
            };
            let Ok(job) = tokio::task::spawn_blocking(move || {
                job.run(&config);
                job
            })
            .await
            else {
                break;
            };
            inner
                .graph
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .apply_rescore(job);
        }
    }
}

/// Rebuilds the live graph from a store snapshot without blocking requests, then, holding the
/// write lock, replays the changes committed meanwhile and swaps the new graph in.
///
/// This is also the re-link that handles what the incremental path approximates: `auto` caps
/// are chosen again from the data, and reasons naming counts are refreshed everywhere.
///
/// # Errors
/// Store failures; the old graph stays in place.
pub async fn relink(state: &AppState) -> anyhow::Result<Value> {
    let t0 = Instant::now();
    let (records, last) = state.store.snapshot().await?;
    let (keyer, config) = {
        let g = state.graph_read();
        (g.keyer().clone(), g.config().clone())
    };
    let st = state.clone();
    let (graph, skipped) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<(LiveGraph, u64)> {
            use rayon::prelude::*;
            let normalized: Vec<Option<graph_core::Normalized>> = records
                .par_iter()
                .map(|r| service::normalize_record(&st, r))
                .collect();
            // The raw records are the largest thing held during a rebuild; let them go first.
            drop(records);
            let skipped = normalized.iter().filter(|n| n.is_none()).count() as u64;
            let normalized: Vec<graph_core::Normalized> =
                normalized.into_iter().flatten().collect();
            let model = st.dedupe_model.get().cloned();
            Ok((
                LiveGraph::from_records_with_model(&normalized, keyer, config, model)?,
                skipped,
            ))
        })
        .await??;
    let build_ms = t0.elapsed().as_millis() as u64;
    let mut graph = graph;
    let writer = state.write_lock.lock().await;
    let (changed, _) = state.store.changed_since(last).await?;
    for r in &changed {
        if let Some(n) = service::normalize_record(state, r) {
            graph.upsert(n);
        }
    }
    let entities = graph.len();
    let memory = graph.memory();
    tracing::info!(
        structures = ?memory.parts.iter().map(|(n, b)| format!("{n}: {} MB", b >> 20)).collect::<Vec<_>>(),
        counts = ?memory.counts,
        "live graph memory (approximate heap bytes)"
    );
    // Swap under the lock, free the old graph outside it (dropping millions of entities takes
    // a while, and readers must not wait for it). The counters change under the graph's lock
    // too: a reader that sees the new graph sees them counted (a request answered from the
    // new graph could read the old count, which a test caught under load).
    let old = {
        let mut g = state.graph_write();
        let old = std::mem::replace(&mut *g, graph);
        state.skipped.store(skipped, Ordering::Relaxed);
        state.metrics.relinks.inc();
        old
    };
    drop(writer);
    tokio::task::spawn_blocking(move || drop(old));
    tracing::info!(
        entities,
        skipped,
        build_ms,
        replayed = changed.len(),
        "graph rebuilt"
    );
    Ok(json!({
        "entities": entities,
        "skipped_records": skipped,
        "replayed_changes": changed.len(),
        "build_ms": build_ms,
    }))
}

/// The router: every route, the body limit, the timeout, request logging without PII,
/// metrics, and the error shape for everything (unknown routes, wrong methods, limits).
pub fn app(state: AppState) -> Router {
    use routes::*;
    let api = Router::new()
        .route(
            "/v1/accounts",
            post(create_account).get(list_records_accounts),
        )
        .route(
            "/v1/inquiries",
            post(create_inquiry).get(list_records_inquiries),
        )
        .route(
            "/v1/accounts/{id}",
            get(get_record_accounts).patch(update_account),
        )
        .route(
            "/v1/inquiries/{id}",
            get(get_record_inquiries).patch(update_inquiry),
        )
        .route(
            "/v1/accounts/{id}/risk",
            get(
                |s: axum::extract::State<AppState>,
                 c: auth::Caller,
                 UrlPath(id): UrlPath<String>| {
                    get_risk(s, c, UrlPath(("accounts".into(), id)))
                },
            ),
        )
        .route(
            "/v1/inquiries/{id}/risk",
            get(
                |s: axum::extract::State<AppState>,
                 c: auth::Caller,
                 UrlPath(id): UrlPath<String>| {
                    get_risk(s, c, UrlPath(("inquiries".into(), id)))
                },
            ),
        )
        .route(
            "/v1/accounts/{id}/label",
            post(
                |s: axum::extract::State<AppState>,
                 c: auth::Caller,
                 h: axum::http::HeaderMap,
                 UrlPath(id): UrlPath<String>,
                 b: error::ApiJson<model::LabelInput>| {
                    set_label(s, c, h, UrlPath(("accounts".into(), id)), b)
                },
            ),
        )
        .route(
            "/v1/inquiries/{id}/label",
            post(
                |s: axum::extract::State<AppState>,
                 c: auth::Caller,
                 h: axum::http::HeaderMap,
                 UrlPath(id): UrlPath<String>,
                 b: error::ApiJson<model::LabelInput>| {
                    set_label(s, c, h, UrlPath(("inquiries".into(), id)), b)
                },
            ),
        )
        .route("/v1/risk/evaluate", post(evaluate))
        .route("/v1/graph/entities/{id}/cluster", get(get_cluster))
        .route(
            "/v1/graph/entities/{id}/neighbourhood",
            get(get_neighbourhood),
        )
        .route("/v1/graph/hubs", get(get_hubs))
        .route("/v1/graph/queries", post(create_query))
        .route("/v1/graph/queries/{id}/run", post(run_query))
        .route("/v1/keys", post(create_key))
        .route("/v1/keys/{id}", delete(revoke_key))
        .route("/v1/admin/relink", post(relink))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_ready));
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(fallback)
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::NoRoute(
                format!("{} {}", req.method(), req.uri().path()),
                StatusCode::METHOD_NOT_ALLOWED,
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // The timeout sits inside `error_shape` (a later layer wraps the earlier ones), so its
        // bare 503 gets the error body too.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.request_timeout(),
        ))
        .layer(middleware::from_fn(error_shape))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn list_records_accounts(
    s: axum::extract::State<AppState>,
    c: auth::Caller,
    q: Result<axum::extract::Query<routes::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    routes::list_records(s, c, axum::extract::Path("accounts".to_owned()), q).await
}

async fn list_records_inquiries(
    s: axum::extract::State<AppState>,
    c: auth::Caller,
    q: Result<axum::extract::Query<routes::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    routes::list_records(s, c, axum::extract::Path("inquiries".to_owned()), q).await
}

async fn get_record_accounts(
    s: axum::extract::State<AppState>,
    c: auth::Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    routes::get_record(s, c, axum::extract::Path(("accounts".to_owned(), id))).await
}

async fn get_record_inquiries(
    s: axum::extract::State<AppState>,
    c: auth::Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    routes::get_record(s, c, axum::extract::Path(("inquiries".to_owned(), id))).await
}

/// API routes answer 503 until the graph is built; requests other than GET also while the
/// writer cannot commit (after a failed batch, or while a panicked writer is replaced).
async fn require_ready(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !state.is_loaded() {
        ApiError::Unavailable("the graph is still loading; retry shortly").into_response()
    } else if req.method() != axum::http::Method::GET && !state.writer_ok() {
        ApiError::Unavailable("the store cannot take writes now; retry shortly").into_response()
    } else {
        next.run(req).await
    }
}

/// Gives error responses produced outside the handlers (timeouts, limits, axum's own
/// rejections) the API's error shape.
async fn error_shape(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let e = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(BODY_LIMIT),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::NoRoute("this method".into(), StatusCode::METHOD_NOT_ALLOWED)
        }
        StatusCode::NOT_FOUND => ApiError::NotFound("not found".into()),
        s if s.is_client_error() => ApiError::bad("bad_request", "the request was refused"),
        _ => ApiError::Internal(format!("status {status} without a body")),
    };
    let mut out = e.into_response();
    *out.status_mut() = status;
    out
}

/// Request log and metrics. Logs the method, the matched route template (never the raw path
/// or query, which may carry ids or values), the status and the latency; bodies are never
/// logged, so PII never reaches the log.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let t0 = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let mut resp = next.run(req).await;
    let secs = t0.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    state.metrics.observe(&method, &route, status, secs);
    tracing::info!(target: "ringfence::http", %method, %route, status, micros = (secs * 1e6) as u64, "request");
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Options of `ringfence serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Database: a SQLite file (`sqlite://PATH` or a path; created when missing) or
    /// `postgres://USER:PASSWORD@HOST/DB`. Prefer the environment variable for a URL with a
    /// password (the process list shows flags).
    #[arg(long, default_value = "ringfence.db", env = "RINGFENCE__STORE__URL")]
    pub db: crate::settings::DbUrl,
    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        env = "RINGFENCE__SERVICE__BIND"
    )]
    pub bind: SocketAddr,
    /// Import a folder with `accounts.csv` (and optionally `inquiries.csv`) in the data
    /// contract's columns before serving; ids already stored are skipped.
    #[arg(long, value_name = "DIR")]
    pub import: Option<PathBuf>,
    /// How commits reach the disk: `full` (survives power loss) or `normal` (survives a
    /// killed process; see ARCHITECTURE.md).
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,
    /// PostgreSQL: connections this process keeps at most (at least 2; SQLite ignores it).
    #[arg(
        long,
        default_value_t = DEFAULT_PG_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(2..),
        env = "RINGFENCE__STORE__CONNECTIONS"
    )]
    pub db_connections: u32,
    /// Link configuration (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Rebuild the graph from the store every this many seconds (0: only on demand). With
    /// several instances over one PostgreSQL, this is also when an instance picks up the
    /// records the others wrote.
    #[arg(long, default_value_t = 3600, env = "RINGFENCE__SERVICE__RELINK_EVERY")]
    pub relink_every: u64,
    /// Longest a request may take, in milliseconds, before it is answered with 503 `timeout`.
    #[arg(
        long,
        default_value_t = REQUEST_TIMEOUT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..),
        env = "RINGFENCE__SERVICE__REQUEST_TIMEOUT_MS"
    )]
    pub request_timeout_ms: u64,
    /// A duplicate model (`dedupe_model.json` of `ringfence link` or `ringfence dedupe`) to
    /// score duplicates with; without it a model is trained on the store's records at each
    /// graph build.
    #[arg(long, value_name = "FILE")]
    pub dedupe_model: Option<PathBuf>,
}

/// Runs the service until SIGTERM or Ctrl-C.
///
/// # Errors
/// Unusable flags, store or bind failures.
pub fn run(args: ServeArgs, settings: &crate::settings::GraphSettings) -> anyhow::Result<()> {
    if settings.key_secret_is_default {
        tracing::warn!(
            "no key secret configured ({}); property keys use the public development secret",
            crate::settings::KEY_SECRET_ENV
        );
    }
    let config = crate::cli::load_config(args.config.as_deref())?;
    let model = args
        .dedupe_model
        .as_deref()
        .map(crate::cli::load_model)
        .transpose()?;
    let keyer = settings.keyer();
    let normalize = NormalizeOptions {
        default_region: settings.default_region.clone(),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let t0 = Instant::now();
        let store = Store::open(
            args.db.expose(),
            StoreOptions {
                synchronous: args.synchronous,
                pg_connections: args.db_connections,
            },
        )
        .await?;
        eprintln!("store: {} ({:?})", args.db, store.backend());
        if let Some(dir) = &args.import {
            let (rows, n) = import_dir(&store, dir).await?;
            eprintln!(
                "imported {n} new records from {} ({} rows skipped: id already stored or repeated)",
                dir.display(),
                rows - n
            );
        }
        let state = AppState::new(store, keyer, config, normalize);
        state.set_request_timeout(Duration::from_millis(args.request_timeout_ms));
        if let Some(model) = model {
            state.set_dedupe_model(model);
        }
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let local = listener.local_addr()?;
        // Listen first (healthz answers, readyz says 503), then build the graph.
        let loader = {
            let state = state.clone();
            tokio::spawn(async move {
                match state.load().await {
                    Ok(stats) => eprintln!(
                        "ready: {} entities in the live graph ({} ms after start)",
                        stats["entities"],
                        t0.elapsed().as_millis()
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot build the graph");
                        eprintln!("error: cannot build the graph: {e:#}");
                        std::process::exit(1);
                    }
                }
            })
        };
        if args.relink_every > 0 {
            let state = state.clone();
            let every = Duration::from_secs(args.relink_every);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if state.is_ready()
                        && let Err(e) = relink(&state).await
                    {
                        tracing::error!(error = %e, "re-link failed; the previous graph stays");
                    }
                }
            });
        }
        eprintln!("listening on http://{local}");
        axum::serve(listener, app(state.clone()))
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        loader.abort();
        state.store.close().await;
        eprintln!("stopped");
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Imports `accounts.csv` and `inquiries.csv` (data-contract columns) from a folder. Ids
/// without their prefix get it (`A1` → `acct_A1`); rows whose id is already stored (or repeats
/// an earlier row) are skipped and counted, never dropped silently. Returns
/// `(rows read, records inserted)`.
///
/// # Errors
/// Missing or unreadable files, rows without an id (named with their row number).
pub async fn import_dir(store: &Store, dir: &Path) -> anyhow::Result<(u64, u64)> {
    let accounts = dir.join("accounts.csv");
    anyhow::ensure!(
        accounts.exists(),
        crate::cli::UserError(format!("{} has no accounts.csv", dir.display()))
    );
    let mut total = 0;
    let mut rows = 0;
    for (t, file) in [
        (graph_core::EntityType::Account, accounts),
        (graph_core::EntityType::Inquiry, dir.join("inquiries.csv")),
    ] {
        if !file.exists() {
            continue;
        }
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let headers = rdr.headers()?.clone();
        let id_col = match t {
            graph_core::EntityType::Account => "account_id",
            graph_core::EntityType::Inquiry => "inquiry_id",
        };
        let mut batch = Vec::with_capacity(10_000);
        for (i, row) in rdr.records().enumerate() {
            let row = row.with_context(|| format!("{} row {}", file.display(), i + 2))?;
            let mut fields = std::collections::BTreeMap::new();
            let mut id = None;
            let mut account = None;
            for (h, v) in headers.iter().zip(row.iter()) {
                if v.trim().is_empty() {
                    continue;
                }
                if h == id_col {
                    id = Some(v.trim().to_owned());
                } else if h == "account_id" {
                    account = Some(with_prefix("acct_", v.trim()));
                } else if graph_core::Field::from_name(h).is_some() {
                    fields.insert(h.to_owned(), v.to_owned());
                }
            }
            let id = id.ok_or_else(|| {
                crate::cli::UserError(format!("{} row {}: no {id_col}", file.display(), i + 2))
            })?;
            batch.push((t, with_prefix(model::prefix(t), &id), account, fields));
            rows += 1;
            if batch.len() == 10_000 {
                total += store.import(&batch).await?;
                batch.clear();
            }
        }
        total += store.import(&batch).await?;
    }
    Ok((rows, total))
}

fn with_prefix(prefix: &str, id: &str) -> String {
    if id.starts_with(prefix) {
        id.to_owned()
    } else {
        format!("{prefix}{id}")
    }
}

/// `ringfence keys …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print its token once.
    Create {
        /// Scopes, comma-separated: accounts:read, accounts:write, inquiries:read,
        /// inquiries:write, risk:read, graph:read, pii:read, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
        /// Database (a SQLite file or `postgres://…`), as for `serve`.
        #[arg(long, default_value = "ringfence.db", env = "RINGFENCE__STORE__URL")]
        db: crate::settings::DbUrl,
    },
    /// List keys (never their tokens).
    List {
        /// Database (a SQLite file or `postgres://…`), as for `serve`.
        #[arg(long, default_value = "ringfence.db", env = "RINGFENCE__STORE__URL")]
        db: crate::settings::DbUrl,
    },
    /// Revoke a key.
    Revoke {
        /// Key id (`key_…`).
        id: String,
        /// Database (a SQLite file or `postgres://…`), as for `serve`.
        #[arg(long, default_value = "ringfence.db", env = "RINGFENCE__STORE__URL")]
        db: crate::settings::DbUrl,
    },
}

/// Runs `ringfence keys …`.
///
/// # Errors
/// Unknown scopes, store failures.
pub fn keys(cmd: KeysCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd {
            KeysCommand::Create { scopes, name, db } => {
                auth::validate_scopes(&scopes).map_err(crate::cli::UserError)?;
                let store = Store::open(db.expose(), Synchronous::Full).await?;
                let (key, token) = store.create_key(&name, &scopes).await?;
                store.close().await;
                eprintln!(
                    "created {} with scopes {}; the token is shown once:",
                    key.id,
                    key.scopes.join(",")
                );
                println!("{token}");
            }
            KeysCommand::List { db } => {
                let store = Store::open(db.expose(), Synchronous::Full).await?;
                for k in store.keys().await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        k.id,
                        k.scopes.join(","),
                        k.created_at,
                        k.revoked_at.as_deref().unwrap_or("active"),
                        k.name
                    );
                }
                store.close().await;
            }
            KeysCommand::Revoke { id, db } => {
                let store = Store::open(db.expose(), Synchronous::Full).await?;
                let ok = store.revoke_key(&id).await?;
                store.close().await;
                anyhow::ensure!(ok, crate::cli::UserError(format!("no active key {id}")));
                eprintln!("revoked {id}");
            }
        }
        anyhow::Ok(())
    })
}

/// Runs `ringfence export`: the store's records and the graph's view of them, as Parquet.
/// `entities.parquet` (id, type, account, created_at, label, cluster_id, score, reasons) and
/// `hubs.parquet` (kind, masked value, key, entity_count, reason). No plaintext PII: the
/// graph columns carry ids, keys, masked values and scores only. The graph is built with
/// `config` and, when given, the duplicate `model`: those `serve` runs with, for the export
/// to show what the service serves.
///
/// # Errors
/// Store failures, unwritable output.
pub fn export(
    db: &str,
    out: &Path,
    settings: &crate::settings::GraphSettings,
    config: LinkConfig,
    model: Option<graph_core::dedupe::Model>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let normalize = NormalizeOptions {
        default_region: settings.default_region.clone(),
        ..Default::default()
    };
    let keyer = settings.keyer();
    rt.block_on(async move {
        let store = Store::open(db, Synchronous::Full).await?;
        let state = AppState::new(store.clone(), keyer, config, normalize);
        if let Some(model) = model {
            state.set_dedupe_model(model);
        }
        state.load().await?;
        let (records, _) = store.snapshot().await?;
        store.close().await;
        graph_core::durable::create_dir_synced(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let g = state.graph_read();
        let mut ids = Vec::new();
        let mut types = Vec::new();
        let mut accounts = Vec::new();
        let mut created = Vec::new();
        let mut labels = Vec::new();
        let mut clusters = Vec::new();
        let mut scores = Vec::new();
        let mut reasons: Vec<Vec<String>> = Vec::new();
        for r in &records {
            let risk = g.risk(r.entity_type, &r.id);
            ids.push(r.id.clone());
            types.push(r.entity_type.as_str().to_owned());
            accounts.push(r.account_id.clone());
            created.push(r.fields.get("created_at").cloned());
            labels.push(r.fields.get("label").cloned());
            clusters.push(risk.as_ref().map(|x| x.cluster_id.clone()));
            scores.push(risk.as_ref().map_or(0.0, |x| x.score));
            reasons.push(
                risk.as_ref()
                    .map(|x| x.reasons.iter().map(|r| r.message.clone()).collect())
                    .unwrap_or_default(),
            );
        }
        let batch = graph_core::TableBuilder::new()
            .str("entity_id", ids)
            .str("entity_type", types)
            .opt_str("account_id", accounts)
            .opt_str("created_at", created)
            .opt_str("label", labels)
            .opt_str("cluster_id", clusters)
            .f64("score", scores)
            .str_list("reasons", reasons)
            .finish()?;
        graph_core::write_batch(&out.join("entities.parquet"), &batch)?;
        let hubs = g.hubs();
        let batch = graph_core::TableBuilder::new()
            .str("kind", hubs.iter().map(|h| h.kind.clone()))
            .str("masked_value", hubs.iter().map(|h| h.masked_value.clone()))
            .str("key", hubs.iter().map(|h| h.key.clone()))
            .u32("entity_count", hubs.iter().map(|h| h.entity_count))
            .str("reason", hubs.iter().map(|h| h.reason.as_str().to_owned()))
            .finish()?;
        graph_core::write_batch(&out.join("hubs.parquet"), &batch)?;
        graph_core::durable::sync_dir(out)
            .with_context(|| format!("cannot sync {}", out.display()))?;
        eprintln!(
            "exported {} entities and {} hubs to {}",
            records.len(),
            hubs.len(),
            out.display()
        );
        anyhow::Ok(())
    })
}
