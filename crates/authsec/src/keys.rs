//! JWKS: discovery, parsing, the key cache and its refresh rules.
//!
//! * Keys come only from the configured JWKS URL, or the `jwks_uri` of the issuer's RFC 8414
//!   metadata (then OpenID discovery); the metadata's `issuer` must equal the configured one.
//! * Each key is parsed once into an aws-lc-rs `ParsedPublicKey` per algorithm it is pinned to
//!   (its JWK `alg`, or every algorithm its `kty`/`crv` allows). The token's `alg` must agree.
//! * An unknown `kid` triggers at most one refresh per `min_refresh_interval`; concurrent
//!   requests wait for the same refresh. A periodic refresh follows `Cache-Control: max-age`
//!   (clamped to 1 min … 24 h). When a fetch fails the last good keys keep working; with no
//!   keys ever loaded, lookups fail as "unavailable" (503), never as "invalid token".

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use http::Uri;
use serde::Deserialize;

use crate::fetch::{FetchError, HttpClient};

pub use authsec_proto::jws::{Algorithm, Jwk, JwkError, JwksError, KeySet, VerifyKey};

/// Why a key lookup did not produce a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookupError {
    /// Keys are loaded but none has this `kid` (or none fits a token without `kid`).
    Unknown,
    /// No keys were ever loaded: the last fetch failed (`None`: none has finished yet).
    Unavailable(Option<KeyFetchError>),
}

/// Why fetching the JWKS failed; the last good keys stay in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFetchError {
    /// A fixed key set: there is nothing to fetch.
    #[error("no JWKS source")]
    NoSource,
    /// The issuer's metadata (for its `jwks_uri`) could not be had.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The metadata has no `jwks_uri`.
    #[error("the metadata at {metadata_url} has no jwks_uri")]
    NoJwksUri {
        /// Where the metadata came from.
        metadata_url: String,
    },
    /// The metadata's `jwks_uri` is not an absolute URL.
    #[error("jwks_uri {jwks_uri:?}: {detail}")]
    BadJwksUri {
        /// The `jwks_uri` as published.
        jwks_uri: String,
        /// Why it is not usable.
        detail: String,
    },
    /// No complete answer (connecting, TLS, the timeout, or a body over the size limit).
    #[error("GET {url}: {error}")]
    Request {
        /// The JWKS URL.
        url: String,
        /// What failed.
        error: FetchError,
    },
    /// An answer with an error status.
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The JWKS URL.
        url: String,
        /// The status.
        status: http::StatusCode,
    },
    /// The answer is not a JWK set.
    #[error("{url}: {error}")]
    Invalid {
        /// The JWKS URL.
        url: String,
        /// Why.
        error: JwksError,
    },
    /// A JWK set without one key the SDK can verify with.
    #[error("{url}: no usable signing keys")]
    NoUsableKeys {
        /// The JWKS URL.
        url: String,
    },
}

/// Where keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS URL.
    Url(Uri),
    /// Discover `jwks_uri` from the issuer's metadata on first use.
    Discover {
        /// The configured issuer.
        issuer: String,
    },
    /// A fixed key set (tests, offline tools).
    Static,
}

struct State {
    keys: Arc<KeySet>,
    loaded: bool,
    last_fetch: Option<Instant>,
    last_error: Option<KeyFetchError>,
    jwks_url: Option<Uri>,
    /// When the periodic refresh fetches next, as the last fetch said.
    next_refresh: Duration,
}

/// The JWKS cache shared by every request.
pub struct KeyCache {
    source: KeySource,
    /// `None` for a fixed key set, which fetches nothing.
    http: Option<HttpClient>,
    min_refresh: Duration,
    state: RwLock<State>,
    refresh: tokio::sync::Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("source", &self.source)
            .finish()
    }
}

/// Result of one refresh.
struct Fetched {
    keys: KeySet,
    max_age: Option<Duration>,
}

impl KeyCache {
    /// A cache over `source`; nothing is fetched until [`KeyCache::refresh`] or a lookup.
    pub fn new(source: KeySource, http: HttpClient, min_refresh: Duration) -> Self {
        Self::with_client(source, Some(http), min_refresh)
    }

    fn with_client(source: KeySource, http: Option<HttpClient>, min_refresh: Duration) -> Self {
        let jwks_url = match &source {
            KeySource::Url(u) => Some(u.clone()),
            _ => None,
        };
        KeyCache {
            source,
            http,
            min_refresh,
            state: RwLock::new(State {
                keys: Arc::new(KeySet::default()),
                loaded: false,
                last_fetch: None,
                last_error: None,
                jwks_url,
                next_refresh: refresh_interval(None),
            }),
            refresh: tokio::sync::Mutex::new(()),
            fetches: Default::default(),
            generation: Default::default(),
        }
    }

