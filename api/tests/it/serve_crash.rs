//! The real `ringfence serve` binary over a socket, on SQLite and on PostgreSQL
//! (`serve_crash::sqlite::NAME`, `serve_crash::postgres::NAME`; see `serve.rs` for where
//! PostgreSQL comes from): `kill -9` during a stream of writes loses nothing acknowledged, and
//! the restarted graph equals a batch run over the stored records; the request timeout; the
//! periodic re-link; two instances over one store; the CLI's `keys`, `export` and SIGTERM.

// Test bodies are plain functions (each runs on both stores from a generated #[test]),
// which clippy's allow-unwrap-in-tests does not cover.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graph_core::{Keyer, LinkConfig, NormalizeOptions};
use ringfence::serve::AppState;
use ringfence::store::{Store, Synchronous};
use serde_json::{Value, json};

use super::serve::{Db, SECRET, TestDb, batch_clusters, pg_url};

/// Defines each listed test (a `fn NAME(db: Db)`) twice: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_stores_blocking {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Db::Sqlite)
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if super::pg_url().is_some() {
                        super::$name(super::Db::Postgres)
                    }
                }
            )*
        }
    };
}

on_both_stores_blocking!(
    kill_9_during_writes_loses_nothing_acknowledged,
    kill_9_with_synchronous_normal_loses_nothing_acknowledged,
    import_then_export_gives_the_batch_clusters_without_plaintext_pii,
    keys_cli_refuses_unknown_scopes_and_revokes,
    sigterm_stops_gracefully_and_the_log_holds_no_pii,
    a_slow_request_is_answered_503_timeout_in_the_error_shape,
    the_periodic_relink_picks_up_what_another_instance_wrote,
);

/// A minimal HTTP/1.1 client: one request per connection.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {text}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    Ok((status, body))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

fn start(db: &str, addr: &str) -> Child {
    start_with(db, addr, &["--relink-every", "0"])
}

fn start_with(db: &str, addr: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["serve", "--db", db, "--bind", addr])
        .args(args)
        .env("RINGFENCE__GRAPH__KEY_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ringfence serve")
}

