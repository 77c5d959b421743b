//! Test support for authsec.
//!
//! * [`TestKey`]: RSA / ECDSA / Ed25519 signing keys with their public JWK, and [`TestKey::sign`]
//!   to mint any token — including malformed and hostile ones — from raw header and claims JSON.
//! * [`FakeAuthServer`]: a loopback HTTP server publishing RFC 8414 metadata and a JWKS whose
//!   keys, status and latency a test changes at will (fault injection: rotation, outage, slowness),
//!   counting every JWKS fetch.
//! * [`FakeIntrospection`]: a loopback RFC 7662 endpoint whose answer per token, status,
//!   body and latency a test sets (revocation, outage, 429/500, slowness, malformed answers),
//!   recording every request so tests can assert how the client authenticated.
//!
//! * [`console`] (feature `console`): the real authsec console on loopback with helpers for
//!   its admin API and token service — a real peer of the SDK's remote policy modes.
//!
//! Real-peer interoperability (a certified authorization server, official MCP clients) lives in
//! the interop suite; this crate is only for what a real peer cannot be made to do on demand.
//!
//! Valid tokens from a healthy issuer are the SDK's public `authsec::testing::TestIssuer`
//! (feature `test-issuer`; also `authsec dev-issuer`), one ES256 key and well-formed RFC 9068
//! tokens only. This crate keeps what that must never offer: every algorithm, raw header and
//! payload bytes for malformed and hostile tokens, and servers that fail on demand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

#[cfg(feature = "console")]
pub mod console;

/// Polls `check` every 20 ms until it holds; panics, naming `what`, after 10 s. Returns how
/// long it took: for what must happen without a clock step (a pushed policy change, a
/// background refresh).
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

enum Inner {
    Rsa(Arc<RsaKeyPair>),
    Ec(Arc<EcdsaKeyPair>),
    Ed(Arc<Ed25519KeyPair>),
}

/// A signing key with a `kid` and the JWS algorithm it signs with.
pub struct TestKey {
    /// Key id published in the JWK and put in minted headers.
    pub kid: String,
    /// JWS algorithm name (`RS256`, `PS256`, `ES256`, `ES384`, `EdDSA`, …).
    pub alg: &'static str,
    inner: Inner,
}

fn shared_rsa() -> Arc<RsaKeyPair> {
    // RSA key generation is slow; tests share one key pair per process unless they ask for a new one.
    static KEY: OnceLock<Arc<RsaKeyPair>> = OnceLock::new();
    KEY.get_or_init(|| Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen")))
        .clone()
}

impl TestKey {
    /// An RSA-2048 key (shared per process) signing with `alg` (`RS256`…`PS512`).
    pub fn rsa(kid: &str, alg: &'static str) -> Self {
        TestKey {
            kid: kid.into(),
            alg,
            inner: Inner::Rsa(shared_rsa()),
        }
    }

    /// A freshly generated RSA-2048 key (for rotation tests, where keys must differ).
    pub fn fresh_rsa(kid: &str) -> Self {
        let k = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen");
        TestKey {
            kid: kid.into(),
            alg: "RS256",
            inner: Inner::Rsa(Arc::new(k)),
        }
    }

    /// A P-256 key (`ES256`).
    pub fn es256(kid: &str) -> Self {
        Self::ec(kid, "ES256", &sig::ECDSA_P256_SHA256_FIXED_SIGNING)
    }

    /// A P-384 key (`ES384`).
    pub fn es384(kid: &str) -> Self {
        Self::ec(kid, "ES384", &sig::ECDSA_P384_SHA384_FIXED_SIGNING)
    }

    fn ec(kid: &str, alg: &'static str, a: &'static sig::EcdsaSigningAlgorithm) -> Self {
        let k = EcdsaKeyPair::generate(a).expect("ec keygen");
        TestKey {
            kid: kid.into(),
            alg,
            inner: Inner::Ec(Arc::new(k)),
        }
    }

    /// An Ed25519 key (`EdDSA`).
    pub fn ed25519(kid: &str) -> Self {
        let k = Ed25519KeyPair::generate().expect("ed25519 keygen");
        TestKey {
            kid: kid.into(),
            alg: "EdDSA",
            inner: Inner::Ed(Arc::new(k)),
        }
    }

    /// The public JWK (with `kid`, `alg` and `use`).
    pub fn jwk(&self) -> Value {
        let mut jwk = self.jwk_without_alg();
        jwk["alg"] = json!(self.alg);
        jwk
    }

    /// The public JWK without `alg` (the key is then pinned only by its `kty`/`crv`).
    pub fn jwk_without_alg(&self) -> Value {
        match &self.inner {
            Inner::Rsa(k) => {
                let p = k.public_key();
                json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                       "n": b64(p.modulus().big_endian_without_leading_zero()),
                       "e": b64(p.exponent().big_endian_without_leading_zero())})
            }
            Inner::Ec(k) => {
                let point = k.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = if len == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "kid": self.kid, "use": "sig",
                       "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..])})
            }
            Inner::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "use": "sig",
                       "x": b64(k.public_key().as_ref())})
            }
        }
    }

    /// The raw public key bytes as aws-lc-rs verifies them (RSA: PKCS#1 DER, EC: uncompressed
    /// point, Ed25519: 32 bytes) — for raw-verify baselines.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Rsa(k) => k.public_key().as_ref().to_vec(),
            Inner::Ec(k) => k.public_key().as_ref().to_vec(),
            Inner::Ed(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `message` with this key's algorithm.
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let enc: &'static dyn sig::RsaEncoding = match self.alg {
                    "RS384" => &sig::RSA_PKCS1_SHA384,
                    "RS512" => &sig::RSA_PKCS1_SHA512,
                    "PS256" => &sig::RSA_PSS_SHA256,
                    "PS384" => &sig::RSA_PSS_SHA384,
                    "PS512" => &sig::RSA_PSS_SHA512,
                    _ => &sig::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, message, &mut out).expect("rsa sign");
                out
            }
            Inner::Ec(k) => k.sign(&rng, message).expect("ec sign").as_ref().to_vec(),
            Inner::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }

    /// The default header for this key: `{"alg", "kid", "typ": "at+jwt"}`.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg, "kid": self.kid, "typ": "at+jwt"})
    }

    /// Mints a compact JWS from `header` and `claims`, signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// Mints a token with the default header.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// Mints a compact JWS from raw header and payload bytes (for duplicate members and other
    /// JSON that `serde_json::Value` cannot express).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.sign_bytes(signing_input.as_bytes());
        format!("{signing_input}.{}", b64(signature))
    }
}

