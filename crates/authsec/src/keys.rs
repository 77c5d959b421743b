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

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use url::Url;

/// A JWS algorithm authsec verifies. Symmetric algorithms and `none` are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// Parses a header `alg`, case-sensitively (RFC 7515: `alg` values are case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    fn rsa_params(self) -> Option<&'static sig::RsaParameters> {
        Some(match self {
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// One verification key from the JWKS, pinned to the algorithms it may verify.
pub struct VerifyKey {
    /// The JWK `kid`.
    pub kid: Option<String>,
    /// What the key is pinned to, for messages: its `alg`, or `kty`/`crv`.
    pub pinned_to: String,
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("pinned_to", &self.pinned_to)
            .field("algorithms", &self.algorithms())
            .finish()
    }
}

impl VerifyKey {
    /// Algorithms this key may verify.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        self.verifiers.iter().map(|(a, _)| *a).collect()
    }

    /// Does this key accept `alg`?
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// Verifies `signature` over `message` with `alg`. False for a disallowed `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, k)| k.verify_sig(message, signature).is_ok())
    }

    /// Builds a key from one JWK object.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, String> {
        if jwk.kty == "oct" {
            return Err(
                "symmetric (oct) keys are never used: only asymmetric signatures are accepted"
                    .into(),
            );
        }
        if jwk.has_private_members() {
            return Err("contains private key material".into());
        }
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(format!(
                "use is {:?}, not \"sig\"",
                jwk.use_.as_deref().unwrap_or("")
            ));
        }
        if let Some(ops) = &jwk.key_ops {
            if !ops.iter().any(|o| o == "verify") {
                return Err("key_ops does not include \"verify\"".into());
            }
        }
        let declared =
            match jwk.alg.as_deref() {
                None => None,
                Some(name) => Some(Algorithm::from_name(name).ok_or_else(|| {
                    format!("alg {name:?} is not a supported signature algorithm")
                })?),
            };
        let b = |field: &str, v: &Option<String>| -> Result<Vec<u8>, String> {
            let s = v.as_deref().ok_or_else(|| format!("missing {field}"))?;
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| format!("{field} is not unpadded base64url"))
        };
        let (family, pinned_to): (Vec<Algorithm>, String) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => (
                vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                ],
                "RSA".into(),
            ),
            ("EC", Some("P-256")) => (vec![Algorithm::ES256], "EC P-256".into()),
            ("EC", Some("P-384")) => (vec![Algorithm::ES384], "EC P-384".into()),
            ("OKP", Some("Ed25519")) => (vec![Algorithm::EdDSA], "OKP Ed25519".into()),
            (kty, crv) => {
                return Err(format!(
                    "unsupported key type kty={kty:?} crv={crv:?} (supported: RSA, EC P-256/P-384, OKP Ed25519)"
                ))
            }
        };
        let algorithms = match declared {
            Some(a) if family.contains(&a) => vec![a],
            Some(a) => {
                return Err(format!("alg {} does not match kty {pinned_to}", a.name()));
            }
            None => family,
        };
        let mut verifiers = Vec::with_capacity(algorithms.len());
        for alg in algorithms {
            let parsed = match alg {
                Algorithm::ES256 | Algorithm::ES384 => {
                    let (x, y) = (b("x", &jwk.x)?, b("y", &jwk.y)?);
                    let len = if alg == Algorithm::ES256 { 32 } else { 48 };
                    if x.len() != len || y.len() != len {
                        return Err(format!("EC coordinates must be {len} bytes"));
                    }
                    let mut point = Vec::with_capacity(1 + 2 * len);
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    let a: &'static sig::EcdsaVerificationAlgorithm = if alg == Algorithm::ES256 {
                        &sig::ECDSA_P256_SHA256_FIXED
                    } else {
                        &sig::ECDSA_P384_SHA384_FIXED
                    };
                    ParsedPublicKey::new(a, point).map_err(|e| format!("invalid EC key: {e}"))?
                }
                Algorithm::EdDSA => {
                    let x = b("x", &jwk.x)?;
                    if x.len() != 32 {
                        return Err("Ed25519 x must be 32 bytes".into());
                    }
                    ParsedPublicKey::new(&sig::ED25519, x)
                        .map_err(|e| format!("invalid Ed25519 key: {e}"))?
                }
                rsa => {
                    let (n, e) = (b("n", &jwk.n)?, b("e", &jwk.e)?);
                    let n = strip_leading_zeros(&n);
                    let e = strip_leading_zeros(&e);
                    if n.len() < 256 {
                        return Err(format!(
                            "RSA modulus is {} bits; at least 2048 are required",
                            n.len() * 8
                        ));
                    }
                    if has_roca_fingerprint(n) {
                        return Err(
                            "RSA modulus has the ROCA fingerprint (CVE-2017-15361): its \
                                    private key can be recovered; regenerate the key"
                                .into(),
                        );
                    }
                    let params = rsa.rsa_params().ok_or("not an RSA algorithm")?;
                    RsaPublicKeyComponents { n, e }
                        .to_parsed_public_key(params)
                        .map_err(|e| format!("invalid RSA key: {e}"))?
                }
            };
            verifiers.push((alg, parsed));
        }
        Ok(VerifyKey {
            kid: jwk.kid.clone(),
            pinned_to: declared.map(|a| a.name().to_owned()).unwrap_or(pinned_to),
            verifiers,
        })
    }
}

