//! A token issuer for your server's tests (feature `test-issuer`, off by default).
//!
//! [`TestIssuer::start`] generates a fresh ES256 signing key and serves, on an ephemeral
//! 127.0.0.1 port, its JWKS (`/jwks`) and RFC 8414 / OIDC discovery metadata naming it. It
//! mints RFC 9068 access tokens (`typ: at+jwt`) for any subject, scope, audience, lifetime and
//! client, and [`TestIssuer::config`] starts a [`Config`] that trusts exactly this issuer — so
//! a test drives the same [`Validator`](crate::Validator), layer and policy as production, with
//! no authorization server, console or network beyond loopback.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use authsec::testing::TestIssuer;
//! use authsec::{AuthError, Validator};
//!
//! let issuer = TestIssuer::start().await.unwrap();
//! let resource = "http://127.0.0.1:8080/mcp";
//! let config = issuer
//!     .config(resource)
//!     .tool_scopes_json(r#"{"add_note":["notes:write"]}"#)
//!     .build()
//!     .unwrap();
//! let validator = Validator::new(config).await.unwrap();
//!
//! let token = issuer.token(resource).subject("alice").scope("notes:write").mint();
//! let principal = validator.validate(&token).await.unwrap();
//! assert_eq!(principal.subject(), Some("alice"));
//!
//! let elsewhere = issuer.token("https://other.example/mcp").mint();
//! assert!(matches!(
//!     validator.validate(&elsewhere).await,
//!     Err(AuthError::AudienceMismatch { .. })
//! ));
//! # }
//! ```
//!
//! Only for tests and local trials: the key lives in memory, anyone who can reach the port
//! reads the JWKS, and every token it is asked for is minted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::clock::system_now;
use crate::config::{Config, ConfigBuilder};

/// How long a minted token is valid unless the test says otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The `sub` of a minted token unless the test says otherwise.
pub const DEFAULT_SUBJECT: &str = "test-user";

/// The `client_id` of a minted token unless the test says otherwise.
pub const DEFAULT_CLIENT_ID: &str = "test-client";

/// A loopback token issuer with one ES256 key. Dropping it stops its HTTP server.
pub struct TestIssuer {
    issuer: String,
    kid: String,
    key: Arc<EcdsaKeyPair>,
    minted: AtomicU64,
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// Generates a key and serves its JWKS and metadata on `127.0.0.1` (any free port) until
    /// the issuer is dropped. Needs a Tokio runtime.
    pub async fn start() -> std::io::Result<TestIssuer> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| std::io::Error::other("cannot generate a P-256 key"))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let kid = format!("test-{}", &fingerprint(key.public_key().as_ref())[..8]);
        let (stop, stopped) = oneshot::channel::<()>();
        let this = TestIssuer {
            issuer: issuer.clone(),
            kid,
            key: Arc::new(key),
            minted: AtomicU64::new(0),
            _stop: stop,
        };

        let jwks = json!({ "keys": [this.jwk()] }).to_string();
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": this.jwks_url(),
            "response_types_supported": ["code"],
        })
        .to_string();
        let document = |body: String, media: &'static str| {
            move || async move { ([(header::CONTENT_TYPE, media)], body).into_response() }
        };
        let app = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(document(metadata.clone(), "application/json")),
            )
            .route(
                "/.well-known/openid-configuration",
                get(document(metadata, "application/json")),
            )
            .route("/jwks", get(document(jwks, "application/jwk-set+json")));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(this)
    }

    /// The issuer (`iss` of every minted token): `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the JWKS is served.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The key's id (`kid` of the JWK and of every minted token's header).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty` EC, `crv` P-256, `alg` ES256, `use` sig, `kid`).
    pub fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        // An uncompressed P-256 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        })
    }

    /// A configuration that trusts this issuer and its JWKS for `resource_uri`: add the tool
    /// policy and any other setting, then `build()`.
    pub fn config(&self, resource_uri: impl Into<String>) -> ConfigBuilder {
        Config::builder(&self.issuer, resource_uri).jwks_url(self.jwks_url())
    }

    /// Starts an access token for `audience` (the protected resource's URI), valid for
    /// [`DEFAULT_LIFETIME`] from now, for [`DEFAULT_SUBJECT`] via [`DEFAULT_CLIENT_ID`], with
    /// no scope until [`TokenBuilder::scope`] adds some.
    pub fn token(&self, audience: impl Into<String>) -> TokenBuilder<'_> {
        let now = system_now();
        let n = self.minted.fetch_add(1, Ordering::Relaxed);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(DEFAULT_SUBJECT));
        claims.insert("aud".into(), json!(audience.into()));
        claims.insert("client_id".into(), json!(DEFAULT_CLIENT_ID));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + DEFAULT_LIFETIME.as_secs() as i64));
        claims.insert("jti".into(), json!(format!("{}-{now}-{n}", self.kid)));
        TokenBuilder {
            issuer: self,
            claims,
        }
    }

    fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(Value::Object(claims.clone()).to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA P-256 signing with a generated key");
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

/// One access token being minted; [`TokenBuilder::mint`] signs it.
#[derive(Debug)]
#[must_use = "a token is only minted by .mint()"]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Map<String, Value>,
}

