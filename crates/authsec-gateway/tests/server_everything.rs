//! The gateway in front of a real third-party MCP server written in TypeScript:
//! `@modelcontextprotocol/server-everything` (pinned in interop/package.json) in Streamable
//! HTTP mode, which knows nothing about authsec. Tokens come from a loopback authorization
//! server fake; the tool policy is [`common::TOOL_SCOPES`].
//!
//! Skipped, with a message, only when `node` is not installed.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// server-everything's own tool list, asked directly (no gateway, no token).
async fn direct_tool_names(server: &Everything) -> Vec<String> {
    let session = initialize(&server.url(), None).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let resp = post(&server.url(), None, Some(&session), &list)
        .send()
        .await
        .unwrap();
    tool_names(&messages(resp).await[0])
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn tools_list_through_the_gateway_has_only_the_tools_the_token_may_call() {
    let server = everything();
    let direct = direct_tool_names(server).await;
    for tool in [
        "echo",
        "get-sum",
        "get-env",
        "trigger-long-running-operation",
    ] {
        assert!(
            direct.contains(&tool.to_owned()),
            "{tool} missing from {direct:?}"
        );
    }

    let gw = gateway(&server.url()).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});

    let reader = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&reader)).await;
    let resp = post(&gw.mcp, Some(&reader), Some(&session), &list)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        tool_names(&messages(resp).await[0]),
        [
            "echo",
            "toggle-simulated-logging",
            "trigger-long-running-operation"
        ]
    );

    let both = gw.token("demo:read demo:math");
    let session = initialize(&gw.mcp, Some(&both)).await;
    let resp = post(&gw.mcp, Some(&both), Some(&session), &list)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tool_names(&messages(resp).await[0]),
        [
            "echo",
            "get-sum",
            "toggle-simulated-logging",
            "trigger-long-running-operation"
        ]
    );
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn tools_list_through_the_gateway_is_filtered_however_the_request_id_is_spelled() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let reader = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&reader)).await;
    for id in ["1", "2.0", "2e0", "20E-1", "-0", "\"7\""] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
        let resp = http()
            .post(&gw.mcp)
            .bearer_auth(&reader)
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .header("mcp-session-id", &session)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "id {id}");
        assert_eq!(
            tool_names(&messages(resp).await[0]),
            [
                "echo",
                "toggle-simulated-logging",
                "trigger-long-running-operation"
            ],
            "id {id}"
        );
    }
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn an_allowed_tool_is_forwarded_and_answered_by_the_upstream() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;

    let call = call_request(2, "echo", json!({"message": "through the gateway"}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let replies = messages(resp).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["id"], 2);
    assert_eq!(
        replies[0]["result"]["content"][0]["text"],
        "Echo: through the gateway"
    );
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn a_tool_without_its_scope_is_denied_403_and_never_reaches_the_upstream() {
    let server = everything();
    let recorder = Recorder::start(server.addr()).await;
    let gw = gateway(&recorder.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;

    let call = call_request(3, "get-sum", json!({"a": 1, "b": 2}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"tool get-sum requires more scope\", \
             scope=\"demo:math demo:read\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            gw.origin
        )
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool get-sum requires more scope",
            "reason": "insufficient_scope",
            "tool": "get-sum",
            "required_scopes": ["demo:math"],
            "granted_scopes": ["demo:read"],
        })
    );
    assert!(
        !recorder.sent().contains("get-sum"),
        "a denied call must not be forwarded"
    );
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn an_unmapped_tool_is_denied_403_tool_unmapped() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let token = gw.token("demo:read demo:math");
    let session = initialize(&gw.mcp, Some(&token)).await;

    let call = call_request(4, "get-env", json!({}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"tool get-env is not mapped to any scope\", \
             resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            gw.origin
        )
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "tool_unmapped");
    assert_eq!(body["tool"], "get-env");
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn no_token_is_401_and_the_gateway_serves_the_resource_metadata() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", gw.origin);

    let resp = post(&gw.mcp, None, None, &initialize_request())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!("Bearer resource_metadata=\"{metadata_url}\", scope=\"demo:math demo:read\"")
    );

    let prm: Value = http()
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], gw.mcp);
    assert_eq!(
        prm["authorization_servers"],
        json!([gw.auth.server.issuer()])
    );
}