/// ROCA (CVE-2017-15361): moduli from the affected Infineon key generator are built so that
/// `n mod p` lies in the subgroup generated by 65537 for every small prime `p` below. A random
/// modulus passes all 38 tests with negligible probability; a ROCA modulus always does.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        let generator = 65_537 % p;
        let mut power = 1;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                return false;
            }
        }
    })
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// The JWK members authsec reads (RFC 7517/7518/8037).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwk {
    /// Key type.
    pub kty: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// Pinned algorithm.
    #[serde(default)]
    pub alg: Option<String>,
    /// Intended use.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// Permitted operations.
    #[serde(default)]
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default)]
    pub e: Option<String>,
    /// Curve.
    #[serde(default)]
    pub crv: Option<String>,
    /// EC x / OKP public key.
    #[serde(default)]
    pub x: Option<String>,
    /// EC y.
    #[serde(default)]
    pub y: Option<String>,
    /// Private exponent / private key: must be absent.
    #[serde(default)]
    pub d: Option<serde_json::Value>,
    /// Symmetric key: must be absent.
    #[serde(default)]
    pub k: Option<serde_json::Value>,
}

impl Jwk {
    fn has_private_members(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }
}

/// A parsed key set: keys by `kid`, plus keys without one.
#[derive(Debug, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    without_kid: Vec<Arc<VerifyKey>>,
    /// Keys skipped while parsing, with why (for logs and `diagnose`).
    pub rejected: Vec<(Option<String>, String)>,
}

impl KeySet {
    /// Parses a JWKS document. Unusable keys are skipped and listed in `rejected`;
    /// a `kid` that appears twice is dropped entirely (which key was meant is ambiguous).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a JWKS document ({{\"keys\": [...]}}): {e}"))?;
        let mut set = KeySet::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut parsed = Vec::new();
        for value in doc.keys {
            let jwk: Jwk = match serde_json::from_value(value) {
                Ok(j) => j,
                Err(e) => {
                    set.rejected.push((None, format!("not a JWK: {e}")));
                    continue;
                }
            };
            if let Some(kid) = &jwk.kid {
                *seen.entry(kid.clone()).or_default() += 1;
            }
            if jwk.has_private_members() && jwk.kty != "oct" {
                return Err(format!(
                    "key {:?} contains private key material; a JWKS must publish public keys only",
                    jwk.kid
                ));
            }
            match VerifyKey::from_jwk(&jwk) {
                Ok(k) => parsed.push(k),
                Err(why) => set.rejected.push((jwk.kid.clone(), why)),
            }
        }
        for key in parsed {
            match &key.kid {
                Some(kid) if seen.get(kid).copied().unwrap_or(0) > 1 => set.rejected.push((
                    Some(kid.clone()),
                    "kid appears more than once in the JWKS".into(),
                )),
                Some(kid) => {
                    set.by_kid.insert(kid.clone(), Arc::new(key));
                }
                None => set.without_kid.push(Arc::new(key)),
            }
        }
        Ok(set)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }

    /// True when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key for a token: by `kid`, or — for a token without `kid` — the single key
    /// without one that allows `alg`.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None => {
                let mut candidates = self
                    .without_kid
                    .iter()
                    .chain(self.by_kid.values())
                    .filter(|k| k.allows(alg));
                match (candidates.next(), candidates.next()) {
                    (Some(k), None) => Some(k.clone()),
                    _ => None,
                }
            }
        }
    }

    /// Known key ids, sorted (for explanations).
    pub fn kids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_kid.keys().cloned().collect();
        v.sort();
        v
    }
}

