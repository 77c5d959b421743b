//! `authsec probe` against (1) a small axum MCP endpoint built on authsec's own challenge and
//! metadata functions — every check passes, and injected flaws are reported — and (2) a
//! third-party server from npm protected by the official TypeScript MCP SDK's
//! `requireBearerAuth`, whose real deviations are asserted.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use authsec::challenge::{render, ChallengeContext};
use authsec::config::Config;
use authsec::extract_bearer;
use authsec::policy::Target;
use authsec::{AuthError, ScopeMatch};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use common::{authsec, json, Run};
use serde_json::{json, Value};

const GOOD: &str = "probe-good-token";

/// What to get wrong on purpose.
#[derive(Clone, Copy, Default)]
struct Flaws {
    resource_trailing_slash: bool,
    as_issuer_differs: bool,
}

#[derive(Clone)]
struct App {
    config: Config,
    flaws: Flaws,
    base: String,
}

async fn start(flaws: Flaws) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = if flaws.resource_trailing_slash {
        format!("{base}/mcp/")
    } else {
        format!("{base}/mcp")
    };
    let config = Config::builder(base.clone(), resource)
        .tool_scopes_json(r#"{"echo":["notes:read"],"admin_reset":["notes:admin"]}"#)
        .build()
        .unwrap();
    let app = App {
        config,
        flaws,
        base: base.clone(),
    };
    let router = Router::new()
        .route("/mcp", post(mcp))
        .route("/.well-known/oauth-protected-resource/mcp", get(prm))
        .route("/.well-known/oauth-protected-resource", get(prm))
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .with_state(app);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

async fn prm(State(app): State<App>) -> Response {
    authsec::metadata::response::<String>(&app.config, &app.config.scopes_supported())
        .into_response()
}

async fn as_metadata(State(app): State<App>) -> Response {
    let issuer = if app.flaws.as_issuer_differs {
        format!("{}/", app.base)
    } else {
        app.base.clone()
    };
    axum::Json(json!({"issuer": issuer, "token_endpoint": format!("{}/token", app.base)}))
        .into_response()
}

fn deny(app: &App, err: &AuthError, tool: Option<&str>) -> Response {
    let rule = tool.and_then(|t| app.config.tool_policy.get(t));
    render(err, &ChallengeContext::for_request(&app.config, rule))
        .into_response::<String>()
        .into_response()
}

async fn mcp(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rpc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let tool = rpc["params"]["name"].as_str().map(str::to_owned);
    let token = match extract_bearer(&headers, query.as_deref(), 16384) {
        Ok(t) => t,
        Err(e) => return deny(&app, &e, tool.as_deref()),
    };
    if token != GOOD {
        return deny(&app, &AuthError::BadSignature, tool.as_deref());
    }
    let id = rpc["id"].clone();
    let result = match rpc["method"].as_str() {
        Some("initialize") => json!({
            "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
            "serverInfo": {"name": "probe-test", "version": "1"}
        }),
        Some("tools/list") => json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}},
                                              {"name": "admin_reset", "inputSchema": {"type": "object"}}]}),
        Some("tools/call") if tool.as_deref() == Some("admin_reset") => {
            let err = AuthError::InsufficientScope {
                target: Target::tool("admin_reset"),
                required: vec!["notes:admin".into()],
                scope_match: ScopeMatch::Any,
                granted: vec!["notes:read".into()],
            };
            return deny(&app, &err, tool.as_deref());
        }
        Some("tools/call") => json!({"content": [{"type": "text", "text": "ok"}]}),
        _ => return StatusCode::ACCEPTED.into_response(),
    };
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

async fn run(args: Vec<String>, stdin: String) -> Run {
    tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        authsec(&argv, &stdin, &[])
    })
    .await
    .unwrap()
}

fn check<'v>(v: &'v Value, id: &str) -> Vec<&'v Value> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == id)
        .collect()
}

fn one<'v>(v: &'v Value, id: &str) -> &'v Value {
    let c = check(v, id);
    assert_eq!(c.len(), 1, "{id}: {v:#}");
    c[0]
}

