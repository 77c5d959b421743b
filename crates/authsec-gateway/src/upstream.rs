//! The upstream half of the gateway: forwards one request to the MCP server behind it,
//! streaming both bodies, with the caller's identity in headers instead of their token.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use authsec::http::BoxError;
use authsec::Principal;
use axum::body::Body;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
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
    /// Until the upstream's response headers arrive. The body may then stream for as long as
    /// the upstream keeps it open (an SSE stream, a long-running tool).
    pub response: Duration,
    /// On shutdown, how long in-flight responses (streams included) may run before the
    /// gateway stops waiting for them.
    pub drain: Duration,
    /// How long an idle upstream connection is kept for reuse. Below the 5 s keep-alive
    /// timeout of Node's and uvicorn's HTTP servers, so the gateway does not send a request on
    /// a connection the upstream is closing at that moment (which would fail the request).
    pub pool_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(60),
            drain: Duration::from_secs(30),
            pool_idle: Duration::from_secs(4),
        }
    }
}

/// Forwards requests to one upstream MCP endpoint. Cheap to clone (the connection pool is
/// shared). As a tower [`Service`](tower_service::Service) it never fails: an unreachable or
/// slow upstream becomes a 502 or 504 response with a JSON-RPC error body.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// For `https` upstreams (rustls), and the gateway's own session (`list_inventory`).
    client: reqwest::Client,
    /// For plain `http` upstreams (the usual case: a server beside the gateway): hyper's own
    /// pooled client, without reqwest's URL, redirect and header layers (≈ 8 % less CPU per
    /// proxied request).
    plain: PlainClient,
    url: Url,
    identity: Arc<IdentityHeaders>,
    timeouts: Timeouts,
}

type PlainClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Body>;

/// A request body on its way upstream.
enum Outgoing {
    /// In memory (behind the authsec layer, always): sent with its length.
    Buffered(Bytes),
    /// Anything else: streamed through.
    Streaming(Body),
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), which a proxy never forwards.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::PROXY_AUTHENTICATE
        || name == header::PROXY_AUTHORIZATION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
}

/// Every header with this prefix is the gateway's to set: a client's are dropped.
const IDENTITY_PREFIX: &str = "x-authsec-";

impl IdentityHeaders {
    /// Whether a client header would reach the upstream as an identity header: its name,
    /// lowercased with `_` read as `-` (WSGI and CGI servers read `X_Authsec_Subject` and
    /// `X-Authsec-Subject` into the same variable), starts with `x-authsec-` or is one of the
    /// configured names.
    fn claims_identity(&self, name: &HeaderName) -> bool {
        let same = |a: &str, b: &str| {
            a.len() == b.len()
                && a.bytes()
                    .zip(b.bytes())
                    .all(|(x, y)| normalize(x) == normalize(y))
        };
        let name = name.as_str();
        name.get(..IDENTITY_PREFIX.len())
            .is_some_and(|prefix| same(prefix, IDENTITY_PREFIX))
            || [&self.subject, &self.client_id, &self.scopes]
                .iter()
                .any(|configured| same(name, configured.as_str()))
    }
}

/// A header-name byte as WSGI/CGI read it: `_` and `-` alike (names are already lowercase).
fn normalize(b: u8) -> u8 {
    if b == b'_' {
        b'-'
    } else {
        b
    }
}

/// The header names a `Connection` header lists: hop-by-hop too (RFC 9110 §7.6.1).
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .collect()
}

