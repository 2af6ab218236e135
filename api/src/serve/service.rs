//! Transport-neutral service functions: validate, persist, update the live graph, shape the
//! result. Handlers in `routes.rs` only extract, call these, and map.
//!
//! The write path: validate → normalise (graph-core's one normalisation) → queue for the
//! single writer task, which commits a batch of writes in one transaction (each with its
//! idempotency claim, in its own savepoint), then applies them to the live graph in commit
//! order → answer. Readers take the graph's read lock, which a write holds for microseconds
//! (a re-clustering of one cluster at worst; clusters too large to rescore inside the write
//! are rescored by the background pass, see `serve::rescorer`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use graph_core::{EntityType, Field, Label, Normalized, RawRecord, normalize::mask};
use serde_json::{Map, Value, json};

use super::AppState;
use super::GraphOp;
use super::auth::Caller;
use super::error::ApiError;
use super::model::{
    DuplicateOut, NeighbourhoodOut, NodeOut, ReasonOut, RiskOut, Warning, pii_kind, prefix,
    type_of_id,
};
use crate::store::{Claim, Job, Record, StoreError, WriteOp, sha256_hex, time_ordered_hex};

fn claim_of(caller: &Caller, idem: Option<&Idem>) -> Option<Claim> {
    idem.map(|i| Claim {
        key_id: caller.key_id.clone(),
        idem_key: i.key.clone(),
        request_hash: i.request_hash.clone(),
    })
}

/// Longest accepted id, in characters (graph-core's limit).
const MAX_ID_CHARS: usize = graph_core::normalize::MAX_ID_CHARS;

/// A validated write: the record's type, id, account, and the fields to store.
#[derive(Debug, Clone)]
pub struct Write {
    /// Account or inquiry.
    pub entity_type: EntityType,
    /// Prefixed id.
    pub id: String,
    /// For inquiries.
    pub account_id: Option<String>,
    /// Fields to store (never the id).
    pub fields: BTreeMap<String, String>,
}

/// An `Idempotency-Key` with the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idem {
    /// The header's value.
    pub key: String,
    /// SHA-256 of method, path and the canonical body.
    pub request_hash: String,
}

impl Idem {
    /// Builds the claim for a request.
    ///
    /// # Errors
    /// A key longer than 255 characters or with control characters.
    pub fn new(key: &str, method: &str, path: &str, body: &Value) -> Result<Idem, ApiError> {
        if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
            return Err(ApiError::field(
                "invalid_idempotency_key",
                "Idempotency-Key",
                "Idempotency-Key must be 1–255 characters without control characters",
            ));
        }
        let canonical = format!("{method} {path}\n{body}");
        Ok(Idem {
            key: key.to_owned(),
            request_hash: sha256_hex(canonical.as_bytes()),
        })
    }
}

/// The result of a write: status and body, as replayed for a repeated idempotency key.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: Value,
    /// Whether this is a stored response replayed.
    pub replayed: bool,
}

/// Validates an id (or generates one) for type `t`.
///
/// # Errors
/// A 400 naming `id`.
pub fn check_id(t: EntityType, id: Option<&str>) -> Result<String, ApiError> {
    let Some(id) = id else {
        return Ok(format!("{}{}", prefix(t), time_ordered_hex()?));
    };
    let p = prefix(t);
    if !id.starts_with(p) || id.len() == p.len() {
        return Err(ApiError::field(
            "invalid_id",
            "id",
            format!("id must start with {p} and have something after it"),
        ));
    }
    if id.chars().count() > MAX_ID_CHARS || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::field(
            "invalid_id",
            "id",
            format!(
                "id must be at most {MAX_ID_CHARS} characters without spaces or control characters"
            ),
        ));
    }
    Ok(id.to_owned())
}

impl From<StoreError> for Box<ApiError> {
    fn from(e: StoreError) -> Self {
        Box::new(e.into())
    }
}

/// Builds the raw record of stored fields and normalises it.
///
/// # Errors
/// A 400 when the record cannot be used at all (graph-core's row rejection).
pub fn normalize(state: &AppState, w: &Write) -> Result<Normalized, ApiError> {
    let mut raw = RawRecord::new(w.entity_type);
    for (k, v) in &w.fields {
        if let Some(f) = Field::from_name(k) {
            raw.set(f, Some(v));
        }
    }
    match w.entity_type {
        EntityType::Account => {
            raw.set(Field::AccountId, Some(&w.id));
        }
        EntityType::Inquiry => {
            raw.set(Field::InquiryId, Some(&w.id));
            raw.set(Field::AccountId, w.account_id.as_deref());
        }
    }
    graph_core::normalize_record(&raw, &state.normalize)
        .map_err(|r| ApiError::field(r.code, "id", r.message))
}

