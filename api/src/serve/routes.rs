//! HTTP handlers: extract, call the service, map. Nothing else happens here.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use graph_core::EntityType;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Caller, validate_scopes};
use super::error::{ApiError, ApiJson};
use super::model::{
    AccountInput, EvaluateInput, GraphQueryInput, GraphQueryTemplate, InquiryInput, KeyInput,
    LabelInput, RunQueryInput, input_fields,
};
use super::service::{self, Idem, Reply, Walk, Write, check_id};

/// `limit` and `cursor` query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Neighbourhood query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkQuery {
    /// Comma-separated kinds.
    pub kinds: Option<String>,
    /// Entity hops (default 2).
    pub hops: Option<u32>,
    /// Nodes per page (default 100).
    pub node_limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

fn query<T: serde::de::DeserializeOwned>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad("invalid_query", e.body_text()))
}

fn reply(r: Reply) -> Response {
    let mut resp = (r.status, Json(r.body)).into_response();
    if r.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

fn idem(
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &impl serde::Serialize,
) -> Result<Option<Idem>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map_err(|_| {
        ApiError::field(
            "invalid_idempotency_key",
            "Idempotency-Key",
            "Idempotency-Key must be visible ASCII",
        )
    })?;
    let body = serde_json::to_value(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Idem::new(key, method, path, &body).map(Some)
}

fn write_of<T: serde::Serialize>(
    t: EntityType,
    id: Option<&str>,
    account_id: Option<String>,
    input: &T,
) -> Result<Write, ApiError> {
    let id = check_id(t, id)?;
    let mut fields = std::collections::BTreeMap::new();
    for (k, v) in input_fields(input) {
        if let Some(v) = v
            && k != "id"
            && k != "account_id"
        {
            fields.insert(k, v);
        }
    }
    if !fields.contains_key("created_at") {
        fields.insert("created_at".into(), crate::store::now());
    }
    if let Some(a) = &account_id
        && !a.starts_with("acct_")
    {
        return Err(ApiError::field(
            "invalid_account_id",
            "account_id",
            "account_id must be an account id (acct_…)",
        ));
    }
    Ok(Write {
        entity_type: t,
        id,
        account_id,
        fields,
    })
}

fn kind_path(t: EntityType) -> &'static str {
    match t {
        EntityType::Account => "accounts",
        EntityType::Inquiry => "inquiries",
    }
}

fn type_param(kind: &str) -> Result<EntityType, ApiError> {
    match kind {
        "accounts" => Ok(EntityType::Account),
        "inquiries" => Ok(EntityType::Inquiry),
        other => Err(ApiError::NoRoute(
            format!("/v1/{other}"),
            StatusCode::NOT_FOUND,
        )),
    }
}

fn scope(t: EntityType, write: bool) -> &'static str {
    match (t, write) {
        (EntityType::Account, false) => "accounts:read",
        (EntityType::Account, true) => "accounts:write",
        (EntityType::Inquiry, false) => "inquiries:read",
        (EntityType::Inquiry, true) => "inquiries:write",
    }
}

/// `POST /v1/accounts`
pub async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<Response, ApiError> {
    caller.require("accounts:write")?;
    let idem = idem(&headers, "POST", "/v1/accounts", &input)?;
    let w = write_of(EntityType::Account, input.id.as_deref(), None, &input)?;
    Ok(reply(
        service::write(&state, &caller, w, false, idem).await?,
    ))
}

/// `POST /v1/inquiries`
pub async fn create_inquiry(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<InquiryInput>,
) -> Result<Response, ApiError> {
    caller.require("inquiries:write")?;
    let idem = idem(&headers, "POST", "/v1/inquiries", &input)?;
    let w = write_of(
        EntityType::Inquiry,
        input.id.as_deref(),
        input.account_id.clone(),
        &input,
    )?;
    Ok(reply(
        service::write(&state, &caller, w, false, idem).await?,
    ))
}

/// `PATCH /v1/accounts/{id}`: fields given replace stored ones, `null` removes one.
pub async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require("accounts:write")?;
    update(state, caller, &headers, EntityType::Account, id, body).await
}

/// `PATCH /v1/inquiries/{id}`
pub async fn update_inquiry(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require("inquiries:write")?;
    update(state, caller, &headers, EntityType::Inquiry, id, body).await
}

