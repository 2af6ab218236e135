//! The HTTP service, in-process (`app(state)` driven with `oneshot`), over a real store: every
//! test runs twice, on a SQLite file (`serve::sqlite::NAME`) and on a fresh database of a real
//! PostgreSQL server (`serve::postgres::NAME`).
//!
//! PostgreSQL comes from `RINGFENCE_TEST_PG_URL` (a role that may create databases; `.ci/run`
//! starts a server with `.ci/postgres` and sets it). Without it the PostgreSQL variants fail
//! when `CI` or `RINGFENCE_TEST_PG_REQUIRED` is set, and otherwise pass after printing that
//! they were skipped, so a laptop without PostgreSQL still runs the SQLite half.

// Test bodies are plain functions (each runs on both stores from a generated #[test]),
// which clippy's allow-unwrap-in-tests does not cover.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use graph_core::{EntityType, Keyer, LinkConfig, NormalizeOptions};
use ringfence::serve::{AppState, app, service};
use ringfence::store::{Store, StoreOptions, Synchronous};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const SECRET: &str = "serve test secret, long enough";

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server's URL, or `None` (after saying so) when the PostgreSQL variants are
/// to be skipped. Panics when they are required (CI) but no server was given.
pub fn pg_url() -> Option<String> {
    if let Ok(url) = std::env::var("RINGFENCE_TEST_PG_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let required = std::env::var_os("RINGFENCE_TEST_PG_REQUIRED").is_some_and(|v| !v.is_empty());
    assert!(
        !(ci || required),
        "RINGFENCE_TEST_PG_URL is not set, but the PostgreSQL tests must run here (CI or \
         RINGFENCE_TEST_PG_REQUIRED): export RINGFENCE_TEST_PG_URL=\"$(bash .ci/postgres)\""
    );
    eprintln!(
        "SKIPPED on PostgreSQL: RINGFENCE_TEST_PG_URL is not set \
         (export RINGFENCE_TEST_PG_URL=\"$(bash .ci/postgres)\" to run these)"
    );
    None
}

/// A fresh, empty database for one test: a SQLite file in a temporary folder, or a new
/// database on the PostgreSQL server (dropped when this is dropped).
pub struct TestDb {
    pub db: Db,
    /// What `--db` / `Store::open` take.
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(db: Db) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match db {
            Db::Sqlite => TestDb {
                db,
                url: dir
                    .path()
                    .join("store.db")
                    .to_str()
                    .expect("utf-8 path")
                    .to_owned(),
                dir,
                pg: None,
            },
            Db::Postgres => {
                let base = pg_url().expect("PostgreSQL tests are skipped before this");
                let name = format!("rf_test_{}", ringfence::store::random_hex(8).unwrap());
                let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
                    .await
                    .expect("connect to RINGFENCE_TEST_PG_URL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .expect("create a test database");
                sqlx::Connection::close(c).await.ok();
                let url = with_database(&base, &name);
                TestDb {
                    db,
                    url,
                    dir,
                    pg: Some((base, name)),
                }
            }
        }
    }

    /// For tests without a runtime of their own.
    pub fn new_blocking(db: Db) -> TestDb {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(TestDb::new(db))
    }

    /// Runs SQL on this database from outside the service (a trigger that fails writes, a
    /// lock), through a connection of its own.
    pub async fn connect(&self) -> Raw {
        match self.db {
            Db::Sqlite => Raw::Sqlite(
                <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
                    "sqlite://{}",
                    self.url
                ))
                .await
                .expect("connect"),
            ),
            Db::Postgres => Raw::Postgres(
                <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
                    .await
                    .expect("connect"),
            ),
        }
    }
}

/// A raw connection to a test database.
pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    pub async fn run(&mut self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Raw::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
        .expect("raw SQL");
    }
}

/// `base` with its database name replaced.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let head = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{head}/{name}?{q}"),
        None => format!("{head}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, name)) = self.pg.take() else {
            return;
        };
        // A thread with its own runtime: drop may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Defines each listed test (an `async fn NAME(db: Db)`) twice: `sqlite::NAME` and
/// `postgres::NAME`. Arguments in parentheses after a name go to `#[tokio::test(…)]`.
macro_rules! on_both_stores {
    ($($name:ident $(($($arg:tt)*))?),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test$(($($arg)*))?]
                async fn $name() {
                    super::$name(super::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test$(($($arg)*))?]
                async fn $name() {
                    if super::pg_url().is_some() {
                        super::$name(super::Db::Postgres).await
                    }
                }
            )*
        }
    };
}

pub(crate) use on_both_stores;