/// A record of the store as graph-core sees it (for start-up and re-links). Records whose
/// stored form no longer normalises are skipped and counted by the caller.
pub fn normalize_record(state: &AppState, r: &Record) -> Option<Normalized> {
    normalize(
        state,
        &Write {
            entity_type: r.entity_type,
            id: r.id.clone(),
            account_id: r.account_id.clone(),
            fields: r.fields.clone(),
        },
    )
    .ok()
}

/// The public form of a record: its fields (masked unless the caller may read PII).
pub fn record_json(r: &Record, pii: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("object".into(), json!(r.entity_type.as_str()));
    if r.entity_type == EntityType::Inquiry {
        m.insert("account_id".into(), json!(r.account_id));
    }
    for (k, v) in &r.fields {
        let shown = match pii_kind(k) {
            Some(kind) if !pii => mask(kind, v),
            _ => v.clone(),
        };
        m.insert(k.clone(), json!(shown));
    }
    m.insert("pii_masked".into(), json!(!pii));
    m.insert("inserted_at".into(), json!(r.inserted_at));
    m.insert("updated_at".into(), json!(r.updated_at));
    Value::Object(m)
}

fn risk_out(t: EntityType, id: &str, r: &graph_core::Risk) -> RiskOut {
    RiskOut {
        id: id.to_owned(),
        entity_type: t.as_str().to_owned(),
        score: r.score,
        reasons: r.reasons.iter().map(ReasonOut::from).collect(),
        cluster_id: r.cluster_id.clone(),
        cluster_size: r.cluster_entities,
        cluster_accounts: r.cluster_accounts,
        is_ring: r.is_ring,
        ring_score: (r.ring_score * 10.0).round() / 10.0,
        duplicates: r.duplicates.iter().map(DuplicateOut::from).collect(),
        score_pending: r.pending,
    }
}

fn warnings(n: &Normalized) -> Vec<Warning> {
    n.issues
        .iter()
        .map(|i| Warning {
            field: i.field.name().to_owned(),
            code: i.code.to_owned(),
            message: i.message.clone(),
        })
        .collect()
}

/// Submits a write. When its `Idempotency-Key` was claimed by a concurrent request in the
/// meantime, the stored reply of that request comes back instead (`Err`), or 409 while it is
/// still being processed.
async fn submit_or_replay(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idem>,
    job: Job,
    graph: GraphOp,
) -> Result<Result<(Record, Option<graph_core::Risk>), Reply>, ApiError> {
    match state.submit(job, graph).await {
        Err(StoreError::IdempotencyTaken) => match idem {
            Some(i) => match replay(state, caller, i).await? {
                Some(reply) => Ok(Err(reply)),
                None => Err(StoreError::IdempotencyTaken.into()),
            },
            None => Err(StoreError::IdempotencyTaken.into()),
        },
        r => Ok(Ok(r?)),
    }
}

/// Answers a repeated idempotency key: the stored response, or 422 for a different request.
/// `Ok(None)` when the key is new.
async fn replay(state: &AppState, caller: &Caller, idem: &Idem) -> Result<Option<Reply>, ApiError> {
    let Some(found) = state.store.idempotency(&caller.key_id, &idem.key).await? else {
        return Ok(None);
    };
    if found.request_hash != idem.request_hash {
        return Err(ApiError::Unprocessable(
            "this Idempotency-Key was used with a different request".into(),
        ));
    }
    match found.response {
        Some((status, body)) => Ok(Some(Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            body: serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.to_string()))?,
            replayed: true,
        })),
        // The change committed but the process stopped before the response was stored:
        // the change is there; say so rather than applying it twice.
        None => Err(ApiError::Conflict(format!(
            "the request with this Idempotency-Key was applied ({}); fetch the resource",
            found.resource_id.unwrap_or_default()
        ))),
    }
}

