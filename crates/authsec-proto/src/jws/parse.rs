//! Compact JWS parsing and the JWT claims model.
//!
//! Parsing is strict and happens before any key is touched: compact form only (no JSON
//! serialization, no JWE), unpadded base64url, JSON objects without duplicate members (RFC 7515
//! §5.2, RFC 7519 §4; also when a name is spelled with escapes), and typed claims (`exp` a
//! non-negative number that fits, `aud` a string or an array of strings, …). Header checks that
//! need no key (`alg`, `crit`) are in [`super::verify`].

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{Malformed, Part};

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
    pub raw: RawClaims,
}

/// Every claim of a token as sent, as a JSON object (dereferences to the map).
///
/// For a JWT it is decoded from the payload on first use: validation reads only the claims
/// authsec types, so most requests never build this map. The payload was fully checked when
/// the token was parsed (JSON syntax, number ranges, UTF-8, no duplicate members), so the map
/// always decodes.
#[derive(Clone, Default)]
pub struct RawClaims {
    payload: Vec<u8>,
    map: OnceLock<Map<String, Value>>,
}

impl RawClaims {
    /// Claims already decoded into a map (e.g. an introspection response).
    pub fn from_map(map: Map<String, Value>) -> Self {
        RawClaims {
            payload: Vec::new(),
            map: OnceLock::from(map),
        }
    }

    /// Claims kept as the payload they were checked in (see [`parse_jws`]).
    fn from_checked_payload(payload: Vec<u8>) -> Self {
        RawClaims {
            payload,
            map: OnceLock::new(),
        }
    }

    /// The claims as a map.
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| self.decode())
    }

    /// The claims as an owned map.
    pub fn into_map(self) -> Map<String, Value> {
        let RawClaims { payload, map } = self;
        map.into_inner()
            .unwrap_or_else(|| RawClaims::from_checked_payload(payload).decode())
    }

    fn decode(&self) -> Map<String, Value> {
        // Cannot fail: the payload passed the same parser when the token was parsed.
        parse_object(&self.payload, Part::Payload).unwrap_or_default()
    }
}

impl From<Map<String, Value>> for RawClaims {
    fn from(map: Map<String, Value>) -> Self {
        RawClaims::from_map(map)
    }
}

impl std::ops::Deref for RawClaims {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.as_map()
    }
}

impl PartialEq for RawClaims {
    fn eq(&self, other: &Self) -> bool {
        self.as_map() == other.as_map()
    }
}

impl fmt::Debug for RawClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_map().fmt(f)
    }
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
pub fn parse_compact(token: &str) -> Result<CompactJws<'_>, Malformed> {
    let (h, p, s) = split_compact(token)?;
    Ok(CompactJws {
        header: parse_header_segment(h)?,
        payload: b64(p, Part::Payload)?,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: b64(s, Part::Signature)?,
    })
}

/// Parses a compact JWS carrying JWT claims (structure, JSON and claim types only; no
/// signature check).
pub fn parse_jws(token: &str) -> Result<Jws<'_>, Malformed> {
    let compact = parse_compact(token)?;
    Ok(Jws {
        header: compact.header,
        claims: parse_claims(compact.payload)?,
        signing_input: compact.signing_input,
        signature: compact.signature,
    })
}

/// The three segments of a compact JWS, after refusing the other serializations.
fn split_compact(token: &str) -> Result<(&str, &str, &str), Malformed> {
    let malformed = |m| Err(m);
    if token.trim_start().starts_with('{') {
        return malformed(Malformed::JsonSerialization);
    }
    let mut segments = token.splitn(4, '.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => match token.split('.').count() {
            5 => malformed(Malformed::Jwe),
            n => malformed(Malformed::Segments(n)),
        },
    }
}

/// Decodes and parses the protected header; small headers are decoded on the stack.
fn parse_header_segment(segment: &str) -> Result<Header, Malformed> {
    let mut buf = [0u8; 384];
    let raw = if base64::decoded_len_estimate(segment.len()) <= buf.len() {
        let n = URL_SAFE_NO_PAD
            .decode_slice(segment, &mut buf)
            .map_err(|_| Malformed::Base64(Part::Header))?;
        parse_header(&buf[..n])?
    } else {
        parse_header(&b64(segment, Part::Header)?)?
    };
    header_from(raw)
}

fn b64(segment: &str, part: Part) -> Result<Vec<u8>, Malformed> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Malformed::Base64(part))
}

