//! RFC 7662 token introspection: the client, its response cache and merged concurrent calls.
//!
//! * **The request**: `POST` `token=…&token_type_hint=access_token`, authenticated with
//!   `client_secret_basic` (default; id and secret form-encoded before base64, RFC 6749 §2.3.1)
//!   or `client_secret_post`, with the configured timeout (default 5 s).
//! * **The answer**: only the JSON boolean `"active": true` means active. `false` — and, since
//!   RFC 7662 §2.2 makes `active` a boolean, a missing or non-boolean `active` such as the string
//!   `"true"` — is [`Introspection::Inactive`]. The other members of an active answer are typed
//!   by [`Claims::from_map`] exactly like a JWT payload; the claim *checks* (`iss`, `aud`, `exp`,
//!   `nbf`, `iat`) are the validator's, see [`crate::validate::check_introspected_claims`].
//! * **Failures**: a connection error, a timeout, a non-2xx status, or a body that is not a JSON
//!   object with well-typed members is an [`IntrospectionError`] — never "inactive", never
//!   cached. The validator turns it into 503 `validation_unavailable` in one place
//!   ([`crate::validate`]'s `backend_failure`).
//! * **Cache**: keyed by the token's cache key (a keyed SipHash, never the token), bounded in entries. An active answer lives at most
//!   `min(cache_ttl, exp − now)`; an inactive one `negative_cache_ttl` (default 5 s). Deadlines
//!   are judged by the validator's clock.
//! * **One call per token at a time**: concurrent misses for the same token wait for a single
//!   request. It runs as its own task, so a caller that goes away does not cancel it for the
//!   others; at most [`MAX_IN_FLIGHT`] distinct tokens are introspected at once (beyond that a
//!   request fails with [`IntrospectionError::Overloaded`], i.e. 503, protecting the
//!   authorization server from a flood of random tokens).
//!
//! The token is sent to the configured endpoint and nowhere else, and never logged.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use tokio::sync::watch;

use crate::cache::DigestCache;
use crate::clock::Clock;
use crate::config::{ClientAuthMethod, IntrospectionConfig};
use crate::error::{Malformed, Part};
use crate::fetch::{FetchError, HttpClient};
use crate::token::{self, CacheKey, Claims};

/// The most distinct tokens introspected concurrently.
pub const MAX_IN_FLIGHT: usize = 1024;

/// Introspection answers above this size are refused (a backend failure).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What the authorization server said about a token.
#[derive(Debug, Clone, PartialEq)]
pub enum Introspection {
    /// `"active": true`, with the response members typed as claims (unchecked).
    Active(Arc<Claims>),
    /// `"active": false`, or no boolean `active` at all.
    Inactive,
}

/// Why introspection gave no answer. Every variant is a backend failure (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionError {
    /// The endpoint could not be reached (connection refused, DNS, TLS, reset).
    #[error("introspection endpoint {url} unreachable: {detail}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// No complete answer within the timeout.
    #[error("introspection endpoint {url} did not answer within {timeout:?}")]
    Timeout {
        /// The endpoint.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The endpoint answered with a non-2xx status (429, 5xx, or 401 for bad credentials).
    #[error("introspection endpoint {url} answered HTTP {status}")]
    Status {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body is not a JSON object with well-typed members, or is too large.
    #[error("introspection response from {url} is unusable: {detail}")]
    InvalidResponse {
        /// The endpoint.
        url: String,
        /// What is wrong with it (never the token).
        detail: String,
    },
    /// Too many distinct tokens are being introspected at once.
    #[error("more than {limit} introspection calls in flight")]
    Overloaded {
        /// The most distinct tokens introspected at once (1024).
        limit: usize,
    },
    /// The introspection task ended without an answer (it panicked or the runtime shut down).
    #[error("introspection call ended without an answer")]
    Aborted,
}

/// Why an introspection response body is unusable ([`parse_response`]): a backend failure,
/// never "inactive".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The body is not one JSON object without duplicate members.
    #[error("body is not a JSON object ({0})")]
    NotAnObject(Malformed),
    /// An active answer has a member of the wrong type (e.g. `"exp": "soon"`).
    #[error("member {0}")]
    Member(Malformed),
}

type Outcome = Result<Introspection, IntrospectionError>;
type Flight = watch::Receiver<Option<Outcome>>;