/// Creates (`update = false`) or replaces (`update = true`) a record.
///
/// # Errors
/// 400 for unusable input, 404 for an update of a missing record, 409 for a duplicate id,
/// 422 for a reused idempotency key.
pub async fn write(
    state: &AppState,
    caller: &Caller,
    w: Write,
    update: bool,
    idem: Option<Idem>,
) -> Result<Reply, ApiError> {
    if let Some(i) = &idem
        && let Some(r) = replay(state, caller, i).await?
    {
        return Ok(r);
    }
    let normalized = normalize(state, &w)?;
    let t = w.entity_type;
    let id = w.id.clone();
    let op = if update {
        WriteOp::Update {
            entity_type: t,
            id: w.id,
            account_id: w.account_id,
            fields: w.fields,
        }
    } else {
        WriteOp::Insert {
            entity_type: t,
            id: w.id,
            account_id: w.account_id,
            fields: w.fields,
        }
    };
    let job = Job {
        op,
        claim: claim_of(caller, idem.as_ref()),
    };
    let (record, risk) = match submit_or_replay(
        state,
        caller,
        idem.as_ref(),
        job,
        GraphOp::Upsert(normalized.clone()),
    )
    .await?
    {
        Ok(done) => done,
        Err(reply) => return Ok(reply),
    };
    let mut body = record_json(&record, caller.pii());
    if let (Value::Object(m), Some(r)) = (&mut body, risk) {
        m.insert("risk".into(), json!(risk_out(t, &id, &r)));
        m.insert("warnings".into(), json!(warnings(&normalized)));
    }
    let status = if update {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    if let Some(i) = &idem {
        state
            .store
            .complete_idempotency(&caller.key_id, &i.key, status.as_u16(), &body.to_string())
            .await?;
    }
    Ok(Reply {
        status,
        body,
        replayed: false,
    })
}

/// Merges a partial update into a stored record's fields (`null` removes a field).
pub fn merge_fields(
    stored: &BTreeMap<String, String>,
    patch: BTreeMap<String, Option<String>>,
    explicit_nulls: &[String],
) -> BTreeMap<String, String> {
    let mut out = stored.clone();
    for (k, v) in patch {
        match v {
            Some(v) => {
                out.insert(k, v);
            }
            None if explicit_nulls.contains(&k) => {
                out.remove(&k);
            }
            None => {}
        }
    }
    out
}

/// One record.
///
/// # Errors
/// 404.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    t: EntityType,
    id: &str,
) -> Result<Value, ApiError> {
    let r = state
        .store
        .get(t, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{} {id} not found", t.as_str())))?;
    Ok(record_json(&r, caller.pii()))
}

/// A page of records after `cursor`.
///
/// # Errors
/// 400 for a malformed cursor or limit.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    t: EntityType,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Value, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field(
            "invalid_limit",
            "limit",
            "limit must be within 1..=500",
        ));
    }
    let after = match cursor {
        None => 0,
        Some(c) => decode_cursor(c)?,
    };
    let rows = state.store.list(t, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    let page: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| record_json(r, caller.pii()))
        .collect();
    let next = if more {
        rows.get(limit as usize - 1).map(|r| encode_cursor(r.seq))
    } else {
        None
    };
    Ok(json!({ "data": page, "next_cursor": next }))
}

/// Cursors are opaque to callers: `c1` + the position in hex.
pub fn encode_cursor(n: i64) -> String {
    format!("c1{n:x}")
}

/// Reads a cursor.
///
/// # Errors
/// 400 naming `cursor`.
pub fn decode_cursor(c: &str) -> Result<i64, ApiError> {
    c.strip_prefix("c1")
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::field("invalid_cursor", "cursor", "malformed cursor"))
}

/// The risk of a stored entity, from the live graph.
///
/// # Errors
/// 404.
pub fn risk(state: &AppState, t: EntityType, id: &str) -> Result<RiskOut, ApiError> {
    let g = state.graph_read();
    let r = g
        .risk(t, id)
        .ok_or_else(|| ApiError::NotFound(format!("{} {id} not found", t.as_str())))?;
    Ok(risk_out(t, id, &r))
}

/// Scores an unsaved record against the graph, changing nothing. Takes only the read lock:
/// the graph copies the clusters the record could touch and scores it there.
///
/// # Errors
/// 400 for unusable input.
pub fn evaluate(state: &AppState, w: &Write) -> Result<Value, ApiError> {
    let n = normalize(state, w)?;
    let warn = warnings(&n);
    let r = state.graph_read().evaluate(n);
    Ok(json!({
        "risk": risk_out(w.entity_type, &w.id, &r),
        "warnings": warn,
        "saved": false,
    }))
}