impl Upstream {
    /// An upstream at `url` (the MCP endpoint, e.g. `http://127.0.0.1:3001/mcp`).
    pub fn new(url: Url, identity: IdentityHeaders, timeouts: Timeouts) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(timeouts.pool_idle)
            // Straight to the upstream: an HTTP(S)_PROXY in the environment must not receive
            // the identity headers.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_connect_timeout(Some(timeouts.connect));
        connector.set_nodelay(true);
        let plain =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(timeouts.pool_idle)
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector);
        Upstream {
            client,
            plain,
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
    /// `Content-Length` (the proxy frames the body itself), `Accept-Encoding` (a compressed
    /// `tools/list` result could not be filtered), `Authorization` (the MCP spec forbids token
    /// passthrough) and every identity header the client sent itself (any `X-Authsec-*` and the
    /// configured names, with `_` read as `-`); plus the identity of the validated principal.
    pub fn upstream_headers(
        &self,
        incoming: &HeaderMap,
        principal: Option<&Principal>,
    ) -> HeaderMap {
        let id = &self.identity;
        let listed = connection_listed(incoming);
        let mut out = HeaderMap::with_capacity(incoming.len() + 3);
        for (name, value) in incoming {
            let strip = is_hop_by_hop(name)
                || name == header::HOST
                || name == header::AUTHORIZATION
                || name == header::CONTENT_LENGTH
                // The layer filters tools/list results: it must read them uncompressed.
                || name == header::ACCEPT_ENCODING
                || id.claims_identity(name)
                || listed.iter().any(|l| l == name.as_str());
            if !strip {
                out.append(name.clone(), value.clone());
            }
        }
        if let Some(p) = principal {
            let mut put = |name: &HeaderName, value: Option<&str>| {
                // `from_bytes` keeps UTF-8 subjects intact and refuses control characters (a
                // claim cannot inject a header); such a value is left out.
                if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
                    out.insert(name.clone(), v);
                }
            };
            put(&id.subject, p.subject());
            put(&id.client_id, p.client_id());
            put(&id.scopes, Some(&p.scopes().join(" ")));
        }
        out
    }

    /// The headers sent back to the client: the upstream's, minus hop-by-hop headers.
    fn downstream_headers(upstream: &HeaderMap) -> HeaderMap {
        let listed = connection_listed(upstream);
        let mut out = HeaderMap::with_capacity(upstream.len());
        for (name, value) in upstream {
            if !is_hop_by_hop(name) && !listed.iter().any(|l| l == name.as_str()) {
                out.append(name.clone(), value.clone());
            }
        }
        out
    }

    /// Forwards a request and streams the response back as it arrives.
    pub async fn forward<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        let mut url = self.url.clone();
        if let Some(query) = parts.uri.query() {
            url.set_query(Some(query));
        }
        let headers = self.upstream_headers(&parts.headers, parts.extensions.get::<Principal>());
        // Behind the authsec layer the body is already in memory: send it with its length
        // (no chunked framing). Anything else streams through.
        let body = if body.size_hint().exact().is_some() {
            match body.collect().await {
                Ok(collected) => Outgoing::Buffered(collected.to_bytes()),
                Err(_) => {
                    return rpc_error(StatusCode::BAD_REQUEST, "unreadable request body", None)
                }
            }
        } else {
            Outgoing::Streaming(Body::new(body))
        };
        let buffered = match &body {
            Outgoing::Buffered(bytes) => Some(bytes.clone()),
            Outgoing::Streaming(_) => None,
        };
        let request_id = || buffered.as_deref().and_then(jsonrpc_id);
        let send = self.send(parts.method, url, headers, body);
        let resp = match tokio::time::timeout(self.timeouts.response, send).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(target: "authsec::gateway", upstream = %self.url, error = %ErrorChain(&*e), "upstream unreachable");
                metrics::counter!(crate::prometheus::UPSTREAM_ERRORS, "kind" => "unreachable")
                    .increment(1);
                return rpc_error(
                    StatusCode::BAD_GATEWAY,
                    "upstream MCP server unreachable",
                    request_id(),
                );
            }
            Err(_) => {
                tracing::warn!(target: "authsec::gateway", upstream = %self.url, timeout = ?self.timeouts.response, "upstream response timed out");
                metrics::counter!(crate::prometheus::UPSTREAM_ERRORS, "kind" => "timeout")
                    .increment(1);
                return rpc_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream MCP server timed out",
                    request_id(),
                );
            }
        };
        let (mut parts, body) = resp.into_parts();
        parts.headers = Self::downstream_headers(&parts.headers);
        Response::from_parts(parts, body)
    }

    /// Sends one request upstream; the response body streams as it arrives.
    async fn send(
        &self,
        method: http::Method,
        url: Url,
        headers: HeaderMap,
        body: Outgoing,
    ) -> Result<Response<Body>, BoxError> {
        if url.scheme() == "http" {
            let body = match body {
                Outgoing::Buffered(bytes) => Body::from(bytes),
                Outgoing::Streaming(body) => body,
            };
            let mut req = Request::new(body);
            *req.method_mut() = method;
            *req.uri_mut() = url.as_str().parse()?;
            *req.headers_mut() = headers;
            Ok(self.plain.request(req).await?.map(Body::new))
        } else {
            let resp = self
                .client
                .request(method, url)
                .headers(headers)
                .body(match body {
                    Outgoing::Buffered(bytes) => reqwest::Body::from(bytes),
                    Outgoing::Streaming(body) => {
                        reqwest::Body::wrap_stream(http_body_util::BodyDataStream::new(body))
                    }
                })
                .send()
                .await?;
            Ok(http::Response::<reqwest::Body>::from(resp).map(Body::new))
        }
    }
}

