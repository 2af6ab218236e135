//! The HTTP service, in-process (`app(state)` driven with `oneshot`) over a real SQLite file.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use graph_core::{EntityType, Keyer, LinkConfig, NormalizeOptions};
use ringfence::serve::{AppState, app, service};
use ringfence::store::{Store, Synchronous};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const SECRET: &str = "serve test secret, long enough";

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub admin: String,
    pub _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: axum::http::HeaderMap,
}

impl TestApp {
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::open(dir).await
    }

    pub async fn open(dir: tempfile::TempDir) -> TestApp {
        let path = dir.path().join("store.db");
        let store = Store::open(path.to_str().expect("utf-8 path"), Synchronous::Normal)
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
            _dir: dir,
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

#[tokio::test]
async fn missing_invalid_and_revoked_keys_get_401() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn missing_scope_gets_403_naming_it() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn malformed_json_and_wrong_types_get_400_naming_the_field() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn unknown_resources_and_routes_get_404_and_wrong_methods_405() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::new().await;
    let big = json!({ "name": "x".repeat(ringfence::serve::BODY_LIMIT + 10) });
    let r = app
        .call("POST", "/v1/accounts", Some(&app.admin), Some(big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&r), "body_too_large");
}

#[tokio::test]
async fn duplicate_ids_get_409() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn idempotency_keys_replay_the_response_and_refuse_another_body() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn hostile_strings_are_stored_and_returned_intact() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn pii_is_masked_unless_the_key_has_pii_read() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn writes_are_linked_and_scored_within_the_request() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn evaluate_scores_an_unsaved_record_and_saves_nothing() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn lists_page_with_cursors_without_gaps_or_repeats() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn graph_neighbourhoods_page_and_never_truncate_silently() {
    let app = TestApp::new().await;
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

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = TestApp::new().await;
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
        let writes_records = method == "post"
            && (path.starts_with("/v1/accounts") || path.starts_with("/v1/inquiries"));
        assert_eq!(idem, writes_records, "{method} {path}");
    }
}

#[tokio::test]
async fn requests_wait_for_the_graph_and_a_restart_rebuilds_what_batch_gives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let app = TestApp::open(tempfile::tempdir_in(dir.path()).unwrap()).await;
        drop(app);
    }
    let store = Store::open(path.to_str().unwrap(), Synchronous::Full)
        .await
        .unwrap();
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
        _dir: dir,
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
    // A fresh state over the same file (a restart) builds the same graph…
    let again = AppState::new(
        Store::open(path.to_str().unwrap(), Synchronous::Full)
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
pub async fn batch_clusters(state: &AppState) -> BTreeMap<String, String> {
    let (records, _) = state.store.snapshot().await.expect("snapshot");
    let normalized: Vec<_> = records
        .iter()
        .filter_map(|r| service::normalize_record(state, r))
        .collect();
    let input = graph_core::LinkInput::from_records(&normalized, Keyer::new(SECRET.as_bytes()));
    let out = graph_core::link(&input, &LinkConfig::default());
    (0..input.entities.len())
        .map(|e| {
            (
                input.entities.ids[e].clone(),
                out.clusters[out.cluster_of[e] as usize].id.clone(),
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

#[tokio::test]
async fn a_relink_swaps_in_the_batch_graph_and_keeps_every_write() {
    let app = TestApp::new().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_in_batches_and_fail_alone() {
    // Many writes at once share transactions (group commit); a duplicate in a batch fails on
    // its own, its neighbours commit.
    let app = std::sync::Arc::new(TestApp::new().await);
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
