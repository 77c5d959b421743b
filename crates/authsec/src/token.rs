//! Bearer extraction (RFC 6750 §2.1 only), token fingerprints, and — from `authsec-proto`,
//! shared with the console — compact JWS parsing and the claims model.
//!
//! Parsing is strict and happens before any key is touched: size cap, compact form only
//! (no JSON serialization, no JWE), unpadded base64url, JSON objects without duplicate
//! members, and typed claims (`exp` a non-negative number that fits, `aud` a string or an
//! array of strings, …). Header checks that need no key (`alg`, `crit`, `cty`, `typ`) live in
//! [`crate::validate`].

use std::fmt;

use http::HeaderMap;

use crate::error::{AuthError, InvalidRequest};

/// Finds the bearer token of a request.
///
/// Only the `Authorization` header is accepted. A token in the query string
/// (`access_token=`), more than one `Authorization` header, or a malformed header is a
/// 400 `invalid_request`; no credentials, or credentials of another scheme, is a 401
/// without an error code. A token longer than `max_bytes` is refused before it is parsed.
///
/// ```
/// use http::HeaderMap;
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "bearer abc.def.ghi".parse().unwrap());
/// assert_eq!(authsec::extract_bearer(&headers, None, 16384), Ok("abc.def.ghi"));
/// ```
pub fn extract_bearer<'h>(
    headers: &'h HeaderMap,
    query: Option<&str>,
    max_bytes: usize,
) -> Result<&'h str, AuthError> {
    if query.is_some_and(query_has_access_token) {
        return Err(AuthError::InvalidRequest(InvalidRequest::TokenInQuery));
    }
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::NoToken);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            InvalidRequest::MultipleAuthorizationHeaders,
        ));
    }
    let malformed = || AuthError::InvalidRequest(InvalidRequest::MalformedAuthorizationHeader);
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, rest) = match value.split_once(' ') {
        Some((s, r)) => (s, r),
        None => (value, ""),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, DPoP, …): for this resource the request carries no bearer token.
        return if scheme.is_empty() {
            Err(malformed())
        } else {
            Err(AuthError::NoToken)
        };
    }
    let token = rest.trim_start_matches(' ');
    if token.len() > max_bytes {
        return Err(AuthError::TokenTooLarge {
            size: token.len(),
            limit: max_bytes,
        });
    }
    if token.is_empty() || !is_b64token(token) {
        return Err(malformed());
    }
    Ok(token)
}

/// RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
///
/// It runs on every request over every byte of the token, so it is written to vectorize:
/// branch-free per byte, 32 bytes at a time.
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=').as_bytes();
    !body.is_empty()
        && body
            .chunks(32)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_b64token_char(b)))
}

fn is_b64token_char(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

fn query_has_access_token(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
}

/// True when a form-encoded body carries `access_token` (RFC 6750 §2.2, which authsec refuses).
pub fn form_body_has_access_token(content_type: Option<&str>, body: &[u8]) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    }) && std::str::from_utf8(body).is_ok_and(query_has_access_token)
}

/// The first 8 bytes of SHA-256 of a token, in hex: safe to log, stable across requests.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    /// Fingerprints a token.
    pub fn of(token: &str) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&sha256(token)[..8]);
        Fingerprint(b)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// What a token is cached under: never the token itself.
pub type CacheKey = [u8; 16];

/// The cache key of a token: SipHash-2-4 with a 128-bit output under a key drawn at random
/// once per process. A keyed pseudo-random function, so nobody can make another token collide
/// with a cached one without the key; about a tenth of the instructions of SHA-256, which was
/// the largest fixed cost of a cached request. (The log [`Fingerprint`] stays SHA-256, so
/// that it is stable across processes; it is computed when a token is first verified and kept
/// with the cached principal.)
pub fn cache_key(token: &str) -> CacheKey {
    static KEY: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut k = [0u8; 16];
        // Without an RNG no key is safe; aws-lc's RNG failing is not a state to serve in.
        aws_lc_rs::rand::fill(&mut k).expect("the system random number generator failed");
        k
    });
    siphasher::sip128::SipHasher24::new_with_key(key)
        .hash(token.as_bytes())
        .as_bytes()
}

