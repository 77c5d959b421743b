//! Session binding without server state: every `Mcp-Session-Id` the layer hands out carries a
//! MAC of (session id, principal), so only the principal that created a session can use it.
//!
//! The inner server's session id `S` goes out as `S.KT`, where `K` (8 characters) proves that
//! this deployment issued the id and `T` (22 characters) binds it to its owner — the issuer and
//! the subject (or, for tokens without `sub`, the client; or no token at all). Both are
//! truncated HMAC-SHA256 values under the session key, base64url. On the way in the layer
//! verifies both and hands the inner server `S` alone:
//!
//! | presented id | answer |
//! |---|---|
//! | `K` and `T` verify | the request goes on with `S` |
//! | `K` verifies, `T` does not (another principal's session) | 403 `session_principal_mismatch` |
//! | `K` does not verify (not issued here, or under another key, e.g. before a restart) | 404 `session_unknown`: the client starts a new session |
//! | repeated, empty, over 256 bytes or not visible ASCII | 400 `malformed_session_id` |
//!
//! Nothing is stored, so nothing can be evicted by other clients' traffic, and instances that
//! share the key (`AUTHSEC_SESSION_KEY`) accept each other's sessions.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};

use crate::error::{AuthError, InvalidRequest};
use crate::mcp::SESSION;
use crate::principal::Principal;

/// Longest `Mcp-Session-Id` accepted from a client.
const MAX_SESSION_ID_BYTES: usize = 256;
/// Bytes of the issued-here tag and of the owner tag.
const ISSUER_TAG_BYTES: usize = 6;
const OWNER_TAG_BYTES: usize = 16;
/// Their base64url lengths.
const ISSUER_TAG_CHARS: usize = 8;
const OWNER_TAG_CHARS: usize = 22;

/// Seals and opens session ids with one key.
pub(crate) struct SessionSeal {
    key: hmac::Key,
}

