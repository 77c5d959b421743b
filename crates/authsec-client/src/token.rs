//! Access tokens and the token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; RFC 8707 `resource`).

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::credentials::{authenticate, ClientAuth, Secret};
use crate::discovery::ServerMetadata;
use crate::error::Error;

/// An access token: never printed, logged or stored on disk by this crate.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The token, to put in an `Authorization: Bearer` header.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// A token and what it is good for.
#[derive(Debug, Clone)]
pub struct Token {
    /// The access token.
    pub access_token: AccessToken,
    /// When it expires, if the server said (`expires_in`).
    pub expires_at: Option<Instant>,
    /// The scopes granted: the response's `scope`, else those requested (RFC 6749 §5.1).
    pub scopes: Vec<String>,
    /// The scopes requested.
    pub requested: Vec<String>,
    /// The issuer that issued it.
    pub issuer: String,
    /// The resource it is for.
    pub resource: String,
    pub(crate) refresh_token: Option<Secret>,
}

impl Token {
    /// True when the token is usable for at least `margin` more (a token without `expires_in`
    /// is usable until a resource refuses it).
    pub fn fresh_for(&self, margin: Duration) -> bool {
        self.expires_at
            .is_none_or(|at| at.checked_sub(margin).is_some_and(|t| Instant::now() < t))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// An RFC 6749 §5.2 error response as [`Error::OAuth`].
pub(crate) fn oauth_error(endpoint: &'static str, status: u16, body: &[u8]) -> Error {
    let err: Option<ErrorResponse> = serde_json::from_slice(body).ok();
    Error::OAuth {
        endpoint,
        status,
        error: err
            .as_ref()
            .map_or_else(|| "(no error code)".to_owned(), |e| e.error.clone()),
        description: err.and_then(|e| e.error_description),
    }
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// One token request: the grant's parameters; client authentication, `resource` and `scope`
/// are added by [`request_token`].
pub(crate) struct TokenRequest<'a> {
    pub server: &'a ServerMetadata,
    pub client_id: &'a str,
    pub auth: &'a ClientAuth,
    pub grant: Vec<(&'static str, String)>,
    pub resource: &'a str,
    pub scopes: &'a [String],
}

pub(crate) async fn request_token(
    http: &reqwest::Client,
    req: TokenRequest<'_>,
) -> Result<Token, Error> {
    let endpoint = &req.server.token_endpoint;
    let mut form = req.grant;
    form.push(("resource", req.resource.to_owned()));
    if !req.scopes.is_empty() {
        form.push(("scope", req.scopes.join(" ")));
    }
    let rb = http
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json");
    let rb = authenticate(
        rb,
        &mut form,
        req.client_id,
        req.auth,
        &req.server.auth_methods(),
        &req.server.issuer,
        endpoint,
    )?;
    let sent_at = Instant::now();
    let resp = rb
        .form(&form)
        .send()
        .await
        .map_err(|e| Error::http(endpoint, e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| Error::http(endpoint, e))?;
    if !status.is_success() {
        return Err(oauth_error("token endpoint", status.as_u16(), &body));
    }
    let tr: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
        endpoint: "token endpoint",
        // serde's message names the field, never the value.
        what: format!("not a token response: {e}"),
    })?;
    if !tr.token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::InvalidResponse {
            endpoint: "token endpoint",
            what: format!("token_type {:?} is not Bearer", tr.token_type),
        });
    }
    let expires_in = match tr.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        // Some servers send a numeric string.
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    };
    let requested = req.scopes.to_vec();
    let scopes = match tr.scope {
        Some(s) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => requested.clone(),
    };
    Ok(Token {
        access_token: AccessToken(tr.access_token),
        expires_at: expires_in.map(|s| sent_at + Duration::from_secs(s)),
        scopes,
        requested,
        issuer: req.server.issuer.clone(),
        resource: req.resource.to_owned(),
        refresh_token: tr.refresh_token.map(Secret::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_never_printed() {
        let t = AccessToken("eyJ.secret.sig".into());
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
    }

    #[test]
    fn freshness_leaves_a_margin_before_expiry() {
        let mut t = Token {
            access_token: AccessToken("t".into()),
            expires_at: Some(Instant::now() + Duration::from_secs(20)),
            scopes: vec![],
            requested: vec![],
            issuer: "i".into(),
            resource: "r".into(),
            refresh_token: None,
        };
        assert!(t.fresh_for(Duration::from_secs(10)));
        assert!(!t.fresh_for(Duration::from_secs(30)));
        t.expires_at = None;
        assert!(t.fresh_for(Duration::from_secs(30)));
    }
}