/// Types the header members authsec reads, in a fixed order (so the first problem reported
/// does not depend on member order).
fn header_from(raw: RawHeader) -> Result<Header, Malformed> {
    let alg = match raw.alg {
        Some(Value::String(s)) => s,
        Some(_) => return Err(claim_err("alg", "is not a string")),
        None => return Err(claim_err("alg", "is missing from the header")),
    };
    let crit = match raw.crit {
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
    Ok(Header {
        alg,
        kid: string("kid", raw.kid)?,
        typ: string("typ", raw.typ)?,
        cty: string("cty", raw.cty)?,
        crit,
        embedded_key_members: raw.embedded_key_members,
    })
}

fn claim_err(name: &str, detail: &str) -> Malformed {
    Malformed::Claim {
        name: name.to_owned(),
        detail: detail.to_owned(),
    }
}

fn string(name: &str, value: Option<Value>) -> Result<Option<String>, Malformed> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(claim_err(name, "is not a string")),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number, non-negative, finite, within `i64` seconds.
fn numeric_date(name: &str, value: Option<&Value>) -> Result<Option<i64>, Malformed> {
    let Some(v) = value else {
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

fn string_or_array(name: &str, value: Option<Value>) -> Result<Option<Vec<String>>, Malformed> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s])),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
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

fn split_scopes(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The claims authsec types, as sent. Every other claim is only checked, never copied.
#[derive(Default)]
struct Registered {
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    scope: Option<Value>,
    scp: Option<Value>,
    client_id: Option<Value>,
    azp: Option<Value>,
    jti: Option<Value>,
}

impl Registered {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Some(match name {
            "iss" => &mut self.iss,
            "sub" => &mut self.sub,
            "aud" => &mut self.aud,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "scope" => &mut self.scope,
            "scp" => &mut self.scp,
            "client_id" => &mut self.client_id,
            "azp" => &mut self.azp,
            "jti" => &mut self.jti,
            _ => return None,
        })
    }

    fn from_map(map: &Map<String, Value>) -> Self {
        let mut reg = Registered::default();
        for (name, value) in map {
            if let Some(slot) = reg.slot(name) {
                *slot = Some(value.clone());
            }
        }
        reg
    }
}

impl Claims {
    /// Types the members of a claims object (a JWT payload or an introspection response)
    /// with the same rules.
    pub fn from_map(raw: Map<String, Value>) -> Result<Self, Malformed> {
        Self::typed(Registered::from_map(&raw), RawClaims::from_map(raw))
    }

    /// The typing rules, in a fixed order (the first problem reported does not depend on
    /// member order).
    fn typed(reg: Registered, raw: RawClaims) -> Result<Self, Malformed> {
        let scopes = match reg.scope {
            Some(Value::String(s)) => split_scopes(&s),
            Some(_) => return Err(claim_err("scope", "is not a space-delimited string")),
            None => match string_or_array("scp", reg.scp)? {
                Some(list) if list.len() == 1 => split_scopes(&list[0]),
                Some(list) => list,
                None => Vec::new(),
            },
        };
        Ok(Claims {
            iss: string("iss", reg.iss)?,
            sub: string("sub", reg.sub)?,
            aud: string_or_array("aud", reg.aud)?,
            exp: numeric_date("exp", reg.exp.as_ref())?,
            nbf: numeric_date("nbf", reg.nbf.as_ref())?,
            iat: numeric_date("iat", reg.iat.as_ref())?,
            scopes,
            client_id: match string("client_id", reg.client_id)? {
                Some(c) => Some(c),
                None => string("azp", reg.azp)?,
            },
            jti: string("jti", reg.jti)?,
            raw,
        })
    }
}

/// Parses and types a JWT payload: the whole object is checked like [`parse_object`] (syntax,
/// number ranges, no duplicate members) but only the registered claims are materialised.
fn parse_claims(payload: Vec<u8>) -> Result<Claims, Malformed> {
    let duplicate = Cell::new(None);
    let reg = parse_with(
        &payload,
        Part::Payload,
        ClaimsObject {
            duplicate: &duplicate,
        },
        &duplicate,
    )?;
    Claims::typed(reg, RawClaims::from_checked_payload(payload))
}

/// Parses a JSON object, refusing duplicate member names (RFC 7515 §5.2 / RFC 7519 §4).
pub fn parse_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Malformed> {
    let duplicate = Cell::new(None);
    parse_with(
        bytes,
        part,
        UniqueObject {
            part,
            duplicate: &duplicate,
        },
        &duplicate,
    )
}

/// The header members authsec reads, untyped; every other member is checked for syntax and
/// duplicates but never materialised.
#[derive(Default)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    cty: Option<Value>,
    crit: Option<Value>,
    embedded_key_members: Vec<String>,
}

fn parse_header(bytes: &[u8]) -> Result<RawHeader, Malformed> {
    let duplicate = Cell::new(None);
    parse_with(
        bytes,
        Part::Header,
        HeaderObject {
            duplicate: &duplicate,
        },
        &duplicate,
    )
}