/// Sets or clears a label.
///
/// # Errors
/// 400 for another label, 404, 422 for a reused idempotency key.
pub async fn label(
    state: &AppState,
    caller: &Caller,
    t: EntityType,
    id: &str,
    label: Option<&str>,
    idem: Option<Idem>,
) -> Result<Reply, ApiError> {
    let parsed = match label {
        None => None,
        Some(l) if l.eq_ignore_ascii_case("fraud") => Some(Label::Fraud),
        Some(l) if l.eq_ignore_ascii_case("legit") => Some(Label::Legit),
        Some(_) => {
            return Err(ApiError::field(
                "invalid_label",
                "label",
                "label must be fraud, legit or null",
            ));
        }
    };
    if let Some(i) = &idem
        && let Some(r) = replay(state, caller, i).await?
    {
        return Ok(r);
    }
    let job = Job {
        op: WriteOp::Label {
            entity_type: t,
            id: id.to_owned(),
            label: parsed.map(|l| l.as_str().to_owned()),
            key_id: caller.key_id.clone(),
        },
        claim: claim_of(caller, idem.as_ref()),
    };
    let (_, risk) = match submit_or_replay(
        state,
        caller,
        idem.as_ref(),
        job,
        GraphOp::Label(t, id.to_owned(), parsed),
    )
    .await?
    {
        Ok(done) => done,
        Err(reply) => return Ok(reply),
    };
    let body = json!({
        "id": id,
        "label": parsed.map(Label::as_str),
        "risk": risk.map(|r| risk_out(t, id, &r)),
    });
    if let Some(i) = &idem {
        state
            .store
            .complete_idempotency(&caller.key_id, &i.key, 200, &body.to_string())
            .await?;
    }
    Ok(Reply {
        status: StatusCode::OK,
        body,
        replayed: false,
    })
}

/// The cluster of an entity, members paged.
///
/// # Errors
/// 400 for a malformed id or cursor, 404.
pub fn cluster(
    state: &AppState,
    id: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Value, ApiError> {
    let t = entity_type_of(id)?;
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            "invalid_limit",
            "limit",
            "limit must be within 1..=1000",
        ));
    }
    let from = cursor.map(decode_cursor).transpose()?.unwrap_or(0) as usize;
    let c = state
        .graph_read()
        .cluster(t, id)
        .ok_or_else(|| ApiError::NotFound(format!("{id} not found")))?;
    let total = c.members.len();
    let members: Vec<Value> = c
        .members
        .iter()
        .skip(from)
        .take(limit as usize)
        .map(|(t, id)| json!({ "entity_type": t.as_str(), "id": id }))
        .collect();
    let next =
        (from + (limit as usize) < total).then(|| encode_cursor((from + limit as usize) as i64));
    Ok(json!({
        "cluster_id": c.id,
        "size": total,
        "accounts": c.accounts,
        "is_ring": c.is_ring,
        "ring_score": (c.ring_score * 10.0).round() / 10.0,
        "reasons": c.reasons.iter().map(ReasonOut::from).collect::<Vec<_>>(),
        "members": members,
        "next_cursor": next,
    }))
}

fn entity_type_of(id: &str) -> Result<EntityType, ApiError> {
    type_of_id(id).ok_or_else(|| {
        ApiError::field("invalid_id", "id", "an entity id starts with acct_ or inq_")
    })
}

/// Hubs, largest first, paged.
///
/// # Errors
/// 400 for a malformed cursor or limit.
pub fn hubs(state: &AppState, cursor: Option<&str>, limit: Option<u32>) -> Result<Value, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            "invalid_limit",
            "limit",
            "limit must be within 1..=1000",
        ));
    }
    let from = cursor.map(decode_cursor).transpose()?.unwrap_or(0) as usize;
    let all = state.graph_read().hubs();
    let page: Vec<Value> = all
        .iter()
        .skip(from)
        .take(limit as usize)
        .map(|h| {
            json!({
                "kind": h.kind,
                "masked_value": h.masked_value,
                "key": h.key,
                "entity_count": h.entity_count,
                "reason": h.reason.as_str(),
            })
        })
        .collect();
    let next = (from + (limit as usize) < all.len())
        .then(|| encode_cursor((from + limit as usize) as i64));
    Ok(json!({ "data": page, "next_cursor": next }))
}