/// Why a key lookup did not produce a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookupError {
    /// Keys are loaded but none has this `kid` (or none fits a token without `kid`).
    Unknown,
    /// No keys were ever loaded and the last fetch failed.
    Unavailable(String),
}

/// Where keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS URL.
    Url(Url),
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
    last_error: Option<String>,
    jwks_url: Option<Url>,
    /// When the periodic refresh fetches next, as the last fetch said.
    next_refresh: Duration,
}

/// The JWKS cache shared by every request.
pub struct KeyCache {
    source: KeySource,
    http: reqwest::Client,
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
    pub fn new(source: KeySource, http: reqwest::Client, min_refresh: Duration) -> Self {
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
        let cache = Self::new(KeySource::Static, reqwest::Client::new(), Duration::MAX);
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
    pub fn last_error(&self) -> Option<String> {
        self.read().last_error.clone()
    }

    /// The resolved JWKS URL (after discovery).
    pub fn jwks_url(&self) -> Option<Url> {
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
            None if !st.loaded => Err(KeyLookupError::Unavailable(
                st.last_error
                    .clone()
                    .unwrap_or_else(|| "JWKS not loaded yet".into()),
            )),
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
    pub async fn refresh(&self) -> Result<Option<Duration>, String> {
        if matches!(self.source, KeySource::Static) {
            return Ok(None);
        }
        let _guard = self.refresh.lock().await;
        self.fetch_and_store().await
    }

    async fn fetch_and_store(&self) -> Result<Option<Duration>, String> {
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

    async fn fetch(&self) -> Result<Fetched, String> {
        let url = match self.jwks_url() {
            Some(u) => u,
            None => {
                let KeySource::Discover { issuer } = &self.source else {
                    return Err("no JWKS source".into());
                };
                let meta = discover(&self.http, issuer)
                    .await
                    .map_err(|e| e.to_string())?;
                let url = meta.jwks_uri.ok_or_else(|| {
                    format!("the metadata at {} has no jwks_uri", meta.source_url)
                })?;
                let url = Url::parse(&url).map_err(|e| format!("jwks_uri {url:?}: {e}"))?;
                self.state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .jwks_url = Some(url.clone());
                url
            }
        };
        let resp = self
            .http
            .get(url.clone())
            .header(
                http::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        let max_age = resp
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        let keys = KeySet::from_json(&body).map_err(|e| format!("{url}: {e}"))?;
        if keys.is_empty() {
            return Err(format!("{url}: no usable signing keys"));
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
    let Ok(url) = Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = url.origin().ascii_serialization();
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
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ServerMetadata, DiscoveryError> {
    let mut attempts = Vec::new();
    for url in metadata_urls(issuer) {
        let resp = match http.get(&url).send().await {
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
        let mut meta: ServerMetadata = match resp.json().await {
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

    #[test]
    fn private_key_material_rejects_the_whole_set() {
        let e = KeySet::from_json(
            br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA","d":"AA"}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("private key material"), "{e}");
    }

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        let set = KeySet::from_json(
            br#"{"keys":[{"kty":"oct","kid":"h","k":"AAAA"},{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}]}"#,
        )
        .unwrap();
        assert!(set.is_empty());
        assert_eq!(set.rejected.len(), 2);
    }

    #[test]
    fn alg_names_are_case_sensitive() {
        assert_eq!(Algorithm::from_name("RS256"), Some(Algorithm::RS256));
        assert_eq!(Algorithm::from_name("rs256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("HS256"), None);
    }
}