fn wait_ready(addr: &str, child: &mut Child) {
    let t0 = Instant::now();
    loop {
        if let Ok((200, _)) = http(addr, "GET", "/readyz", "", None) {
            return;
        }
        assert!(child.try_wait().expect("wait").is_none(), "server exited");
        assert!(t0.elapsed() < Duration::from_secs(60), "server not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ringfence keys create --scopes admin`; returns the token.
fn admin_token(db: &str) -> String {
    let o = ringfence(&["keys", "create", "--scopes", "admin", "--db", db]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let token = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("rf_live_"), "{token}");
    token
}

fn kill_9_during_writes_loses_nothing_acknowledged(db: Db) {
    kill_9_during_writes(db, "full");
}

/// `--synchronous normal` (no fsync per commit on SQLite, `synchronous_commit = off` on
/// PostgreSQL) trades power-loss durability for latency; a killed process still loses nothing.
fn kill_9_with_synchronous_normal_loses_nothing_acknowledged(db: Db) {
    kill_9_during_writes(db, "normal");
}

fn kill_9_during_writes(db: Db, synchronous: &str) {
    let test_db = TestDb::new_blocking(db);
    let db = test_db.url.as_str();
    let token = admin_token(db);

    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = start_with(
        db,
        &addr,
        &["--relink-every", "0", "--synchronous", synchronous],
    );
    wait_ready(&addr, &mut server);

    // Two writers stream accounts and inquiries sharing devices and emails from small pools,
    // so clusters form and merge while the server is killed.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (addr, token, acked, stop) =
                (addr.clone(), token.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (path, body) = if i % 3 == 2 {
                        (
                            "/v1/inquiries",
                            json!({
                                "id": format!("inq_w{w}_{i}"),
                                "account_id": format!("acct_w{w}_{}", i - 1),
                                "device_id": format!("dev-{}", (i * 7 + w) % 23),
                                "ip_address": format!("198.51.100.{}", i % 50),
                            }),
                        )
                    } else {
                        (
                            "/v1/accounts",
                            json!({
                                "id": format!("acct_w{w}_{i}"),
                                "email": format!("user{}@example.org", (i * 3 + w) % 31),
                                "device_id": format!("dev-{}", (i * 5 + w) % 23),
                                "name_first": "Ann", "name_last": format!("Lee{}", i % 5),
                                "address_street": format!("{} Main Street", i % 9),
                                "address_city": "Springfield",
                            }),
                        )
                    };
                    // Anything but a 201 (the server died mid-request) is not acknowledged.
                    if let Ok((201, b)) = http(&addr, "POST", path, &token, Some(&body)) {
                        acked.lock().unwrap().push((
                            path.to_owned(),
                            b["id"].as_str().unwrap_or_default().to_owned(),
                        ));
                    }
                    i += 1;
                }
            })
        })
        .collect();
    // Let writes flow, then kill -9 (SIGKILL) in the middle of them.
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 150 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 20,
        "only {} writes acknowledged",
        acked.len()
    );
    eprintln!("{} writes acknowledged before kill -9", acked.len());

    // Restart on the same database: every acknowledged record is there.
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = start(db, &addr);
    wait_ready(&addr, &mut server);
    let mut served = std::collections::BTreeMap::new();
    for (path, id) in &acked {
        let (status, body) = http(&addr, "GET", &format!("{path}/{id}"), &token, None).unwrap();
        assert_eq!(status, 200, "acknowledged {id} lost: {body}");
        let (status, risk) =
            http(&addr, "GET", &format!("{path}/{id}/risk"), &token, None).unwrap();
        assert_eq!(status, 200, "{risk}");
        served.insert(id.clone(), risk["cluster_id"].as_str().unwrap().to_owned());
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // The clusters the restarted server serves are those of a batch run over the store.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let batch = rt.block_on(async {
        let store = Store::open(db, Synchronous::Full).await.unwrap();
        let state = AppState::new(
            store,
            Keyer::new(SECRET.as_bytes()),
            LinkConfig::default(),
            NormalizeOptions::default(),
        );
        batch_clusters(&state).await
    });
    for (id, cluster) in &served {
        assert_eq!(batch.get(id), Some(cluster), "{id}");
    }
}

fn ringfence(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .env("RINGFENCE__GRAPH__KEY_SECRET", SECRET)
        .output()
        .expect("run ringfence")
}

