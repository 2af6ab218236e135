//! One error shape for every response: `{"error": {"code", "message", "details"}}`.
//!
//! [`ApiError`] chooses the status in one exhaustive `match`; 5xx bodies say little and the
//! cause is logged. [`ApiJson`] replaces axum's `Json` extractor so malformed bodies, wrong
//! types and oversized bodies get the same shape, naming the field.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::store::StoreError;

/// Every error the HTTP API returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or invalid input (400).
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Sentence.
        message: String,
        /// The offending field, when there is one.
        field: Option<String>,
    },
    /// No or unknown or revoked API key (401).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The key lacks a scope (403).
    #[error("this key lacks the {0} scope")]
    Forbidden(&'static str),
    /// No such resource (404).
    #[error("{0}")]
    NotFound(String),
    /// No such route (404) or method (405).
    #[error("no route for {0}")]
    NoRoute(String, StatusCode),
    /// The resource exists (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (413).
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON (415).
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// An idempotency key reused with a different request (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The request took too long (503, retry).
    #[error("the request timed out")]
    Timeout,
    /// The service is starting or stopping (503).
    #[error("{0}")]
    Unavailable(&'static str),
    /// Anything else (500); the cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming a field.
    pub fn field(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 400 without a field.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The status and the stable code.
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "missing_scope"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NoRoute(_, s) if *s == StatusCode::METHOD_NOT_ALLOWED => {
                (*s, "method_not_allowed")
            }
            ApiError::NoRoute(..) => (StatusCode::NOT_FOUND, "no_route"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "already_exists"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unprocessable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let (_, code) = self.status_code();
        let details = match self {
            ApiError::BadRequest { field: Some(f), .. } => json!({ "field": f }),
            ApiError::Forbidden(scope) => json!({ "required_scope": scope }),
            ApiError::TooLarge(limit) => json!({ "limit_bytes": limit }),
            _ => json!({}),
        };
        json!({ "error": { "code": code, "message": self.to_string(), "details": details } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = self.status_code();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let mut r = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(id) => ApiError::Conflict(format!("{id} already exists")),
            StoreError::NotFound(id) => ApiError::NotFound(format!("{id} not found")),
            StoreError::IdempotencyTaken => ApiError::Conflict(
                "another request with this Idempotency-Key is in progress".into(),
            ),
            StoreError::InvalidText(field) => ApiError::field(
                "invalid_text",
                field,
                format!("{field} must not contain the NUL character"),
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "write refused: the store cannot take writes");
                ApiError::Unavailable("the store cannot take writes now; retry shortly")
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// A JSON body, parsed with errors in the API's shape: syntax errors name line and column,
/// type errors and unknown fields name the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json_type {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge(super::BODY_LIMIT)
                } else {
                    ApiError::bad("unreadable_body", e.body_text())
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body into `T` with errors in the API's shape.
///
/// # Errors
/// [`ApiError::BadRequest`] with code `invalid_json` (syntax; no field) or `invalid_field`
/// (type error or unknown field; names the field).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let path = e.path().to_string();
        match inner.classify() {
            serde_json::error::Category::Data => {
                // The path names the field (an unknown field's path ends with its name).
                let msg = inner.to_string();
                if path == "." {
                    ApiError::bad("invalid_field", msg)
                } else {
                    ApiError::field("invalid_field", path.clone(), format!("{path}: {msg}"))
                }
            }
            _ => ApiError::bad(
                "invalid_json",
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        email: Option<String>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<T>(br#"{"email": 5}"#).unwrap_err();
        assert_eq!(e.body()["error"]["details"]["field"], "email");
        let e = parse_json::<T>(br#"{"emial": "x"}"#).unwrap_err();
        assert_eq!(e.body()["error"]["details"]["field"], "emial");
        let e = parse_json::<T>(br#"{"email": "x""#).unwrap_err();
        assert_eq!(e.body()["error"]["code"], "invalid_json");
    }
}
