//! Discovery: the resource's protected resource metadata (RFC 9728), then its authorization
//! server's metadata (RFC 8414, then OpenID Connect Discovery), as the MCP authorization spec
//! orders the candidate URLs.

use serde::Deserialize;
use url::Url;

use crate::error::Error;

/// RFC 9728 protected resource metadata (the members a client uses).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ResourceMetadata {
    /// The resource identifier: the `resource` parameter of every request (RFC 8707).
    pub resource: String,
    /// Issuers of the authorization servers this resource accepts tokens from.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes the resource defines.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// RFC 8414 authorization server metadata (the members a client uses).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Where the user authorizes.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where tokens are requested.
    pub token_endpoint: String,
    /// Dynamic client registration (RFC 7591).
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// Defaults to `["client_secret_basic"]` (RFC 8414 §2).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Defaults to `["authorization_code", "implicit"]` (RFC 8414 §2).
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
    /// PKCE methods; absent means the server does not say (the MCP spec requires `S256`).
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Scopes the server issues.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// RFC 9207: authorization responses carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// The server accepts client ID metadata documents (URL client ids).
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
}

impl ServerMetadata {
    /// The token endpoint authentication methods the server accepts.
    pub fn auth_methods(&self) -> Vec<&str> {
        match &self.token_endpoint_auth_methods_supported {
            Some(m) => m.iter().map(String::as_str).collect(),
            None => vec!["client_secret_basic"],
        }
    }

    /// Whether `grant` is supported (`authorization_code` when the server does not say).
    pub fn supports_grant(&self, grant: &str) -> bool {
        match &self.grant_types_supported {
            Some(g) => g.iter().any(|g| g == grant),
            None => grant == "authorization_code",
        }
    }
}

/// What discovery found for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The `resource` parameter to send.
    pub resource: String,
    /// The resource's metadata; `None` for a 2025-03-26 server discovered by the legacy rules.
    pub resource_metadata: Option<ResourceMetadata>,
    /// The authorization server.
    pub server: ServerMetadata,
}

/// Candidate protected resource metadata URLs for `resource` (RFC 9728 §3.1, MCP 2025-11-25):
/// the path-specific well-known URL, then the root one.
pub fn resource_metadata_urls(resource: &Url) -> Vec<Url> {
    let mut out = Vec::new();
    let path = resource.path().trim_end_matches('/');
    let mut origin = resource.clone();
    origin.set_query(None);
    origin.set_fragment(None);
    if !path.is_empty() {
        let mut u = origin.clone();
        u.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        out.push(u);
    }
    let mut u = origin;
    u.set_path("/.well-known/oauth-protected-resource");
    out.push(u);
    out
}

/// Candidate metadata URLs for an issuer, in the MCP spec's order: RFC 8414 with the path
/// inserted, OpenID Connect with the path inserted, OpenID Connect with the path appended.
/// An issuer without a path: RFC 8414, then OpenID Connect.
pub fn server_metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let at = |p: String| {
        let mut u = issuer.clone();
        u.set_query(None);
        u.set_fragment(None);
        u.set_path(&p);
        u
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

/// True when metadata for `resource_id` may be used for calls to `url`: same origin, and
/// `url`'s path is the resource's path or below it (RFC 9728 §3.3; a server's root metadata
/// covers its endpoints).
pub fn resource_covers(resource_id: &str, url: &Url) -> bool {
    let Ok(r) = Url::parse(resource_id) else {
        return false;
    };
    if r.origin() != url.origin() || r.fragment().is_some() {
        return false;
    }
    let rp = r.path().trim_end_matches('/');
    let up = url.path().trim_end_matches('/');
    up == rp || up.starts_with(&format!("{rp}/"))
}

/// The resource identifier for a URL with no metadata: the URL without fragment (RFC 8707 §2).
pub fn canonical_resource(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.to_string()
}

pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    tried: &mut Vec<String>,
) -> Result<Option<T>, Error> {
    let resp = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Error::http(url.as_str(), e))?;
    let status = resp.status();
    if !status.is_success() {
        tried.push(format!("{url} ({})", status.as_u16()));
        return Ok(None);
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| Error::http(url.as_str(), e))?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::InvalidMetadata {
            url: url.to_string(),
            what: format!("not the expected JSON document: {e}"),
        })
}

