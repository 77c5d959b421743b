//! Shared fixtures for the integration tests: one issuer, one resource, one rendering helper.
//!
//! Every denial test goes through [`authsec::challenge::render`] with the context a real request
//! would get ([`ChallengeContext::for_request`]), so what is asserted is what a client receives.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use authsec::challenge::{self, ChallengeContext, Denial};
use authsec::config::{Config, ConfigBuilder};
use authsec::keys::KeySet;
use authsec::policy::ToolRule;
use authsec::AuthError;
use authsec::Validator;
use authsec_testkit::{jwks, TestKey};
use serde_json::{json, Value};

/// The configured issuer.
pub const ISSUER: &str = "https://auth.example.com";
/// The protected resource (the MCP endpoint).
pub const RESOURCE: &str = "https://mcp.example.com/mcp";
/// Where its RFC 9728 metadata lives (path-suffixed form).
pub const RESOURCE_METADATA: &str =
    "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
/// `scopes_supported`, named by 401 challenges that are not for a mapped tool.
pub const SCOPES: [&str; 2] = ["notes:read", "notes:write"];
/// A fixed "now" for deterministic time checks.
pub const NOW: i64 = 1_750_000_000;

/// The baseline configuration: our issuer, our resource, two supported scopes, a clock at [`NOW`].
pub fn builder() -> ConfigBuilder {
    Config::builder(ISSUER, RESOURCE)
        .supported_scopes(SCOPES)
        .clock(authsec::Clock::fixed(NOW))
}

/// A key set from test keys' public JWKs.
pub fn key_set(keys: &[&TestKey]) -> KeySet {
    KeySet::from_json(jwks(keys).to_string().as_bytes()).expect("test JWKS parses")
}

/// A validator over a fixed key set.
pub fn validator(config: Config, keys: &[&TestKey]) -> Validator {
    Validator::with_keys(config, key_set(keys))
}

/// Access-token claims valid at [`NOW`] for our issuer and resource.
pub fn claims(scope: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": "user-1", "client_id": "client-1",
        "scope": scope, "iat": NOW - 10, "exp": NOW + 3600, "jti": "jti-1"
    })
}

/// Renders `err` as the response to a request that is not a call of a mapped tool.
pub fn render(config: &Config, err: &AuthError) -> Denial {
    challenge::render(err, &ChallengeContext::for_request(config, None))
}

/// Renders `err` as the response to a `tools/call` of a tool with `rule`.
pub fn render_for_tool(config: &Config, err: &AuthError, rule: &ToolRule) -> Denial {
    challenge::render(err, &ChallengeContext::for_request(config, Some(rule)))
}

/// `error_description` as it may appear in a challenge: RFC 6750 §3 allows only
/// `%x20-21 / %x23-5B / %x5D-7E`, so `"` and `\` are dropped (the JSON body keeps them).
pub fn challenge_safe(description: &str) -> String {
    description
        .chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

/// The exact `WWW-Authenticate` of a 401 `invalid_token` for a non-tool request under [`builder`].
pub fn invalid_token_challenge(description: &str) -> String {
    let description = challenge_safe(description);
    format!(
        "Bearer error=\"invalid_token\", error_description=\"{description}\", \
         resource_metadata=\"{RESOURCE_METADATA}\", scope=\"notes:read notes:write\""
    )
}

/// Asserts the full rendering of a 401 `invalid_token` denial: status, challenge and body.
#[track_caller]
pub fn assert_invalid_token(config: &Config, err: &AuthError, reason: &str, description: &str) {
    let denial = render(config, err);
    assert_eq!(denial.status, 401, "{err:?}");
    assert_eq!(
        denial.www_authenticate.as_deref(),
        Some(invalid_token_challenge(description).as_str()),
        "{err:?}"
    );
    assert_eq!(
        denial.body,
        json!({"error": "invalid_token", "error_description": description, "reason": reason}),
        "{err:?}"
    );
}

/// Asserts the full rendering of a 400 `invalid_request` denial.
#[track_caller]
pub fn assert_invalid_request(config: &Config, err: &AuthError, reason: &str, description: &str) {
    let denial = render(config, err);
    assert_eq!(denial.status, 400, "{err:?}");
    assert_eq!(
        denial.www_authenticate.as_deref(),
        Some(
            format!(
                "Bearer error=\"invalid_request\", error_description=\"{description}\", \
                 resource_metadata=\"{RESOURCE_METADATA}\""
            )
            .as_str()
        ),
        "{err:?}"
    );
    assert_eq!(
        denial.body,
        json!({"error": "invalid_request", "error_description": description, "reason": reason}),
        "{err:?}"
    );
}

/// Runs a future that must complete without waiting (validation against a fixed key set).
pub fn now_or_never<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("validation against a fixed key set must not wait"),
    }
}

/// Validates `token` with `validator` (fixed keys: never waits).
pub fn validate(validator: &Validator, token: &str) -> Result<authsec::Principal, AuthError> {
    now_or_never(validator.validate(token))
}

/// Header + signature of a hand-made JWS around `header` and `payload` JSON text, with a
/// signature that is never checked (for failures found before the signature).
pub fn unsigned(header: &str, payload: &str) -> String {
    use authsec_testkit::b64;
    format!("{}.{}.{}", b64(header), b64(payload), b64([0u8; 64]))
}

/// One captured `tracing` event: target, level and its fields rendered as text.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    /// The event's target.
    pub target: String,
    /// The event's level.
    pub level: tracing::Level,
    /// `name=value` pairs, `message` included.
    pub fields: Vec<(String, String)>,
}

impl CapturedEvent {
    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal subscriber recording every event (no tracing-subscriber dependency needed).
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<CapturedEvent>>>);

impl Capture {
    /// Runs `f` with this subscriber as the thread's default and returns what it logged.
    pub fn run<R>(f: impl FnOnce() -> R) -> (R, Vec<CapturedEvent>) {
        let capture = Capture::default();
        let out = tracing::subscriber::with_default(capture.clone(), f);
        let events = capture.0.lock().unwrap().clone();
        (out, events)
    }
}

struct FieldVisitor<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        ));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut FieldVisitor(&mut fields));
        self.0.lock().unwrap().push(CapturedEvent {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