fn import_then_export_gives_the_batch_clusters_without_plaintext_pii(db: Db) {
    let test_db = TestDb::new_blocking(db);
    let db = test_db.url.as_str();
    let dir = &test_db.dir;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A configuration that changes the clusters: devices never link.
    let toml = "[rules.device_id]\nlink = \"never\"\n";
    let config = LinkConfig::from_toml_str(toml).unwrap();
    let (imported, batch, batch_configured) = rt.block_on(async {
        let store = Store::open(db, Synchronous::Normal).await.unwrap();
        let (rows, n) = ringfence::serve::import_dir(&store, &sample).await.unwrap();
        assert_eq!(rows, n);
        // Importing again adds nothing: ids already stored are skipped, and counted.
        assert_eq!(
            ringfence::serve::import_dir(&store, &sample).await.unwrap(),
            (rows, 0)
        );
        let graph = |config: LinkConfig| {
            AppState::new(
                store.clone(),
                Keyer::new(SECRET.as_bytes()),
                config,
                NormalizeOptions::default(),
            )
        };
        let batch = batch_clusters(&graph(LinkConfig::default())).await;
        (n, batch, batch_clusters(&graph(config)).await)
    });
    assert_ne!(
        batch, batch_configured,
        "the configuration changes some cluster"
    );
    assert_eq!(imported, 2000 + 2377);
    let out = dir.path().join("export");
    let o = ringfence(&["export", "--db", db, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cols = graph_core::read_columns(
        &out.join("entities.parquet"),
        &["entity_id", "cluster_id", "score"],
    )
    .unwrap();
    assert_eq!(cols[0].len(), imported as usize);
    for (id, cluster) in cols[0].iter().zip(&cols[1]) {
        let id = id.as_deref().unwrap();
        assert_eq!(batch.get(id), cluster.as_ref(), "{id}");
    }
    assert!(out.join("hubs.parquet").exists());
    // No plaintext PII: an email of the sample appears in neither file.
    let first = std::fs::read_to_string(sample.join("accounts.csv")).unwrap();
    let email = first.lines().nth(1).unwrap().split(',').nth(7).unwrap();
    assert!(email.contains('@'), "{email}");
    for f in ["entities.parquet", "hubs.parquet"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains(email), "{f} holds {email}");
    }
    // With the configuration `serve` would run with, the export shows that graph.
    let config_file = dir.path().join("link.toml");
    std::fs::write(&config_file, toml).unwrap();
    let out = dir.path().join("export-configured");
    let (out_arg, config_arg) = (out.to_str().unwrap(), config_file.to_str().unwrap());
    let o = ringfence(&[
        "export", "--db", db, "--out", out_arg, "--config", config_arg,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cols =
        graph_core::read_columns(&out.join("entities.parquet"), &["entity_id", "cluster_id"])
            .unwrap();
    for (id, cluster) in cols[0].iter().zip(&cols[1]) {
        let id = id.as_deref().unwrap();
        assert_eq!(batch_configured.get(id), cluster.as_ref(), "{id}");
    }
    // A model that cannot be read is the user's error, named.
    let missing = dir.path().join("missing_model.json");
    let o = ringfence(&[
        "export",
        "--db",
        db,
        "--out",
        out_arg,
        "--dedupe-model",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing_model.json"));
}

fn keys_cli_refuses_unknown_scopes_and_revokes(db: Db) {
    let test_db = TestDb::new_blocking(db);
    let db = test_db.url.as_str();
    let o = ringfence(&["keys", "create", "--scopes", "risk:read,root", "--db", db]);
    assert_eq!(o.status.code(), Some(2), "user error");
    assert!(String::from_utf8_lossy(&o.stderr).contains("root"));
    let o = ringfence(&["keys", "create", "--scopes", "risk:read", "--db", db]);
    assert!(o.status.success());
    let token = String::from_utf8(o.stdout).unwrap();
    let o = ringfence(&["keys", "list", "--db", db]);
    let list = String::from_utf8(o.stdout).unwrap();
    assert!(!list.contains(token.trim()), "tokens are never listed");
    let id = list.split('\t').next().unwrap();
    assert!(id.starts_with("key_"), "{list}");
    assert!(
        ringfence(&["keys", "revoke", id, "--db", db])
            .status
            .success()
    );
    let list = String::from_utf8(ringfence(&["keys", "list", "--db", db]).stdout).unwrap();
    assert!(!list.contains("active"), "{list}");
    let o = ringfence(&["keys", "revoke", id, "--db", db]);
    assert_eq!(o.status.code(), Some(2), "already revoked");
}

fn sigterm_stops_gracefully_and_the_log_holds_no_pii(db: Db) {
    let test_db = TestDb::new_blocking(db);
    let db = test_db.url.as_str();
    let token = admin_token(db);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["serve", "--db", db, "--bind", &addr])
        .env("RINGFENCE__GRAPH__KEY_SECRET", SECRET)
        .env("RINGFENCE_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(&addr, &mut server);
    let secret_email = "very.private.person@secret-domain.example";
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/accounts?email=leak",
        &token,
        Some(&json!({"email": secret_email, "phone": "+14155550199", "name_last": "Zyxwvut"})),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, _) = http(&addr, "GET", "/v1/nothing", &token, None).unwrap();
    assert_eq!(status, 404);
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(log.contains("stopped"), "{log}");
    assert!(
        log.contains("route=/v1/accounts"),
        "requests are logged: {log}"
    );
    for pii in [
        secret_email,
        "secret-domain",
        "4155550199",
        "Zyxwvut",
        "email=leak",
    ] {
        assert!(!log.contains(pii), "the log holds {pii}");
    }
}

fn a_slow_request_is_answered_503_timeout_in_the_error_shape(db: Db) {
    let test_db = TestDb::new_blocking(db);
    let url = test_db.url.as_str();
    let token = admin_token(url);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = start_with(
        url,
        &addr,
        &["--relink-every", "0", "--request-timeout-ms", "300"],
    );
    wait_ready(&addr, &mut server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Another connection takes the write lock (SQLite) or locks the change log (PostgreSQL),
    // so the server's next write waits far longer than the request timeout.
    let mut raw = rt.block_on(test_db.connect());
    let lock = match db {
        Db::Sqlite => "BEGIN IMMEDIATE",
        Db::Postgres => "BEGIN; LOCK TABLE changes IN ACCESS EXCLUSIVE MODE",
    };
    rt.block_on(raw.run(lock));
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/accounts",
        &token,
        Some(&json!({"id": "acct_slow"})),
    )
    .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_object(), "{body}");
    // Reads that do not wait on the lock are answered meanwhile.
    let (status, _) = http(&addr, "GET", "/v1/accounts/acct_none/risk", &token, None).unwrap();
    assert_eq!(status, 404);
    rt.block_on(raw.run("ROLLBACK"));
    // Once the lock is gone the service writes again (the timed-out write may have been
    // applied meanwhile: a timeout tells the caller to retry, idempotently).
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/accounts",
        &token,
        Some(&json!({"id": "acct_fast"})),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    server.kill().unwrap();
    server.wait().unwrap();
}

fn metric(addr: &str, name: &str) -> u64 {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn the_periodic_relink_picks_up_what_another_instance_wrote(db: Db) {
    // Two instances over one store, each re-linking every second: a record written through
    // one reaches the other's graph at its next re-link, linked as a batch run links it.
    let test_db = TestDb::new_blocking(db);
    let url = test_db.url.as_str();
    let token = admin_token(url);
    let a = format!("127.0.0.1:{}", free_port());
    let b = format!("127.0.0.1:{}", free_port());
    let mut server_a = start_with(url, &a, &["--relink-every", "1"]);
    let mut server_b = start_with(url, &b, &["--relink-every", "1"]);
    wait_ready(&a, &mut server_a);
    wait_ready(&b, &mut server_b);
    let relinks_before = metric(&b, "ringfence_graph_relinks_total");
    for id in ["acct_x1", "acct_x2"] {
        let (status, body) = http(
            &a,
            "POST",
            "/v1/accounts",
            &token,
            Some(&json!({"id": id, "device_id": "dev-shared-x"})),
        )
        .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let (_, on_a) = http(&a, "GET", "/v1/accounts/acct_x2/risk", &token, None).unwrap();
    // The store is shared at once…
    let (status, _) = http(&b, "GET", "/v1/accounts/acct_x2", &token, None).unwrap();
    assert_eq!(status, 200);
    // …and B's graph has the records after its next re-link.
    let t0 = Instant::now();
    let on_b = loop {
        let (status, body) = http(&b, "GET", "/v1/accounts/acct_x2/risk", &token, None).unwrap();
        if status == 200 {
            break body;
        }
        assert_eq!(status, 404, "{body}");
        assert!(t0.elapsed() < Duration::from_secs(60), "B never re-linked");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(on_b["cluster_id"], on_a["cluster_id"], "{on_b} vs {on_a}");
    assert_eq!(on_b["cluster_accounts"], 2, "{on_b}");
    assert!(metric(&b, "ringfence_graph_relinks_total") > relinks_before);
    for mut s in [server_a, server_b] {
        s.kill().unwrap();
        s.wait().unwrap();
    }
}
