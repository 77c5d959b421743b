//! Verification: the checks a compact JWS passes before its claims are read, each written
//! once. The SDK's validator runs them one by one (so `diagnose` can report every result);
//! [`verify`] runs them in order and stops at the first failure.

use super::error::JwsError;
use super::keys::{Algorithm, KeySet, VerifyKey};
use super::parse::{parse_jws, Header, Jws};

/// `alg` must name one of `allowed` (compared case-sensitively, RFC 7515 §4.1.1).
pub fn check_alg(alg: &str, allowed: &[Algorithm]) -> Result<Algorithm, JwsError> {
    Algorithm::from_name(alg)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| JwsError::AlgorithmNotAllowed {
            alg: alg.to_owned(),
        })
}

/// No JWS extension is understood, so any `crit` entry is unsupported (RFC 7515 §4.1.11).
pub fn check_crit(header: &Header) -> Result<(), JwsError> {
    match &header.crit {
        Some(names) => Err(JwsError::UnsupportedCritical {
            names: names.clone(),
        }),
        None => Ok(()),
    }
}

/// The key must be pinned to `alg`, and the signature must verify.
pub fn check_signature(
    signing_input: &str,
    signature: &[u8],
    alg: Algorithm,
    key: &VerifyKey,
) -> Result<(), JwsError> {
    if !key.allows(alg) {
        return Err(JwsError::KeyAlgorithmMismatch {
            kid: key.kid.clone(),
            key: key.pinned_to.clone(),
            token_alg: alg.name().to_owned(),
        });
    }
    if key.verify(alg, signing_input.as_bytes(), signature) {
        Ok(())
    } else {
        Err(JwsError::BadSignature)
    }
}

/// What [`verify`] requires of a JWS besides a good signature.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The algorithms allowed.
    pub algorithms: &'a [Algorithm],
    /// The `typ` header required (compared ignoring ASCII case, as media types are), or
    /// `None` to accept any or none.
    pub typ: Option<&'a str>,
}

/// Parses a compact JWS carrying JWT claims and verifies it with `keys`: form (duplicate
/// members refused), `alg` in the allow-list, no `crit`, `typ`, the key for `kid` (pinned to
/// the `alg`), the signature. Key-locating header members (`jwk`, `jku`, `x5u`, …) are never
/// used. Claims are typed but not judged: time, issuer and audience are the caller's checks.
pub fn verify<'t>(token: &'t str, keys: &KeySet, expect: Expect<'_>) -> Result<Jws<'t>, JwsError> {
    let jws = parse_jws(token)?;
    let alg = check_alg(&jws.header.alg, expect.algorithms)?;
    check_crit(&jws.header)?;
    if let Some(typ) = expect.typ {
        if !jws
            .header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(JwsError::TypNotAllowed {
                expected: vec![typ.to_owned()],
                actual: jws.header.typ.clone(),
            });
        }
    }
    let key = keys
        .find(jws.header.kid.as_deref(), alg)
        .ok_or_else(|| JwsError::UnknownKey {
            kid: jws.header.kid.clone(),
        })?;
    check_signature(jws.signing_input, &jws.signature, alg, &key)?;
    Ok(jws)
}