on_both_stores!(
    missing_invalid_and_revoked_keys_get_401,
    missing_scope_gets_403_naming_it,
    malformed_json_and_wrong_types_get_400_naming_the_field,
    unknown_resources_and_routes_get_404_and_wrong_methods_405,
    oversized_bodies_get_413,
    duplicate_ids_get_409,
    idempotency_keys_replay_the_response_and_refuse_another_body,
    patch_idempotency_keys_replay_the_response_and_refuse_another_body,
    hostile_strings_are_stored_and_returned_intact,
    nul_is_kept_in_fields_and_refused_in_plain_columns,
    pii_is_masked_unless_the_key_has_pii_read,
    writes_are_linked_and_scored_within_the_request,
    evaluate_scores_an_unsaved_record_and_saves_nothing,
    lists_page_with_cursors_without_gaps_or_repeats,
    graph_neighbourhoods_page_and_never_truncate_silently,
    health_readiness_metrics_and_openapi,
    requests_wait_for_the_graph_and_a_restart_rebuilds_what_batch_gives,
    a_relink_swaps_in_the_batch_graph_and_keeps_every_write,
    concurrent_writes_commit_in_batches_and_fail_alone(flavor = "multi_thread", worker_threads = 2),
    a_failed_batch_answers_503_and_writes_resume_when_the_store_does(
        flavor = "multi_thread",
        worker_threads = 2
    ),
    a_writer_panic_rebuilds_the_graph_and_restarts_the_writer(
        flavor = "multi_thread",
        worker_threads = 2
    ),
);

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub admin: String,
    pub db: TestDb,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: axum::http::HeaderMap,
}

impl TestApp {
    pub async fn new(db: Db) -> TestApp {
        Self::open(TestDb::new(db).await).await
    }

    pub async fn open(db: TestDb) -> TestApp {
        let store = Store::open(&db.url, Synchronous::Normal)
            .await
            .expect("open store");
        let (_, admin) = store
            .create_key("admin", &["admin".into()])
            .await
            .expect("admin key");
        let state = AppState::new(
            store,
            Keyer::new(SECRET.as_bytes()),
            LinkConfig::default(),
            NormalizeOptions::default(),
        );
        state.load().await.expect("load graph");
        TestApp {
            router: app(state.clone()),
            state,
            admin,
            db,
        }
    }

