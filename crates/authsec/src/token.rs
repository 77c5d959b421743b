//! Bearer extraction (RFC 6750 §2.1 only), compact JWS parsing and the claims model.
//!
//! Parsing is strict and happens before any key is touched: size cap, compact form only
//! (no JSON serialization, no JWE), unpadded base64url, JSON objects without duplicate
//! members, and typed claims (`exp` a non-negative number that fits, `aud` a string or an
//! array of strings, …). Header checks that need no key (`alg`, `crit`, `cty`, `typ`) live in
//! [`crate::validate`].

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderMap;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{AuthError, InvalidRequest, Malformed, Part};

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
/// assert_eq!(authsec::token::extract_bearer(&headers, None, 16384), Ok("abc.def.ghi"));
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
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
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
        Self::from_digest(&token_digest(token))
    }
    /// Fingerprint from an already computed SHA-256 digest of the token.
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest[..8]);
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

/// SHA-256 of the token: the only form in which a token is ever used as a cache key.
pub fn token_digest(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The protected header of a JWS, with the members authsec looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `alg`, as sent.
    pub alg: String,
    /// `kid`.
    pub kid: Option<String>,
    /// `typ`.
    pub typ: Option<String>,
    /// `cty`.
    pub cty: Option<String>,
    /// `crit`.
    pub crit: Option<Vec<String>>,
    /// Header members that try to supply or locate a key (`jwk`, `jku`, `x5u`, `x5c`, `x5t`).
    /// Never used: keys come only from the configured JWKS.
    pub embedded_key_members: Vec<String>,
}

/// A token's claims, typed. `raw` keeps the whole object for selected-claim access.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`, normalised to a list (`None` when absent).
    pub aud: Option<Vec<String>>,
    /// `exp` (Unix seconds; fractions truncated).
    pub exp: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `iat`.
    pub iat: Option<i64>,
    /// Scopes from `scope` (space-delimited) or else `scp` (array or string).
    pub scopes: Vec<String>,
    /// `client_id` (RFC 9068), else `azp`.
    pub client_id: Option<String>,
    /// `jti`.
    pub jti: Option<String>,
    /// Every claim as sent.
    pub raw: Map<String, Value>,
}

/// A parsed compact JWS. Nothing in it is verified yet.
#[derive(Debug, Clone)]
pub struct Jws<'t> {
    /// The protected header.
    pub header: Header,
    /// The claims.
    pub claims: Claims,
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'t str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// A parsed compact JWS whose payload is kept as bytes (any JWS, not only a JWT).
#[derive(Debug, Clone)]
pub struct CompactJws<'t> {
    /// The protected header.
    pub header: Header,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'t str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Parses a compact JWS: structure, base64url and the header; the payload stays opaque.
/// [`parse_jws`] adds the claims on top.
pub fn parse_compact(token: &str) -> Result<CompactJws<'_>, AuthError> {
    let malformed = |m| AuthError::Malformed(m);
    if token.trim_start().starts_with('{') {
        return Err(malformed(Malformed::JsonSerialization));
    }
    let segments = token.split('.').count();
    if segments == 5 {
        return Err(malformed(Malformed::Jwe));
    }
    if segments != 3 {
        return Err(malformed(Malformed::Segments(segments)));
    }
    let mut parts = token.splitn(3, '.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => (h, p, s),
        _ => return Err(malformed(Malformed::Segments(segments))),
    };
    let header_obj = parse_object(&b64(h, Part::Header)?, Part::Header)?;
    let header = header_from(header_obj)?;
    let payload = b64(p, Part::Payload)?;
    let signature = b64(s, Part::Signature)?;
    Ok(CompactJws {
        header,
        payload,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

/// Parses a compact JWS carrying JWT claims (structure, JSON and claim types only; no
/// signature check).
pub fn parse_jws(token: &str) -> Result<Jws<'_>, AuthError> {
    let compact = parse_compact(token)?;
    let claims = Claims::from_map(parse_object(&compact.payload, Part::Payload)?)?;
    Ok(Jws {
        header: compact.header,
        claims,
        signing_input: compact.signing_input,
        signature: compact.signature,
    })
}

fn b64(segment: &str, part: Part) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthError::Malformed(Malformed::Base64(part)))
}

fn header_from(mut obj: Map<String, Value>) -> Result<Header, AuthError> {
    let alg = match obj.remove("alg") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(claim_err("alg", "is not a string")),
        None => return Err(claim_err("alg", "is missing from the header")),
    };
    let crit = match obj.remove("crit") {
        None => None,
        Some(Value::Array(items)) if !items.is_empty() => Some(
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(claim_err("crit", "contains a non-string")),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(claim_err("crit", "is not a non-empty array of strings")),
    };
    let embedded_key_members = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .map(str::to_owned)
        .collect();
    Ok(Header {
        alg,
        kid: opt_string(&mut obj, "kid")?,
        typ: opt_string(&mut obj, "typ")?,
        cty: opt_string(&mut obj, "cty")?,
        crit,
        embedded_key_members,
    })
}

fn claim_err(name: &str, detail: &str) -> AuthError {
    AuthError::Malformed(Malformed::Claim {
        name: name.to_owned(),
        detail: detail.to_owned(),
    })
}

