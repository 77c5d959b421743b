//! Shared set-up for the introspection and validation-mode tests: a fixed JWKS, a loopback
//! introspection fake, and rendering of outcomes as the HTTP layer would send them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use authsec::challenge::{self, ChallengeContext};
use authsec::config::{Config, ConfigBuilder, ValidationMode};
use authsec::keys::KeySet;
use authsec::TokenKind;
use authsec::Validator;
use authsec::{AuthError, Principal};
use authsec_testkit::{jwks, FakeIntrospection, TestKey};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://as.example.com";
pub const RESOURCE: &str = "https://mcp.example.com/mcp";
pub const CLIENT_ID: &str = "rs-525da3b4";
pub const CLIENT_SECRET: &str = "s3cret";

/// The signing key whose JWKS every test validator holds.
pub fn key() -> TestKey {
    TestKey::rsa("k1", "RS256")
}

/// A distinct opaque (non-JWS) token.
pub fn opaque_token() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "opaque-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Access-token claims for `ISSUER`/`RESOURCE`, subject `user-1`, valid for an hour from `now`.
pub fn token_claims(now: i64) -> Value {
    json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": "user-1", "client_id": "client-1",
        "scope": "notes:read notes:write", "iat": now, "exp": now + 3600
    })
}

/// A valid RS256 JWT issued at `now`.
pub fn valid_jwt(now: i64) -> String {
    key().token(&token_claims(now))
}

/// A JWT whose payload was changed after signing: `bad_signature`.
pub fn tampered_jwt(now: i64) -> String {
    let token = valid_jwt(now);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = token_claims(now);
    claims["sub"] = json!("attacker");
    let payload = authsec_testkit::b64(claims.to_string());
    format!("{}.{}.{}", parts[0], payload, parts[2])
}

/// Starts the introspection fake with the standard credentials.
pub async fn fake() -> FakeIntrospection {
    FakeIntrospection::start(CLIENT_ID, CLIENT_SECRET).await
}

/// A loopback URL where nothing listens (connection refused).
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/introspect")
}

/// A configuration with a JWKS URL (never fetched) and introspection at `url`.
pub fn builder(url: &str, mode: ValidationMode) -> ConfigBuilder {
    Config::builder(ISSUER, RESOURCE)
        .jwks_url(format!("{ISSUER}/jwks"))
        .introspection(url, CLIENT_ID, CLIENT_SECRET)
        .validation_mode(mode)
}

/// A validator over the fixed JWKS of [`key`].
pub fn validator(config: Config) -> Validator {
    let keys = KeySet::from_json(jwks(&[&key()]).to_string().as_bytes()).unwrap();
    Validator::with_keys(config, keys)
}

/// What the client sees: `(status, reason)` for a denial (rendered by `challenge::render`),
/// `(200, kind)` for an accepted token.
pub fn outcome(config: &Config, result: &Result<Principal, AuthError>) -> (u16, String) {
    match result {
        Ok(p) => (
            200,
            match p.kind() {
                TokenKind::Jwt => "jwt",
                TokenKind::Introspected => "introspected",
                TokenKind::JwtIntrospected => "jwt_introspected",
            }
            .to_owned(),
        ),
        Err(e) => {
            let denial = challenge::render(e, &ChallengeContext::for_request(config, None));
            (
                denial.status.as_u16(),
                denial.body["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
    }
}

/// Asserts the full 503 shape: status, body, and no challenge header.
pub fn assert_unavailable(config: &Config, result: &Result<Principal, AuthError>) {
    let Err(e) = result else {
        panic!("expected 503, got a principal");
    };
    assert!(
        matches!(e, AuthError::ValidationUnavailable { .. }),
        "expected ValidationUnavailable, got {e:?}"
    );
    let denial = challenge::render(e, &ChallengeContext::for_request(config, None));
    assert_eq!(denial.status, 503);
    assert_eq!(denial.www_authenticate, None);
    assert_eq!(
        denial.body,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "token validation unavailable",
            "reason": "validation_unavailable"
        })
    );
}

/// Asserts the full 401 `token_revoked` shape.
pub fn assert_revoked(config: &Config, result: &Result<Principal, AuthError>) {
    let Err(e) = result else {
        panic!("expected 401 token_revoked, got a principal");
    };
    assert_eq!(*e, AuthError::TokenRevoked);
    let denial = challenge::render(e, &ChallengeContext::for_request(config, None));
    assert_eq!(denial.status, 401);
    assert_eq!(
        denial.body,
        json!({
            "error": "invalid_token",
            "error_description": "token inactive",
            "reason": "token_revoked"
        })
    );
    assert_eq!(
        denial.www_authenticate.as_deref(),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"token inactive\", \
             resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        )
    );
}
