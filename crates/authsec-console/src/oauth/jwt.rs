//! The token service's signing keys and its own JWS: ES256 (P-256) keys generated with
//! aws-lc-rs, persisted as PKCS#8, identified by their RFC 7638 thumbprint; compact JWS
//! signing, and verification of tokens this console issued (for introspection and revocation).

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::Error;
use crate::store::StoredKey;

/// The only algorithm the token service signs with.
pub const ALG: &str = "ES256";
/// The access token `typ` (RFC 9068).
pub const TYP: &str = "at+jwt";

/// The claims of an access token issued here (RFC 9068).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The console's public URL.
    pub iss: String,
    /// The resource URI (RFC 8707 `resource`).
    pub aud: String,
    /// The client id (a machine client acts for itself).
    pub sub: String,
    /// The client id.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Unique token id (the revocation handle).
    pub jti: String,
}

/// How an encrypted private key is stored: this prefix, then base64 of nonce ‖ ciphertext ‖ tag.
const ENCRYPTED_PREFIX: &str = "enc:v1:";

/// The key that encrypts signing keys at rest (AES-256-GCM; the key id is the associated data,
/// so a stored key cannot be moved to another row). From `AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY`.
pub struct KeyEncryptionKey(LessSafeKey);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl KeyEncryptionKey {
    /// A fresh random key in its base64 form (for throwaway consoles such as `authsec demo`;
    /// a real deployment generates its key once and keeps it outside the database).
    pub fn generate() -> Result<String, Error> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::Crypto("random key"))?;
        Ok(STANDARD.encode(bytes))
    }

    /// The key from its base64 form (standard alphabet): 32 random bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, Error> {
        let invalid = |what: String| Error::Config {
            field: "key_encryption_key",
            value: "<redacted>".into(),
            reason: format!(
                "{what}; it must be 32 random bytes in base64. Fix: generate one with \
                 `openssl rand -base64 32` and keep it outside the database"
            ),
        };
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| invalid(format!("not base64 ({e})")))?;
        if bytes.len() != 32 {
            return Err(invalid(format!("{} bytes", bytes.len())));
        }
        let key = UnboundKey::new(&aead::AES_256_GCM, &bytes)
            .map_err(|_| Error::Crypto("AES-256-GCM key"))?;
        Ok(KeyEncryptionKey(LessSafeKey::new(key)))
    }

    fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Crypto("random nonce"))?;
        let mut sealed = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| Error::Crypto("signing key encryption"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(format!("{ENCRYPTED_PREFIX}{}", STANDARD.encode(stored)))
    }

    fn open(&self, kid: &str, encoded: &str) -> Result<Vec<u8>, Error> {
        let mut stored = STANDARD
            .decode(encoded)
            .map_err(|e| Error::corrupt("signing key", e))?;
        if stored.len() < NONCE_LEN {
            return Err(Error::corrupt("signing key", "encrypted key too short"));
        }
        let mut sealed = stored.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&stored)
            .map_err(|_| Error::corrupt("signing key", "bad nonce"))?;
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut sealed)
            .map_err(|_| {
                Error::corrupt(
                    "signing key",
                    format!(
                        "key {kid} does not decrypt with AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY: \
                         the variable holds another key than the one it was stored with"
                    ),
                )
            })?;
        Ok(plaintext.to_vec())
    }
}

/// Generates a new P-256 signing key; its private key is encrypted with `kek` when given.
pub(crate) fn generate_key(now: i64, kek: Option<&KeyEncryptionKey>) -> Result<StoredKey, Error> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| Error::Crypto("P-256 key generation"))?;
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| Error::Crypto("P-256 key serialisation"))?;
    let (x, y) = coordinates(pair.public_key().as_ref())?;
    // RFC 7638: the required members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, thumbprint_input.as_bytes()));
    let public_jwk = json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": ALG, "use": "sig",
    });
    let private_key = match kek {
        Some(kek) => kek.seal(&kid, pkcs8.as_ref())?,
        None => STANDARD.encode(pkcs8.as_ref()),
    };
    Ok(StoredKey {
        kid,
        alg: ALG.to_owned(),
        private_key,
        public_jwk,
        created_at: now,
        retired_at: None,
    })
}

/// The base64url x and y of an uncompressed P-256 point.
fn coordinates(point: &[u8]) -> Result<(String, String), Error> {
    if point.len() != 65 || point[0] != 4 {
        return Err(Error::Crypto("unexpected P-256 public key encoding"));
    }
    Ok((
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    ))
}

/// Parses a stored private key, decrypting it with `kek` when it was stored encrypted. A key
/// stored in the clear (before a key encryption key was configured) still parses.
pub(crate) fn parse_private_key(
    key: &StoredKey,
    kek: Option<&KeyEncryptionKey>,
) -> Result<EcdsaKeyPair, Error> {
    if key.alg != ALG {
        return Err(Error::corrupt(
            "signing key",
            format!("unsupported alg {}", key.alg),
        ));
    }
    let der = match (key.private_key.strip_prefix(ENCRYPTED_PREFIX), kek) {
        (Some(encrypted), Some(kek)) => kek.open(&key.kid, encrypted)?,
        (Some(_), None) => {
            return Err(Error::corrupt(
                "signing key",
                format!(
                    "key {} is stored encrypted and AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY is not set",
                    key.kid
                ),
            ))
        }
        (None, _) => STANDARD
            .decode(&key.private_key)
            .map_err(|e| Error::corrupt("signing key", e))?,
    };
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|e| Error::corrupt("signing key", e))
}