async fn update(
    state: AppState,
    caller: Caller,
    headers: &HeaderMap,
    t: EntityType,
    id: String,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // Parse twice: as the typed input (type errors name the field) and as a map (to tell an
    // explicit null, which removes a field, from an absent field).
    let (fields, nulls, account_id) = match t {
        EntityType::Account => {
            let input: AccountInput = super::error::parse_json(&body)?;
            if input.id.as_deref().is_some_and(|i| i != id) {
                return Err(ApiError::field("invalid_id", "id", "the id cannot change"));
            }
            (input_fields(&input), explicit_nulls(&body), None)
        }
        EntityType::Inquiry => {
            let input: InquiryInput = super::error::parse_json(&body)?;
            if input.id.as_deref().is_some_and(|i| i != id) {
                return Err(ApiError::field("invalid_id", "id", "the id cannot change"));
            }
            (
                input_fields(&input),
                explicit_nulls(&body),
                input.account_id,
            )
        }
    };
    let stored = state
        .store
        .get(t, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{} {id} not found", t.as_str())))?;
    let account_id = if nulls.iter().any(|n| n == "account_id") {
        None
    } else {
        account_id.or(stored.account_id.clone())
    };
    let fields: std::collections::BTreeMap<String, Option<String>> = fields
        .into_iter()
        .filter(|(k, _)| k != "id" && k != "account_id")
        .collect();
    let merged = service::merge_fields(&stored.fields, fields, &nulls);
    let mut w = write_of(t, Some(&id), account_id, &merged)?;
    w.fields = merged;
    // The request hash covers the body as sent (explicit nulls included), so the same key with
    // another patch is refused (422) and a repeat replays the stored response.
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let idem = idem(
        headers,
        "PATCH",
        &format!("/v1/{}/{id}", kind_path(t)),
        &sent,
    )?;
    Ok(reply(service::write(&state, &caller, w, true, idem).await?))
}

fn explicit_nulls(body: &[u8]) -> Vec<String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    }
}

/// `GET /v1/{accounts|inquiries}/{id}`
pub async fn get_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = type_param(&kind)?;
    caller.require(scope(t, false))?;
    Ok(Json(service::get(&state, &caller, t, &id).await?))
}

/// `GET /v1/{accounts|inquiries}`
pub async fn list_records(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let t = type_param(&kind)?;
    caller.require(scope(t, false))?;
    let q = query(q)?;
    Ok(Json(
        service::list(&state, &caller, t, q.cursor.as_deref(), q.limit).await?,
    ))
}

/// `GET /v1/{accounts|inquiries}/{id}/risk`
pub async fn get_risk(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = type_param(&kind)?;
    caller.require("risk:read")?;
    Ok(Json(service::risk(&state, t, &id)?).into_response())
}

/// `POST /v1/risk/evaluate`
pub async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<EvaluateInput>,
) -> Result<Json<Value>, ApiError> {
    caller.require("risk:read")?;
    let w = match (&input.account, &input.inquiry) {
        (Some(a), None) => write_of(EntityType::Account, a.id.as_deref(), None, a)?,
        (None, Some(i)) => write_of(
            EntityType::Inquiry,
            i.id.as_deref(),
            i.account_id.clone(),
            i,
        )?,
        _ => {
            return Err(ApiError::field(
                "invalid_field",
                "account",
                "give exactly one of account or inquiry",
            ));
        }
    };
    Ok(Json(service::evaluate(&state, &w)?))
}

/// `POST /v1/{accounts|inquiries}/{id}/label`
pub async fn set_label(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<LabelInput>,
) -> Result<Response, ApiError> {
    let t = type_param(&kind)?;
    caller.require(scope(t, true))?;
    let idem = idem(&headers, "POST", &format!("/v1/{kind}/{id}/label"), &input)?;
    Ok(reply(
        service::label(&state, &caller, t, &id, input.label.as_deref(), idem).await?,
    ))
}

/// `GET /v1/graph/entities/{id}/cluster`
pub async fn get_cluster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require("graph:read")?;
    let q = query(q)?;
    Ok(Json(service::cluster(
        &state,
        &id,
        q.cursor.as_deref(),
        q.limit,
    )?))
}

