//! RFC 9728 protected resource metadata: the document and where it is served.

use serde_json::{json, Value};

use crate::config::Config;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The well-known path for a resource (RFC 9728 §3.1): path-suffixed
/// (`/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`), or the root form for
/// an origin.
pub fn well_known_path(resource_uri: &str) -> String {
    let path = crate::uri::parse_absolute(resource_uri)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    if path.is_empty() || path == "/" {
        WELL_KNOWN.to_owned()
    } else {
        format!("{WELL_KNOWN}{path}")
    }
}

/// The absolute URL of the metadata document, as named by `resource_metadata` in challenges.
pub fn metadata_url(resource_uri: &str) -> String {
    match crate::uri::parse_absolute(resource_uri) {
        Ok(u) => format!(
            "{}{}",
            crate::uri::origin(&u),
            well_known_path(resource_uri)
        ),
        Err(_) => String::new(),
    }
}

/// The metadata document. `resource` is echoed byte for byte; `scopes_supported` is
/// `scopes` (the live policy's, or the configured ones).
pub fn document(config: &Config, scopes: &[String]) -> Value {
    let mut doc = json!({
        "resource": config.resource_uri,
        "authorization_servers": config.authorization_servers,
        "bearer_methods_supported": ["header"],
    });
    if !scopes.is_empty() {
        doc["scopes_supported"] = json!(scopes);
    }
    if let Some(name) = &config.resource_name {
        doc["resource_name"] = json!(name);
    }
    if let Some(docs) = &config.resource_documentation {
        doc["resource_documentation"] = json!(docs);
    }
    doc
}

/// The HTTP response for the metadata route: JSON, `Cache-Control: max-age=300`, open CORS
/// (browser-based MCP clients fetch it cross-origin).
pub fn response<B: From<String>>(config: &Config, scopes: &[String]) -> http::Response<B> {
    let body = document(config, scopes).to_string();
    let mut resp = http::Response::new(B::from(body));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("max-age=300"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::HeaderValue::from_static("*"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        http::HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        http::HeaderValue::from_static("*"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_suffixed_form_for_a_path_and_root_form_for_an_origin() {
        assert_eq!(
            well_known_path("https://h.example/mcp"),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known_path("https://h.example/a/b/"),
            "/.well-known/oauth-protected-resource/a/b/"
        );
        assert_eq!(
            well_known_path("https://h.example"),
            "/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            well_known_path("https://h.example/"),
            "/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("https://h.example:8443/mcp"),
            "https://h.example:8443/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn document_echoes_resource_byte_for_byte() {
        let c = Config::builder("https://a.example", "https://h.example/mcp/")
            .resource_name("Notes")
            .build()
            .unwrap();
        let d = document(&c, &["notes:read".into()]);
        assert_eq!(
            d,
            json!({
                "resource": "https://h.example/mcp/",
                "authorization_servers": ["https://a.example"],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["notes:read"],
                "resource_name": "Notes"
            })
        );
        let r: http::Response<String> = response(&c, &[]);
        assert_eq!(r.headers()["cache-control"], "max-age=300");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
    }
}