/// The MCP protocol version the gateway offers when it opens its own session upstream (to
/// read the tool list); the upstream answers with the version it speaks.
const PROTOCOL_VERSION: &str = "2025-06-18";

/// At most this many `tools/list` pages are read.
const MAX_TOOL_PAGES: usize = 100;

/// What the upstream's lists returned, as MCP JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamInventory {
    /// `tools/list` entries.
    pub tools: Vec<Value>,
    /// `prompts/list` entries.
    pub prompts: Vec<Value>,
    /// `resources/list` entries (`uri`) and `resources/templates/list` entries (`uriTemplate`).
    pub resources: Vec<Value>,
}

impl Upstream {
    /// The upstream's inventory, as its lists return them: the gateway opens an MCP session of
    /// its own (`initialize`, `notifications/initialized`), reads every page of `tools/list`,
    /// and of `prompts/list`, `resources/list` and `resources/templates/list` when the upstream
    /// declares prompts or resources, then ends the session (`DELETE`, when the upstream issued
    /// one). No identity headers are sent: the upstream sees a client without a principal. A
    /// failed `tools/list` is the error; a prompt or resource list the upstream does not
    /// implement (an error answer) contributes nothing.
    pub async fn list_inventory(&self) -> Result<UpstreamInventory, String> {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "authsec-gateway", "version": env!("CARGO_PKG_VERSION")},
        }});
        let (reply, session) = self.rpc(&init, None, PROTOCOL_VERSION).await?;
        let version = reply["result"]["protocolVersion"]
            .as_str()
            .unwrap_or(PROTOCOL_VERSION)
            .to_owned();
        let capabilities = &reply["result"]["capabilities"];
        let session = session.as_deref();
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.rpc(&initialized, session, &version).await?;
        let tools = self
            .list_all("tools/list", "tools", session, &version)
            .await;
        let mut inventory = UpstreamInventory::default();
        if tools.is_ok() {
            let optional = [
                ("prompts", "prompts/list", "prompts"),
                ("resources", "resources/list", "resources"),
                ("resources", "resources/templates/list", "resourceTemplates"),
            ];
            for (capability, method, member) in optional {
                if capabilities.get(capability).is_none() {
                    continue;
                }
                let items = match self.list_all(method, member, session, &version).await {
                    Ok(items) => items,
                    Err(e) => {
                        tracing::debug!(target: "authsec::gateway", error = %e, "{method} contributes nothing to the manifest");
                        Vec::new()
                    }
                };
                match capability {
                    "prompts" => inventory.prompts.extend(items),
                    _ => inventory.resources.extend(items),
                }
            }
        }
        if let Some(id) = session {
            let _ = self
                .client
                .delete(self.url.clone())
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", &version)
                .timeout(self.timeouts.response)
                .send()
                .await;
        }
        inventory.tools = tools?;
        Ok(inventory)
    }

    /// Every page of a list method's `member` array.
    async fn list_all(
        &self,
        method: &str,
        member: &str,
        session: Option<&str>,
        version: &str,
    ) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 1..=MAX_TOOL_PAGES {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let list = json!({"jsonrpc": "2.0", "id": page, "method": method, "params": params});
            let (reply, _) = self.rpc(&list, session, version).await?;
            let result = &reply["result"];
            let Some(page_items) = result[member].as_array() else {
                return Err(format!(
                    "{method} answered without a {member} array: {reply}"
                ));
            };
            items.extend(page_items.iter().cloned());
            cursor = result["nextCursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// Sends one JSON-RPC message of the gateway's own session; returns the reply to a request
    /// (`Null` for a notification) and the session id the upstream issued, if any.
    async fn rpc(
        &self,
        message: &Value,
        session: Option<&str>,
        version: &str,
    ) -> Result<(Value, Option<String>), String> {
        let method = message["method"].as_str().unwrap_or("?");
        let mut request = self
            .client
            .post(self.url.clone())
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header(header::CONTENT_TYPE, "application/json")
            .header("mcp-protocol-version", version)
            .timeout(self.timeouts.response)
            .body(message.to_string());
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        let resp = request
            .send()
            .await
            .map_err(|e| format!("{method}: {}", ErrorChain(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("{method}: the upstream answered {status}"));
        }
        let session = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let sse = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let Some(id) = message.get("id") else {
            return Ok((Value::Null, session));
        };
        let body = resp
            .text()
            .await
            .map_err(|e| format!("{method}: {}", ErrorChain(&e)))?;
        let replies: Vec<Value> = if sse {
            sse_data(&body)
                .iter()
                .filter_map(|d| serde_json::from_str(d).ok())
                .collect()
        } else {
            serde_json::from_str(&body).into_iter().collect()
        };
        let reply = replies
            .into_iter()
            .find(|r| r.get("id") == Some(id))
            .ok_or_else(|| format!("{method}: no reply with id {id} in the upstream's answer"))?;
        if let Some(error) = reply.get("error") {
            return Err(format!(
                "{method}: the upstream answered with an error: {error}"
            ));
        }
        Ok((reply, session))
    }
}

/// The `data` of each event of an SSE stream (multi-line data joined with `\n`).
fn sse_data(body: &str) -> Vec<String> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// An error and its sources, `: `-separated (reqwest's own message omits the cause).
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

/// The `id` of a single JSON-RPC request (`None` for a batch, a notification or non-JSON), so
/// a gateway error answers the request it failed.
fn jsonrpc_id(body: &[u8]) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<Value>,
    }
    serde_json::from_slice::<Id>(body).ok().and_then(|m| m.id)
}

