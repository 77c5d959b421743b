//! What can be wrong with a compact JWS: its form ([`Malformed`]) or its verification
//! ([`JwsError`]); and with the keys it is verified with: one JWK ([`JwkError`]) or a whole
//! JWKS ([`JwksError`]). Variants carry the values involved, so callers match, test and
//! explain them.

use std::fmt;

use super::Algorithm;

/// The ways a compact JWS can be malformed (found before any key is touched).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Not three dot-separated segments.
    #[error("expected 3 segments, found {0}")]
    Segments(usize),
    /// Five segments: a JWE, which authsec does not decrypt.
    #[error("JWE (encrypted) tokens are not accepted")]
    Jwe,
    /// JWS JSON serialization instead of the compact form.
    #[error("JWS JSON serialization is not accepted")]
    JsonSerialization,
    /// A segment is not unpadded base64url.
    #[error("{0} is not valid base64url")]
    Base64(Part),
    /// A segment is not a JSON object.
    #[error("{part} is not a JSON object: {detail}")]
    Json {
        /// Which segment.
        part: Part,
        /// Parser message.
        detail: String,
    },
    /// The same member name appears twice in the header or claims.
    #[error("duplicate {part} member {name:?}")]
    Duplicate {
        /// Which segment.
        part: Part,
        /// The repeated name.
        name: String,
    },
    /// A claim or header member has the wrong JSON type or an out-of-range value.
    #[error("{name:?} {detail}")]
    Claim {
        /// Claim or header member name.
        name: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// A segment of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The protected header.
    Header,
    /// The claims set.
    Payload,
    /// The signature.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a compact JWS does not verify. Checked in this order: form, `alg`, `crit`, `typ`, key,
/// signature. Exhaustive on purpose: a check added here must be mapped by every consumer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not a well-formed compact JWS with well-typed claims.
    #[error("malformed: {0}")]
    Malformed(#[from] Malformed),
    /// The header's `alg` is not in the allow-list (`none`, symmetric, unknown, or not allowed
    /// here).
    #[error("algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` header value as sent.
        alg: String,
    },
    /// The header lists `crit` extensions that are not understood (RFC 7515 §4.1.11).
    #[error("unsupported critical header parameters {names:?}")]
    UnsupportedCritical {
        /// The `crit` entries.
        names: Vec<String>,
    },
    /// The header's `typ` is not the expected one.
    #[error("typ {actual:?} is not allowed; expected one of {expected:?}")]
    TypNotAllowed {
        /// Accepted values.
        expected: Vec<String>,
        /// The `typ` header value, if any.
        actual: Option<String>,
    },
    /// No key matches the header's `kid` (or, without a `kid`, no single key fits the `alg`).
    #[error("no key with kid {kid:?}")]
    UnknownKey {
        /// The `kid` header value, if any.
        kid: Option<String>,
    },
    /// The key named by `kid` is pinned to another algorithm or key type.
    #[error("key {kid:?} is a {key} key; the JWS says alg {token_alg}")]
    KeyAlgorithmMismatch {
        /// The `kid` of the selected key.
        kid: Option<String>,
        /// What the key is pinned to (its JWK `alg`, or its `kty`/`crv`).
        key: String,
        /// The header's `alg`.
        token_alg: String,
    },
    /// The signature does not verify with the selected key.
    #[error("bad signature")]
    BadSignature,
}