fn opt_string(obj: &mut Map<String, Value>, name: &str) -> Result<Option<String>, AuthError> {
    match obj.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(claim_err(name, "is not a string")),
    }
}

fn peek_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, AuthError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(claim_err(name, "is not a string")),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number, non-negative, finite, within `i64` seconds.
fn numeric_date(obj: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    let Some(v) = obj.get(name) else {
        return Ok(None);
    };
    let Value::Number(n) = v else {
        return Err(claim_err(name, "is not a number (NumericDate)"));
    };
    if let Some(i) = n.as_i64() {
        return if i < 0 {
            Err(claim_err(name, "is negative"))
        } else {
            Ok(Some(i))
        };
    }
    if n.as_u64().is_some() {
        return Err(claim_err(name, "is out of range"));
    }
    match n.as_f64() {
        Some(f) if (0.0..9.0e18).contains(&f) => Ok(Some(f as i64)),
        Some(f) if f < 0.0 => Err(claim_err(name, "is negative")),
        _ => Err(claim_err(name, "is out of range")),
    }
}

fn string_or_array(obj: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, AuthError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(claim_err(name, "contains a non-string")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(claim_err(
            name,
            "is neither a string nor an array of strings",
        )),
    }
}

impl Claims {
    /// Types the members of a claims object (a JWT payload or an introspection response)
    /// with the same rules.
    pub fn from_map(raw: Map<String, Value>) -> Result<Self, AuthError> {
        let scopes = match raw.get("scope") {
            Some(Value::String(s)) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(_) => return Err(claim_err("scope", "is not a space-delimited string")),
            None => match string_or_array(&raw, "scp")? {
                Some(list) if list.len() == 1 => list[0]
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                Some(list) => list,
                None => Vec::new(),
            },
        };
        Ok(Claims {
            iss: peek_string(&raw, "iss")?,
            sub: peek_string(&raw, "sub")?,
            aud: string_or_array(&raw, "aud")?,
            exp: numeric_date(&raw, "exp")?,
            nbf: numeric_date(&raw, "nbf")?,
            iat: numeric_date(&raw, "iat")?,
            scopes,
            client_id: match peek_string(&raw, "client_id")? {
                Some(c) => Some(c),
                None => peek_string(&raw, "azp")?,
            },
            jti: peek_string(&raw, "jti")?,
            raw,
        })
    }
}

/// Parses a JSON object, refusing duplicate member names (RFC 7515 §5.2 / RFC 7519 §4).
pub fn parse_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, AuthError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = UniqueObject { part };
    let obj = seed.deserialize(&mut de).map_err(|e| {
        let detail = e.to_string();
        match detail.strip_prefix("duplicate member ") {
            Some(rest) => AuthError::Malformed(Malformed::Duplicate {
                part,
                name: rest
                    .split(" at line")
                    .next()
                    .unwrap_or(rest)
                    .trim_matches('"')
                    .to_owned(),
            }),
            None => AuthError::Malformed(Malformed::Json { part, detail }),
        }
    })?;
    de.end().map_err(|e| {
        AuthError::Malformed(Malformed::Json {
            part,
            detail: e.to_string(),
        })
    })?;
    Ok(obj)
}

struct UniqueObject {
    part: Part,
}

impl<'de> DeserializeSeed<'de> for UniqueObject {
    type Value = Map<String, Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UniqueObject {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object ({})", self.part)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate member {key:?}")));
            }
            let value: Value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

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
    fn duplicate_member_is_named() {
        assert_eq!(
            parse_object(br#"{"aud":"a","aud":"b"}"#, Part::Payload),
            Err(AuthError::Malformed(Malformed::Duplicate {
                part: Part::Payload,
                name: "aud".into()
            }))
        );
    }

    #[test]
    fn numeric_dates_are_strictly_typed() {
        for (json, detail) in [
            (r#"{"exp":"1730000000"}"#, "is not a number (NumericDate)"),
            (r#"{"exp":-1}"#, "is negative"),
            (r#"{"exp":1e308}"#, "is out of range"),
            (r#"{"exp":18446744073709551615}"#, "is out of range"),
        ] {
            let obj = parse_object(json.as_bytes(), Part::Payload).unwrap();
            assert_eq!(
                Claims::from_map(obj),
                Err(AuthError::Malformed(Malformed::Claim {
                    name: "exp".into(),
                    detail: detail.into()
                })),
                "{json}"
            );
        }
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let c = Claims::from_map(
            parse_object(br#"{"scope":"a  b","scp":["x"]}"#, Part::Payload).unwrap(),
        )
        .unwrap();
        assert_eq!(c.scopes, ["a", "b"]);
        let c = Claims::from_map(parse_object(br#"{"scp":["x","y"]}"#, Part::Payload).unwrap())
            .unwrap();
        assert_eq!(c.scopes, ["x", "y"]);
    }

    #[test]
    fn fingerprint_is_first_eight_bytes_of_sha256_hex() {
        // SHA-256("abc") = ba7816bf8f01cfea…
        assert_eq!(Fingerprint::of("abc").to_string(), "ba7816bf8f01cfea");
    }
}