    /// A cache holding a fixed key set.
    pub fn fixed(keys: KeySet) -> Self {
        let cache = Self::with_client(KeySource::Static, None, Duration::MAX);
        {
            let mut st = cache.state.write().unwrap_or_else(|e| e.into_inner());
            st.keys = Arc::new(keys);
            st.loaded = true;
        }
        cache
    }

    /// The current key set.
    pub fn current(&self) -> Arc<KeySet> {
        self.read().keys.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes every time a fetched key set replaces the current one. A verification made
    /// under one generation is not trusted under another (a key may have been withdrawn).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Number of JWKS fetches attempted so far (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The error of the last failed fetch, if the last fetch failed.
    pub fn last_error(&self) -> Option<KeyFetchError> {
        self.read().last_error.clone()
    }

    /// The resolved JWKS URL (after discovery).
    pub fn jwks_url(&self) -> Option<Uri> {
        self.read().jwks_url.clone()
    }

    /// Finds the key for a token, refreshing at most once per interval when it is missing.
    pub async fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, KeyLookupError> {
        if let Some(k) = self.current().find(kid, alg) {
            return Ok(k);
        }
        self.refresh_if_allowed().await;
        let st = self.read();
        match st.keys.find(kid, alg) {
            Some(k) => Ok(k),
            None if !st.loaded => Err(KeyLookupError::Unavailable(st.last_error.clone())),
            None => Err(KeyLookupError::Unknown),
        }
    }

    /// Refreshes unless another refresh happened within the minimum interval. Concurrent
    /// callers share one refresh.
    pub async fn refresh_if_allowed(&self) {
        if matches!(self.source, KeySource::Static) {
            return;
        }
        let started_waiting = Instant::now();
        let _guard = self.refresh.lock().await;
        let recent = self.read().last_fetch.is_some_and(|t| {
            // Someone refreshed while we waited, or within the rate-limit interval.
            t >= started_waiting || t.elapsed() < self.min_refresh
        });
        if recent {
            return;
        }
        let _ = self.fetch_and_store().await;
    }

    /// Fetches now (start-up and the periodic refresh), regardless of the rate limit.
    /// Returns the `max-age` the server sent, if any.
    pub async fn refresh(&self) -> Result<Option<Duration>, KeyFetchError> {
        if matches!(self.source, KeySource::Static) {
            return Ok(None);
        }
        let _guard = self.refresh.lock().await;
        self.fetch_and_store().await
    }

    async fn fetch_and_store(&self) -> Result<Option<Duration>, KeyFetchError> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.fetch().await;
        crate::telemetry::jwks_refresh(result.is_ok());
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        st.last_fetch = Some(Instant::now());
        match result {
            Ok(f) => {
                for (kid, why) in &f.keys.rejected {
                    tracing::warn!(target: "authsec::keys", kid = ?kid, "JWKS key skipped: {why}");
                }
                st.keys = Arc::new(f.keys);
                st.loaded = true;
                st.last_error = None;
                st.next_refresh = refresh_interval(f.max_age);
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                Ok(f.max_age)
            }
            Err(e) => {
                tracing::warn!(target: "authsec::keys", error = %e, keeping = st.keys.len(), "JWKS refresh failed; keeping the last good keys");
                st.last_error = Some(e.clone());
                st.next_refresh = RETRY_AFTER_FAILURE;
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Fetched, KeyFetchError> {
        let Some(http) = &self.http else {
            return Err(KeyFetchError::NoSource);
        };
        let url = match self.jwks_url() {
            Some(u) => u,
            None => {
                let KeySource::Discover { issuer } = &self.source else {
                    return Err(KeyFetchError::NoSource);
                };
                let meta = discover(http, issuer).await?;
                let jwks_uri = meta.jwks_uri.ok_or(KeyFetchError::NoJwksUri {
                    metadata_url: meta.source_url,
                })?;
                let url = crate::uri::parse_absolute(&jwks_uri).map_err(|e| {
                    KeyFetchError::BadJwksUri {
                        detail: e.to_string(),
                        jwks_uri,
                    }
                })?;
                self.state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .jwks_url = Some(url.clone());
                url
            }
        };
        let resp = http
            .get(url.clone())
            .header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/jwk-set+json, application/json"),
            )
            .send()
            .await
            .map_err(|error| KeyFetchError::Request {
                url: url.to_string(),
                error,
            })?;
        if !resp.status().is_success() {
            return Err(KeyFetchError::Status {
                url: url.to_string(),
                status: resp.status(),
            });
        }
        let max_age = resp
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let body =
            resp.bytes(MAX_DOCUMENT_BYTES)
                .await
                .map_err(|error| KeyFetchError::Request {
                    url: url.to_string(),
                    error,
                })?;
        let keys = KeySet::from_json(&body).map_err(|error| KeyFetchError::Invalid {
            url: url.to_string(),
            error,
        })?;
        if keys.is_empty() {
            return Err(KeyFetchError::NoUsableKeys {
                url: url.to_string(),
            });
        }
        Ok(Fetched { keys, max_age })
    }

    /// How long the periodic refresh waits before its next fetch, as of the last fetch: the
    /// server's `max-age` (see [`refresh_interval`]), or 30 s after a failure.
    pub fn next_refresh(&self) -> Duration {
        self.read().next_refresh
    }

    /// Starts the periodic refresh: every `max-age` (clamped to 1 min … 24 h, default 5 min),
    /// retrying 30 s after a failure; the first wait follows the start-up fetch. Stops when
    /// the cache is dropped.
    pub fn spawn_background_refresh(self: &Arc<Self>) {
        if matches!(self.source, KeySource::Static) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Self> = Arc::downgrade(self);
        handle.spawn(async move {
            loop {
                let Some(wait) = weak.upgrade().map(|c| c.next_refresh()) else {
                    return;
                };
                tokio::time::sleep(wait).await;
                let Some(cache) = weak.upgrade() else { return };
                let _ = cache.refresh().await;
            }
        });
    }
}

/// The largest JWKS or metadata document read (real ones are a few kilobytes).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// How soon the periodic refresh tries again after a failed fetch.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The periodic refresh interval for a JWKS response's `Cache-Control` max-age: honoured
/// within 1 min … 24 h; 5 min when the server sent none.
pub fn refresh_interval(max_age: Option<Duration>) -> Duration {
    max_age
        .unwrap_or(Duration::from_secs(300))
        .clamp(Duration::from_secs(60), Duration::from_secs(86_400))
}

fn parse_max_age(cc: &str) -> Option<Duration> {
    cc.split(',').find_map(|d| {
        // Directive names are case-insensitive (RFC 9111 §5.2).
        let (name, value) = d.trim().split_once('=')?;
        if !name.eq_ignore_ascii_case("max-age") && !name.eq_ignore_ascii_case("s-maxage") {
            return None;
        }
        value
            .trim_matches('"')
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    })
}

/// Authorization server metadata (RFC 8414 / OpenID Discovery), the members authsec uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `jwks_uri`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `introspection_endpoint`.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// `token_endpoint`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// `scopes_supported`.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// Where this document was found.
    #[serde(skip)]
    pub source_url: String,
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// No metadata document could be fetched.
    #[error("no authorization server metadata for {issuer}: {detail}")]
    Unreachable {
        /// The configured issuer.
        issuer: String,
        /// What each attempt returned.
        detail: String,
    },
    /// The metadata names another issuer — the "moved issuer" / trailing-slash trap.
    #[error("issuer mismatch: configured issuer is {configured:?} but {url} says issuer is {published:?}. Set AUTHSEC_ISSUER to exactly what the authorization server publishes")]
    IssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The `issuer` in the metadata.
        published: String,
        /// The metadata URL.
        url: String,
    },
}