impl<B> tower_service::Service<Request<B>> for Upstream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.forward(req).await) })
    }
}

/// A JSON-RPC error response (the body MCP clients can show) with an HTTP status; `id` is the
/// failed request's, or `null`.
pub fn rpc_error(status: StatusCode, message: &str, id: Option<Value>) -> Response<Body> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(Value::Null),
        "error": {"code": -32603, "message": message},
    });
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
        h.append(header::CONNECTION, HeaderValue::from_static("X-Hop"));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        h.insert("x-hop", HeaderValue::from_static("1"));
        let out = up.upstream_headers(&h, None);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out["mcp-session-id"], "s1");
        assert_eq!(out["mcp-protocol-version"], "2025-11-25");
    }

    #[test]
    fn identity_headers_under_another_spelling_are_stripped() {
        let identity = IdentityHeaders {
            subject: HeaderName::from_static("x-user"),
            ..IdentityHeaders::default()
        };
        let up = Upstream::new(
            Url::parse("http://127.0.0.1:9/mcp").unwrap(),
            identity,
            Timeouts::default(),
        );
        let mut h = HeaderMap::new();
        for spoof in [
            "x_authsec_subject",
            "x_authsec-scopes",
            "x-authsec_client_id",
            "x_authsec_anything",
            "x_user",
            "x-user",
        ] {
            h.insert(
                HeaderName::from_bytes(spoof.as_bytes()).unwrap(),
                HeaderValue::from_static("admin"),
            );
        }
        h.insert("x_other", HeaderValue::from_static("kept"));
        h.insert("x-authsecx", HeaderValue::from_static("kept"));
        let out = up.upstream_headers(&h, None);
        assert_eq!(
            out.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["x_other", "x-authsecx"],
            "{out:?}"
        );
    }

    #[test]
    fn sse_data_joins_multi_line_data_and_accepts_crlf() {
        let body =
            "event: message\r\nid: 1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: comment\n\ndata:2\n\n";
        assert_eq!(sse_data(body), ["{\"a\":\n1}", "2"]);
    }

    #[test]
    fn hop_by_hop_headers_of_the_response_are_not_sent_back() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-upstream-hop"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-upstream-hop", HeaderValue::from_static("1"));
        h.insert("mcp-session-id", HeaderValue::from_static("s1"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        let out = Upstream::downstream_headers(&h);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out["mcp-session-id"], "s1");
        assert_eq!(out[header::CONTENT_TYPE], "text/event-stream");
    }
}