/// Runs `seed` over `bytes` as one JSON document; a duplicate member named in `duplicate`
/// becomes [`Malformed::Duplicate`], anything else [`Malformed::Json`].
fn parse_with<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    part: Part,
    seed: S,
    duplicate: &Cell<Option<String>>,
) -> Result<S::Value, Malformed> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    value.map_err(|e| match duplicate.take() {
        Some(name) => Malformed::Duplicate { part, name },
        None => Malformed::Json {
            part,
            detail: e.to_string(),
        },
    })
}

fn duplicate_member<E: de::Error>(slot: &Cell<Option<String>>, name: &str) -> E {
    slot.set(Some(name.to_owned()));
    E::custom(format_args!("duplicate member {name:?}"))
}

struct UniqueObject<'a> {
    part: Part,
    duplicate: &'a Cell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueObject<'_> {
    type Value = Map<String, Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UniqueObject<'_> {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object ({})", self.part)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                serde_json::map::Entry::Occupied(e) => {
                    return Err(duplicate_member(self.duplicate, e.key()))
                }
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(access.next_value()?);
                }
            }
        }
        Ok(map)
    }
}

struct HeaderObject<'a> {
    duplicate: &'a Cell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for HeaderObject<'_> {
    type Value = RawHeader;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderObject<'_> {
    type Value = RawHeader;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (header)")
    }
    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        let mut header = RawHeader::default();
        for_each_member(access, self.duplicate, |name, access| {
            let slot = match name {
                "alg" => &mut header.alg,
                "kid" => &mut header.kid,
                "typ" => &mut header.typ,
                "cty" => &mut header.cty,
                "crit" => &mut header.crit,
                _ => {
                    access.next_value::<Checked>()?;
                    if EMBEDDED_KEY_MEMBERS.contains(&name) {
                        header.embedded_key_members.push(name.to_owned());
                    }
                    return Ok(());
                }
            };
            *slot = Some(access.next_value()?);
            Ok(())
        })?;
        Ok(header)
    }
}

struct ClaimsObject<'a> {
    duplicate: &'a Cell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ClaimsObject<'_> {
    type Value = Registered;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsObject<'_> {
    type Value = Registered;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (payload)")
    }
    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        let mut reg = Registered::default();
        for_each_member(access, self.duplicate, |name, access| {
            match reg.slot(name) {
                Some(slot) => *slot = Some(access.next_value()?),
                None => {
                    access.next_value::<Checked>()?;
                }
            }
            Ok(())
        })?;
        Ok(reg)
    }
}

/// Calls `member` for each member of an object (it must consume the value), refusing a
/// name seen before — also when spelled with escapes.
fn for_each_member<'de, A: MapAccess<'de>>(
    mut access: A,
    duplicate: &Cell<Option<String>>,
    mut member: impl FnMut(&str, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    let mut seen = SeenNames::default();
    while let Some(MemberName(name)) = access.next_key()? {
        if !seen.insert(name.clone()) {
            return Err(duplicate_member(duplicate, &name));
        }
        member(&name, &mut access)?;
    }
    Ok(())
}

/// Member names seen so far in one object: the first few in place (no allocation for
/// ordinary tokens), the rest in a tree (no quadratic blow-up for hostile ones).
struct SeenNames<'de> {
    inline: [Cow<'de, str>; 16],
    len: usize,
    overflow: BTreeSet<Cow<'de, str>>,
}

impl Default for SeenNames<'_> {
    fn default() -> Self {
        SeenNames {
            inline: [const { Cow::Borrowed("") }; 16],
            len: 0,
            overflow: BTreeSet::new(),
        }
    }
}

impl<'de> SeenNames<'de> {
    /// Records `name`; false when it was already there.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.inline[..self.len].contains(&name) || self.overflow.contains(&name) {
            return false;
        }
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = name;
                self.len += 1;
            }
            None => {
                self.overflow.insert(name);
            }
        }
        true
    }
}

/// A JSON value checked exactly as `serde_json::Value` would parse it (number ranges, string
/// contents, nesting depth) without being stored.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<MemberName<'de>, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// Header members that try to supply or locate a key; never used.
const EMBEDDED_KEY_MEMBERS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];

/// A member name, borrowed from the input when it has no escapes.
struct MemberName<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MemberName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_member_is_named() {
        assert_eq!(
            parse_object(br#"{"aud":"a","aud":"b"}"#, Part::Payload),
            Err(Malformed::Duplicate {
                part: Part::Payload,
                name: "aud".into()
            })
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
                Err(Malformed::Claim {
                    name: "exp".into(),
                    detail: detail.into()
                }),
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
}