/// The metadata URLs to try for an issuer: RFC 8414 (well-known inserted before the path),
/// then OpenID Discovery (appended).
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = crate::uri::parse_absolute(issuer) else {
        return Vec::new();
    };
    let origin = crate::uri::origin(&url);
    let path = url.path().trim_end_matches('/');
    vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    ]
}

/// Fetches the issuer's metadata and checks that its `issuer` equals `issuer` byte for byte.
pub async fn discover(http: &HttpClient, issuer: &str) -> Result<ServerMetadata, DiscoveryError> {
    let mut attempts = Vec::new();
    for url in metadata_urls(issuer) {
        let uri = match url.parse::<Uri>() {
            Ok(u) => u,
            Err(e) => {
                attempts.push(format!("{url}: {e}"));
                continue;
            }
        };
        let resp = match http
            .get(uri)
            .header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            )
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                attempts.push(format!("{url}: {e}"));
                continue;
            }
        };
        if !resp.status().is_success() {
            attempts.push(format!("{url}: HTTP {}", resp.status()));
            continue;
        }
        let parsed = resp
            .bytes(MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| e.to_string())
            .and_then(|body| {
                serde_json::from_slice::<ServerMetadata>(&body)
                    .map_err(|e| format!("not authorization server metadata ({e})"))
            });
        let mut meta = match parsed {
            Ok(m) => m,
            Err(e) => {
                attempts.push(format!("{url}: {e}"));
                continue;
            }
        };
        meta.source_url = url.clone();
        if meta.issuer != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                configured: issuer.to_owned(),
                published: meta.issuer,
                url,
            });
        }
        return Ok(meta);
    }
    Err(DiscoveryError::Unreachable {
        issuer: issuer.to_owned(),
        detail: attempts.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_insert_well_known_before_the_path() {
        assert_eq!(
            metadata_urls("https://auth.example.com/tenant1"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            metadata_urls("https://auth.example.com/")[0],
            "https://auth.example.com/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-store"), None);
    }
}
