//! Client credentials and how they authenticate a token request (RFC 6749 §2.3, RFC 7523 §2.2).
//!
//! Credentials belong to one authorization server. [`ClientCredentials::for_issuer`] says which;
//! without it they are bound to the first issuer discovery finds and never sent to another.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::assertion::{PrivateKey, ASSERTION_TYPE};
use crate::error::Error;

/// A client secret: never printed (the SDK's type: one secret wrapper for both sides).
pub use authsec::config::Secret;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: `client_id` in the body, no secret (`none`).
    None,
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    SecretBasic(Secret),
    /// `client_id` and `client_secret` in the body (`client_secret_post`).
    SecretPost(Secret),
    /// A signed JWT assertion (`private_key_jwt`).
    PrivateKeyJwt {
        /// The signing key.
        key: PrivateKey,
        /// The assertion's `aud`.
        audience: AssertionAudience,
    },
    /// A secret, sent the way the authorization server prefers (`client_secret_basic` when it
    /// accepts it, else `client_secret_post`).
    Secret(Secret),
}

/// The `aud` of a client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The authorization server's issuer identifier: what draft-ietf-oauth-rfc7523bis requires,
    /// closing the audience ambiguity of RFC 7523 §3.
    #[default]
    Issuer,
    /// The token endpoint URL (RFC 7523 §3 allows it; some servers require it).
    TokenEndpoint,
}

impl ClientAuth {
    /// `private_key_jwt` with the issuer as audience.
    pub fn private_key_jwt(key: PrivateKey) -> Self {
        ClientAuth::PrivateKeyJwt {
            key,
            audience: AssertionAudience::Issuer,
        }
    }

    /// The RFC 8414 method name this uses with a server accepting `supported`.
    pub fn method(&self, supported: &[&str]) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
            ClientAuth::Secret(_) => {
                if !supported.contains(&"client_secret_basic")
                    && supported.contains(&"client_secret_post")
                {
                    "client_secret_post"
                } else {
                    "client_secret_basic"
                }
            }
        }
    }
}

/// A client identity at one authorization server.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// `client_id`: an opaque id, or the URL of a client ID metadata document.
    pub client_id: String,
    /// How it authenticates.
    pub auth: ClientAuth,
    /// The issuer these credentials are for; `None` binds them to the first one discovered.
    pub issuer: Option<String>,
}

impl ClientCredentials {
    /// Credentials for `client_id`, bound to the first issuer discovered.
    pub fn new(client_id: impl Into<String>, auth: ClientAuth) -> Self {
        ClientCredentials {
            client_id: client_id.into(),
            auth,
            issuer: None,
        }
    }

    /// Binds the credentials to `issuer`: they are never sent to another authorization server.
    pub fn for_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }
}

/// Adds client authentication to a token request form for `issuer` / `token_endpoint`.
pub(crate) fn authenticate(
    rb: reqwest::RequestBuilder,
    form: &mut Vec<(&'static str, String)>,
    client_id: &str,
    auth: &ClientAuth,
    supported: &[&str],
    issuer: &str,
    token_endpoint: &str,
) -> Result<reqwest::RequestBuilder, Error> {
    let basic = |rb: reqwest::RequestBuilder, s: &Secret| {
        // RFC 6749 §2.3.1: both parts form-urlencoded before Base64.
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!("{}:{}", enc(client_id), enc(s.expose())));
        rb.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
    };
    let mut post = |s: &Secret| {
        form.push(("client_id", client_id.to_owned()));
        form.push(("client_secret", s.expose().to_owned()));
    };
    Ok(match auth {
        ClientAuth::None => {
            form.push(("client_id", client_id.to_owned()));
            rb
        }
        ClientAuth::SecretBasic(s) => basic(rb, s),
        ClientAuth::SecretPost(s) => {
            post(s);
            rb
        }
        ClientAuth::Secret(s) if auth.method(supported) == "client_secret_post" => {
            post(s);
            rb
        }
        ClientAuth::Secret(s) => basic(rb, s),
        ClientAuth::PrivateKeyJwt { key, audience } => {
            let aud = match audience {
                AssertionAudience::Issuer => issuer,
                AssertionAudience::TokenEndpoint => token_endpoint,
            };
            form.push(("client_id", client_id.to_owned()));
            form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion", key.assertion(client_id, aud)?));
            rb
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_secret_follows_the_servers_preference() {
        let s = ClientAuth::Secret(Secret::new("x"));
        assert_eq!(
            s.method(&["client_secret_basic", "client_secret_post"]),
            "client_secret_basic"
        );
        assert_eq!(s.method(&["client_secret_post"]), "client_secret_post");
        assert_eq!(s.method(&["none"]), "client_secret_basic");
    }

    #[test]
    fn a_secret_is_never_printed() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
        let c = ClientCredentials::new("id", ClientAuth::SecretPost(Secret::new("hunter2")));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
