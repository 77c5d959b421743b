//! [`Principal`]: who is calling, as established by a validated token.

use std::sync::Arc;

use serde_json::Value;

use crate::token::{Claims, Fingerprint, RawClaims};

/// How the token was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A JWT verified locally against the JWKS.
    Jwt,
    /// A token accepted by RFC 7662 introspection.
    Introspected,
    /// A JWT verified locally and confirmed active by introspection.
    JwtIntrospected,
}

#[derive(Debug, PartialEq)]
struct Inner {
    subject: Option<String>,
    issuer: String,
    audiences: Vec<String>,
    scopes: Vec<String>,
    client_id: Option<String>,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    issued_at: Option<i64>,
    claims: RawClaims,
    fingerprint: Fingerprint,
    kind: TokenKind,
}

/// The authenticated caller. Cheap to clone (shared).
///
/// Inserted into request extensions by the HTTP layer; handlers read it with the axum
/// extractor or from rmcp's request context.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal(Arc<Inner>);

impl Principal {
    /// Builds a principal from validated claims.
    pub fn from_claims(
        claims: &Claims,
        issuer: &str,
        fingerprint: Fingerprint,
        kind: TokenKind,
    ) -> Self {
        Self::from_owned_claims(claims.clone(), issuer, fingerprint, kind)
    }

    /// [`Principal::from_claims`] without copying: the claims move into the principal.
    pub fn from_owned_claims(
        claims: Claims,
        issuer: &str,
        fingerprint: Fingerprint,
        kind: TokenKind,
    ) -> Self {
        Principal(Arc::new(Inner {
            subject: claims.sub,
            issuer: match claims.iss {
                Some(iss) if iss == issuer => iss,
                _ => issuer.to_owned(),
            },
            audiences: claims.aud.unwrap_or_default(),
            scopes: claims.scopes,
            client_id: claims.client_id,
            expires_at: claims.exp,
            not_before: claims.nbf,
            issued_at: claims.iat,
            claims: claims.raw,
            fingerprint,
            kind,
        }))
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// `iss` (equal to the configured issuer).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }
    /// `aud`.
    pub fn audiences(&self) -> &[String] {
        &self.0.audiences
    }
    /// Granted scopes.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
    /// True when `scope` is granted (byte-for-byte comparison).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }
    /// `client_id` (or `azp`).
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }
    /// `exp` in Unix seconds.
    pub fn expires_at(&self) -> Option<i64> {
        self.0.expires_at
    }
    /// `nbf` in Unix seconds.
    pub fn not_before(&self) -> Option<i64> {
        self.0.not_before
    }
    /// `iat` in Unix seconds.
    pub fn issued_at(&self) -> Option<i64> {
        self.0.issued_at
    }
    /// Any claim, as sent.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }
    /// The token fingerprint (first 8 bytes of SHA-256, hex when displayed).
    pub fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint
    }
    /// How the token was validated.
    pub fn kind(&self) -> TokenKind {
        self.0.kind
    }
    /// `issuer` + `subject`: the identity a session is bound to.
    pub fn identity(&self) -> (&str, Option<&str>) {
        (self.issuer(), self.subject())
    }
}