/// `GET /v1/graph/entities/{id}/neighbourhood`
pub async fn get_neighbourhood(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<WalkQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require("graph:read")?;
    let q = query(q)?;
    let walk = Walk {
        start: id,
        kinds: q
            .kinds
            .map(|k| {
                k.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        hops: q.hops.unwrap_or(2),
        node_limit: q.node_limit.unwrap_or(100),
        cursor: q.cursor,
    };
    Ok(Json(json!(service::neighbourhood(&state, &walk)?)))
}

/// `GET /v1/graph/hubs`
pub async fn get_hubs(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require("graph:read")?;
    let q = query(q)?;
    Ok(Json(service::hubs(&state, q.cursor.as_deref(), q.limit)?))
}

/// `POST /v1/graph/queries`
pub async fn create_query(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<GraphQueryInput>,
) -> Result<Response, ApiError> {
    caller.require("graph:read")?;
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(ApiError::field(
            "invalid_field",
            "name",
            "name must be 1–200 characters",
        ));
    }
    let template =
        serde_json::to_string(&input.template).map_err(|e| ApiError::Internal(e.to_string()))?;
    let q = state.store.create_query(&input.name, &template).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": q.id,
            "name": q.name,
            "template": input.template,
            "parameters": parameters(&input.template),
            "created_at": q.created_at,
        })),
    )
        .into_response())
}

/// Parameter names (`{{name}}`) in a template.
fn parameters(t: &GraphQueryTemplate) -> Vec<String> {
    let mut out = Vec::new();
    for s in std::iter::once(&t.start).chain(&t.kinds) {
        if let Some(p) = s.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) {
            out.push(p.trim().to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `POST /v1/graph/queries/{id}/run`
pub async fn run_query(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RunQueryInput>,
) -> Result<Json<Value>, ApiError> {
    caller.require("graph:read")?;
    let q = state
        .store
        .query(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("graph query {id} not found")))?;
    let t: GraphQueryTemplate =
        serde_json::from_str(&q.template).map_err(|e| ApiError::Internal(e.to_string()))?;
    let fill = |s: &str| -> Result<String, ApiError> {
        match s.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) {
            Some(p) => input.params.get(p.trim()).cloned().ok_or_else(|| {
                ApiError::field(
                    "missing_parameter",
                    format!("params.{}", p.trim()),
                    format!("the query needs parameter {}", p.trim()),
                )
            }),
            None => Ok(s.to_owned()),
        }
    };
    let walk = Walk {
        start: fill(&t.start)?,
        kinds: t.kinds.iter().map(|k| fill(k)).collect::<Result<_, _>>()?,
        hops: t.hops.unwrap_or(2),
        node_limit: t.node_limit.unwrap_or(100),
        cursor: input.cursor.clone(),
    };
    let mut out = json!(service::neighbourhood(&state, &walk)?);
    if let Value::Object(m) = &mut out {
        m.insert("query_id".into(), json!(q.id));
    }
    Ok(Json(out))
}

/// `POST /v1/keys` (admin): creates a key and shows its token once.
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<KeyInput>,
) -> Result<Response, ApiError> {
    caller.require("admin")?;
    validate_scopes(&input.scopes).map_err(|m| ApiError::field("invalid_scope", "scopes", m))?;
    let (key, token) = state
        .store
        .create_key(input.name.as_deref().unwrap_or(""), &input.scopes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": key.id,
            "token": token,
            "scopes": key.scopes,
            "name": key.name,
            "created_at": key.created_at,
        })),
    )
        .into_response())
}

/// `DELETE /v1/keys/{id}` (admin): revokes a key at once.
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("admin")?;
    if !state.store.revoke_key(&id).await? {
        return Err(ApiError::NotFound(format!("active key {id} not found")));
    }
    state.keys.clear();
    Ok(Json(json!({ "id": id, "revoked": true })))
}

/// `POST /v1/admin/relink` (admin): rebuilds the live graph from the store in the background
/// of requests, then swaps it in.
pub async fn relink(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require("admin")?;
    let stats = super::relink(&state)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(stats))
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the graph is built and the store answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let ready = state.is_ready() && state.store.ping().await.is_ok();
    if ready {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        ApiError::Unavailable("not ready: the graph is loading or the store does not answer")
            .into_response()
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (n, props) = {
        let g = state.graph_read();
        (g.len(), g.property_count())
    };
    let body = state.metrics.render(n as u64, props as u64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}

/// `GET /openapi.json`
pub async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

/// Unknown routes.
pub async fn fallback(uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned(), StatusCode::NOT_FOUND)
}
