//! API keys: `Authorization: Bearer rf_live_…`, looked up by SHA-256, with scopes.
//!
//! Tokens are never stored: the store holds their SHA-256, so a lookup by hash needs no
//! constant-time comparison. Lookups are cached for [`KEY_CACHE_TTL`]; revoking through the API
//! clears the cache at once, revoking with the CLI takes effect within the TTL.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::store::{ApiKey, Store, sha256_hex};

/// Every scope a key can hold. `admin` implies all others.
pub const SCOPES: &[&str] = &[
    "accounts:read",
    "accounts:write",
    "inquiries:read",
    "inquiries:write",
    "risk:read",
    "graph:read",
    "pii:read",
    "admin",
];

/// How long a key lookup is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Checks a list of scopes.
///
/// # Errors
/// The first unknown scope, or an empty list.
pub fn validate_scopes(scopes: &[String]) -> Result<(), String> {
    if scopes.is_empty() {
        return Err(format!("give at least one scope of: {}", SCOPES.join(", ")));
    }
    match scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        Some(bad) => Err(format!(
            "unknown scope {bad:?}; scopes are: {}",
            SCOPES.join(", ")
        )),
        None => Ok(()),
    }
}

/// Cached key lookups by token hash.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, (Option<ApiKey>, Instant)>>,
}

impl KeyCache {
    /// The active key whose token hashes to `hash`.
    ///
    /// # Errors
    /// Store failure.
    pub async fn lookup(&self, store: &Store, hash: &str) -> Result<Option<ApiKey>, ApiError> {
        if let Ok(m) = self.entries.read()
            && let Some((k, at)) = m.get(hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(k.clone());
        }
        let key = store
            .key_by_hash(hash)
            .await?
            .filter(|k| k.revoked_at.is_none());
        if let Ok(mut m) = self.entries.write() {
            // Unknown tokens are not cached: a flood of random tokens must not grow the map.
            if key.is_some() {
                m.insert(hash.to_owned(), (key.clone(), Instant::now()));
            }
        }
        Ok(key)
    }

    /// Forgets every cached lookup (after a revocation).
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.write() {
            m.clear();
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id (`key_…`), never the token.
    pub key_id: String,
    scopes: Vec<String>,
}

impl Caller {
    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope || s == "admin")
    }

    /// Requires a scope.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] naming the scope.
    pub fn require(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope))
        }
    }

    /// Whether PII may be shown unmasked.
    pub fn pii(&self) -> bool {
        self.has("pii:read")
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated(
                "missing API key: send Authorization: Bearer <key>",
            ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthenticated(
                "malformed Authorization header: expected Bearer <key>",
            ))?;
        let key = state
            .keys
            .lookup(&state.store, &sha256_hex(token.as_bytes()))
            .await?
            .ok_or(ApiError::Unauthenticated("invalid or revoked API key"))?;
        Ok(Caller {
            key_id: key.id,
            scopes: key.scopes,
        })
    }
}