/// `{"keys": [...]}` for these keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// Typical access-token claims: `iss`, `aud`, `sub`, `client_id`, `scope`, `iat`, `exp` = now + 1 h.
pub fn claims(issuer: &str, audience: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "aud": audience, "sub": "user-1", "client_id": "client-1",
        "scope": scope, "iat": now, "exp": now + 3600, "jti": format!("jti-{}", now)
    })
}

struct ServerState {
    jwks: Mutex<Value>,
    jwks_status: AtomicU16,
    delay_ms: AtomicU64,
    jwks_fetches: AtomicU64,
    metadata_issuer: Mutex<Option<String>>,
    cache_control: Mutex<Option<String>>,
    base: String,
    extra_metadata: Mutex<Value>,
}

/// A loopback authorization-server fake: RFC 8414 metadata at
/// `/.well-known/oauth-authorization-server` and a JWKS at `/jwks`, both under `issuer()`.
#[derive(Clone)]
pub struct FakeAuthServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
}

impl FakeAuthServer {
    /// Starts the server on 127.0.0.1 with an ephemeral port, serving `jwks`.
    pub async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(ServerState {
            jwks: Mutex::new(jwks),
            jwks_status: AtomicU16::new(200),
            delay_ms: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
            metadata_issuer: Mutex::new(None),
            cache_control: Mutex::new(None),
            base: format!("http://{addr}"),
            extra_metadata: Mutex::new(json!({})),
        });
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/.well-known/openid-configuration", get(metadata))
            .route("/jwks", get(jwks_route))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeAuthServer { addr, state }
    }

    /// The issuer this server publishes (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> String {
        self.state.base.clone()
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.state.base)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the published keys (rotation).
    pub fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().expect("lock") = jwks;
    }

    /// Makes the JWKS route answer with `status` and no keys (200 restores it).
    pub fn set_jwks_status(&self, status: u16) {
        self.state.jwks_status.store(status, Ordering::SeqCst);
    }

    /// Delays every response by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Publishes another `issuer` in the metadata (the moved-issuer / trailing-slash traps).
    pub fn set_metadata_issuer(&self, issuer: Option<String>) {
        *self.state.metadata_issuer.lock().expect("lock") = issuer;
    }

    /// Adds members to the metadata document (e.g. `introspection_endpoint`).
    pub fn set_extra_metadata(&self, extra: Value) {
        *self.state.extra_metadata.lock().expect("lock") = extra;
    }

    /// Sends this `Cache-Control` with the JWKS.
    pub fn set_cache_control(&self, value: Option<String>) {
        *self.state.cache_control.lock().expect("lock") = value;
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }
}