/// The RFC 7662 client with its cache. Shared by every request of a validator.
pub struct Introspector {
    config: IntrospectionConfig,
    http: HttpClient,
    clock: Clock,
    cache: DigestCache<Introspection>,
    in_flight: Mutex<HashMap<CacheKey, Flight>>,
    calls: AtomicU64,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("url", &self.config.url.to_string())
            .field("client_id", &self.config.client_id)
            .field("auth_method", &self.config.auth_method)
            .finish()
    }
}

impl Introspector {
    /// A client for `config`, caching at most `cache_entries` answers (0 caches none; concurrent
    /// calls are still merged). Cache deadlines are judged by `clock`.
    pub fn new(
        config: IntrospectionConfig,
        http: HttpClient,
        clock: Clock,
        cache_entries: usize,
    ) -> Self {
        Introspector {
            config,
            http,
            clock,
            cache: DigestCache::new(cache_entries),
            in_flight: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// The settings.
    pub fn config(&self) -> &IntrospectionConfig {
        &self.config
    }

    /// Requests sent to the endpoint so far (for tests and metrics).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Cached answers (including expired ones not yet evicted).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Distinct tokens being introspected right now.
    pub fn in_flight(&self) -> usize {
        self.flights().len()
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Flight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer for `token` (whose cache key is `key`): from the cache if fresh at `now`,
    /// else from the single in-flight call for this token, else from a new call.
    pub async fn introspect(
        self: &Arc<Self>,
        token: &str,
        key: &CacheKey,
        now: i64,
    ) -> Result<Introspection, IntrospectionError> {
        let cached = self.cache.get(key, now);
        crate::telemetry::cache_lookup(crate::telemetry::Cache::Introspection, cached.is_some());
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let mut flight = {
            let mut flights = self.flights();
            match flights.get(key) {
                Some(flight) => flight.clone(),
                None => {
                    // A call may have completed between the cache miss and taking the lock:
                    // it stores its answer before leaving the map.
                    if let Some(hit) = self.cache.get(key, self.clock.now()) {
                        return Ok(hit);
                    }
                    if flights.len() >= MAX_IN_FLIGHT {
                        return Err(IntrospectionError::Overloaded {
                            limit: MAX_IN_FLIGHT,
                        });
                    }
                    let (tx, rx) = watch::channel(None);
                    flights.insert(*key, rx.clone());
                    self.spawn_call(token.to_owned(), *key, tx);
                    rx
                }
            }
        };
        let outcome = match flight.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Err(IntrospectionError::Aborted)),
            Err(_) => Err(IntrospectionError::Aborted),
        };
        outcome
    }

    fn spawn_call(
        self: &Arc<Self>,
        token: String,
        key: CacheKey,
        tx: watch::Sender<Option<Outcome>>,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            // Leaves the map however the task ends (a panic included: waiters then see Aborted).
            let guard = FlightGuard {
                introspector: Arc::clone(&this),
                key,
            };
            let outcome = this.call(&token).await;
            match &outcome {
                Ok(answer) => this.store(key, answer),
                Err(e) => tracing::warn!(
                    target: "authsec::introspect",
                    error = %e,
                    fingerprint = %token::Fingerprint::of(&token),
                    "introspection failed; requests waiting for it get 503 (not cached)"
                ),
            }
            drop(token);
            drop(guard);
            let _ = tx.send(Some(outcome));
        });
    }

    fn store(&self, key: CacheKey, answer: &Introspection) {
        let now = self.clock.now();
        let deadline = match answer {
            Introspection::Active(claims) => {
                let ttl = now.saturating_add(secs(self.config.cache_ttl));
                claims.exp.map_or(ttl, |exp| exp.min(ttl))
            }
            Introspection::Inactive => now.saturating_add(secs(self.config.negative_cache_ttl)),
        };
        self.cache.insert(key, answer.clone(), deadline, now);
    }

    /// One uncached request to the endpoint.
    pub async fn call(&self, token: &str) -> Result<Introspection, IntrospectionError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let cfg = &self.config;
        let url = cfg.url.to_string();
        let mut request = self
            .http
            .post(cfg.url.clone())
            .timeout(cfg.timeout)
            .header(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            );
        if cfg.auth_method == ClientAuthMethod::ClientSecretBasic {
            request = request.header(
                http::header::AUTHORIZATION,
                basic_authorization(&cfg.client_id, cfg.client_secret.expose()),
            );
        }
        let invalid = |detail: String| IntrospectionError::InvalidResponse {
            url: url.clone(),
            detail,
        };
        let failed = |e: FetchError| match e {
            FetchError::Timeout(_) => IntrospectionError::Timeout {
                url: url.clone(),
                timeout: cfg.timeout,
            },
            FetchError::TooLarge(limit) => invalid(format!("larger than {limit} bytes")),
            // Without the URL (already named) and never with the body.
            FetchError::Transport(detail) => IntrospectionError::Unreachable {
                url: url.clone(),
                detail,
            },
        };
        let response = request
            .body(form_body(token, cfg))
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            if matches!(status.as_u16(), 401 | 403) {
                tracing::error!(
                    target: "authsec::introspect",
                    status = status.as_u16(),
                    client_id = %cfg.client_id,
                    auth_method = cfg.auth_method.as_str(),
                    "the introspection endpoint refused this server's client credentials; \
                     check AUTHSEC_INTROSPECTION_CLIENT_ID/_SECRET and the auth method"
                );
            }
            return Err(IntrospectionError::Status {
                url,
                status: status.as_u16(),
            });
        }
        let body = response.bytes(MAX_RESPONSE_BYTES).await.map_err(failed)?;
        parse_response(&body).map_err(|e| invalid(e.to_string()))
    }
}

