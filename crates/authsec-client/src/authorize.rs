//! The authorization code grant with PKCE for interactive agents (RFC 6749 §4.1, RFC 7636,
//! RFC 8252 loopback redirect, RFC 9207 `iss`), and how the client identifies itself to an
//! authorization server it has no credentials for: a client ID metadata document when the server
//! accepts them, else dynamic client registration (RFC 7591), as the MCP authorization spec
//! orders them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use crate::credentials::{ClientAuth, Secret};
use crate::discovery::ServerMetadata;
use crate::error::{AuthorizationResponseError, Error};

/// Opens the authorization URL for the user: a browser, a printed link, or (in tests) an HTTP
/// client that follows the redirect to the loopback listener.
pub type UserAgent =
    Arc<dyn Fn(Url) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Settings of the interactive (authorization code) flow.
#[derive(Clone)]
pub struct Interactive {
    /// The URL of this client's metadata document, used as `client_id` by servers that
    /// advertise `client_id_metadata_document_supported`.
    pub client_metadata_url: Option<String>,
    /// `client_name` for dynamic registration.
    pub client_name: String,
    /// The loopback port to listen on; 0 picks one (and keeps it for later authorizations, so a
    /// registered `redirect_uri` stays valid).
    pub port: u16,
    /// How the authorization URL reaches the user.
    pub user_agent: UserAgent,
    /// How long to wait for the user.
    pub timeout: Duration,
}

impl Interactive {
    /// Prints the authorization URL on stderr for the user to open; waits 5 minutes.
    pub fn new(client_name: impl Into<String>) -> Self {
        Interactive {
            client_metadata_url: None,
            client_name: client_name.into(),
            port: 0,
            user_agent: Arc::new(|url: Url| {
                Box::pin(async move {
                    eprintln!("Open this URL to authorize: {url}");
                    Ok(())
                })
            }),
            timeout: Duration::from_secs(300),
        }
    }

    /// Uses `url` as `client_id` where client ID metadata documents are accepted.
    pub fn client_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.client_metadata_url = Some(url.into());
        self
    }

    /// Replaces how the authorization URL reaches the user.
    pub fn user_agent(mut self, ua: UserAgent) -> Self {
        self.user_agent = ua;
        self
    }
}

impl std::fmt::Debug for Interactive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interactive")
            .field("client_metadata_url", &self.client_metadata_url)
            .field("client_name", &self.client_name)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A client id obtained for one issuer by metadata document or registration.
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub client_id: String,
    pub auth: ClientAuth,
}

pub(crate) fn random_b64(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| Error::Config("no system randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// Dynamic client registration (RFC 7591) of a native client with `redirect_uri`.
pub(crate) async fn register(
    http: &reqwest::Client,
    server: &ServerMetadata,
    endpoint: &str,
    client_name: &str,
    redirect_uri: &str,
) -> Result<Registered, Error> {
    let methods = server.auth_methods();
    // A native app cannot keep a secret (RFC 8252 §8.5): ask to be public when allowed.
    let method = ["none", "client_secret_basic", "client_secret_post"]
        .into_iter()
        .find(|m| methods.contains(m))
        .unwrap_or("none");
    let body = json!({
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    let resp = http
        .post(endpoint)
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::http(endpoint, e))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| Error::http(endpoint, e))?;
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        return Err(Error::OAuth {
            endpoint: "registration endpoint",
            status: status.as_u16(),
            error: v["error"].as_str().unwrap_or("(no error code)").to_owned(),
            description: v["error_description"].as_str().map(str::to_owned),
        });
    }
    let r: RegistrationResponse =
        serde_json::from_slice(&bytes).map_err(|e| Error::InvalidResponse {
            endpoint: "registration endpoint",
            what: e.to_string(),
        })?;
    let auth = match (r.client_secret, r.token_endpoint_auth_method.as_deref()) {
        (None, _) | (Some(_), Some("none")) => ClientAuth::None,
        (Some(s), Some("client_secret_post")) => ClientAuth::SecretPost(Secret::new(s)),
        (Some(s), Some("client_secret_basic")) => ClientAuth::SecretBasic(Secret::new(s)),
        (Some(s), _) => ClientAuth::Secret(Secret::new(s)),
    };
    Ok(Registered {
        client_id: r.client_id,
        auth,
    })
}

/// A loopback listener for one authorization response.
pub(crate) struct Loopback {
    listener: TcpListener,
    pub redirect_uri: String,
    pub port: u16,
}

impl Loopback {
    pub async fn bind(port: u16) -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| Error::Config(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Config(e.to_string()))?
            .port();
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            port,
        })
    }

    /// Waits for the redirect carrying `state`; returns its `code` after checking `iss`.
    /// Requests for other paths or with another `state` are answered and ignored.
    pub async fn code(
        &self,
        state: &str,
        issuer: &str,
        iss_required: bool,
    ) -> Result<String, Error> {
        loop {
            let (mut stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| Error::Config(format!("loopback listener: {e}")))?;
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            // The request line is all that is needed; a browser sends it in the first packet.
            while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let line = String::from_utf8_lossy(&buf);
            let target = line.split(' ').nth(1).unwrap_or("");
            let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "Not an authorization response.",
                )
                .await;
                continue;
            };
            if url.path() != "/callback" {
                respond(&mut stream, "404 Not Found", "Not found.").await;
                continue;
            }
            let param = |name: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            };
            if param("state").as_deref() != Some(state) {
                // Not the response to this request (a stale tab, or another local process).
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "Unexpected authorization response.",
                )
                .await;
                continue;
            }
            let result = check_response(
                param("code"),
                param("iss"),
                param("error"),
                param("error_description"),
                issuer,
                iss_required,
            );
            match &result {
                Ok(_) => {
                    respond(
                        &mut stream,
                        "200 OK",
                        "Authorization complete. You can close this window.",
                    )
                    .await
                }
                Err(e) => {
                    respond(
                        &mut stream,
                        "400 Bad Request",
                        &format!("Authorization failed: {e}"),
                    )
                    .await
                }
            }
            return result;
        }
    }
}