impl SessionSeal {
    /// A seal keyed by `secret` (the configured `session_key`), or by a random key.
    pub(crate) fn new(secret: Option<&[u8]>) -> Self {
        let key = match secret {
            Some(secret) => hmac::Key::new(hmac::HMAC_SHA256, secret),
            None => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                // Without a working system random generator there is no safe key to fall back on.
                hmac::Key::generate(hmac::HMAC_SHA256, &rng)
                    .expect("the system random generator failed: cannot create a session key")
            }
        };
        SessionSeal { key }
    }

    /// The id to hand out for the inner server's `inner` id, owned by `owner` (`None`: a
    /// session created without a token).
    pub(crate) fn seal(&self, inner: &str, owner: Option<&Principal>) -> String {
        let mut out = String::with_capacity(inner.len() + 1 + ISSUER_TAG_CHARS + OWNER_TAG_CHARS);
        out.push_str(inner);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(
            &self.issuer_tag(inner).as_ref()[..ISSUER_TAG_BYTES],
            &mut out,
        );
        URL_SAFE_NO_PAD.encode_string(
            &self.owner_tag(inner, owner).as_ref()[..OWNER_TAG_BYTES],
            &mut out,
        );
        out
    }

    /// Verifies the request's `Mcp-Session-Id` (if any) for `principal` and returns the inner
    /// id the server issued. `Ok(None)`: the request has no session id.
    pub(crate) fn open(
        &self,
        headers: &HeaderMap,
        principal: Option<&Principal>,
    ) -> Result<Option<String>, AuthError> {
        let mut values = headers.get_all(SESSION).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        let malformed = AuthError::InvalidRequest(InvalidRequest::MalformedSessionId);
        if values.next().is_some() {
            return Err(malformed);
        }
        let presented = value
            .to_str()
            .ok()
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= MAX_SESSION_ID_BYTES
                    && v.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or(malformed)?;
        let (inner, tags) = presented
            .rsplit_once('.')
            .filter(|(_, tags)| tags.len() == ISSUER_TAG_CHARS + OWNER_TAG_CHARS)
            .ok_or(AuthError::SessionUnknown)?;
        let decoded = URL_SAFE_NO_PAD
            .decode(tags)
            .map_err(|_| AuthError::SessionUnknown)?;
        let (issuer_tag, owner_tag) = decoded.split_at(ISSUER_TAG_BYTES);
        if !equal(
            issuer_tag,
            &self.issuer_tag(inner).as_ref()[..ISSUER_TAG_BYTES],
        ) {
            return Err(AuthError::SessionUnknown);
        }
        if !equal(
            owner_tag,
            &self.owner_tag(inner, principal).as_ref()[..OWNER_TAG_BYTES],
        ) {
            return Err(AuthError::SessionPrincipalMismatch);
        }
        Ok(Some(inner.to_owned()))
    }

    /// Replaces the response's `Mcp-Session-Id` (the inner server's) with the sealed one.
    ///
    /// `presented`: the inner id and the sealed value the request carried, which [`Self::open`]
    /// verified for `owner`. When the response echoes that inner id, the presented value is
    /// what [`Self::seal`] would compute (same key, inner id and owner): it is reused, which
    /// saves two HMACs on every request of a session.
    pub(crate) fn seal_response(
        &self,
        headers: &mut HeaderMap,
        owner: Option<&Principal>,
        presented: Option<(&str, &HeaderValue)>,
    ) {
        let Some(inner) = headers.get(SESSION) else {
            return;
        };
        let sealed = match presented {
            Some((id, sealed)) if inner.as_bytes() == id.as_bytes() => Some(sealed.clone()),
            _ => inner
                .to_str()
                .ok()
                .map(|inner| self.seal(inner, owner))
                .and_then(|s| HeaderValue::from_str(&s).ok()),
        };
        match sealed {
            Some(v) => {
                headers.insert(SESSION, v);
            }
            // An id that cannot be sealed must not reach the client unbound.
            None => {
                headers.remove(SESSION);
            }
        }
    }

    fn issuer_tag(&self, inner: &str) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"authsec session v1: issued\0");
        ctx.update(inner.as_bytes());
        ctx.sign()
    }

    fn owner_tag(&self, inner: &str, owner: Option<&Principal>) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"authsec session v1: owner\0");
        field(&mut ctx, inner.as_bytes());
        match owner {
            None => ctx.update(b"N"),
            Some(p) => {
                field(&mut ctx, p.issuer().as_bytes());
                match (p.subject(), p.client_id()) {
                    (Some(sub), _) => {
                        ctx.update(b"S");
                        field(&mut ctx, sub.as_bytes());
                    }
                    (None, Some(client)) => {
                        ctx.update(b"C");
                        field(&mut ctx, client.as_bytes());
                    }
                    (None, None) => ctx.update(b"A"),
                }
            }
        }
        ctx.sign()
    }
}

/// A length-prefixed field, so that no two owners encode alike.
fn field(ctx: &mut hmac::Context, bytes: &[u8]) {
    ctx.update(&(bytes.len() as u64).to_be_bytes());
    ctx.update(bytes);
}

