//! Shared harness: `@modelcontextprotocol/server-everything` (pinned in interop/package.json)
//! in Streamable HTTP mode, a loopback authorization-server fake serving a test key, the
//! gateway in front, a minimal MCP client, and two fault-injection hops: a TCP recorder that
//! captures every byte the gateway sends upstream, and an upstream that never answers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use authsec::config::Config;
use authsec::Validator;
use authsec_gateway::{Gateway, GatewayConfig, Timeouts};
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

pub const ACCEPT: &str = "application/json, text/event-stream";
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The tool policy the tests use: `echo` and the long-running tool need `demo:read`,
/// `get-sum` needs `demo:math`; every other tool of server-everything is unmapped (denied).
pub const TOOL_SCOPES: &str = r#"{
    "echo": ["demo:read"],
    "trigger-long-running-operation": ["demo:read"],
    "toggle-simulated-logging": ["demo:read"],
    "get-sum": ["demo:math"]
}"#;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running server-everything; it exits when the test process does (its stdin closes).
pub struct Everything {
    child: Mutex<Child>,
    _stdin: ChildStdin,
    pub port: u16,
}

impl Everything {
    /// `http://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts server-everything (once per test binary). The tests that need it are `#[ignore]`d
/// with the reason, so a plain run reports them skipped; run explicitly (CI runs
/// `--run-ignored all`), a missing `node` fails them.
pub fn everything() -> &'static Everything {
    static SERVER: OnceLock<Everything> = OnceLock::new();
    SERVER.get_or_init(start_everything)
}

fn start_everything() -> Everything {
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node is not installed: server-everything cannot run (install Node.js 20+ and npm)"
    );
    let interop = repo_root().join("interop");
    let entry = interop.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if !entry.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&interop)
            .status()
            .expect("run npm ci in interop/");
        assert!(status.success(), "npm ci failed in {}", interop.display());
    }
    let preload = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/common/harness.mjs");
    let mut child = Command::new("node")
        .arg("--import")
        .arg(&preload)
        .arg(&entry)
        .arg("streamableHttp")
        .env("PORT", "0")
        .env("AUTHSEC_EXIT_ON_STDIN_EOF", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let stdin = child.stdin.take().expect("stdin");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("server-everything exited before listening")
            .expect("read stderr");
        if let Some(p) = line.strip_prefix("AUTHSEC_LISTENING ") {
            break p.trim().parse::<u16>().expect("port");
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Everything {
        child: Mutex::new(child),
        _stdin: stdin,
        port,
    }
}

/// The authorization-server fake and its signing key.
pub struct Auth {
    pub key: TestKey,
    pub server: FakeAuthServer,
}

impl Auth {
    pub async fn start() -> Self {
        let key = TestKey::es256("gw-1");
        let server = FakeAuthServer::start(jwks(&[&key])).await;
        Auth { key, server }
    }

    /// A token for `user-1` / `client-1` with `scope`, for `resource`.
    pub fn token(&self, resource: &str, scope: &str) -> String {
        self.key
            .token(&claims(&self.server.issuer(), resource, scope))
    }
}

/// A gateway serving on an ephemeral loopback port.
pub struct Running {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// `http://127.0.0.1:PORT/mcp`, also the resource URI.
    pub mcp: String,
    pub auth: Auth,
    pub validator: Validator,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub served: Option<tokio::task::JoinHandle<Result<(), authsec_gateway::GatewayError>>>,
}

impl Running {
    /// A token for this gateway's resource with `scope`.
    pub fn token(&self, scope: &str) -> String {
        self.auth.token(&self.mcp, scope)
    }

    /// Starts the graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a gateway in front of `upstream` with [`TOOL_SCOPES`].
pub async fn gateway(upstream: &str) -> Running {
    gateway_with(upstream, |g| g).await
}

/// Starts a gateway in front of `upstream`, its configuration changed by `tweak`.
pub async fn gateway_with(
    upstream: &str,
    tweak: impl FnOnce(GatewayConfig) -> GatewayConfig,
) -> Running {
    // As `authsec_gateway::run` does: the recorder first, so start-up is counted.
    let _ = authsec_gateway::prometheus::handle();
    let auth = Auth::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mcp = format!("{origin}/mcp");
    let config = Config::builder(auth.server.issuer(), &mcp)
        .jwks_url(auth.server.jwks_url())
        .tool_scopes_json(TOOL_SCOPES)
        .build()
        .unwrap();
    let validator = Validator::new(config).await.unwrap();
    let gw_config = tweak(GatewayConfig::new(upstream.parse().unwrap()).unwrap());
    let layer = authsec::http::AuthSecLayer::new(validator.clone()).unwrap();
    let gateway = Gateway::with_listener(listener, gw_config, layer).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gateway.serve(async move {
        let _ = rx.await;
    }));
    Running {
        origin,
        mcp,
        auth,
        validator,
        shutdown: Some(tx),
        served: Some(served),
    }
}

/// Short timeouts for fault-injection tests.
pub fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        response: Duration::from_millis(500),
        drain: Duration::from_secs(5),
        ..Timeouts::default()
    }
}