    pub async fn key(&self, scopes: &[&str]) -> String {
        let r = self
            .call(
                "POST",
                "/v1/keys",
                Some(&self.admin),
                Some(json!({ "scopes": scopes })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.raw(
            method,
            path,
            token,
            body.map(|b| b.to_string().into_bytes()),
            &[],
        )
        .await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp {
            status,
            body,
            headers,
        }
    }
}

/// Asserts the one error shape and returns the code.
fn error_code(r: &Resp) -> String {
    let e = &r.body["error"];
    assert!(e["code"].is_string(), "error shape: {}", r.body);
    assert!(e["message"].is_string(), "error shape: {}", r.body);
    assert!(e["details"].is_object(), "error shape: {}", r.body);
    e["code"].as_str().expect("code").to_owned()
}

async fn missing_invalid_and_revoked_keys_get_401(db: Db) {
    let app = TestApp::new(db).await;
    let r = app.call("GET", "/v1/accounts", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&r), "unauthenticated");
    assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
    let r = app
        .call("GET", "/v1/accounts", Some("rf_live_not_a_key"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .raw(
            "GET",
            "/v1/accounts",
            None,
            None,
            &[("authorization", "Basic abc")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    error_code(&r);

    let key = app.key(&["accounts:read"]).await;
    assert_eq!(
        app.call("GET", "/v1/accounts", Some(&key), None)
            .await
            .status,
        StatusCode::OK
    );
    let keys = app.state.store.keys().await.unwrap();
    let id = &keys
        .iter()
        .find(|k| k.scopes == ["accounts:read"])
        .unwrap()
        .id;
    let r = app
        .call("DELETE", &format!("/v1/keys/{id}"), Some(&app.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.call("GET", "/v1/accounts", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked key");
    assert_eq!(error_code(&r), "unauthenticated");
}

async fn missing_scope_gets_403_naming_it(db: Db) {
    let app = TestApp::new(db).await;
    let key = app.key(&["accounts:read"]).await;
    let r = app
        .call("POST", "/v1/accounts", Some(&key), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&r), "missing_scope");
    assert_eq!(
        r.body["error"]["details"]["required_scope"],
        "accounts:write"
    );
    for path in ["/v1/accounts/acct_x/risk", "/v1/graph/hubs"] {
        let r = app.call("GET", path, Some(&key), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = app
        .call(
            "POST",
            "/v1/keys",
            Some(&key),
            Some(json!({"scopes": ["admin"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Unknown scopes are refused when a key is made.
    let r = app
        .call(
            "POST",
            "/v1/keys",
            Some(&app.admin),
            Some(json!({"scopes": ["root"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "scopes");
}

async fn malformed_json_and_wrong_types_get_400_naming_the_field(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let r = app
        .raw(
            "POST",
            "/v1/accounts",
            t,
            Some(b"{\"email\": ".to_vec()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&r), "invalid_json");
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"email": 42})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&r), "invalid_field");
    assert_eq!(r.body["error"]["details"]["field"], "email");
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"emial": "a@b.com"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "emial");
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!(["not", "an", "object"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    error_code(&r);
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"id": "user_1"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "id");
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": "acct_\u{7}bell"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "id");
    let r = app
        .call(
            "POST",
            "/v1/accounts/acct_1/label",
            t,
            Some(json!({"label": "maybe"})),
        )
        .await;
    assert!(
        r.status == StatusCode::BAD_REQUEST,
        "{} {}",
        r.status,
        r.body
    );
    assert_eq!(r.body["error"]["details"]["field"], "label");
    let r = app
        .raw(
            "POST",
            "/v1/accounts",
            t,
            None,
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    error_code(&r);
    let r = app.call("GET", "/v1/accounts?limit=zero", t, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    error_code(&r);
    let r = app
        .call("GET", "/v1/accounts?cursor=garbage", t, None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "cursor");
}

async fn unknown_resources_and_routes_get_404_and_wrong_methods_405(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    for path in [
        "/v1/accounts/acct_missing",
        "/v1/inquiries/inq_missing",
        "/v1/accounts/acct_missing/risk",
        "/v1/graph/entities/acct_missing/cluster",
        "/v1/graph/entities/acct_missing/neighbourhood",
    ] {
        let r = app.call("GET", path, t, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        assert_eq!(error_code(&r), "not_found", "{path}");
    }
    let r = app
        .call(
            "PATCH",
            "/v1/accounts/acct_missing",
            t,
            Some(json!({"email": "a@b.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(
            "POST",
            "/v1/accounts/acct_missing/label",
            t,
            Some(json!({"label": "fraud"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app.call("GET", "/v1/nothing/here", t, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    error_code(&r);
    let r = app.call("GET", "/nowhere", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&r), "no_route");
    let r = app.call("DELETE", "/v1/accounts", t, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    error_code(&r);
}

async fn oversized_bodies_get_413(db: Db) {
    let app = TestApp::new(db).await;
    let big = json!({ "name": "x".repeat(ringfence::serve::BODY_LIMIT + 10) });
    let r = app
        .call("POST", "/v1/accounts", Some(&app.admin), Some(big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&r), "body_too_large");
}

async fn duplicate_ids_get_409(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let body = json!({"id": "acct_dup", "email": "dup@example.org"});
    assert_eq!(
        app.call("POST", "/v1/accounts", t, Some(body.clone()))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = app.call("POST", "/v1/accounts", t, Some(body)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&r), "already_exists");
}

async fn idempotency_keys_replay_the_response_and_refuse_another_body(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let body = json!({"email": "idem@example.org", "device_id": "dev-idem"});
    let _ = t;
    let post = |b: &Value, key: &str| post_idem(&app, b.clone(), key.to_owned());
    let first = post(&body, "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = post(&body, "k-1").await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body, "same response");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let (accounts, _) = app.state.store.counts().await.unwrap();
    assert_eq!(accounts, 1, "applied once");
    let other = post(&json!({"email": "other@example.org"}), "k-1").await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&other), "idempotency_key_reused");
    // Another key is another request.
    assert_eq!(post(&body, "k-2").await.status, StatusCode::CREATED);
    let bad = post(&body, "").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

async fn post_idem(app: &TestApp, b: Value, key: String) -> Resp {
    app.raw(
        "POST",
        "/v1/accounts",
        Some(&app.admin),
        Some(b.to_string().into_bytes()),
        &[("idempotency-key", &key)],
    )
    .await
}

async fn hostile_strings_are_stored_and_returned_intact(db: Db) {
    let app = TestApp::new(db).await;
    let key = app
        .key(&["accounts:read", "accounts:write", "pii:read"])
        .await;
    let long = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ ".repeat(2_000);
    let cases = [
        ("name_last", "O'Brien\"; DROP TABLE accounts; --".to_owned()),
        (
            "email",
            "robert'); DELETE FROM api_keys; --@example.org".to_owned(),
        ),
        (
            "address_street",
            "1 Main St\u{0}\u{1b}[31m\r\n\t\u{202e}evil".to_owned(),
        ),
        ("name_first", long.clone()),
        ("reference_id", "%_\\' OR 1=1 --".to_owned()),
    ];
    let mut body = serde_json::Map::new();
    body.insert("id".into(), json!("acct_hostile"));
    for (k, v) in &cases {
        body.insert((*k).into(), json!(v));
    }
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            Some(&key),
            Some(Value::Object(body)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The over-long name is stored but left out of the graph, with a warning.
    assert!(
        r.body["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "too_long"),
        "{}",
        r.body["warnings"]
    );
    let got = app
        .call("GET", "/v1/accounts/acct_hostile", Some(&key), None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    for (k, v) in &cases {
        assert_eq!(got.body[*k].as_str().unwrap(), v.as_str(), "{k}");
    }
    // The store is intact.
    assert_eq!(app.state.store.keys().await.unwrap().len(), 2);
    assert_eq!(app.state.store.counts().await.unwrap(), (1, 0));
}

async fn pii_is_masked_unless_the_key_has_pii_read(db: Db) {
    let app = TestApp::new(db).await;
    let writer = app.key(&["accounts:write", "accounts:read"]).await;
    let reader = app.key(&["accounts:read", "pii:read"]).await;
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            Some(&writer),
            Some(json!({"id": "acct_pii", "email": "jane.doe@corp.example", "phone": "+14155552671", "address_country": "US"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_ne!(r.body["email"], "jane.doe@corp.example");
    assert_eq!(r.body["pii_masked"], true);
    assert_eq!(r.body["address_country"], "US", "not PII");
    let masked = app
        .call("GET", "/v1/accounts/acct_pii", Some(&writer), None)
        .await;
    let email = masked.body["email"].as_str().unwrap();
    assert!(
        !email.contains("jane") && !email.contains("corp"),
        "{email}"
    );
    assert!(!masked.body["phone"].as_str().unwrap().contains("5552671"));
    let listed = app.call("GET", "/v1/accounts", Some(&writer), None).await;
    assert_eq!(listed.body["data"][0]["email"], masked.body["email"]);
    let clear = app
        .call("GET", "/v1/accounts/acct_pii", Some(&reader), None)
        .await;
    assert_eq!(clear.body["email"], "jane.doe@corp.example");
    assert_eq!(clear.body["pii_masked"], false);
}

async fn writes_are_linked_and_scored_within_the_request(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    for (id, email) in [
        ("acct_a", "a@x.org"),
        ("acct_b", "b@x.org"),
        ("acct_c", "c@x.org"),
    ] {
        let r = app
            .call(
                "POST",
                "/v1/accounts",
                t,
                Some(json!({"id": id, "email": email, "device_id": "dev-shared-1", "created_at": "2024-05-01T10:00:00Z"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let a = app.call("GET", "/v1/accounts/acct_a/risk", t, None).await;
    let c = app.call("GET", "/v1/accounts/acct_c/risk", t, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["cluster_id"], c.body["cluster_id"]);
    assert_eq!(a.body["cluster_accounts"], 3);
    assert!(a.body["score"].as_f64().unwrap() > 0.0, "{}", a.body);
    // An inquiry of acct_a from a new device: it joins the cluster through its account.
    let r = app
        .call(
            "POST",
            "/v1/inquiries",
            t,
            Some(json!({"id": "inq_1", "account_id": "acct_a", "device_id": "dev-new", "ip_address": "203.0.113.9"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["risk"]["cluster_id"], a.body["cluster_id"]);
    let q = app.call("GET", "/v1/inquiries/inq_1/risk", t, None).await;
    assert_eq!(
        q.body["score"], a.body["score"],
        "an inquiry carries its account's score"
    );
    // A label feeds closeness to fraud.
    let before = c.body["score"].as_f64().unwrap();
    let r = app
        .call(
            "POST",
            "/v1/accounts/acct_a/label",
            t,
            Some(json!({"label": "fraud"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = app.call("GET", "/v1/accounts/acct_c/risk", t, None).await;
    assert!(
        after.body["score"].as_f64().unwrap() > before,
        "{}",
        after.body
    );
    assert!(
        after.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "close_to_fraud"),
        "{}",
        after.body
    );
    // An update that removes the shared device splits acct_b off.
    let r = app
        .call(
            "PATCH",
            "/v1/accounts/acct_b",
            t,
            Some(json!({"device_id": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("device_id").is_none(), "{}", r.body);
    assert_ne!(r.body["risk"]["cluster_id"], a.body["cluster_id"]);
}

async fn evaluate_scores_an_unsaved_record_and_saves_nothing(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    for id in ["acct_e1", "acct_e2"] {
        app.call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": id, "card_fingerprint": "card-ring-7"})),
        )
        .await;
    }
    let r = app
        .call(
            "POST",
            "/v1/risk/evaluate",
            t,
            Some(json!({"account": {"card_fingerprint": "card-ring-7", "email": "new@x.org"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["saved"], false);
    assert_eq!(r.body["risk"]["cluster_accounts"], 3);
    assert_eq!(app.state.store.counts().await.unwrap(), (2, 0));
    assert_eq!(app.state.graph_read().len(), 2);
    let r = app
        .call("POST", "/v1/risk/evaluate", t, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    error_code(&r);
}

async fn lists_page_with_cursors_without_gaps_or_repeats(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    for i in 0..7 {
        app.call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": format!("acct_p{i}")})),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/accounts?limit=3".to_owned();
    loop {
        let r = app.call("GET", &path, t, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for a in r.body["data"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/accounts?limit=3&cursor={c}"),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).map(|i| format!("acct_p{i}")).collect();
    assert_eq!(seen, want);
}

async fn graph_neighbourhoods_page_and_never_truncate_silently(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    // A chain: n0 -dev- n1 -email- n2 ... plus a placeholder email everyone shares.
    for i in 0..6 {
        let mut body = json!({"id": format!("acct_n{i}"), "email": "test@test.com"});
        body[if i % 2 == 0 { "device_id" } else { "phone" }] = json!(format!("link-{}", i / 2));
        if i % 2 == 1 {
            body["phone"] = json!(format!("+1415555{:04}", 1000 + i / 2));
            body["device_id"] = json!(format!("link-{}", i / 2));
        }
        let r = app.call("POST", "/v1/accounts", t, Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let all = app
        .call(
            "GET",
            "/v1/graph/entities/acct_n0/neighbourhood?hops=2&node_limit=1000",
            t,
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["node_limit_reached"], false);
    let total = all.body["nodes"].as_array().unwrap().len();
    assert!(total >= 4, "{}", all.body);
    // The placeholder is shown as a hub and not walked through.
    assert!(
        all.body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["status"] == "hub" && n["kind"] == "email"),
        "{}",
        all.body
    );
    // Page through with node_limit 2: the pages concatenate to the whole walk.
    let mut got = Vec::new();
    let mut path = "/v1/graph/entities/acct_n0/neighbourhood?hops=2&node_limit=2".to_owned();
    loop {
        let r = app.call("GET", &path, t, None).await;
        assert_eq!(r.status, StatusCode::OK);
        got.extend(
            r.body["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].clone()),
        );
        if r.body["node_limit_reached"] == true {
            let c = r.body["next_cursor"].as_str().unwrap();
            path =
                format!("/v1/graph/entities/acct_n0/neighbourhood?hops=2&node_limit=2&cursor={c}");
        } else {
            assert!(r.body["next_cursor"].is_null());
            break;
        }
    }
    let want: Vec<Value> = all.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(got, want);
    let r = app
        .call(
            "GET",
            "/v1/graph/entities/acct_n0/neighbourhood?hops=9",
            t,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "hops");

    let hubs = app.call("GET", "/v1/graph/hubs", t, None).await;
    assert_eq!(hubs.status, StatusCode::OK);
    assert_eq!(hubs.body["data"][0]["reason"], "placeholder");
    assert_eq!(hubs.body["data"][0]["entity_count"], 6);
    assert_ne!(hubs.body["data"][0]["masked_value"], "test@test.com");

    let cluster = app
        .call("GET", "/v1/graph/entities/acct_n1/cluster", t, None)
        .await;
    assert_eq!(cluster.status, StatusCode::OK);
    assert!(cluster.body["size"].as_u64().unwrap() >= 2);

    // Saved query templates with parameters.
    let q = app
        .call(
            "POST",
            "/v1/graph/queries",
            t,
            Some(json!({"name": "devices around", "template": {"start": "{{entity_id}}", "kinds": ["device_id", "phone"], "hops": 2, "node_limit": 50}})),
        )
        .await;
    assert_eq!(q.status, StatusCode::CREATED, "{}", q.body);
    let id = q.body["id"].as_str().unwrap();
    assert!(id.starts_with("gq_"));
    assert_eq!(q.body["parameters"], json!(["entity_id"]));
    let run = app
        .call(
            "POST",
            &format!("/v1/graph/queries/{id}/run"),
            t,
            Some(json!({"params": {"entity_id": "acct_n0"}})),
        )
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert!(
        run.body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"].is_null() || n["kind"] == "device_id" || n["kind"] == "phone"),
        "{}",
        run.body
    );
    let missing = app
        .call(
            "POST",
            &format!("/v1/graph/queries/{id}/run"),
            t,
            Some(json!({})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body["error"]["details"]["field"],
        "params.entity_id"
    );
    let unknown = app
        .call(
            "POST",
            "/v1/graph/queries/gq_missing/run",
            t,
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn health_readiness_metrics_and_openapi(db: Db) {
    let app = TestApp::new(db).await;
    assert_eq!(
        app.call("GET", "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.call("GET", "/readyz", None, None).await.status,
        StatusCode::OK
    );
    app.call("GET", "/v1/accounts", Some(&app.admin), None)
        .await;
    let m = app.call("GET", "/metrics", None, None).await;
    assert_eq!(m.status, StatusCode::OK);
    let text = m.body.as_str().unwrap();
    assert!(
        text.contains(
            "ringfence_http_requests_total{method=\"GET\",route=\"/v1/accounts\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("ringfence_graph_entities 0"), "{text}");
    assert!(
        text.contains("ringfence_write_phase_seconds_count{phase=\"commit\"} 0"),
        "{text}"
    );
    // One write: one queued write, one batch committed and applied to the graph.
    let created = app
        .call(
            "POST",
            "/v1/accounts",
            Some(&app.admin),
            Some(json!({"email": "metrics@example.com"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let text = app.call("GET", "/metrics", None, None).await.body;
    let text = text.as_str().unwrap();
    for phase in ["queued", "commit", "graph"] {
        assert!(
            text.contains(&format!(
                "ringfence_write_phase_seconds_count{{phase=\"{phase}\"}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "ringfence_write_phase_seconds_bucket{{phase=\"{phase}\",le=\"+Inf\"}} 1"
            )),
            "{text}"
        );
    }
    assert!(text.contains("ringfence_graph_entities 1"), "{text}");
    let doc = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert!(doc.body["components"]["schemas"]["AccountInput"].is_object());
    // Every documented operation exists (it does not answer no_route / 405).
    for &(method, path, ..) in ringfence::serve::openapi::OPERATIONS {
        let p = path.replace("{id}", "acct_zz");
        let r = app
            .call(&method.to_uppercase(), &p, Some(&app.admin), None)
            .await;
        assert!(
            r.status != StatusCode::METHOD_NOT_ALLOWED
                && !(r.status == StatusCode::NOT_FOUND && r.body["error"]["code"] == "no_route"),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        assert!(
            doc.body["paths"][path][method].is_object(),
            "{method} {path}"
        );
        let idem = doc.body["paths"][path][method]["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key"));
        let writes_records = (method == "post" || method == "patch")
            && (path.starts_with("/v1/accounts") || path.starts_with("/v1/inquiries"));
        assert_eq!(idem, writes_records, "{method} {path}");
    }
}

/// `--db-connections` bounds what one process holds on the PostgreSQL server, however many
/// requests wait.
#[tokio::test]
async fn the_postgres_pool_keeps_to_the_connections_it_is_given() {
    if pg_url().is_none() {
        return;
    }
    let test_db = TestDb::new(Db::Postgres).await;
    let options = StoreOptions {
        synchronous: Synchronous::Full,
        pg_connections: 2,
    };
    let store = Store::open(&test_db.url, options).await.unwrap();
    // Every read blocks behind a lock another session holds, so each keeps its connection
    // until the lock goes; the ones past the pool's bound wait for a connection instead.
    let mut locker = test_db.connect().await;
    locker
        .run("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .await;
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = store.clone();
        reads.spawn(async move { store.counts().await });
    }
    let Raw::Postgres(mut watcher) = test_db.connect().await else {
        unreachable!("a PostgreSQL test database")
    };
    let held = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'ringfence'",
        )
    };
    // Wait until the pool has opened all it may (reads still queue), then look again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while held().fetch_one(&mut watcher).await.unwrap() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the pool never reached 2"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(held().fetch_one(&mut watcher).await.unwrap(), 2);
    locker.run("COMMIT").await;
    while let Some(r) = reads.join_next().await {
        assert_eq!(r.unwrap().unwrap(), (0, 0));
    }
    store.close().await;
}

#[tokio::test]
async fn fewer_than_two_postgres_connections_are_refused_before_connecting() {
    // No server listens here: the options are refused before any connection is tried.
    let options = StoreOptions {
        synchronous: Synchronous::Full,
        pg_connections: 1,
    };
    let e = Store::open("postgres://rf:secret@127.0.0.1:1/none", options)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 2"), "{e}");
}

async fn requests_wait_for_the_graph_and_a_restart_rebuilds_what_batch_gives(db: Db) {
    let test_db = TestDb::new(db).await;
    let store = Store::open(&test_db.url, Synchronous::Full).await.unwrap();
    let (_, admin) = store.create_key("a", &["admin".into()]).await.unwrap();
    let state = AppState::new(
        store.clone(),
        Keyer::new(SECRET.as_bytes()),
        LinkConfig::default(),
        NormalizeOptions::default(),
    );
    let router = app(state.clone());
    // Not ready yet: API routes answer 503, healthz answers.
    let req = Request::get("/v1/accounts")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let r = router.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    state.load().await.unwrap();
    let fixture = TestApp {
        state: state.clone(),
        router,
        admin,
        db: test_db,
    };
    for i in 0..40 {
        let body = json!({
            "id": format!("acct_r{i}"),
            "device_id": format!("d{}", i % 7),
            "email": format!("u{}@x.org", i % 11),
            "created_at": format!("2024-01-{:02}T00:00:00Z", 1 + i % 28),
        });
        let r = fixture
            .call("POST", "/v1/accounts", Some(&fixture.admin), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let live: BTreeMap<String, String> = fixture
        .state
        .graph_read()
        .assignments()
        .into_iter()
        .map(|((_, id), c)| (id, c))
        .collect();
    // A fresh state over the same database (a restart) builds the same graph…
    let again = AppState::new(
        Store::open(&fixture.db.url, Synchronous::Full)
            .await
            .unwrap(),
        Keyer::new(SECRET.as_bytes()),
        LinkConfig::default(),
        NormalizeOptions::default(),
    );
    again.load().await.unwrap();
    let rebuilt: BTreeMap<String, String> = again
        .graph_read()
        .assignments()
        .into_iter()
        .map(|((_, id), c)| (id, c))
        .collect();
    assert_eq!(rebuilt, live);
    // …which is what the batch linker gives over the stored records.
    assert_eq!(batch_clusters(&again).await, live);
}

/// Clusters of a batch run over everything in the store.
/// The clusters a batch link of the store's records gives under the state's configuration.
pub async fn batch_clusters(state: &AppState) -> BTreeMap<String, String> {
    let (records, _) = state.store.snapshot().await.expect("snapshot");
    let normalized: Vec<_> = records
        .iter()
        .filter_map(|r| service::normalize_record(state, r))
        .collect();
    let input = graph_core::LinkInput::from_records(&normalized, Keyer::new(SECRET.as_bytes()));
    let config = state.graph_read().config().clone();
    let out = graph_core::link(&input, &config);
    (0..input.entities.len())
        .map(|e| {
            (
                input.entities.ids[e].to_owned(),
                out.cluster_id(out.cluster_of[e]).into_owned(),
            )
        })
        .collect()
}

#[test]
fn entity_types_of_ids() {
    assert_eq!(
        ringfence::serve::model::type_of_id("acct_1"),
        Some(EntityType::Account)
    );
    assert_eq!(ringfence::serve::model::type_of_id("x"), None);
}

async fn a_relink_swaps_in_the_batch_graph_and_keeps_every_write(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    for i in 0..12 {
        let body =
            json!({"id": format!("acct_l{i}"), "phone": format!("+1415555{:04}", 2000 + i % 4)});
        assert_eq!(
            app.call("POST", "/v1/accounts", t, Some(body)).await.status,
            StatusCode::CREATED
        );
    }
    let before = app.state.graph_read().assignments();
    let r = app.call("POST", "/v1/admin/relink", t, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["entities"], 12);
    assert_eq!(app.state.graph_read().assignments(), before);
    let ids: BTreeMap<String, String> = before.into_iter().map(|((_, id), c)| (id, c)).collect();
    assert_eq!(batch_clusters(&app.state).await, ids);
    let key = app.key(&["risk:read"]).await;
    let r = app.call("POST", "/v1/admin/relink", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn concurrent_writes_commit_in_batches_and_fail_alone(db: Db) {
    // Many writes at once share transactions (group commit); a duplicate in a batch fails on
    // its own, its neighbours commit.
    let app = std::sync::Arc::new(TestApp::new(db).await);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let id = if i % 3 == 0 {
                "acct_same".to_owned()
            } else {
                format!("acct_c{i}")
            };
            let body = json!({"id": id, "device_id": format!("dev-c{}", i % 5)});
            app.call("POST", "/v1/accounts", Some(&app.admin), Some(body))
                .await
                .status
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!((created, conflicts), (41, 19));
    assert_eq!(app.state.store.counts().await.unwrap(), (41, 0));
    assert_eq!(app.state.graph_read().len(), 41);
    let live: BTreeMap<String, String> = app
        .state
        .graph_read()
        .assignments()
        .into_iter()
        .map(|((_, id), c)| (id, c))
        .collect();
    assert_eq!(batch_clusters(&app.state).await, live);
}

async fn patch_idem(app: &TestApp, id: &str, b: Value, key: &str) -> Resp {
    app.raw(
        "PATCH",
        &format!("/v1/accounts/{id}"),
        Some(&app.admin),
        Some(b.to_string().into_bytes()),
        &[("idempotency-key", key)],
    )
    .await
}

async fn patch_idempotency_keys_replay_the_response_and_refuse_another_body(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": "acct_pi", "email": "pi@example.org", "device_id": "dev-pi"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let patch = json!({"phone": "+14155550123", "device_id": null});
    let first = patch_idem(&app, "acct_pi", patch.clone(), "p-1").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Another change in between: a replay still answers what the first request answered,
    // and does not apply the patch again.
    let r = app
        .call(
            "PATCH",
            "/v1/accounts/acct_pi",
            t,
            Some(json!({"device_id": "dev-later"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let again = patch_idem(&app, "acct_pi", patch.clone(), "p-1").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body, "same response");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let stored = app.state.store.get(EntityType::Account, "acct_pi").await;
    let stored = stored.unwrap().unwrap();
    assert_eq!(
        stored.fields.get("device_id").map(String::as_str),
        Some("dev-later"),
        "the replay did not apply the patch again"
    );
    // The same key with another body, or an explicit null instead of an absent field.
    for other in [
        json!({"phone": "+14155550999", "device_id": null}),
        json!({"phone": "+14155550123"}),
    ] {
        let r = patch_idem(&app, "acct_pi", other, "p-1").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(error_code(&r), "idempotency_key_reused");
    }
    // The key of a POST cannot be replayed by a PATCH (method and path are in the hash).
    assert_eq!(
        post_idem(&app, json!({"id": "acct_pj"}), "shared".into())
            .await
            .status,
        StatusCode::CREATED
    );
    let r = patch_idem(&app, "acct_pj", json!({"id": "acct_pj"}), "shared").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // A patch of a missing record is not recorded: the key stays free.
    let r = patch_idem(&app, "acct_none", patch.clone(), "p-2").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = patch_idem(&app, "acct_pi", patch, "p-2").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bad = patch_idem(&app, "acct_pi", json!({}), "").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["details"]["field"], "Idempotency-Key");
}

async fn nul_is_kept_in_fields_and_refused_in_plain_columns(db: Db) {
    // PostgreSQL's TEXT cannot hold NUL. Record fields are stored as JSON (which escapes it),
    // so they keep it on both backends; plain columns (ids, account ids, names) refuse it
    // with a 400 naming the field, on both backends alike, and nothing is stored.
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": "acct_nul", "name_last": "a\u{0}b", "email": "\u{0}@x.org"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let got = app.call("GET", "/v1/accounts/acct_nul", t, None).await;
    assert_eq!(got.body["name_last"], "a\u{0}b");
    assert_eq!(got.body["email"], "\u{0}@x.org");
    let r = app
        .call(
            "POST",
            "/v1/inquiries",
            t,
            Some(json!({"id": "inq_nul", "account_id": "acct_\u{0}x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["field"], "account_id");
    let r = app
        .call(
            "POST",
            "/v1/keys",
            t,
            Some(json!({"scopes": ["risk:read"], "name": "bad\u{0}name"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["field"], "name");
    let r = app
        .call(
            "POST",
            "/v1/graph/queries",
            t,
            Some(json!({"name": "q\u{0}", "template": {"start": "{{entity_id}}"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["field"], "name");
    for path in [
        "/v1/accounts/acct_%00x",
        "/v1/accounts/acct_%00x/risk",
        "/v1/graph/entities/acct_%00x/cluster",
    ] {
        let r = app.call("GET", path, t, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let r = app.call("DELETE", "/v1/keys/key_%00", t, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // The writer is unharmed: the next write commits.
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"id": "acct_after"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.state.store.counts().await.unwrap(), (2, 0));
    assert_eq!(app.state.store.keys().await.unwrap().len(), 1);
}

/// SQL that makes every write fail inside the database (a trigger on the change log, which
/// every write touches), and SQL that removes it.
fn failing_writes(db: Db) -> (&'static str, &'static str) {
    match db {
        Db::Sqlite => (
            "CREATE TRIGGER fail_writes BEFORE INSERT ON changes \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            "DROP TRIGGER fail_writes",
        ),
        Db::Postgres => (
            "CREATE FUNCTION fail_writes() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
             CREATE TRIGGER fail_writes BEFORE INSERT ON changes \
             FOR EACH ROW EXECUTE FUNCTION fail_writes()",
            "DROP TRIGGER fail_writes ON changes; DROP FUNCTION fail_writes()",
        ),
    }
}

async fn wait_ready(app: &TestApp) {
    let t0 = std::time::Instant::now();
    while app.call("GET", "/readyz", None, None).await.status != StatusCode::OK {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "never ready again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn a_failed_batch_answers_503_and_writes_resume_when_the_store_does(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"id": "acct_ok1"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (fail, heal) = failing_writes(db);
    let mut raw = app.db.connect().await;
    raw.run(fail).await;
    // The batch's transaction fails: the write is answered 503 in the error shape, not
    // acknowledged, and the service refuses writes and says it is not ready…
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"id": "acct_lost"})))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(error_code(&r), "unavailable");
    let ready = app.call("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    error_code(&ready);
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"id": "acct_lost2"})))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(error_code(&r), "unavailable");
    // …while reads go on.
    let r = app.call("GET", "/v1/accounts/acct_ok1", t, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = app.call("GET", "/metrics", None, None).await;
    assert!(
        m.body
            .as_str()
            .unwrap()
            .contains("ringfence_store_failed_batches_total 1"),
        "{}",
        m.body
    );
    // Once the store takes writes again, the probe notices and writes resume.
    raw.run(heal).await;
    wait_ready(&app).await;
    let r = app
        .call("POST", "/v1/accounts", t, Some(json!({"id": "acct_ok2"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        app.state
            .store
            .get(EntityType::Account, "acct_lost")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.state.store.counts().await.unwrap(), (2, 0));
    assert_eq!(app.state.graph_read().len(), 2);
}

async fn a_writer_panic_rebuilds_the_graph_and_restarts_the_writer(db: Db) {
    let app = TestApp::new(db).await;
    let t = Some(app.admin.as_str());
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": "acct_w1", "device_id": "dev-w"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // The writer panics after committing the next batch, before the graph sees it: the
    // write is answered 503 (its outcome unknown to the caller), never 201.
    app.state.inject_writer_panic();
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": "acct_w2", "device_id": "dev-w"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(error_code(&r), "unavailable");
    // The supervisor rebuilds the graph from the store and restarts the writer: the committed
    // write is in the graph, linked, and new writes are acknowledged again.
    wait_ready(&app).await;
    let r = app.call("GET", "/v1/accounts/acct_w2/risk", t, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["cluster_accounts"], 2, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/v1/accounts",
            t,
            Some(json!({"id": "acct_w3", "device_id": "dev-w"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["risk"]["cluster_accounts"], 3, "{}", r.body);
    let m = app.call("GET", "/metrics", None, None).await;
    assert!(
        m.body
            .as_str()
            .unwrap()
            .contains("ringfence_writer_restarts_total 1"),
        "{}",
        m.body
    );
    let live: BTreeMap<String, String> = app
        .state
        .graph_read()
        .assignments()
        .into_iter()
        .map(|((_, id), c)| (id, c))
        .collect();
    assert_eq!(batch_clusters(&app.state).await, live);
}
