//! Enterprise-managed authorization (MCP SEP-990, "cross-app access"): the user's identity
//! provider vouches for them. Its ID token is exchanged at the identity provider for an Identity
//! Assertion JWT Authorization Grant (ID-JAG; RFC 8693 token exchange), which the authorization
//! server accepts with the `jwt-bearer` grant (RFC 7523 §2.1) — no browser, no consent screen.

use std::fmt;

use serde::Deserialize;

use crate::credentials::{authenticate, ClientAuth, Secret};
use crate::error::Error;
use crate::token::oauth_error;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The grant the authorization server is asked with (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The identity provider side: where to exchange the ID token, as which client.
#[derive(Clone)]
pub struct IdentityAssertion {
    /// The identity provider's token endpoint.
    pub token_endpoint: String,
    /// This client's id at the identity provider.
    pub client_id: String,
    /// How it authenticates there.
    pub auth: ClientAuth,
    /// The user's ID token from the identity provider.
    pub id_token: Secret,
}

impl fmt::Debug for IdentityAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityAssertion")
            .field("token_endpoint", &self.token_endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ExchangeResponse {
    access_token: String,
    issued_token_type: String,
}

/// Exchanges the ID token for an ID-JAG for `audience` (the authorization server's issuer) and
/// `resource`.
pub(crate) async fn id_jag(
    http: &reqwest::Client,
    idp: &IdentityAssertion,
    audience: &str,
    resource: &str,
    scopes: &[String],
) -> Result<Secret, Error> {
    let endpoint = &idp.token_endpoint;
    let mut form: Vec<(&'static str, String)> = vec![
        ("grant_type", TOKEN_EXCHANGE.into()),
        ("requested_token_type", ID_JAG.into()),
        ("subject_token", idp.id_token.expose().to_owned()),
        ("subject_token_type", ID_TOKEN.into()),
        ("audience", audience.to_owned()),
        ("resource", resource.to_owned()),
    ];
    if !scopes.is_empty() {
        form.push(("scope", scopes.join(" ")));
    }
    let rb = http
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json");
    let rb = authenticate(
        rb,
        &mut form,
        &idp.client_id,
        &idp.auth,
        &["client_secret_basic", "client_secret_post"],
        endpoint,
        endpoint,
    )?;
    let resp = rb
        .form(&form)
        .send()
        .await
        .map_err(|e| Error::http(endpoint, e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| Error::http(endpoint, e))?;
    if !status.is_success() {
        return Err(oauth_error(
            "identity provider token endpoint",
            status.as_u16(),
            &body,
        ));
    }
    let r: ExchangeResponse =
        serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
            endpoint: "identity provider token endpoint",
            what: format!("not a token exchange response: {e}"),
        })?;
    if r.issued_token_type != ID_JAG {
        return Err(Error::InvalidResponse {
            endpoint: "identity provider token endpoint",
            what: format!(
                "issued_token_type is {:?}, not {ID_JAG}",
                r.issued_token_type
            ),
        });
    }
    Ok(Secret::new(r.access_token))
}