impl TokenBuilder<'_> {
    /// `sub`.
    pub fn subject(self, sub: impl Into<String>) -> Self {
        self.claim("sub", json!(sub.into()))
    }

    /// `scope`: space-separated, as RFC 9068 has it (`"notes:read notes:write"`).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", json!(scope.into()))
    }

    /// `aud`: one audience instead of the one given to [`TestIssuer::token`].
    pub fn audience(self, aud: impl Into<String>) -> Self {
        self.claim("aud", json!(aud.into()))
    }

    /// `aud` as an array.
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(self, auds: I) -> Self {
        let auds: Vec<String> = auds.into_iter().map(Into::into).collect();
        self.claim("aud", json!(auds))
    }

    /// `client_id`.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", json!(client_id.into()))
    }

    /// `exp` = `iat` + `lifetime`.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        let iat = self.claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        self.expires_at(iat.saturating_add(lifetime.as_secs() as i64))
    }

    /// `exp` in Unix seconds (in the past for an expired token).
    pub fn expires_at(self, exp: i64) -> Self {
        self.claim("exp", json!(exp))
    }

    /// `iat` in Unix seconds (keeps `exp` as set; call before [`TokenBuilder::expires_in`]).
    pub fn issued_at(self, iat: i64) -> Self {
        self.claim("iat", json!(iat))
    }

    /// Any other claim, or replaces one (`nbf`, `auth_time`, `acr`, …).
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Removes a claim (e.g. `sub`, to see a token without one rejected).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// The claims as they will be signed.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs the token: a compact JWS, ES256, header `typ: at+jwt` and the issuer's `kid`.
    pub fn mint(self) -> String {
        self.issuer.sign(&self.claims)
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256 of `bytes` (names the key, so two issuers' `kid`s differ).
fn fingerprint(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyMode;
    use crate::error::{AuthError, ScopeMatch};
    use crate::policy::{decide, Target};
    use crate::Validator;

    const RESOURCE: &str = "http://127.0.0.1:8080/mcp";
    const TOOLS: &str = r#"{"list_notes":["notes:read"],"add_note":["notes:write"]}"#;

    async fn issuer_and_validator() -> (TestIssuer, Validator) {
        let issuer = TestIssuer::start().await.unwrap();
        let config = issuer
            .config(RESOURCE)
            .tool_scopes_json(TOOLS)
            .build()
            .unwrap();
        let validator = Validator::new(config).await.unwrap();
        (issuer, validator)
    }

    #[tokio::test]
    async fn a_minted_token_is_valid_and_carries_the_chosen_claims() {
        let (issuer, validator) = issuer_and_validator().await;
        let token = issuer
            .token(RESOURCE)
            .subject("alice")
            .scope("notes:read notes:write")
            .client_id("agent-7")
            .mint();
        let p = validator.validate(&token).await.unwrap();
        assert_eq!(p.subject(), Some("alice"));
        assert_eq!(p.client_id(), Some("agent-7"));
        assert_eq!(p.issuer(), issuer.issuer());
        assert_eq!(p.scopes(), ["notes:read", "notes:write"]);
    }

    #[tokio::test]
    async fn defaults_are_the_documented_subject_client_and_lifetime() {
        let (issuer, validator) = issuer_and_validator().await;
        let token = issuer.token(RESOURCE);
        let c = token.claims();
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            DEFAULT_LIFETIME.as_secs() as i64
        );
        assert_eq!(c["aud"], RESOURCE);
        let p = validator.validate(&token.mint()).await.unwrap();
        assert_eq!(p.subject(), Some(DEFAULT_SUBJECT));
        assert_eq!(p.client_id(), Some(DEFAULT_CLIENT_ID));
        assert!(p.scopes().is_empty());
    }

    #[tokio::test]
    async fn another_audience_is_audience_mismatch() {
        let (issuer, validator) = issuer_and_validator().await;
        let token = issuer.token("https://other.example/mcp").mint();
        assert_eq!(
            validator.validate(&token).await.unwrap_err(),
            AuthError::AudienceMismatch {
                expected: vec![RESOURCE.into()],
                actual: vec!["https://other.example/mcp".into()],
            }
        );
    }

    #[tokio::test]
    async fn an_expired_token_is_expired() {
        let (issuer, validator) = issuer_and_validator().await;
        let exp = system_now() - 600;
        let token = issuer.token(RESOURCE).expires_at(exp).mint();
        match validator.validate(&token).await.unwrap_err() {
            AuthError::Expired { exp: e, leeway, .. } => {
                assert_eq!(e, exp);
                assert_eq!(leeway, validator.config().clock_skew_secs);
            }
            other => panic!("expected Expired, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_token_without_the_tools_scope_is_insufficient_scope() {
        let (issuer, validator) = issuer_and_validator().await;
        let token = issuer.token(RESOURCE).scope("notes:read").mint();
        let p = validator.validate(&token).await.unwrap();
        let c = validator.config();
        assert_eq!(
            decide(&c.tool_policy, PolicyMode::LocalOnly, &p, "list_notes"),
            Ok(())
        );
        assert_eq!(
            decide(&c.tool_policy, PolicyMode::LocalOnly, &p, "add_note"),
            Err(AuthError::InsufficientScope {
                target: Target::tool("add_note"),
                required: vec!["notes:write".into()],
                scope_match: ScopeMatch::Any,
                granted: vec!["notes:read".into()],
            })
        );
    }

    #[tokio::test]
    async fn another_issuers_token_is_not_accepted() {
        let (_issuer, validator) = issuer_and_validator().await;
        let other = TestIssuer::start().await.unwrap();
        let token = other.token(RESOURCE).mint();
        assert!(matches!(
            validator.validate(&token).await.unwrap_err(),
            AuthError::IssuerMismatch { .. }
        ));
    }

    #[tokio::test]
    async fn a_validator_finds_the_jwks_through_the_issuers_metadata() {
        let issuer = TestIssuer::start().await.unwrap();
        // No jwks_url: the validator reads it from the RFC 8414 metadata.
        let config = Config::builder(issuer.issuer(), RESOURCE).build().unwrap();
        let validator = Validator::new(config).await.unwrap();
        let p = validator
            .validate(&issuer.token(RESOURCE).mint())
            .await
            .unwrap();
        assert_eq!(p.subject(), Some(DEFAULT_SUBJECT));
    }
}
