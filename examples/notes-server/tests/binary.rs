//! The `notes-server` binary itself: configuration errors exit 2, and with a valid
//! configuration it serves protected MCP on `--listen`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use authsec_notes::EXAMPLE_TOOL_SCOPES_JSON;
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_notes-server");

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTHSEC_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn bad_configuration_prints_the_field_and_the_fix_and_exits_2() {
    let out = clean_env(&mut Command::new(BIN))
        .env("AUTHSEC_ISSUER", "https://auth.example.com")
        .env("AUTHSEC_RESOURCE_URI", "mcp.example.com/mcp")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notes-server: configuration error: resource_uri (AUTHSEC_RESOURCE_URI) = \"mcp.example.com/mcp\""),
        "{stderr}"
    );
    assert!(stderr.contains("Fix: use the full public URL"), "{stderr}");

    let out = clean_env(&mut Command::new(BIN)).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("issuer (AUTHSEC_ISSUER): is required"));

    let out = clean_env(&mut Command::new(BIN))
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn binary_serves_protected_mcp_on_the_listen_address() {
    let key = TestKey::es256("k1");
    let auth = FakeAuthServer::start(jwks(&[&key])).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mcp = format!("http://127.0.0.1:{port}/mcp");
    let _child = KillOnDrop(
        clean_env(&mut Command::new(BIN))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("AUTHSEC_ISSUER", auth.issuer())
            .env("AUTHSEC_RESOURCE_URI", &mcp)
            .env("AUTHSEC_TOOL_SCOPES_JSON", EXAMPLE_TOOL_SCOPES_JSON)
            .env("AUTHSEC_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let post = |token: Option<String>, body: serde_json::Value| {
        let mut rb = http
            .post(&mcp)
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };
    let mut up = false;
    for _ in 0..400 {
        if post(None, list(1)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "notes-server did not start");

    let resp = post(None, call(1, "list_notes", json!({}))).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(
            "Bearer resource_metadata=\"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp\", scope=\"notes:read\""
        )
        .as_str()
    );

    // Discovery from the issuer (RFC 8414) found the JWKS: a valid token is accepted.
    let token = key.token(&claims(&auth.issuer(), &mcp, "notes:read"));
    let resp = post(Some(token.clone()), initialize_request())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("mcp-session-id"));
    let resp = post(Some(token), call(2, "add_note", json!({"text": "x"})))
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["tool"],
        "add_note"
    );
}
