//! `authsec gateway` as a person runs it: configuration from the environment, errors with exit
//! status 2, serving, and a graceful exit on Ctrl-C (SIGINT). What the proxy does to requests
//! is tested in crates/authsec-gateway against a real MCP server.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use common::authsec;

#[test]
fn gateway_without_an_issuer_exits_2_naming_the_variable() {
    let r = authsec(
        &["gateway", "--upstream", "http://127.0.0.1:9/mcp"],
        "",
        &[("AUTHSEC_RESOURCE_URI", "http://127.0.0.1:8080/mcp")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("AUTHSEC_ISSUER"), "{}", r.stderr);
}

#[test]
fn gateway_refuses_an_upstream_that_is_not_http() {
    let r = authsec(
        &["gateway", "--upstream", "ftp://127.0.0.1/mcp"],
        "",
        &[
            ("AUTHSEC_ISSUER", "https://auth.example.com"),
            ("AUTHSEC_RESOURCE_URI", "http://127.0.0.1:8080/mcp"),
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "authsec: upstream URL ftp://127.0.0.1/mcp: the scheme must be http or https"
    );
}

#[test]
fn gateway_refuses_a_cors_origin_with_a_path() {
    let r = authsec(
        &[
            "gateway",
            "--upstream",
            "http://127.0.0.1:9/mcp",
            "--cors-allow-origin",
            "https://app.example.com/mcp",
        ],
        "",
        &[
            ("AUTHSEC_ISSUER", "https://auth.example.com"),
            ("AUTHSEC_RESOURCE_URI", "http://127.0.0.1:8080/mcp"),
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "authsec: --cors-allow-origin: CORS origin \"https://app.example.com/mcp\": expected \
         scheme://host[:port] (no path), or * for any origin"
    );
}

// Multi-threaded: the test reads the child's stderr with blocking I/O while the authorization
// server fake runs on the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_serves_until_interrupted_then_exits_0() {
    let key = TestKey::es256("cli-gw");
    let auth = FakeAuthServer::start(jwks(&[&key])).await;
    let resource = "http://127.0.0.1:8080/mcp";
    let mut child = Command::new(env!("CARGO_BIN_EXE_authsec"))
        .args([
            "gateway",
            "--upstream",
            "http://127.0.0.1:9/mcp",
            "--listen",
            "127.0.0.1:0",
            "--connect-timeout-secs",
            "1",
        ])
        .env_remove("NO_COLOR")
        .env("AUTHSEC_LOG", "info")
        .env("AUTHSEC_ISSUER", auth.issuer())
        .env("AUTHSEC_JWKS_URL", auth.jwks_url())
        .env("AUTHSEC_RESOURCE_URI", resource)
        .env("AUTHSEC_TOOL_SCOPES_JSON", r#"{"echo":["demo:read"]}"#)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn authsec gateway");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = stderr.next().expect("gateway exited").unwrap();
        if let Some(rest) = line.split(" listen=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let origin = format!("http://{addr}");
    let http = reqwest::Client::new();

    let health = http.get(format!("{origin}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let denied = http
        .post(format!("{origin}/mcp"))
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    assert_eq!(
        denied.headers()["www-authenticate"],
        "Bearer resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp\", scope=\"demo:read\""
    );
    // Allowed, and the upstream (nothing listens on port 9) is down: 502 from the gateway.
    let token = key.token(&claims(&auth.issuer(), resource, "demo:read"));
    let forwarded = http
        .post(format!("{origin}/mcp"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 502);

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{rest:#?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("shutting down: draining in-flight requests")),
        "{rest:#?}"
    );
    assert!(rest.iter().all(|l| !l.contains(&token)));
}
