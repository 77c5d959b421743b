//! The token service's signing keys at rest and its access tokens: ES256 (P-256) keys persisted
//! as PKCS#8 (encrypted with the key encryption key when one is set), identified by their
//! RFC 7638 thumbprint. Signing and verification are `authsec-proto`'s compact JWS, the same
//! strict code the SDK validates tokens with.

use authsec_proto::jws::{self, Algorithm, Expect, KeySet, SigningKey};
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD;
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
    let (key, pkcs8) = SigningKey::generate().map_err(sign_error)?;
    let kid = key.kid().to_owned();
    let private_key = match kek {
        Some(kek) => kek.seal(&kid, &pkcs8)?,
        None => STANDARD.encode(&pkcs8),
    };
    Ok(StoredKey {
        alg: ALG.to_owned(),
        private_key,
        public_jwk: key.public_jwk(),
        kid,
        created_at: now,
        retired_at: None,
    })
}

fn sign_error(e: jws::SignError) -> Error {
    match e {
        jws::SignError::Crypto(what) => Error::Crypto(what),
        other => Error::corrupt("signing key", other),
    }
}

/// Parses a stored private key, decrypting it with `kek` when it was stored encrypted. A key
/// stored in the clear (before a key encryption key was configured) still parses.
pub(crate) fn parse_private_key(
    key: &StoredKey,
    kek: Option<&KeyEncryptionKey>,
) -> Result<SigningKey, Error> {
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
    SigningKey::from_pkcs8(&der, Some(key.kid.clone())).map_err(sign_error)
}

/// Signs `claims` as a compact JWS with header `{"alg":"ES256","typ":"at+jwt","kid"}`.
pub(crate) fn sign(key: &SigningKey, claims: &AccessClaims) -> Result<String, Error> {
    key.sign(TYP, claims).map_err(sign_error)
}

/// Verifies a token issued by this console against `keys` (the non-retired ones) and returns
/// its claims; `None` for anything else — malformed, another signer, a retired key, or claims
/// of another shape. Time and audience are the caller's checks.
pub(crate) fn verify(token: &str, keys: &[StoredKey]) -> Option<AccessClaims> {
    let active: Vec<&Value> = keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| &k.public_jwk)
        .collect();
    let set = KeySet::from_json(json!({ "keys": active }).to_string().as_bytes()).ok()?;
    let expect = Expect {
        algorithms: &[Algorithm::ES256],
        typ: Some(TYP),
    };
    let verified = jws::verify(token, &set, expect).ok()?;
    serde_json::from_value(Value::Object(verified.claims.raw.into_map())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
        let token = sign(&parse_private_key(&k1, None).unwrap(), &claims()).unwrap();
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
        let token = sign(&parse_private_key(&k, None).unwrap(), &claims()).unwrap();
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
        let token = sign(&parse_private_key(&k, Some(&kek)).unwrap(), &claims()).unwrap();
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
