//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a short-lived JWT, signed with the
//! client's private key, instead of a shared secret.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;

use crate::error::Error;

/// The `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid: long enough for one request, short enough that a captured
/// one is soon useless.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A private key that signs client assertions: ES256 (P-256) or RS256 (RSA ≥ 2048 bits).
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<Inner>,
    kid: Option<String>,
}

enum Inner {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads a PEM private key: `PRIVATE KEY` (PKCS#8, EC P-256 or RSA), `EC PRIVATE KEY`
    /// (SEC 1) or `RSA PRIVATE KEY` (PKCS#1).
    ///
    /// ```
    /// # fn main() -> Result<(), authsec_client::Error> {
    /// let pem = "-----BEGIN PRIVATE KEY-----
    /// MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguEDBwgNK2D08T4Gz
    /// 26+tDK9cAlv9oI8OCAB4v37pWF6hRANCAASQYCJvCUNLFukICoifEKPIjkKuMIfw
    /// ammHV141AWYrTyd7ttusIcnriqZ++zJNjEmYMMm4s5H80FaldwC142oB
    /// -----END PRIVATE KEY-----";
    /// let key = authsec_client::PrivateKey::from_pem(pem)?.with_kid("k1");
    /// assert_eq!(key.alg(), "ES256");
    /// # Ok(()) }
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            "EC PRIVATE KEY" => {
                EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map(|k| Self::new(Inner::Es256(k)))
                    .map_err(|e| Error::Key(format!("not a P-256 key: {e}")))
            }
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map_err(|e| Error::Key(format!("not an RSA key: {e}")))
                .and_then(Self::rsa),
            other => Err(Error::Key(format!(
                "PEM label {other:?} is not a private key (expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"
            ))),
        }
    }

    /// Reads a PEM file (see [`PrivateKey::from_pem`]).
    pub fn from_pem_file(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
        Self::from_pem(&pem)
    }

    /// A PKCS#8 DER key (EC P-256 or RSA).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Ok(Self::new(Inner::Es256(k)));
        }
        match RsaKeyPair::from_pkcs8(der) {
            Ok(k) => Self::rsa(k),
            Err(_) => Err(Error::Key(
                "PKCS#8 key is neither EC P-256 nor RSA".to_owned(),
            )),
        }
    }

    fn rsa(k: RsaKeyPair) -> Result<Self, Error> {
        if k.public_modulus_len() < KeySize::Rsa2048.len() {
            return Err(Error::Key("RSA keys must have at least 2048 bits".into()));
        }
        Ok(Self::new(Inner::Rs256(k)))
    }

    fn new(inner: Inner) -> Self {
        PrivateKey {
            inner: Arc::new(inner),
            kid: None,
        }
    }

    /// Sets the `kid` header: the key's id in the JWKS registered for the client.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The JWS algorithm: `ES256` or `RS256`.
    pub fn alg(&self) -> &'static str {
        match *self.inner {
            Inner::Es256(_) => "ES256",
            Inner::Rs256(_) => "RS256",
        }
    }

    /// The public key as a JWK (with `kid`, `alg` and `use`), for registering the client.
    pub fn public_jwk(&self) -> serde_json::Value {
        let mut jwk = match &*self.inner {
            Inner::Es256(k) => {
                // Uncompressed point: 0x04 || x || y.
                let p = k.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&p[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&p[33..65]),
                })
            }
            Inner::Rs256(k) => {
                let p = k.public_key();
                json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(p.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(p.exponent().big_endian_without_leading_zero()),
                })
            }
        };
        jwk["alg"] = json!(self.alg());
        jwk["use"] = json!("sig");
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }

    /// A client assertion: `iss` = `sub` = `client_id`, `aud` = `audience`, `iat`, `exp` =
    /// `iat` + [`ASSERTION_LIFETIME`], and a random `jti` that is never reused.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::Key("the system clock is before 1970".into()))?
            .as_secs();
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti)
            .map_err(|_| Error::Key("no randomness for jti".into()))?;
        let mut header = json!({"alg": self.alg(), "typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = match &*self.inner {
            Inner::Es256(k) => k
                .sign(&rng, signing_input.as_bytes())
                .map_err(|_| Error::Key("ES256 signing failed".into()))?
                .as_ref()
                .to_vec(),
            Inner::Rs256(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    signing_input.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| Error::Key("RS256 signing failed".into()))?;
                sig
            }
        };
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// The label and DER bytes of the first PEM block.
fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), Error> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or_else(|| Error::Key("not PEM: no -----BEGIN line".into()))?;
    let rest = &pem[begin + 11..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| Error::Key("not PEM: malformed BEGIN line".into()))?;
    let label = rest[..label_end].to_owned();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest
        .find(&end_marker)
        .ok_or_else(|| Error::Key(format!("not PEM: no {end_marker} line")))?;
    let b64: String = rest[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|e| Error::Key(format!("PEM body is not base64: {e}")))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn es256() -> (PrivateKey, Vec<u8>) {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(doc.as_ref())
        );
        let key = PrivateKey::from_pem(&pem).unwrap().with_kid("k1");
        let public = match &*key.inner {
            Inner::Es256(k) => k.public_key().as_ref().to_vec(),
            Inner::Rs256(_) => unreachable!(),
        };
        (key, public)
    }

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let p = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    }

    #[test]
    fn an_assertion_is_signed_short_lived_and_names_the_client_and_audience() {
        let (key, public) = es256();
        let jwt = key
            .assertion("agent-1", "https://as.example/oauth/token")
            .unwrap();
        assert_eq!(
            part(&jwt, 0),
            json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
        );
        let claims = part(&jwt, 1);
        assert_eq!(claims["iss"], "agent-1");
        assert_eq!(claims["sub"], "agent-1");
        assert_eq!(claims["aud"], "https://as.example/oauth/token");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            60
        );
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
    }

    #[test]
    fn every_assertion_has_a_new_jti() {
        let (key, _) = es256();
        let a = part(&key.assertion("c", "a").unwrap(), 1);
        let b = part(&key.assertion("c", "a").unwrap(), 1);
        assert_ne!(a["jti"], b["jti"]);
        assert_eq!(a["jti"].as_str().unwrap().len(), 22);
    }

    #[test]
    fn a_public_key_pem_is_refused_with_its_label() {
        let err =
            PrivateKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("\"PUBLIC KEY\" is not a private key"),
            "{err}"
        );
    }
}