/// Signs `claims` as a compact JWS with header `{"alg":"ES256","typ":"at+jwt","kid"}`.
pub(crate) fn sign(pair: &EcdsaKeyPair, kid: &str, claims: &AccessClaims) -> Result<String, Error> {
    let header = json!({ "alg": ALG, "typ": TYP, "kid": kid });
    let claims = serde_json::to_vec(claims).map_err(|e| Error::corrupt("claims", e))?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = pair
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| Error::Crypto("ES256 signing"))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    kid: String,
}

/// Verifies a token issued by this console against `keys` (the non-retired ones) and returns
/// its claims; `None` for anything else — malformed, another signer, a retired key, or claims
/// of another shape. Time and audience are the caller's checks.
pub(crate) fn verify(token: &str, keys: &[StoredKey]) -> Option<AccessClaims> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.alg != ALG || header.typ.as_deref() != Some(TYP) {
        return None;
    }
    let key = keys
        .iter()
        .find(|k| k.kid == header.kid && k.retired_at.is_none())?;
    let point = public_point(&key.public_jwk)?;
    let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(signing_input.as_bytes(), &signature)
        .ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
}

/// The uncompressed point of a P-256 public JWK.
fn public_point(jwk: &Value) -> Option<Vec<u8>> {
    let x = URL_SAFE_NO_PAD.decode(jwk.get("x")?.as_str()?).ok()?;
    let y = URL_SAFE_NO_PAD.decode(jwk.get("y")?.as_str()?).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut point = Vec::with_capacity(65);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Some(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1:1".into(),
            aud: "https://mcp.example.com/mcp".into(),
            sub: "cl-1".into(),
            client_id: "cl-1".into(),
            scope: "a b".into(),
            iat: 10,
            exp: 20,
            jti: "j".into(),
        }
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_only() {
        let k1 = generate_key(1, None).unwrap();
        let k2 = generate_key(2, None).unwrap();
        let token = sign(&parse_private_key(&k1, None).unwrap(), &k1.kid, &claims()).unwrap();
        assert_eq!(verify(&token, &[k2.clone(), k1.clone()]), Some(claims()));
        assert_eq!(verify(&token, std::slice::from_ref(&k2)), None);
        let retired = StoredKey {
            retired_at: Some(5),
            ..k1.clone()
        };
        assert_eq!(verify(&token, &[retired]), None);
    }

    #[test]
    fn a_tampered_token_does_not_verify() {
        let k = generate_key(1, None).unwrap();
        let token = sign(&parse_private_key(&k, None).unwrap(), &k.kid, &claims()).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut c = claims();
        c.scope = "a b admin".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        parts[1] = &forged;
        assert_eq!(verify(&parts.join("."), std::slice::from_ref(&k)), None);
        assert_eq!(verify("a.b", std::slice::from_ref(&k)), None);
        assert_eq!(
            verify(&format!("{token}.x"), std::slice::from_ref(&k)),
            None
        );
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint_and_the_jwk_is_public() {
        let k = generate_key(1, None).unwrap();
        assert_eq!(k.public_jwk["kid"], k.kid);
        assert_eq!(k.kid.len(), 43);
        assert!(k.public_jwk.get("d").is_none());
        assert_eq!(k.public_jwk["alg"], "ES256");
    }

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn with_a_key_encryption_key_the_private_key_is_stored_encrypted_and_still_signs() {
        let kek = kek(7);
        let k = generate_key(1, Some(&kek)).unwrap();
        assert!(k.private_key.starts_with("enc:v1:"), "{}", k.private_key);
        let plain = generate_key(1, None).unwrap();
        assert!(!plain.private_key.starts_with("enc:v1:"));
        let token = sign(
            &parse_private_key(&k, Some(&kek)).unwrap(),
            &k.kid,
            &claims(),
        )
        .unwrap();
        assert_eq!(verify(&token, std::slice::from_ref(&k)), Some(claims()));
        // A key stored in the clear before the variable was set still loads.
        assert!(parse_private_key(&plain, Some(&kek)).is_ok());
    }

    #[test]
    fn an_encrypted_key_needs_the_same_key_encryption_key_and_its_own_kid() {
        let k = generate_key(1, Some(&kek(7))).unwrap();
        let err = parse_private_key(&k, None).unwrap_err().to_string();
        assert!(
            err.contains("AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY is not set"),
            "{err}"
        );
        let err = parse_private_key(&k, Some(&kek(8)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not decrypt"), "{err}");
        // The kid is authenticated: the ciphertext cannot be moved to another key's row.
        let moved = StoredKey {
            kid: "another-kid".into(),
            ..k.clone()
        };
        assert!(parse_private_key(&moved, Some(&kek(7))).is_err());
    }

    #[test]
    fn a_key_encryption_key_is_32_bytes_of_base64() {
        for bad in ["", "not base64!", &STANDARD.encode([1u8; 16])] {
            let err = KeyEncryptionKey::from_base64(bad).unwrap_err();
            assert!(
                matches!(&err, Error::Config { field: "key_encryption_key", value, .. } if value == "<redacted>"),
                "{err:?}"
            );
            assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");
        }
        assert!(KeyEncryptionKey::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert_eq!(format!("{:?}", kek(1)), "KeyEncryptionKey(<redacted>)");
    }
}