/// Why one JWK is not used as a verification key ([`VerifyKey::from_jwk`]; in a JWKS, the
/// key is skipped and listed in [`KeySet::rejected`]).
///
/// [`VerifyKey::from_jwk`]: super::VerifyKey::from_jwk
/// [`KeySet::rejected`]: super::KeySet::rejected
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The entry of the key set is not a JWK object (e.g. no `kty`).
    #[error("not a JWK: {detail}")]
    NotAJwk {
        /// The parser's message.
        detail: String,
    },
    /// A symmetric (`oct`) key: only asymmetric signatures are accepted.
    #[error("symmetric (oct) keys are never used: only asymmetric signatures are accepted")]
    Symmetric,
    /// The JWK carries private key members (`d`, `k`).
    #[error("contains private key material")]
    PrivateKeyMaterial,
    /// `use` is not `sig`.
    #[error("use is {use_:?}, not \"sig\"")]
    NotForSignatures {
        /// The `use` member.
        use_: String,
    },
    /// `key_ops` is present without `verify`.
    #[error("key_ops {key_ops:?} does not include \"verify\"")]
    NoVerifyOperation {
        /// The `key_ops` member.
        key_ops: Vec<String>,
    },
    /// `alg` names no signature algorithm authsec verifies.
    #[error("alg {alg:?} is not a supported signature algorithm")]
    UnsupportedAlgorithm {
        /// The `alg` member.
        alg: String,
    },
    /// `kty`/`crv` is not a supported key type.
    #[error(
        "unsupported key type kty={kty:?} crv={crv:?} (supported: RSA, EC P-256/P-384, OKP Ed25519)"
    )]
    UnsupportedKeyType {
        /// The `kty` member.
        kty: String,
        /// The `crv` member.
        crv: Option<String>,
    },
    /// `alg` belongs to another key type.
    #[error("alg {} does not match kty {key_type}", alg.name())]
    AlgorithmMismatch {
        /// The `alg` member.
        alg: Algorithm,
        /// The key's type: `RSA`, `EC P-256`, `EC P-384` or `OKP Ed25519`.
        key_type: String,
    },
    /// A member the key type needs (`n`, `e`, `x`, `y`) is absent.
    #[error("missing {member}")]
    MissingMember {
        /// The member's name.
        member: &'static str,
    },
    /// A member is not unpadded base64url.
    #[error("{member} is not unpadded base64url")]
    NotBase64Url {
        /// The member's name.
        member: &'static str,
    },
    /// A coordinate or public key has the wrong length for its curve.
    #[error("{member} is {actual} bytes; the curve needs {expected}")]
    WrongLength {
        /// The member's name (`x` or `y`).
        member: &'static str,
        /// The length the curve needs.
        expected: usize,
        /// The decoded length.
        actual: usize,
    },
    /// The RSA modulus is shorter than 2048 bits.
    #[error("RSA modulus is {bits} bits; at least 2048 are required")]
    RsaModulusTooSmall {
        /// The modulus length.
        bits: usize,
    },
    /// The RSA modulus has the ROCA fingerprint (CVE-2017-15361).
    #[error(
        "RSA modulus has the ROCA fingerprint (CVE-2017-15361): its private key can be \
         recovered; regenerate the key"
    )]
    RocaModulus,
    /// The cryptographic library refused the public key (not a point on the curve, bad
    /// exponent, …).
    #[error("invalid {key_type} key: {detail}")]
    Rejected {
        /// `RSA`, `EC` or `Ed25519`.
        key_type: &'static str,
        /// The library's message.
        detail: String,
    },
    /// The `kid` appears more than once in the key set: which key was meant is ambiguous, so
    /// none of them is used.
    #[error("kid appears more than once in the JWKS")]
    DuplicateKid,
}

/// Why a JWKS document is refused as a whole ([`KeySet::from_json`]). Single unusable keys
/// are not errors: they are skipped and listed with a [`JwkError`].
///
/// [`KeySet::from_json`]: super::KeySet::from_json
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JWKS document ({{\"keys\": [...]}}): {detail}")]
    NotAJwks {
        /// The parser's message.
        detail: String,
    },
    /// An asymmetric key carries private members: the publisher leaked its signing key, so
    /// the whole set is refused.
    #[error(
        "{} contains private key material; a JWKS must publish public keys only",
        kid.as_deref().map_or_else(|| "a key without kid".to_owned(), |k| format!("key {k:?}"))
    )]
    PrivateKeyMaterial {
        /// The key's `kid`, if any.
        kid: Option<String>,
    },
}