/// SHA-256 of the token (the [`Fingerprint`]'s source).
fn sha256(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub use authsec_proto::jws::{
    parse_compact, parse_jws, parse_object, Claims, Header, Jws, RawClaims,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("authorization", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(
            extract_bearer(&headers(&["BEARER a.b.c"]), None, 100),
            Ok("a.b.c")
        );
    }

    #[test]
    fn missing_header_is_no_token() {
        assert_eq!(
            extract_bearer(&headers(&[]), None, 100),
            Err(AuthError::NoToken)
        );
    }

    #[test]
    fn other_scheme_is_no_token() {
        assert_eq!(
            extract_bearer(&headers(&["Basic dXNlcjpwdw=="]), None, 100),
            Err(AuthError::NoToken)
        );
    }

    #[test]
    fn token_in_query_is_invalid_request() {
        assert_eq!(
            extract_bearer(&headers(&[]), Some("x=1&access_token=abc"), 100),
            Err(AuthError::InvalidRequest(InvalidRequest::TokenInQuery))
        );
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        assert_eq!(
            extract_bearer(&headers(&["Bearer a", "Bearer b"]), None, 100),
            Err(AuthError::InvalidRequest(
                InvalidRequest::MultipleAuthorizationHeaders
            ))
        );
    }

    #[test]
    fn empty_or_spaced_token_is_malformed_header() {
        for v in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b"] {
            assert_eq!(
                extract_bearer(&headers(&[v]), None, 100),
                Err(AuthError::InvalidRequest(
                    InvalidRequest::MalformedAuthorizationHeader
                )),
                "{v}"
            );
        }
    }

    #[test]
    fn b64token_is_the_rfc_6750_grammar() {
        for ok in ["a", "AZaz09-._~+/", "abc==", "a.b.c", "x="] {
            assert!(is_b64token(ok), "{ok}");
        }
        for bad in [
            "=", "==", "a=b", "a b", "a,b", "a\"b", "a:b", "a%2F", "é", "a\u{0}",
        ] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
        let allowed: Vec<u8> = (0..=255u8).filter(|&b| is_b64token_char(b)).collect();
        let mut expected: Vec<u8> = (b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .chain(b'0'..=b'9')
            .collect();
        expected.extend(b"-._~+/");
        expected.sort();
        assert_eq!(allowed, expected);
    }

    #[test]
    fn oversized_token_is_refused_before_parsing() {
        let v = format!("Bearer {}", "a".repeat(101));
        assert_eq!(
            extract_bearer(&headers(&[&v]), None, 100),
            Err(AuthError::TokenTooLarge {
                size: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn form_body_token_is_detected() {
        assert!(form_body_has_access_token(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"access_token=abc"
        ));
        assert!(!form_body_has_access_token(
            Some("application/json"),
            b"access_token=abc"
        ));
    }

    #[test]
    fn the_cache_key_is_stable_in_a_process_and_keyed() {
        assert_eq!(cache_key("a.b.c"), cache_key("a.b.c"));
        assert_ne!(cache_key("a.b.c"), cache_key("a.b.d"));
        let unkeyed = siphasher::sip128::SipHasher24::new_with_key(&[0; 16])
            .hash(b"a.b.c")
            .as_bytes();
        assert_ne!(cache_key("a.b.c"), unkeyed, "keyed with a random key");
    }

    #[test]
    fn fingerprint_is_first_eight_bytes_of_sha256_hex() {
        // SHA-256("abc") = ba7816bf8f01cfea…
        assert_eq!(Fingerprint::of("abc").to_string(), "ba7816bf8f01cfea");
    }
}