async fn delay(state: &ServerState) {
    let ms = state.delay_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

async fn metadata(State(state): State<Arc<ServerState>>) -> Response {
    delay(&state).await;
    let issuer = state
        .metadata_issuer
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or_else(|| state.base.clone());
    let mut doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", state.base),
        "token_endpoint": format!("{}/token", state.base),
        "response_types_supported": ["code"],
    });
    if let (Some(d), Some(extra)) = (
        doc.as_object_mut(),
        state.extra_metadata.lock().expect("lock").as_object(),
    ) {
        for (k, v) in extra {
            d.insert(k.clone(), v.clone());
        }
    }
    axum::Json(doc).into_response()
}

async fn jwks_route(State(state): State<Arc<ServerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    delay(&state).await;
    let status = state.jwks_status.load(Ordering::SeqCst);
    if status != 200 {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, "unavailable").into_response();
    }
    let body = state.jwks.lock().expect("lock").to_string();
    let mut resp = ([(header::CONTENT_TYPE, "application/jwk-set+json")], body).into_response();
    if let Some(cc) = state.cache_control.lock().expect("lock").clone() {
        if let Ok(v) = cc.parse() {
            resp.headers_mut().insert(header::CACHE_CONTROL, v);
        }
    }
    resp
}

/// One request received by [`FakeIntrospection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionRequest {
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The decoded form fields, in order.
    pub form: Vec<(String, String)>,
}

impl IntrospectionRequest {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `(client_id, client_secret)` from an `Authorization: Basic` header, each
    /// form-decoded (RFC 6749 §2.3.1).
    pub fn basic_credentials(&self) -> Option<(String, String)> {
        let b64 = self.authorization.as_deref()?.strip_prefix("Basic ")?;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (id, secret) = raw.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

struct IntrospectionState {
    client_id: String,
    client_secret: String,
    answers: Mutex<HashMap<String, Value>>,
    status: AtomicU16,
    raw_body: Mutex<Option<String>>,
    delay_ms: AtomicU64,
    calls: AtomicU64,
    requests: Mutex<Vec<IntrospectionRequest>>,
}

/// A loopback RFC 7662 introspection endpoint at `/introspect`, for fault injection.
///
/// It authenticates the caller with `client_secret_basic` or `client_secret_post` against the
/// credentials given to [`FakeIntrospection::start`] (401 `invalid_client` otherwise), then
/// answers with the JSON set for the token (`{"active": false}` for unknown tokens).
#[derive(Clone)]
pub struct FakeIntrospection {
    addr: SocketAddr,
    state: Arc<IntrospectionState>,
}

impl FakeIntrospection {
    /// Starts the endpoint on 127.0.0.1 with an ephemeral port.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(IntrospectionState {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            answers: Mutex::new(HashMap::new()),
            status: AtomicU16::new(200),
            raw_body: Mutex::new(None),
            delay_ms: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/introspect", post(introspect_route))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeIntrospection { addr, state }
    }

    /// The endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// Answers `response` (sent as is) for `token`.
    pub fn set_response(&self, token: &str, response: Value) {
        self.state
            .answers
            .lock()
            .expect("lock")
            .insert(token.into(), response);
    }

    /// Answers `{"active": true, …claims}` for `token`.
    pub fn set_active(&self, token: &str, claims: &Value) {
        let mut answer = claims.clone();
        answer["active"] = json!(true);
        self.set_response(token, answer);
    }

    /// Answers `{"active": false}` for `token` from now on.
    pub fn revoke(&self, token: &str) {
        self.set_response(token, json!({"active": false}));
    }

    /// Answers every request with `status` and a JSON error body (200 restores normal answers).
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Answers every request with 200 and this exact body (`None` restores normal answers).
    pub fn set_raw_body(&self, body: Option<&str>) {
        *self.state.raw_body.lock().expect("lock") = body.map(str::to_owned);
    }

    /// Delays every answer by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Requests received so far.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<IntrospectionRequest> {
        self.state.requests.lock().expect("lock").clone()
    }
}

async fn introspect_route(
    State(state): State<Arc<IntrospectionState>>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = IntrospectionRequest {
        authorization: header(header::AUTHORIZATION),
        content_type: header(header::CONTENT_TYPE),
        form,
    };
    state.requests.lock().expect("lock").push(request.clone());
    let ms = state.delay_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let status = state.status.load(Ordering::SeqCst);
    if status != 200 {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            code,
            axum::Json(json!({"error": "temporarily_unavailable"})),
        )
            .into_response();
    }
    let expected = (state.client_id.clone(), state.client_secret.clone());
    let by_basic = request.basic_credentials() == Some(expected.clone());
    let by_post = request.field("client_id") == Some(expected.0.as_str())
        && request.field("client_secret") == Some(expected.1.as_str());
    if !(by_basic || by_post) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if let Some(body) = state.raw_body.lock().expect("lock").clone() {
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let answer = request
        .field("token")
        .and_then(|t| state.answers.lock().expect("lock").get(t).cloned())
        .unwrap_or_else(|| json!({"active": false}));
    axum::Json(answer).into_response()
}