/// Calls the long-running tool with a progress token and times every message as it arrives.
async fn long_running(url: &str, token: Option<&str>) -> Vec<Arrival> {
    let session = initialize(url, token).await;
    let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 0.8, "steps": 4},
        "_meta": {"progressToken": "op-1"}
    }});
    let sent = Instant::now();
    let resp = post(url, token, Some(&session), &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    arrivals(resp, sent).await
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn progress_notifications_of_a_long_running_tool_stream_through_live() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let token = gw.token("demo:read");

    let direct = long_running(&server.url(), None).await;
    let through = long_running(&gw.mcp, Some(&token)).await;

    for run in [&direct, &through] {
        let progress: Vec<&Value> = run
            .iter()
            .filter(|a| a.message["method"] == "notifications/progress")
            .map(|a| &a.message["params"])
            .collect();
        assert_eq!(
            progress,
            (1..=4)
                .map(|i| json!({"progress": i, "total": 4, "progressToken": "op-1"}))
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>()
        );
        let last = run.last().unwrap();
        assert_eq!(last.message["id"], 5);
        assert!(last.message["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Long running operation completed"));
    }
    // Live: the first progress event reached the client in an earlier read than the result,
    // i.e. the gateway forwarded it before the upstream had finished.
    let first = &through[0];
    let result = through.last().unwrap();
    assert_eq!(first.message["method"], "notifications/progress");
    assert!(
        first.chunk < result.chunk,
        "progress and result arrived together (chunk {} vs {})",
        first.chunk,
        result.chunk
    );
    println!(
        "first progress event: direct {:?}, through the gateway {:?}; result: direct {:?}, \
         through the gateway {:?}",
        direct[0].after,
        first.after,
        direct.last().unwrap().after,
        result.after
    );
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn the_upstream_never_receives_the_bearer_token_but_the_identity_and_mcp_headers() {
    let server = everything();
    let recorder = Recorder::start(server.addr()).await;
    let gw = gateway(&recorder.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;
    let call = call_request(6, "echo", json!({"message": "hi"}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        messages(resp).await[0]["result"]["content"][0]["text"],
        "Echo: hi"
    );

    let sent = recorder.sent();
    let lower = sent.to_ascii_lowercase();
    assert!(!sent.contains(&token), "the token was forwarded upstream");
    assert!(!lower.contains("authorization:"), "{sent}");
    assert!(!lower.contains("bearer"), "{sent}");
    // Uncompressed answers only: a compressed tools/list result could not be filtered.
    assert!(!lower.contains("accept-encoding"), "{sent}");
    // Three requests went up (initialize, initialized, the call), each with the identity.
    assert_eq!(
        lower.matches("x-authsec-subject: user-1\r\n").count(),
        3,
        "{sent}"
    );
    assert_eq!(
        lower.matches("x-authsec-client-id: client-1\r\n").count(),
        3
    );
    assert_eq!(lower.matches("x-authsec-scopes: demo:read\r\n").count(), 3);
    // The upstream sees its own session id; the client sees it sealed to its principal.
    let inner = upstream_session_id(&session);
    assert!(!lower.contains(&session.to_ascii_lowercase()), "{sent}");
    assert_eq!(
        lower
            .matches(&format!(
                "mcp-session-id: {}\r\n",
                inner.to_ascii_lowercase()
            ))
            .count(),
        2
    );
    assert_eq!(
        lower
            .matches(&format!("mcp-protocol-version: {PROTOCOL_VERSION}\r\n"))
            .count(),
        3
    );
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn identity_headers_sent_by_the_client_are_stripped() {
    let server = everything();
    let recorder = Recorder::start(server.addr()).await;
    let gw = gateway(&recorder.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;

    let call = call_request(7, "echo", json!({"message": "spoof"}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .header("X-Authsec-Subject", "spoofed-subject")
        .header("X-Authsec-Client-Id", "spoofed-client")
        .header("X-Authsec-Scopes", "spoofed:admin")
        .header("X-Authsec-Role", "spoofed-role")
        // WSGI/CGI upstreams read these as X-Authsec-Subject / -Scopes.
        .header("X_Authsec_Subject", "spoofed-admin")
        .header("x_authsec_scopes", "spoofed:everything")
        .header("X-Authsec_Client_Id", "spoofed-client")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        messages(resp).await[0]["result"]["content"][0]["text"],
        "Echo: spoof"
    );

    let sent = recorder.sent().to_ascii_lowercase();
    assert!(!sent.contains("spoofed"), "{sent}");
    let call_request_text = &sent[sent.rfind("post /mcp").unwrap()..];
    assert_eq!(
        call_request_text.matches("x-authsec-").count(),
        3,
        "{call_request_text}"
    );
    assert!(call_request_text.contains("x-authsec-subject: user-1\r\n"));
    assert!(call_request_text.contains("x-authsec-scopes: demo:read\r\n"));
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn the_standalone_sse_stream_delivers_server_notifications_live() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;

    let mut stream = http()
        .get(&gw.mcp)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    // Logging starts with one message at once, sent on the standalone stream.
    let toggle = call_request(8, "toggle-simulated-logging", json!({}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &toggle)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    messages(resp).await;

    let mut parser = SseParser::default();
    let log = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let chunk = stream.chunk().await.unwrap().expect("stream ended");
            if let Some(m) = parser
                .push(&chunk)
                .into_iter()
                .find(|m| m["method"] == "notifications/message")
            {
                return m;
            }
        }
    })
    .await
    .expect("no log notification on the GET stream");
    assert!(log["params"]["data"]
        .as_str()
        .unwrap()
        .ends_with(&format!("SessionId {}", upstream_session_id(&session))));

    let stop = call_request(9, "toggle-simulated-logging", json!({}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &stop)
        .send()
        .await
        .unwrap();
    assert!(messages(resp).await[0]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Stopped simulated logging"));
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn delete_ends_the_session_upstream() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;

    let resp = http()
        .delete(&gw.mcp)
        .bearer_auth(&token)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The upstream no longer knows the session: its own 400 passes through unchanged.
    let call = call_request(10, "echo", json!({"message": "after delete"}));
    let resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Bad Request: No valid session ID provided"
    );
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn another_principal_cannot_use_a_session_through_the_gateway() {
    let server = everything();
    let gw = gateway(&server.url()).await;
    let alice = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&alice)).await;
    let mut mallory_claims =
        authsec_testkit::claims(&gw.auth.server.issuer(), &gw.mcp, "demo:read");
    mallory_claims["sub"] = json!("mallory");
    let mallory = gw.auth.key.token(&mallory_claims);

    let call = call_request(11, "echo", json!({"message": "hijack"}));
    let resp = post(&gw.mcp, Some(&mallory), Some(&session), &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "session_principal_mismatch");
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_stream_finish() {
    let server = everything();
    let mut gw = gateway(&server.url()).await;
    let token = gw.token("demo:read");
    let session = initialize(&gw.mcp, Some(&token)).await;
    let call = json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 1.0, "steps": 4},
        "_meta": {"progressToken": "op-2"}
    }});
    let mut resp = post(&gw.mcp, Some(&token), Some(&session), &call)
        .send()
        .await
        .unwrap();
    let mut parser = SseParser::default();
    let mut seen = Vec::new();
    while seen.is_empty() {
        seen.extend(parser.push(&resp.chunk().await.unwrap().expect("stream ended early")));
    }
    assert_eq!(seen[0]["method"], "notifications/progress");

    gw.shutdown();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        seen.extend(parser.push(&chunk));
    }
    let last = seen.last().unwrap();
    assert_eq!(last["id"], 12, "{seen:?}");
    assert!(last["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Long running operation completed"));

    let served = tokio::time::timeout(Duration::from_secs(10), gw.served.take().unwrap())
        .await
        .expect("the gateway did not stop after the stream finished");
    assert!(served.unwrap().is_ok());
    // No longer accepting.
    let again = http().get(format!("{}/healthz", gw.origin)).send().await;
    assert!(again.unwrap_err().is_connect());
}