/// RFC 6749 §4.1.2 and RFC 9207 §2.4: an error, or `iss` (when present or promised) equal to
/// the issuer the request went to, then the code.
pub(crate) fn check_response(
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    issuer: &str,
    iss_required: bool,
) -> Result<String, Error> {
    if iss.as_deref().is_some_and(|i| i != issuer) || (iss_required && iss.is_none()) {
        return Err(Error::AuthorizationResponse(
            AuthorizationResponseError::IssuerMismatch {
                expected: issuer.to_owned(),
                actual: iss,
            },
        ));
    }
    if let Some(error) = error {
        return Err(Error::AuthorizationRefused {
            error,
            description: error_description,
        });
    }
    code.ok_or(Error::AuthorizationResponse(
        AuthorizationResponseError::MissingCode,
    ))
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>authsec</title><p>{}</p>",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2.1).
pub(crate) struct AuthorizationRequest<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub challenge: &'a str,
    pub state: &'a str,
    pub resource: &'a str,
    pub scopes: &'a [String],
}

impl AuthorizationRequest<'_> {
    pub fn url(&self) -> Result<Url, Error> {
        let mut url = Url::parse(self.endpoint).map_err(|e| Error::InvalidMetadata {
            url: self.endpoint.to_owned(),
            what: format!("authorization_endpoint is not a URL: {e}"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("code_challenge", self.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", self.state)
                .append_pair("resource", self.resource);
            if !self.scopes.is_empty() {
                q.append_pair("scope", &self.scopes.join(" "));
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn an_iss_from_another_server_is_rejected_even_with_a_code() {
        let err = check_response(
            Some("c".into()),
            Some("https://evil.example".into()),
            None,
            None,
            "https://as.example",
            false,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            Error::AuthorizationResponse(AuthorizationResponseError::IssuerMismatch { actual: Some(ref a), .. }) if a == "https://evil.example"
        ));
    }

    #[test]
    fn a_missing_iss_is_rejected_only_when_the_server_promised_it() {
        assert_eq!(
            check_response(
                Some("c".into()),
                None,
                None,
                None,
                "https://as.example",
                false
            )
            .unwrap(),
            "c"
        );
        assert!(matches!(
            check_response(
                Some("c".into()),
                None,
                None,
                None,
                "https://as.example",
                true
            ),
            Err(Error::AuthorizationResponse(
                AuthorizationResponseError::IssuerMismatch { actual: None, .. }
            ))
        ));
    }

    #[test]
    fn an_error_response_is_refused_with_its_code() {
        assert!(matches!(
            check_response(None, None, Some("access_denied".into()), None, "i", false),
            Err(Error::AuthorizationRefused { ref error, .. }) if error == "access_denied"
        ));
    }

    #[tokio::test]
    async fn the_listener_ignores_other_states_and_returns_the_matching_code() {
        let lb = Loopback::bind(0).await.unwrap();
        let base = lb.redirect_uri.clone();
        let task = tokio::spawn(async move { lb.code("s1", "https://as.example", true).await });
        let http = reqwest::Client::new();
        let r = http
            .get(format!(
                "{base}?code=wrong&state=other&iss=https%3A%2F%2Fas.example"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let r = http
            .get(format!(
                "{base}?code=right&state=s1&iss=https%3A%2F%2Fas.example"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(task.await.unwrap().unwrap(), "right");
    }
}