/// Compares in time independent of where the inputs differ.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::SESSION_HEADER;
    use crate::principal::TokenKind;
    use crate::token::{Claims, Fingerprint};

    fn principal(claims: serde_json::Value) -> Principal {
        let claims = Claims::from_map(claims.as_object().cloned().unwrap()).unwrap();
        Principal::from_claims(
            &claims,
            "https://as.example",
            Fingerprint::of("t"),
            TokenKind::Jwt,
        )
    }

    fn user(sub: &str) -> Principal {
        principal(serde_json::json!({"sub": sub, "client_id": "c1"}))
    }

    fn with_session(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SESSION_HEADER, id.parse().unwrap());
        h
    }

    fn seal() -> SessionSeal {
        SessionSeal::new(Some(b"0123456789abcdef0123456789abcdef"))
    }

    #[test]
    fn the_owner_gets_the_inner_id_back() {
        let s = seal();
        let alice = user("alice");
        let id = s.seal("abc-123", Some(&alice));
        assert!(
            id.starts_with("abc-123.") && id.len() == "abc-123.".len() + 30,
            "{id}"
        );
        assert_eq!(
            s.open(&with_session(&id), Some(&alice)),
            Ok(Some("abc-123".into()))
        );
        // Another token of the same subject and issuer is the same principal.
        let again = principal(serde_json::json!({"sub": "alice", "client_id": "other"}));
        assert_eq!(
            s.open(&with_session(&id), Some(&again)),
            Ok(Some("abc-123".into()))
        );
        assert_eq!(s.open(&HeaderMap::new(), Some(&alice)), Ok(None));
    }

    #[test]
    fn another_principal_is_refused() {
        let s = seal();
        let id = s.seal("abc", Some(&user("alice")));
        assert_eq!(
            s.open(&with_session(&id), Some(&user("mallory"))),
            Err(AuthError::SessionPrincipalMismatch)
        );
        assert_eq!(
            s.open(&with_session(&id), None),
            Err(AuthError::SessionPrincipalMismatch)
        );
        // Tokens without sub are bound to their client; a subject named like it is another.
        let c1 = principal(serde_json::json!({"client_id": "c1"}));
        let id = s.seal("abc", Some(&c1));
        assert_eq!(
            s.open(&with_session(&id), Some(&c1)),
            Ok(Some("abc".into()))
        );
        assert_eq!(
            s.open(&with_session(&id), Some(&user("c1"))),
            Err(AuthError::SessionPrincipalMismatch)
        );
        // A session opened without a token belongs to no principal.
        let anonymous = s.seal("abc", None);
        assert_eq!(
            s.open(&with_session(&anonymous), Some(&user("alice"))),
            Err(AuthError::SessionPrincipalMismatch)
        );
    }

    #[test]
    fn ids_not_issued_under_this_key_are_unknown() {
        let alice = user("alice");
        let other =
            SessionSeal::new(Some(b"another key, also 32 bytes long!")).seal("abc", Some(&alice));
        for id in [
            other.as_str(),
            "abc",
            "abc.short",
            "plain-uuid-from-elsewhere-0000000000000",
        ] {
            assert_eq!(
                seal().open(&with_session(id), Some(&alice)),
                Err(AuthError::SessionUnknown),
                "{id}"
            );
        }
        // A forged owner tag on a genuine inner id is another principal's claim.
        let genuine = seal().seal("abc", Some(&alice));
        let forged = format!("{}AAAAAAAAAAAAAAAAAAAAAA", &genuine[..genuine.len() - 22]);
        assert_eq!(
            seal().open(&with_session(&forged), Some(&alice)),
            Err(AuthError::SessionPrincipalMismatch)
        );
    }

    #[test]
    fn repeated_or_malformed_headers_are_400() {
        let s = seal();
        let alice = user("alice");
        let id = s.seal("abc", Some(&alice));
        let mut h = with_session(&id);
        h.append(SESSION_HEADER, id.parse().unwrap());
        let malformed = Err(AuthError::InvalidRequest(
            InvalidRequest::MalformedSessionId,
        ));
        assert_eq!(s.open(&h, Some(&alice)), malformed);
        assert_eq!(s.open(&with_session(""), Some(&alice)), malformed);
        assert_eq!(
            s.open(&with_session(&"a".repeat(257)), Some(&alice)),
            malformed
        );
    }

    #[test]
    fn a_response_id_is_replaced_by_its_sealed_form() {
        let s = seal();
        let alice = user("alice");
        let mut h = with_session("inner-1");
        s.seal_response(&mut h, Some(&alice), None);
        let sealed = h[SESSION_HEADER].to_str().unwrap().to_owned();
        assert_eq!(sealed, s.seal("inner-1", Some(&alice)));
        assert_eq!(
            s.open(&with_session(&sealed), Some(&alice)),
            Ok(Some("inner-1".into()))
        );
    }

    #[test]
    fn an_echo_of_the_presented_id_gets_the_presented_sealed_value_which_seal_would_compute() {
        let s = seal();
        let alice = user("alice");
        let presented = HeaderValue::from_str(&s.seal("inner-1", Some(&alice))).unwrap();
        let mut h = with_session("inner-1");
        s.seal_response(&mut h, Some(&alice), Some(("inner-1", &presented)));
        assert_eq!(h[SESSION_HEADER], presented);
        assert_eq!(
            h[SESSION_HEADER].to_str().unwrap(),
            s.seal("inner-1", Some(&alice))
        );
        // Another inner id in the response is sealed afresh, never given the presented value.
        let mut other = with_session("inner-2");
        s.seal_response(&mut other, Some(&alice), Some(("inner-1", &presented)));
        assert_eq!(
            other[SESSION_HEADER].to_str().unwrap(),
            s.seal("inner-2", Some(&alice))
        );
    }
}
