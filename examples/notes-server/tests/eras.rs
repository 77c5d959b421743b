//! Both MCP protocol eras through the same layer: 2025-era requests (sessions, no `_meta`
//! revision) and 2026-07-28 stateless requests (revision in the `MCP-Protocol-Version` header
//! and in `_meta`).

mod common;

use authsec::config::ChallengeScope;
use authsec_notes::Transport;
use common::*;
use serde_json::{json, Value};

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 request: the revision in `_meta` (and, when `header`, in the header too).
fn modern(h: &Harness, token: &str, mut body: Value, header: bool) -> reqwest::RequestBuilder {
    body["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let mut rb = h
        .post(Some(token), None)
        .header("mcp-method", body["method"].as_str().unwrap());
    if let Some(name) = body["params"]["name"].as_str() {
        rb = rb.header("mcp-name", name);
    }
    if header {
        rb = rb.header("mcp-protocol-version", MODERN);
    }
    rb.body(body.to_string())
}

fn scope_of(www: &Option<String>) -> &str {
    let www = www.as_deref().expect("a challenge");
    let start = www.find("scope=\"").expect("a scope") + "scope=\"".len();
    let end = start + www[start..].find('"').unwrap();
    &www[start..end]
}

#[tokio::test]
async fn a_403_names_only_the_operations_scopes_for_2026_clients_and_the_union_for_older_ones() {
    let h = Harness::start_with(Transport::StatelessJson, |b| b).await;
    let token = h.token("notes:read");
    let add = call(1, "add_note", json!({"text": "x"}));

    for header in [true, false] {
        let (status, www, body) = denial(
            modern(&h, &token, add.clone(), header)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(scope_of(&www), "notes:write", "header {header}");
        assert_eq!(body["required_scopes"], json!(["notes:write"]));
        assert_eq!(body["granted_scopes"], json!(["notes:read"]));
    }

    // 2025-era requests (the header names an older revision, or nothing does): the union.
    for version in [Some("2025-11-25"), Some("2025-06-18"), None] {
        let mut rb = h.post(Some(&token), None).body(add.to_string());
        if let Some(v) = version {
            rb = rb.header("mcp-protocol-version", v);
        }
        let (status, www, _) = denial(rb.send().await.unwrap()).await;
        assert_eq!(status, 403);
        assert_eq!(scope_of(&www), "notes:write notes:read", "{version:?}");
    }
}

#[tokio::test]
async fn the_challenge_scope_setting_overrides_the_protocol_rule() {
    let h = Harness::start_with(Transport::StatelessJson, |b| {
        b.challenge_scope(ChallengeScope::RequiredAndGranted)
    })
    .await;
    let token = h.token("notes:read");
    let (status, www, _) = denial(
        modern(&h, &token, call(1, "add_note", json!({"text": "x"})), true)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, scope_of(&www)), (403, "notes:write notes:read"));
}

#[tokio::test]
async fn filtered_lists_are_private_in_both_eras() {
    // 2026-07-28: stateless.
    let h = Harness::start_with(Transport::StatelessJson, |b| b).await;
    let token = h.token("notes:read");
    let resp = modern(&h, &token, list(1), true).send().await.unwrap();
    let status = resp.status();
    if status != 200 {
        panic!("{status}: {}", resp.text().await.unwrap());
    }
    let m = messages(resp).await;
    assert_eq!(tool_names(&m[0]), ["list_notes", "server_time", "whoami"]);
    assert_eq!(m[0]["result"]["cacheScope"], "private", "{}", m[0]);

    // 2025-era: a session.
    let h = Harness::start().await;
    let session = h.initialize(Some(&token_for(&h))).await;
    let resp = h.send(Some(&token_for(&h)), Some(&session), &list(2)).await;
    let m = messages(resp).await;
    assert_eq!(tool_names(&m[0]), ["list_notes", "server_time", "whoami"]);
    assert_eq!(m[0]["result"]["cacheScope"], "private");
}

fn token_for(h: &Harness) -> String {
    h.token("notes:read")
}

#[tokio::test]
async fn an_mcp_method_header_that_disagrees_with_the_body_is_400() {
    let h = Harness::start_with(Transport::StatelessJson, |b| b).await;
    let token = h.token("notes:admin");
    let mut body = call(1, "delete_note", json!({"id": 1}));
    body["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
                                     "io.modelcontextprotocol/clientCapabilities": {}});
    let resp = h
        .post(Some(&token), None)
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/list")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, www, b) = denial(resp).await;
    assert_eq!(status, 400);
    let challenge = format!(
        "Bearer error=\"invalid_request\", error_description=\"invalid request: Mcp-Method header does not match the request body\", resource_metadata=\"{}\"",
        h.metadata_url()
    );
    assert_eq!(www.as_deref(), Some(challenge.as_str()));
    // A 2026-07-28 request: the revision's HeaderMismatch error, with the denial's detail.
    assert_eq!(
        b,
        json!({"jsonrpc": "2.0", "id": 1, "error": {
            "code": -32020,
            "message": "invalid request: Mcp-Method header does not match the request body",
            "data": {"_meta": {"authsec/denial": {
                "error": "invalid_request",
                "error_description": "invalid request: Mcp-Method header does not match the request body",
                "reason": "mcp_method_mismatch",
                "status": 400,
                "www_authenticate": challenge,
            }}},
        }})
    );
}

#[tokio::test]
async fn a_2025_request_whose_mcp_name_disagrees_gets_the_oauth_style_400() {
    let h = Harness::start_with(Transport::StatelessJson, |b| b).await;
    let token = h.token("notes:admin");
    let resp = h
        .post(Some(&token), None)
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-name", "list_notes")
        .body(call(1, "delete_note", json!({"id": 1})).to_string())
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(resp).await;
    assert_eq!(status, 400);
    assert_eq!(
        b,
        json!({"error": "invalid_request",
               "error_description": "invalid request: Mcp-Name header does not match the request body",
               "reason": "mcp_name_mismatch"})
    );
}
