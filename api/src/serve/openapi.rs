//! The OpenAPI 3.1 document served at `/openapi.json`: schemas derived with utoipa from the
//! request and response types, operations from [`OPERATIONS`] (the same table a test checks
//! against the router, so the document cannot list a route that does not exist).

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::model::{
    AccountInput, DuplicateFieldOut, DuplicateOut, EvaluateInput, GraphQueryInput,
    GraphQueryTemplate, InquiryInput, KeyInput, LabelInput, NeighbourhoodOut, NodeOut, ReasonOut,
    RiskOut, RunQueryInput, Warning,
};

#[derive(OpenApi)]
#[openapi(components(schemas(
    AccountInput,
    InquiryInput,
    LabelInput,
    EvaluateInput,
    KeyInput,
    GraphQueryInput,
    GraphQueryTemplate,
    RunQueryInput,
    RiskOut,
    DuplicateOut,
    DuplicateFieldOut,
    ReasonOut,
    Warning,
    NodeOut,
    NeighbourhoodOut
)))]
struct Schemas;

/// One operation: method, path, summary, required scope, request schema, success status and
/// response schema (`None`: a free-form object).
pub type Operation = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    u16,
    Option<&'static str>,
);

/// Every operation of the API.
pub const OPERATIONS: &[Operation] = &[
    (
        "post",
        "/v1/accounts",
        "Create an account; it is linked and scored within the request",
        Some("accounts:write"),
        Some("AccountInput"),
        201,
        None,
    ),
    (
        "get",
        "/v1/accounts",
        "List accounts (cursor pagination)",
        Some("accounts:read"),
        None,
        200,
        None,
    ),
    (
        "get",
        "/v1/accounts/{id}",
        "Get an account (PII masked without pii:read)",
        Some("accounts:read"),
        None,
        200,
        None,
    ),
    (
        "patch",
        "/v1/accounts/{id}",
        "Update an account (null removes a field)",
        Some("accounts:write"),
        Some("AccountInput"),
        200,
        None,
    ),
    (
        "get",
        "/v1/accounts/{id}/risk",
        "Risk score, reasons, cluster and ring of an account",
        Some("risk:read"),
        None,
        200,
        Some("RiskOut"),
    ),
    (
        "post",
        "/v1/accounts/{id}/label",
        "Label an account fraud or legit (feeds closeness to fraud)",
        Some("accounts:write"),
        Some("LabelInput"),
        200,
        None,
    ),
    (
        "post",
        "/v1/inquiries",
        "Create an inquiry; it is linked and scored within the request",
        Some("inquiries:write"),
        Some("InquiryInput"),
        201,
        None,
    ),
    (
        "get",
        "/v1/inquiries",
        "List inquiries (cursor pagination)",
        Some("inquiries:read"),
        None,
        200,
        None,
    ),
    (
        "get",
        "/v1/inquiries/{id}",
        "Get an inquiry",
        Some("inquiries:read"),
        None,
        200,
        None,
    ),
    (
        "patch",
        "/v1/inquiries/{id}",
        "Update an inquiry",
        Some("inquiries:write"),
        Some("InquiryInput"),
        200,
        None,
    ),
    (
        "get",
        "/v1/inquiries/{id}/risk",
        "Risk of an inquiry (its account's)",
        Some("risk:read"),
        None,
        200,
        Some("RiskOut"),
    ),
    (
        "post",
        "/v1/inquiries/{id}/label",
        "Label an inquiry",
        Some("inquiries:write"),
        Some("LabelInput"),
        200,
        None,
    ),
    (
        "post",
        "/v1/risk/evaluate",
        "Score an unsaved account or inquiry against the graph",
        Some("risk:read"),
        Some("EvaluateInput"),
        200,
        None,
    ),
    (
        "get",
        "/v1/graph/entities/{id}/cluster",
        "The cluster of an entity (members paged)",
        Some("graph:read"),
        None,
        200,
        None,
    ),
    (
        "get",
        "/v1/graph/entities/{id}/neighbourhood",
        "k-hop neighbourhood through chosen kinds, node limit and cursor",
        Some("graph:read"),
        None,
        200,
        Some("NeighbourhoodOut"),
    ),
    (
        "get",
        "/v1/graph/hubs",
        "Properties held back as hubs, largest first",
        Some("graph:read"),
        None,
        200,
        None,
    ),
    (
        "post",
        "/v1/graph/queries",
        "Save a graph-query template with {{parameters}}",
        Some("graph:read"),
        Some("GraphQueryInput"),
        201,
        None,
    ),
    (
        "post",
        "/v1/graph/queries/{id}/run",
        "Run a saved graph query with parameters",
        Some("graph:read"),
        Some("RunQueryInput"),
        200,
        Some("NeighbourhoodOut"),
    ),
    (
        "post",
        "/v1/keys",
        "Create an API key (token shown once)",
        Some("admin"),
        Some("KeyInput"),
        201,
        None,
    ),
    (
        "delete",
        "/v1/keys/{id}",
        "Revoke an API key",
        Some("admin"),
        None,
        200,
        None,
    ),
    (
        "post",
        "/v1/admin/relink",
        "Rebuild the live graph from the store and swap it in",
        Some("admin"),
        None,
        200,
        None,
    ),
    ("get", "/healthz", "Liveness", None, None, 200, None),
    (
        "get",
        "/readyz",
        "Readiness: graph built, store answering",
        None,
        None,
        200,
        None,
    ),
    (
        "get",
        "/metrics",
        "Prometheus metrics",
        None,
        None,
        200,
        None,
    ),
    (
        "get",
        "/openapi.json",
        "This document",
        None,
        None,
        200,
        None,
    ),
];

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The document.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(Schemas::openapi()).unwrap_or_else(|_| json!({}));
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "Ringfence",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Real-time fraud-ring graph: accounts and inquiries are linked into the graph within the request; risk lookups read the live graph.",
        "license": { "name": "Apache-2.0" },
    });
    doc["components"]["securitySchemes"] = json!({ "bearer": { "type": "http", "scheme": "bearer", "description": "rf_live_… API key" } });
    doc["components"]["schemas"]["Error"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": { "type": "string" },
                "message": { "type": "string" },
                "details": { "type": "object" },
            },
        }},
    });
    let mut paths = Map::new();
    for &(method, path, summary, scope, request, status, response) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{method}_{}", path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
            "responses": {
                status.to_string(): {
                    "description": "success",
                    "content": { "application/json": { "schema": response.map_or_else(|| json!({"type": "object"}), schema_ref) } },
                },
                "default": {
                    "description": "error",
                    "content": { "application/json": { "schema": schema_ref("Error") } },
                },
            },
        });
        if let Some(s) = scope {
            op["security"] = json!([{ "bearer": [] }]);
            op["description"] = json!(format!("Requires scope `{s}` (or `admin`)."));
        }
        if let Some(r) = request {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema_ref(r) } },
            });
        }
        // Idempotency keys guard the writes to records (create and update) and labels.
        if (method == "post" || method == "patch")
            && (path.starts_with("/v1/accounts") || path.starts_with("/v1/inquiries"))
        {
            op["parameters"] = json!([{
                "name": "Idempotency-Key", "in": "header", "required": false,
                "schema": { "type": "string", "maxLength": 255 },
                "description": "Repeating a request with the same key returns the first response; the same key with another body is refused with 422.",
            }]);
        }
        if path.contains("{id}") {
            let params = op.get("parameters").cloned().unwrap_or_else(|| json!([]));
            let mut params = params.as_array().cloned().unwrap_or_default();
            params.push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }));
            op["parameters"] = json!(params);
        }
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method] = op;
    }
    doc["paths"] = Value::Object(paths);
    doc
}
