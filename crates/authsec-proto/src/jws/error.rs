//! What can be wrong with a compact JWS: its form ([`Malformed`]) or its verification
//! ([`JwsError`]). Variants carry the values involved, so callers match, test and explain them.

use std::fmt;

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