/// Removes a finished call from the in-flight map.
struct FlightGuard {
    introspector: Arc<Introspector>,
    key: CacheKey,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.introspector.flights().remove(&self.key);
    }
}

/// `token=…&token_type_hint=access_token`, plus the client credentials for `client_secret_post`.
fn form_body(token: &str, cfg: &IntrospectionConfig) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", "access_token");
    if cfg.auth_method == ClientAuthMethod::ClientSecretPost {
        form.append_pair("client_id", &cfg.client_id)
            .append_pair("client_secret", cfg.client_secret.expose());
    }
    form.finish()
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1), marked sensitive.
pub(crate) fn basic_authorization(client_id: &str, secret: &str) -> http::HeaderValue {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)));
    // Base64 output is always a valid header value.
    let mut value = http::HeaderValue::try_from(format!("Basic {credentials}"))
        .unwrap_or_else(|_| http::HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// Types an introspection response body (RFC 7662 §2.2).
///
/// A JSON object without duplicate members is required; then only `"active": true` is active,
/// and an active answer's members must be well-typed claims. Anything else is a
/// [`ResponseError`] (a backend failure).
pub fn parse_response(body: &[u8]) -> Result<Introspection, ResponseError> {
    let object = token::parse_object(body, Part::Payload).map_err(ResponseError::NotAnObject)?;
    match object.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Introspection::Inactive),
        other => {
            tracing::warn!(
                target: "authsec::introspect",
                active = json_type(other),
                "introspection response has no boolean `active` (RFC 7662 §2.2); \
                 the token is treated as inactive"
            );
            return Ok(Introspection::Inactive);
        }
    }
    let claims = Claims::from_map(object).map_err(ResponseError::Member)?;
    Ok(Introspection::Active(Arc::new(claims)))
}

fn json_type(v: Option<&Value>) -> &'static str {
    match v {
        None => "missing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_boolean_true_is_active() {
        for body in [
            r#"{"active":false}"#,
            r#"{"active":"true"}"#,
            r#"{"active":1}"#,
            r#"{"active":null}"#,
            r#"{"sub":"u"}"#,
        ] {
            assert_eq!(
                parse_response(body.as_bytes()),
                Ok(Introspection::Inactive),
                "{body}"
            );
        }
        let Ok(Introspection::Active(c)) =
            parse_response(br#"{"active":true,"sub":"u","aud":["a","b"],"exp":5,"scope":"x y"}"#)
        else {
            panic!("active response not active");
        };
        assert_eq!(c.sub.as_deref(), Some("u"));
        assert_eq!(c.aud, Some(vec!["a".into(), "b".into()]));
        assert_eq!(c.exp, Some(5));
        assert_eq!(c.scopes, ["x", "y"]);
    }

    #[test]
    fn unusable_bodies_are_errors_not_inactive() {
        for body in ["not json", "[]", "", r#"{"active":false,"active":true}"#] {
            assert!(
                matches!(
                    parse_response(body.as_bytes()),
                    Err(ResponseError::NotAnObject(_))
                ),
                "{body}"
            );
        }
        for (body, claim) in [
            (r#"{"active":true,"exp":"soon"}"#, "exp"),
            (r#"{"active":true,"aud":7}"#, "aud"),
        ] {
            assert!(
                matches!(
                    parse_response(body.as_bytes()),
                    Err(ResponseError::Member(Malformed::Claim { ref name, .. })) if name == claim
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        let v = basic_authorization("rs 1", "p:w/d");
        assert!(v.is_sensitive());
        let b64 = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
        assert_eq!(decoded, "rs+1:p%3Aw%2Fd");
    }
}