fn failed(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| {
            format!(
                "{} {}",
                c["level"].as_str().unwrap(),
                c["id"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authsec_protected_endpoint_passes_every_check() {
    let base = start(Flaws::default()).await;
    let url = format!("{base}/mcp");
    let r = run(
        [
            "probe",
            "--json",
            "--token",
            "-",
            "--forbidden-tool",
            "admin_reset",
            url.as_str(),
        ]
        .map(String::from)
        .to_vec(),
        GOOD.into(),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r);
    assert_eq!(failed(&v), Vec::<String>::new(), "{v:#}");
    assert_eq!(v["must_failures"], 0);
    assert_eq!(v["should_failures"], 0);
    for c in v["checks"].as_array().unwrap() {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["detail", "id", "level", "ok", "spec"]);
        assert_eq!(c["ok"], true, "{c}");
    }
    assert_eq!(
        one(&v, "query_token_refused")["detail"],
        format!(
            "refused: 400 with WWW-Authenticate: Bearer error=\"invalid_request\", error_description=\"invalid request: access token in the query string\", resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
        )
    );
    assert_eq!(
        one(&v, "no_error_without_token")["detail"],
        "no error code, as RFC 6750 §3.1 asks"
    );
    assert_eq!(
        one(&v, "tools_list")["detail"],
        "tools/list: 2 tool(s): echo, admin_reset"
    );
    assert_eq!(
        one(&v, "forbidden_tool_challenge")["detail"],
        "Bearer error=\"insufficient_scope\" with scope and resource_metadata"
    );
    // Both metadata URLs were checked for an identical resource.
    assert_eq!(check(&v, "prm_resource_identical").len(), 2);
    assert!(!r.stdout.contains(GOOD) && !r.stderr.contains(GOOD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_with_a_trailing_slash_and_a_different_issuer_fail_their_musts() {
    let base = start(Flaws {
        resource_trailing_slash: true,
        as_issuer_differs: true,
    })
    .await;
    let url = format!("{base}/mcp");
    let r = run(
        ["probe", "--json", url.as_str()].map(String::from).to_vec(),
        String::new(),
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = json(&r);
    let resource = check(&v, "prm_resource_identical");
    assert!(resource.iter().all(|c| c["ok"] == false));
    assert!(resource[0]["detail"].as_str().unwrap().ends_with(&format!(
        "resource \"{base}/mcp/\" differs from \"{base}/mcp\" by a trailing slash"
    )));
    let issuer = one(&v, "as_metadata_issuer");
    assert_eq!(issuer["ok"], false);
    assert_eq!(
        issuer["detail"],
        format!(
            "{base}/.well-known/oauth-authorization-server: issuer \"{base}/\" is not \"{base}\""
        )
    );
    assert_eq!(one(&v, "initialize")["ok"], Value::Null);
    assert!(v["must_failures"].as_u64().unwrap() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_human_report_marks_musts_and_shoulds() {
    let base = start(Flaws {
        resource_trailing_slash: true,
        as_issuer_differs: false,
    })
    .await;
    let url = format!("{base}/mcp");
    let r = run(
        ["probe", url.as_str()].map(String::from).to_vec(),
        String::new(),
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.starts_with(&format!("probe {url}\n\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("✗  MUST    prm_resource_identical")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("✓  MUST    unauthenticated_401")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("-  MUST    initialize")),
        "{}",
        r.stdout
    );
    // The advertised metadata URL (…/mcp/) is not served, and the path-suffixed document names
    // another resource (MUST); so does the root document (SHOULD: it is a fallback).
    assert!(
        r.stdout
            .ends_with("\n2 MUST failure(s), 1 SHOULD deviation(s)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_url_that_is_not_absolute_is_a_usage_error() {
    let r = authsec(&["probe", "mcp.example.com/mcp"], "", &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not an absolute URL"), "{}", r.stderr);
}

// --- the official TypeScript MCP SDK's requireBearerAuth ----------------------------------

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the peer; its test is `#[ignore]`d with the reason and fails when run without node.
fn start_ts_peer() -> (Peer, u16) {
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node is not installed: the TypeScript SDK peer cannot run"
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ts-bearer");
    if !dir.join("node_modules").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("run npm ci");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().expect("stdout");
    let peer = Peer(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read port");
    let port = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected peer output {line:?}"));
    (peer, port)
}

#[ignore = "needs Node.js and npm (the TypeScript SDK peer): cargo nextest run --run-ignored all"]
#[test]
fn the_typescript_sdk_bearer_middleware_has_these_deviations() {
    let (_peer, port) = start_ts_peer();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let r = authsec(
        &[
            "probe",
            "--json",
            "--token",
            "-",
            "--forbidden-tool",
            "admin_reset",
            &url,
        ],
        "peer-good-token",
        &[],
    );
    let v = json(&r);
    // No MUST is broken...
    assert_eq!(r.code, 0, "{v:#}");
    assert_eq!(v["must_failures"], 0);
    // ...but these are, and nothing else:
    assert_eq!(
        failed(&v),
        [
            "SHOULD no_error_without_token",
            "MAY prm_root",
            "SHOULD forbidden_tool_403",
            "SHOULD forbidden_tool_challenge"
        ],
        "{v:#}"
    );
    // requireBearerAuth answers a request without a token with error="invalid_token".
    assert_eq!(
        one(&v, "no_error_without_token")["detail"],
        "the challenge carries error=\"invalid_token\", error_description=\"Missing Authorization header\" although no token was sent"
    );
    // mcpAuthMetadataRouter serves only the path-suffixed metadata.
    assert_eq!(
        one(&v, "prm_root")["detail"],
        format!("GET http://127.0.0.1:{port}/.well-known/oauth-protected-resource: HTTP 404")
    );
    // The SDK has no per-tool authorization: a forbidden tool is a 200 tool error, no step-up.
    let forbidden = one(&v, "forbidden_tool_403")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        forbidden.starts_with("tools/call admin_reset got 200 without WWW-Authenticate"),
        "{forbidden}"
    );
    assert_eq!(
        one(&v, "forbidden_tool_challenge")["detail"],
        "no Bearer challenge: a client cannot step up"
    );
    // A token in the query string is ignored, not read.
    assert_eq!(
        one(&v, "query_token_refused")["detail"],
        "ignored: answered like a request without a token (401)"
    );
    assert_eq!(
        one(&v, "tools_list")["detail"],
        "tools/list: 2 tool(s): echo, admin_reset"
    );
}
