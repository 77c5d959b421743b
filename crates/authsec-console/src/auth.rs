//! Secrets and who is calling: generation and salted hashing of secrets, HTTP Basic parsing,
//! and the three kinds of caller — the admin (bearer token), a resource server (its
//! credentials) and a machine client (its credentials).
//!
//! Every secret the console issues is 256 bits from the system RNG, shown once and stored as
//! `sha256$<salt>$<digest>` (16-byte random salt). A slow password hash (argon2) buys nothing
//! for secrets of that entropy and would put a deliberate CPU cost on every SDK and token
//! request. Comparison is constant-time.

use aws_lc_rs::{constant_time, digest, rand};
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::error::Error;

/// The challenge sent with a 401 to callers that authenticate with client credentials.
pub(crate) const BASIC_CHALLENGE: &str = "Basic realm=\"authsec-console\"";

/// Random bytes from the system RNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    rand::fill(&mut buf).map_err(|_| Error::Crypto("system random number generator"))?;
    Ok(buf)
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex<const N: usize>() -> Result<String, Error> {
    Ok(random_bytes::<N>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A new secret: `prefix` + 256 random bits, base64url. The prefix lets secret scanners
/// recognise a leaked console secret.
pub(crate) fn generate_secret(prefix: &str) -> Result<String, Error> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

fn salted_digest(salt: &[u8], secret: &str) -> digest::Digest {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(secret.as_bytes());
    ctx.finish()
}

/// The stored form of a secret: `sha256$<salt b64>$<digest b64>`.
pub(crate) fn hash_secret(secret: &str) -> Result<String, Error> {
    let salt = random_bytes::<16>()?;
    let d = salted_digest(&salt, secret);
    Ok(format!(
        "sha256${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(d.as_ref())
    ))
}

/// Does `secret` match the stored hash? Constant-time in the digest comparison; an unreadable
/// stored value never matches.
pub(crate) fn verify_secret(secret: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("sha256"), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (STANDARD.decode(salt), STANDARD.decode(expected)) else {
        return false;
    };
    let actual = salted_digest(&salt, secret);
    constant_time::verify_slices_are_equal(actual.as_ref(), &expected).is_ok()
}

/// Spends the time of one [`verify_secret`] for an unknown client id, so that response times
/// do not reveal which ids exist.
pub(crate) fn verify_against_nothing(secret: &str) {
    let _ = salted_digest(&[0u8; 16], secret);
}

/// Compares two secrets held in memory (e.g. the admin token from the environment) in
/// constant time, by comparing their SHA-256 digests.
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    let da = digest::digest(&digest::SHA256, a.as_bytes());
    let db = digest::digest(&digest::SHA256, b.as_bytes());
    constant_time::verify_slices_are_equal(da.as_ref(), db.as_ref()).is_ok()
}

/// Client credentials from an `Authorization: Basic` header (RFC 6749 §2.3.1: each part is
/// form-urlencoded before base64). `None` when absent or malformed.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

fn form_decode(s: &str) -> Option<String> {
    let plus_as_space = s.replace('+', " ");
    percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Does the request carry an `Authorization` header of this scheme (case-insensitive)?
pub(crate) fn has_auth_scheme(headers: &HeaderMap, scheme: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case(scheme))
}

/// The bearer token of an `Authorization: Bearer` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Who made a change, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The holder of the admin token.
    Admin,
    /// A resource server, by its credentials.
    ResourceServer(String),
    /// A machine client, by its credentials.
    Client(String),
    /// The console itself (start-up tasks).
    System,
}

impl Actor {
    /// The audit log's `actor` string.
    pub fn as_audit_string(&self) -> String {
        match self {
            Actor::Admin => "admin".to_owned(),
            Actor::ResourceServer(id) => format!("resource_server:{id}"),
            Actor::Client(id) => format!("client:{id}"),
            Actor::System => "system".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_hashed_secret_verifies_and_a_different_one_does_not() {
        let s = generate_secret("acs_").unwrap();
        let h = hash_secret(&s).unwrap();
        assert!(h.starts_with("sha256$"));
        assert!(!h.contains(&s));
        assert!(verify_secret(&s, &h));
        assert!(!verify_secret(&format!("{s}x"), &h));
        assert!(!verify_secret(&s, "sha256$bad"));
        assert!(!verify_secret(&s, ""));
    }

    #[test]
    fn two_hashes_of_one_secret_differ_by_salt() {
        let h1 = hash_secret("same").unwrap();
        let h2 = hash_secret("same").unwrap();
        assert_ne!(h1, h2);
        assert!(verify_secret("same", &h1) && verify_secret("same", &h2));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode("my%3Aclient:p%40ss+word"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        assert_eq!(
            basic_credentials(&h),
            Some(("my:client".to_owned(), "p@ss word".to_owned()))
        );
    }

    #[test]
    fn malformed_basic_credentials_are_none() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic !!!notbase64"),
        );
        assert_eq!(basic_credentials(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("nocolon"))).unwrap(),
        );
        assert_eq!(basic_credentials(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&h), None);
    }

    #[test]
    fn bearer_token_is_extracted() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&h), None);
    }
}