// --- a minimal MCP Streamable HTTP client -------------------------------------------------

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A POST with the headers the Streamable HTTP transport requires.
pub fn post(
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut rb = http()
        .post(url)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .body(body.to_string());
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(s) = session {
        rb = rb.header("mcp-session-id", s);
    }
    rb
}

pub fn initialize_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "authsec-gateway-tests", "version": "1"}
    }})
}

/// The upstream's own id inside the session id the gateway hands out (`INNER.TAGS`).
pub fn upstream_session_id(session: &str) -> &str {
    session.rsplit_once('.').expect("a sealed session id").0
}

/// The handshake; returns the session id the client sees (sealed).
pub async fn initialize(url: &str, token: Option<&str>) -> String {
    let resp = post(url, token, None, &initialize_request())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "initialize failed: {resp:?}");
    let session = resp
        .headers()
        .get("mcp-session-id")
        .expect("the upstream's Mcp-Session-Id reaches the client")
        .to_str()
        .unwrap()
        .to_owned();
    let replies = messages(resp).await;
    assert_eq!(
        replies[0]["result"]["serverInfo"]["name"],
        "mcp-servers/everything"
    );
    let ack = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let resp = post(url, token, Some(&session), &ack).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    session
}

pub fn call_request(id: impl Into<Value>, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.into(), "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

/// Every JSON-RPC message in a response (an SSE stream or a JSON body).
pub async fn messages(resp: reqwest::Response) -> Vec<Value> {
    let sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    if sse {
        let mut parser = SseParser::default();
        parser.push(text.as_bytes())
    } else {
        vec![serde_json::from_str(&text).unwrap()]
    }
}

/// Incremental SSE parser: returns the JSON `data` of every event completed by a chunk.
#[derive(Default)]
pub struct SseParser {
    buf: String,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Value> {
        self.buf
            .push_str(&String::from_utf8_lossy(chunk).replace("\r\n", "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let event: String = self.buf.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(serde_json::from_str(&data.join("\n")).unwrap());
            }
        }
        out
    }
}

/// When each message of a streamed response arrived, relative to `sent`, and in which chunk.
pub struct Arrival {
    pub message: Value,
    pub after: Duration,
    pub chunk: usize,
}

/// Reads a response chunk by chunk, timing each message as it completes.
pub async fn arrivals(mut resp: reqwest::Response, sent: Instant) -> Vec<Arrival> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    let mut chunk_no = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        for message in parser.push(&chunk) {
            out.push(Arrival {
                message,
                after: sent.elapsed(),
                chunk: chunk_no,
            });
        }
        chunk_no += 1;
    }
    out
}

/// The tool names of a `tools/list` result.
pub fn tool_names(reply: &Value) -> Vec<String> {
    let mut names: Vec<String> = reply["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tools/list result: {reply}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

// --- fault injection ------------------------------------------------------------------------

/// A loopback TCP hop between the gateway and the upstream that records every byte the
/// gateway sends (requests only), so a test can assert what the upstream received.
pub struct Recorder {
    pub addr: std::net::SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let upward = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            use tokio::io::AsyncReadExt;
                            let n = match in_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            log.lock().unwrap().extend_from_slice(&buf[..n]);
                            if out_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = out_write.shutdown().await;
                    };
                    let downward = async {
                        let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
                        let _ = in_write.shutdown().await;
                    };
                    tokio::join!(upward, downward);
                });
            }
        });
        Recorder { addr, sent }
    }

    /// `http://ADDR/mcp`
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Everything sent upstream so far, as text.
    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
    }
}

/// An upstream that accepts connections and reads requests but never answers.
pub async fn silent_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    addr
}

/// A loopback address where nothing listens.
pub async fn closed_port() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}