/// Limits of a neighbourhood walk.
#[derive(Debug, Clone)]
pub struct Walk {
    /// Start entity id.
    pub start: String,
    /// Kinds walked through (all when empty); combination kinds match their base kind.
    pub kinds: Vec<String>,
    /// Entity hops, 1–4.
    pub hops: u32,
    /// Nodes per page, 1–1000.
    pub node_limit: u32,
    /// Position to start the page at.
    pub cursor: Option<String>,
}

/// The k-hop neighbourhood of an entity: breadth first from the start, through properties of
/// the chosen kinds (hubs are listed but not walked through), nodes ordered by hop then type
/// then id, so pages are stable. Never silently truncated: `node_limit_reached` and a cursor
/// say there is more.
///
/// # Errors
/// 400 for limits out of range, 404 for an unknown start.
pub fn neighbourhood(state: &AppState, walk: &Walk) -> Result<NeighbourhoodOut, ApiError> {
    if !(1..=4).contains(&walk.hops) {
        return Err(ApiError::field(
            "invalid_hops",
            "hops",
            "hops must be within 1..=4",
        ));
    }
    if !(1..=1000).contains(&walk.node_limit) {
        return Err(ApiError::field(
            "invalid_node_limit",
            "node_limit",
            "node_limit must be within 1..=1000",
        ));
    }
    let t = entity_type_of(&walk.start)?;
    let from = walk
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or(0) as usize;
    let want = from + walk.node_limit as usize + 1;
    let g = state.graph_read();
    if !g.contains(t, &walk.start) {
        return Err(ApiError::NotFound(format!("{} not found", walk.start)));
    }
    let kind_ok = |kind: &str| {
        walk.kinds.is_empty() || walk.kinds.iter().any(|k| k == graph_core::base_kind(kind))
    };
    let mut nodes: Vec<NodeOut> = vec![NodeOut {
        node_type: t.as_str().into(),
        id: walk.start.clone(),
        hop: 0,
        kind: None,
        masked_value: None,
        entity_count: None,
        status: None,
        via: None,
    }];
    let mut seen_entities: std::collections::HashSet<(EntityType, String)> =
        [(t, walk.start.clone())].into_iter().collect();
    let mut seen_props: std::collections::HashSet<String> = Default::default();
    let mut frontier = vec![(t, walk.start.clone())];
    'walk: for hop in 1..=walk.hops {
        let mut next = Vec::new();
        for (et, eid) in &frontier {
            let props = g.properties(*et, eid).unwrap_or_default();
            for p in props.into_iter().filter(|p| kind_ok(&p.kind)) {
                if !seen_props.insert(p.key.clone()) {
                    continue;
                }
                let walkable = p.status == "linking";
                nodes.push(NodeOut {
                    node_type: "property".into(),
                    id: p.key.clone(),
                    hop,
                    kind: Some(p.kind.clone()),
                    masked_value: Some(p.masked_value.clone()),
                    entity_count: Some(p.entity_count),
                    status: Some(p.status.to_owned()),
                    via: Some(eid.clone()),
                });
                if nodes.len() >= want {
                    break 'walk;
                }
                if !walkable {
                    continue;
                }
                if let Some((_, ents)) = g.property_entities(&p.key) {
                    for (nt, nid) in ents {
                        if seen_entities.insert((nt, nid.clone())) {
                            nodes.push(NodeOut {
                                node_type: nt.as_str().into(),
                                id: nid.clone(),
                                hop,
                                kind: None,
                                masked_value: None,
                                entity_count: None,
                                status: None,
                                via: Some(p.key.clone()),
                            });
                            next.push((nt, nid));
                            if nodes.len() >= want {
                                break 'walk;
                            }
                        }
                    }
                }
            }
        }
        next.sort();
        frontier = next;
    }
    let more = nodes.len() > from + walk.node_limit as usize;
    let page: Vec<NodeOut> = nodes
        .into_iter()
        .skip(from)
        .take(walk.node_limit as usize)
        .collect();
    Ok(NeighbourhoodOut {
        start: walk.start.clone(),
        nodes: page,
        node_limit_reached: more,
        next_cursor: more.then(|| encode_cursor((from + walk.node_limit as usize) as i64)),
    })
}
