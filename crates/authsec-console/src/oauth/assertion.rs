//! `private_key_jwt` client authentication: RFC 7523 §2.2/§3 client assertions, verified with
//! `authsec-proto`'s strict compact JWS (duplicate members, `crit`, the `alg` allow-list,
//! keys pinned to their algorithm).
//!
//! | check | refused when |
//! |---|---|
//! | client | no enabled `private_key_jwt` client has that id |
//! | signature | malformed, `alg` not asymmetric, `crit`, no key for the `kid`, bad signature |
//! | `iss`, `sub` | either is not the client id |
//! | `aud` | not exactly one value, the token endpoint URL or the issuer identifier (RFC 7523bis) |
//! | `exp` | absent, past (after [`LEEWAY`]), or more than [`MAX_LIFETIME`] ahead |
//! | `iat`, `nbf` | in the future (after [`LEEWAY`]); `exp - iat` over [`MAX_LIFETIME`] |
//! | `jti` | absent, or already used by this client while its assertion is valid |
//!
//! The `jti` is recorded in the database only after every other check passed, so that every
//! instance of the console refuses a replay, and garbage cannot fill the table.

use std::sync::OnceLock;
use std::time::Duration;

use authsec_proto::jws::{self, Algorithm, Expect, KeySet};

use super::OAuthError;
use crate::model::{Client, ClientAuthMethod};
use crate::state::AppState;

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live (`exp` after now, or after its `iat`).
pub(crate) const MAX_LIFETIME: i64 = 300;

/// Clock skew tolerated on `exp`, `iat` and `nbf`.
pub(crate) const LEEWAY: i64 = 30;

/// The largest JWKS fetched from a client's `jwks_uri`.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Timeout of a `jwks_uri` fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

fn refused(why: impl std::fmt::Display) -> OAuthError {
    OAuthError::invalid_client(format!("client assertion refused: {why}"), false)
}

/// The client id an assertion names (`sub`, else `iss`), read before anything is verified: it
/// only selects the client whose keys then verify it.
pub(crate) fn named_client(assertion: &str) -> Option<String> {
    let jws = jws::parse_jws(assertion).ok()?;
    jws.claims.sub.or(jws.claims.iss)
}

/// Authenticates `client_id` by `assertion`; returns the client.
pub(crate) async fn authenticate(
    state: &AppState,
    client_id: &str,
    assertion: &str,
) -> Result<Client, OAuthError> {
    let client = match state.store().client_by_id(client_id).await? {
        Some(c) if c.auth_method == ClientAuthMethod::PrivateKeyJwt => c,
        _ => {
            return Err(refused(format_args!(
                "{client_id} is not a private_key_jwt client"
            )))
        }
    };
    let keys = client_keys(&client).await?;
    let expect = Expect {
        algorithms: &Algorithm::ALL,
        typ: None,
    };
    let verified = jws::verify(assertion, &keys, expect).map_err(refused)?;
    let claims = verified.claims;
    let issuer = state.issuer();
    let token_endpoint = format!("{issuer}/oauth/token");
    if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
        return Err(refused(format_args!(
            "iss and sub must both be the client id {client_id:?} (iss {:?}, sub {:?})",
            claims.iss, claims.sub
        )));
    }
    match claims.aud.as_deref() {
        Some([aud]) if *aud == token_endpoint || aud == issuer => {}
        aud => {
            return Err(refused(format_args!(
                "aud must be one value, the token endpoint {token_endpoint:?} or the issuer \
                 {issuer:?}; got {aud:?}"
            )))
        }
    }
    let now = state.store().now();
    let Some(exp) = claims.exp else {
        return Err(refused("exp is required"));
    };
    if exp + LEEWAY <= now {
        return Err(refused(format_args!("expired at {exp} (now {now})")));
    }
    if exp - now > MAX_LIFETIME + LEEWAY {
        return Err(refused(format_args!(
            "exp is {} s away; an assertion may live at most {MAX_LIFETIME} s",
            exp - now
        )));
    }
    for (name, value) in [("iat", claims.iat), ("nbf", claims.nbf)] {
        if let Some(t) = value.filter(|t| *t > now + LEEWAY) {
            return Err(refused(format_args!(
                "{name} {t} is in the future (now {now})"
            )));
        }
    }
    if let Some(iat) = claims.iat.filter(|iat| exp - iat > MAX_LIFETIME) {
        return Err(refused(format_args!(
            "exp - iat is {} s; an assertion may live at most {MAX_LIFETIME} s",
            exp - iat
        )));
    }
    let Some(jti) = claims.jti.filter(|j| !j.is_empty()) else {
        return Err(refused("jti is required"));
    };
    if !state
        .store()
        .record_assertion(client_id, &jti, exp + LEEWAY)
        .await?
    {
        return Err(refused(format_args!("jti {jti:?} was already used")));
    }
    Ok(client)
}

/// The client's keys: its inline JWKS, or its `jwks_uri` fetched now.
async fn client_keys(client: &Client) -> Result<KeySet, OAuthError> {
    let document = match (&client.jwks, &client.jwks_uri) {
        (Some(jwks), _) => jwks.to_string().into_bytes(),
        (None, Some(uri)) => fetch(uri).await.map_err(|e| {
            refused(format_args!(
                "the client's JWKS at {uri} cannot be read: {e}"
            ))
        })?,
        (None, None) => return Err(refused("the client has no keys")),
    };
    KeySet::from_json(&document).map_err(|e| refused(format_args!("the client's JWKS: {e}")))
}

async fn fetch(uri: &str) -> Result<Vec<u8>, String> {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    let http = match HTTP.get() {
        Some(h) => h,
        None => {
            let built = reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?;
            HTTP.get_or_init(|| built)
        }
    };
    let mut resp = http.get(uri).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