/// Fetches the protected resource metadata for `url`: from `hint` (a challenge's
/// `resource_metadata`) when given, else the well-known URLs; checks that it covers `url`.
/// `Ok(None)` when no candidate had a document.
pub async fn fetch_resource_metadata(
    http: &reqwest::Client,
    url: &Url,
    hint: Option<&str>,
) -> Result<(Option<ResourceMetadata>, Vec<String>), Error> {
    let mut candidates = Vec::new();
    if let Some(h) = hint {
        let h = url.join(h).map_err(|e| Error::InvalidMetadata {
            url: h.to_owned(),
            what: format!("resource_metadata is not a URL: {e}"),
        })?;
        candidates.push(h);
    }
    for c in resource_metadata_urls(url) {
        if !candidates.contains(&c) {
            candidates.push(c);
        }
    }
    let mut tried = Vec::new();
    for c in &candidates {
        if let Some(prm) = get_json::<ResourceMetadata>(http, c, &mut tried).await? {
            if !resource_covers(&prm.resource, url) {
                return Err(Error::ResourceMismatch {
                    expected: url.to_string(),
                    actual: prm.resource,
                });
            }
            return Ok((Some(prm), tried));
        }
    }
    Ok((None, tried))
}

/// Fetches an authorization server's metadata and checks its `issuer` (RFC 8414 §3.3).
pub async fn fetch_server_metadata(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ServerMetadata, Error> {
    let issuer_url = Url::parse(issuer).map_err(|e| Error::InvalidMetadata {
        url: issuer.to_owned(),
        what: format!("authorization server is not a URL: {e}"),
    })?;
    let mut tried = Vec::new();
    for c in server_metadata_urls(&issuer_url) {
        if let Some(m) = get_json::<ServerMetadata>(http, &c, &mut tried).await? {
            if m.issuer != issuer {
                return Err(Error::IssuerMismatch {
                    expected: issuer.to_owned(),
                    actual: m.issuer,
                });
            }
            return Ok(m);
        }
    }
    Err(Error::MetadataNotFound {
        document: "authorization server metadata",
        tried,
    })
}

/// MCP 2025-03-26 discovery for a server without protected resource metadata: the MCP
/// server's origin is the authorization server; its RFC 8414 metadata at the root, else the
/// default endpoints `/authorize`, `/token`, `/register`. Only with
/// [`AccessBuilder::allow_2025_03_26_discovery`](crate::AccessBuilder::allow_2025_03_26_discovery).
pub(crate) async fn legacy_server_metadata(
    http: &reqwest::Client,
    url: &Url,
) -> Result<ServerMetadata, Error> {
    let origin = url.origin().ascii_serialization();
    let meta_url = Url::parse(&format!("{origin}/.well-known/oauth-authorization-server"))
        .map_err(|e| Error::Config(e.to_string()))?;
    let mut tried = Vec::new();
    if let Some(m) = get_json::<ServerMetadata>(http, &meta_url, &mut tried).await? {
        // 2025-03-26 defines the MCP server's origin as the authorization server base URL; the
        // metadata's issuer may carry a path. There is no resource metadata naming an issuer to
        // compare against: the origin is what is trusted.
        if Url::parse(&m.issuer).map(|i| i.origin()) != Ok(url.origin()) {
            return Err(Error::IssuerMismatch {
                expected: origin,
                actual: m.issuer,
            });
        }
        return Ok(m);
    }
    Ok(ServerMetadata {
        issuer: origin.clone(),
        authorization_endpoint: Some(format!("{origin}/authorize")),
        token_endpoint: format!("{origin}/token"),
        registration_endpoint: Some(format!("{origin}/register")),
        token_endpoint_auth_methods_supported: None,
        grant_types_supported: None,
        // 2025-03-26 requires PKCE of every authorization server.
        code_challenge_methods_supported: Some(vec!["S256".into()]),
        scopes_supported: None,
        authorization_response_iss_parameter_supported: false,
        client_id_metadata_document_supported: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn resource_metadata_is_looked_up_path_first_then_at_the_root() {
        let got: Vec<String> = resource_metadata_urls(&u("https://h.example/mcp?x=1"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "https://h.example/.well-known/oauth-protected-resource/mcp",
                "https://h.example/.well-known/oauth-protected-resource"
            ]
        );
    }

    #[test]
    fn an_issuer_with_a_path_never_gets_root_metadata_urls() {
        let got: Vec<String> = server_metadata_urls(&u("https://as.example/tenant1"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn resource_metadata_covers_its_path_and_below_on_the_same_origin_only() {
        let url = u("https://h.example/mcp");
        assert!(resource_covers("https://h.example/mcp", &url));
        assert!(resource_covers("https://h.example/", &url));
        assert!(resource_covers("https://h.example", &url));
        assert!(!resource_covers("https://h.example/mc", &url));
        assert!(!resource_covers("https://evil.example/mcp", &url));
        assert!(!resource_covers("http://h.example/mcp", &url));
        assert!(!resource_covers("https://h.example/mcp/other", &url));
    }
}
