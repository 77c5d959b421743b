//! The upstream half of the gateway: forwards one request to the MCP server behind it,
//! streaming both bodies, with the caller's identity in headers instead of their token.

use std::sync::Arc;
use std::time::Duration;

use authsec::Principal;
use axum::body::Body;
use futures_util::TryStreamExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use serde_json::json;
use url::Url;

/// Names of the headers that carry the caller's identity upstream.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// The token's `sub` (default `x-authsec-subject`).
    pub subject: HeaderName,
    /// The token's `client_id` (default `x-authsec-client-id`).
    pub client_id: HeaderName,
    /// Granted scopes, space-separated (default `x-authsec-scopes`).
    pub scopes: HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            subject: HeaderName::from_static("x-authsec-subject"),
            client_id: HeaderName::from_static("x-authsec-client-id"),
            scopes: HeaderName::from_static("x-authsec-scopes"),
        }
    }
}

/// Upstream timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP/TLS connect.
    pub connect: Duration,
    /// Until the upstream's response headers arrive. Streams may then run indefinitely.
    pub response: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(60),
        }
    }
}

/// Forwards requests to one upstream MCP endpoint.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: reqwest::Client,
    url: Url,
    identity: Arc<IdentityHeaders>,
    timeouts: Timeouts,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and headers the proxy sets itself.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

impl Upstream {
    /// An upstream at `url` (the MCP endpoint, e.g. `http://127.0.0.1:3001/mcp`).
    pub fn new(url: Url, identity: IdentityHeaders, timeouts: Timeouts) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Upstream {
            client,
            url,
            identity: Arc::new(identity),
            timeouts,
        }
    }

    /// The upstream URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Builds the headers sent upstream: the client's, minus hop-by-hop headers, `Host`,
    /// `Authorization` (the MCP spec forbids token passthrough) and any identity headers the
    /// client sent itself; plus the identity of the validated principal.
    pub fn upstream_headers(
        &self,
        incoming: &HeaderMap,
        principal: Option<&Principal>,
    ) -> HeaderMap {
        let id = &self.identity;
        let mut out = HeaderMap::with_capacity(incoming.len() + 3);
        for (name, value) in incoming {
            let strip = HOP_BY_HOP.contains(name)
                || name == header::HOST
                || name == header::AUTHORIZATION
                || name == header::CONTENT_LENGTH
                || *name == id.subject
                || *name == id.client_id
                || *name == id.scopes;
            if !strip {
                out.append(name.clone(), value.clone());
            }
        }
        if let Some(p) = principal {
            let mut put = |name: &HeaderName, value: Option<&str>| {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                    out.insert(name.clone(), v);
                }
            };
            put(&id.subject, p.subject());
            put(&id.client_id, p.client_id());
            put(&id.scopes, Some(&p.scopes().join(" ")));
        }
        out
    }

    /// Forwards a request and streams the response back.
    pub async fn forward(&self, req: Request<Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let mut url = self.url.clone();
        url.set_query(parts.uri.query());
        let headers = self.upstream_headers(&parts.headers, parts.extensions.get::<Principal>());
        let body = reqwest::Body::wrap_stream(body.into_data_stream());
        let send = self
            .client
            .request(parts.method, url)
            .headers(headers)
            .body(body)
            .send();
        let resp = match tokio::time::timeout(self.timeouts.response, send).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(target: "authsec::gateway", upstream = %self.url, error = %e, "upstream unreachable");
                return rpc_error(StatusCode::BAD_GATEWAY, "upstream MCP server unreachable");
            }
            Err(_) => {
                tracing::warn!(target: "authsec::gateway", upstream = %self.url, "upstream response timed out");
                return rpc_error(StatusCode::GATEWAY_TIMEOUT, "upstream MCP server timed out");
            }
        };
        let mut out = Response::builder().status(resp.status());
        if let Some(h) = out.headers_mut() {
            for (name, value) in resp.headers() {
                if !HOP_BY_HOP.contains(name) && name != header::CONTENT_LENGTH {
                    h.append(name.clone(), value.clone());
                }
            }
            if let Some(len) = resp.headers().get(header::CONTENT_LENGTH) {
                h.insert(header::CONTENT_LENGTH, len.clone());
            }
        }
        let stream = resp.bytes_stream().map_err(std::io::Error::other);
        out.body(Body::from_stream(stream))
            .unwrap_or_else(|_| rpc_error(StatusCode::BAD_GATEWAY, "invalid upstream response"))
    }
}

/// A JSON-RPC error response (the body MCP clients can show) with an HTTP status.
pub fn rpc_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32603, "message": message}});
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_hop_by_hop_and_spoofed_identity_headers_are_stripped() {
        let up = Upstream::new(
            Url::parse("http://127.0.0.1:9/mcp").unwrap(),
            IdentityHeaders::default(),
            Timeouts::default(),
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        h.insert("x-authsec-subject", HeaderValue::from_static("admin"));
        h.insert("x-authsec-scopes", HeaderValue::from_static("everything"));
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert("mcp-session-id", HeaderValue::from_static("s1"));
        h.insert(
            "mcp-protocol-version",
            HeaderValue::from_static("2025-11-25"),
        );
        let out = up.upstream_headers(&h, None);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out["mcp-session-id"], "s1");
        assert_eq!(out["mcp-protocol-version"], "2025-11-25");
    }
}
