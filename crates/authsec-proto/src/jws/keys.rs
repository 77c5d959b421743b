//! Verification keys: the JWS algorithms authsec verifies, one JWK parsed into a key pinned to
//! the algorithms it may verify, and a JWKS.
//!
//! Each key is parsed once into an aws-lc-rs `ParsedPublicKey` per algorithm it is pinned to
//! (its JWK `alg`, or every algorithm its `kty`/`crv` allows); a token's `alg` must agree.
//! Symmetric keys, keys with private members, encryption keys, RSA moduli under 2048 bits and
//! ROCA moduli are refused.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

use super::{JwkError, JwksError};

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
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JwkError> {
        if jwk.kty == "oct" {
            return Err(JwkError::Symmetric);
        }
        if jwk.has_private_members() {
            return Err(JwkError::PrivateKeyMaterial);
        }
        if let Some(use_) = jwk.use_.as_deref().filter(|u| *u != "sig") {
            return Err(JwkError::NotForSignatures {
                use_: use_.to_owned(),
            });
        }
        if let Some(ops) = &jwk.key_ops {
            if !ops.iter().any(|o| o == "verify") {
                return Err(JwkError::NoVerifyOperation {
                    key_ops: ops.clone(),
                });
            }
        }
        let declared =
            match jwk.alg.as_deref() {
                None => None,
                Some(name) => Some(Algorithm::from_name(name).ok_or_else(|| {
                    JwkError::UnsupportedAlgorithm {
                        alg: name.to_owned(),
                    }
                })?),
            };
        let b = |member: &'static str, v: &Option<String>| -> Result<Vec<u8>, JwkError> {
            let s = v.as_deref().ok_or(JwkError::MissingMember { member })?;
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| JwkError::NotBase64Url { member })
        };
        let (family, pinned_to): (Vec<Algorithm>, String) =
            match (jwk.kty.as_str(), jwk.crv.as_deref()) {
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
                    return Err(JwkError::UnsupportedKeyType {
                        kty: kty.to_owned(),
                        crv: crv.map(str::to_owned),
                    })
                }
            };
        let algorithms = match declared {
            Some(a) if family.contains(&a) => vec![a],
            Some(alg) => {
                return Err(JwkError::AlgorithmMismatch {
                    alg,
                    key_type: pinned_to,
                });
            }
            None => family,
        };
        let mut verifiers = Vec::with_capacity(algorithms.len());
        for alg in algorithms {
            let parsed = match alg {
                Algorithm::ES256 | Algorithm::ES384 => {
                    let (x, y) = (b("x", &jwk.x)?, b("y", &jwk.y)?);
                    let len = if alg == Algorithm::ES256 { 32 } else { 48 };
                    for (member, value) in [("x", &x), ("y", &y)] {
                        if value.len() != len {
                            return Err(JwkError::WrongLength {
                                member,
                                expected: len,
                                actual: value.len(),
                            });
                        }
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
                    ParsedPublicKey::new(a, point).map_err(|e| JwkError::Rejected {
                        key_type: "EC",
                        detail: e.to_string(),
                    })?
                }
                Algorithm::EdDSA => {
                    let x = b("x", &jwk.x)?;
                    if x.len() != 32 {
                        return Err(JwkError::WrongLength {
                            member: "x",
                            expected: 32,
                            actual: x.len(),
                        });
                    }
                    ParsedPublicKey::new(&sig::ED25519, x).map_err(|e| JwkError::Rejected {
                        key_type: "Ed25519",
                        detail: e.to_string(),
                    })?
                }
                rsa => {
                    let (n, e) = (b("n", &jwk.n)?, b("e", &jwk.e)?);
                    let n = strip_leading_zeros(&n);
                    let e = strip_leading_zeros(&e);
                    if n.len() < 256 {
                        return Err(JwkError::RsaModulusTooSmall { bits: n.len() * 8 });
                    }
                    if has_roca_fingerprint(n) {
                        return Err(JwkError::RocaModulus);
                    }
                    // Only RSA algorithms reach this arm: the families above are per kty.
                    let params = rsa.rsa_params().ok_or(JwkError::AlgorithmMismatch {
                        alg: rsa,
                        key_type: "RSA".into(),
                    })?;
                    RsaPublicKeyComponents { n, e }
                        .to_parsed_public_key(params)
                        .map_err(|e| JwkError::Rejected {
                            key_type: "RSA",
                            detail: e.to_string(),
                        })?
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
    /// Keys skipped while parsing, each with its `kid` and why (for logs and `diagnose`).
    pub rejected: Vec<(Option<String>, JwkError)>,
}

impl KeySet {
    /// Parses a JWKS document. Unusable keys are skipped and listed in `rejected`;
    /// a `kid` that appears twice is dropped entirely (which key was meant is ambiguous).
    pub fn from_json(bytes: &[u8]) -> Result<Self, JwksError> {
        #[derive(Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(bytes).map_err(|e| JwksError::NotAJwks {
            detail: e.to_string(),
        })?;
        let mut set = KeySet::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut parsed = Vec::new();
        for value in doc.keys {
            let jwk: Jwk = match serde_json::from_value(value) {
                Ok(j) => j,
                Err(e) => {
                    set.rejected.push((
                        None,
                        JwkError::NotAJwk {
                            detail: e.to_string(),
                        },
                    ));
                    continue;
                }
            };
            if let Some(kid) = &jwk.kid {
                *seen.entry(kid.clone()).or_default() += 1;
            }
            if jwk.has_private_members() && jwk.kty != "oct" {
                return Err(JwksError::PrivateKeyMaterial {
                    kid: jwk.kid.clone(),
                });
            }
            match VerifyKey::from_jwk(&jwk) {
                Ok(k) => parsed.push(k),
                Err(why) => set.rejected.push((jwk.kid.clone(), why)),
            }
        }
        for key in parsed {
            match &key.kid {
                Some(kid) if seen.get(kid).copied().unwrap_or(0) > 1 => set
                    .rejected
                    .push((Some(kid.clone()), JwkError::DuplicateKid)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_material_rejects_the_whole_set() {
        let e = KeySet::from_json(
            br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA","d":"AA"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            JwksError::PrivateKeyMaterial {
                kid: Some("a".into())
            }
        );
        assert_eq!(
            e.to_string(),
            "key \"a\" contains private key material; a JWKS must publish public keys only"
        );
    }

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        let set = KeySet::from_json(
            br#"{"keys":[{"kty":"oct","kid":"h","k":"AAAA"},{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}]}"#,
        )
        .unwrap();
        assert!(set.is_empty());
        assert_eq!(
            set.rejected,
            [
                (Some("h".into()), JwkError::Symmetric),
                (
                    Some("enc".into()),
                    JwkError::NotForSignatures { use_: "enc".into() }
                ),
            ]
        );
    }

    fn jwk(v: serde_json::Value) -> Jwk {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn each_unusable_jwk_is_refused_with_the_condition_and_its_values() {
        use serde_json::json;
        let b64 = |n: usize| URL_SAFE_NO_PAD.encode(vec![7u8; n]);
        for (value, expected) in [
            (
                json!({"kty": "EC", "crv": "P-256", "alg": "HS256", "x": b64(32), "y": b64(32)}),
                JwkError::UnsupportedAlgorithm {
                    alg: "HS256".into(),
                },
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "alg": "ES384", "x": b64(32), "y": b64(32)}),
                JwkError::AlgorithmMismatch {
                    alg: Algorithm::ES384,
                    key_type: "EC P-256".into(),
                },
            ),
            (
                json!({"kty": "EC", "crv": "P-521", "x": b64(66), "y": b64(66)}),
                JwkError::UnsupportedKeyType {
                    kty: "EC".into(),
                    crv: Some("P-521".into()),
                },
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(32)}),
                JwkError::MissingMember { member: "y" },
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(32), "y": "not base64!"}),
                JwkError::NotBase64Url { member: "y" },
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(31)}),
                JwkError::WrongLength {
                    member: "x",
                    expected: 32,
                    actual: 31,
                },
            ),
            (
                json!({"kty": "RSA", "n": b64(128), "e": "AQAB"}),
                JwkError::RsaModulusTooSmall { bits: 1024 },
            ),
            (
                json!({"kty": "RSA", "key_ops": ["encrypt"], "n": b64(256), "e": "AQAB"}),
                JwkError::NoVerifyOperation {
                    key_ops: vec!["encrypt".into()],
                },
            ),
        ] {
            assert_eq!(
                VerifyKey::from_jwk(&jwk(value.clone())).unwrap_err(),
                expected,
                "{value}"
            );
        }
        assert_eq!(
            JwkError::RsaModulusTooSmall { bits: 1024 }.to_string(),
            "RSA modulus is 1024 bits; at least 2048 are required"
        );
    }

    #[test]
    fn a_document_without_keys_is_not_a_jwks() {
        assert!(matches!(
            KeySet::from_json(br#"{"kids": []}"#),
            Err(JwksError::NotAJwks { .. })
        ));
    }

    #[test]
    fn alg_names_are_case_sensitive() {
        assert_eq!(Algorithm::from_name("RS256"), Some(Algorithm::RS256));
        assert_eq!(Algorithm::from_name("rs256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("HS256"), None);
    }
}
