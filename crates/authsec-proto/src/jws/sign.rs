//! Signing: ES256 (ECDSA P-256 with SHA-256) compact JWS, the one algorithm authsec signs with.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use super::keys::Algorithm;

/// Why a key could not be made or a JWS not signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The PKCS#8 document is not a P-256 private key.
    #[error("not a P-256 PKCS#8 private key")]
    InvalidKey,
    /// The crypto library failed (key generation, serialisation or signing).
    #[error("{0} failed")]
    Crypto(&'static str),
    /// The claims could not be serialised.
    #[error("claims do not serialise: {0}")]
    Claims(String),
}

/// An ES256 signing key and its key id.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The algorithm every key of this type signs with.
    pub const ALGORITHM: Algorithm = Algorithm::ES256;

    /// A new random P-256 key, with its PKCS#8 document (to store; it is the private key).
    /// Its `kid` is its RFC 7638 thumbprint.
    pub fn generate() -> Result<(Self, Vec<u8>), SignError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| SignError::Crypto("P-256 key generation"))?;
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| SignError::Crypto("P-256 key serialisation"))?;
        let key = Self::with_thumbprint(pair)?;
        Ok((key, pkcs8.as_ref().to_vec()))
    }

    /// A key from a PKCS#8 document; `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_pkcs8(der: &[u8], kid: Option<String>) -> Result<Self, SignError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| SignError::InvalidKey)?;
        match kid {
            Some(kid) => Ok(SigningKey { pair, kid }),
            None => Self::with_thumbprint(pair),
        }
    }

    fn with_thumbprint(pair: EcdsaKeyPair) -> Result<Self, SignError> {
        let (x, y) = coordinates(pair.public_key().as_ref())?;
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, input.as_bytes()));
        Ok(SigningKey { pair, kid })
    }

    /// The key id (`kid` in every header this key signs).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK: `kty`, `crv`, `x`, `y`, `kid`, `alg`, `use` (never a private member).
    pub fn public_jwk(&self) -> Value {
        // The point was checked when the key was made.
        let (x, y) = coordinates(self.pair.public_key().as_ref()).unwrap_or_default();
        json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": self.kid, "alg": Self::ALGORITHM.name(), "use": "sig",
        })
    }

    /// Signs `claims` as a compact JWS with header `{"alg":"ES256","typ":typ,"kid":kid}`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, SignError> {
        let header = json!({ "alg": Self::ALGORITHM.name(), "typ": typ, "kid": self.kid });
        let claims = serde_json::to_vec(claims).map_err(|e| SignError::Claims(e.to_string()))?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| SignError::Crypto("ES256 signing"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

/// The base64url x and y of an uncompressed P-256 point.
fn coordinates(point: &[u8]) -> Result<(String, String), SignError> {
    if point.len() != 65 || point[0] != 4 {
        return Err(SignError::Crypto("P-256 public key encoding"));
    }
    Ok((
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    ))
}
