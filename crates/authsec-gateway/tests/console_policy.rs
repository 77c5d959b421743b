//! The gateway with its policy from a running authsec console (`remote_required`), in front of
//! `@modelcontextprotocol/server-everything`: tokens from the console's token service, tool
//! mappings changed through the admin API and enforced without a restart, the policy's
//! generation and staleness on `/metrics`. One test in this binary, so the process-wide
//! metrics recorder sees only its requests.
//!
//! Time is the SDK's manual clock, so the TTL and maximum staleness pass without waiting.

mod common;

use authsec::config::{Config, PolicyMode};
use authsec::Clock;
use authsec_gateway::{Gateway, GatewayConfig};
use authsec_testkit::console::TestConsole;
use authsec_testkit::eventually;
use common::*;
use serde_json::{json, Value};

/// A `tools/call` through the gateway: status and JSON-RPC reply or denial body.
async fn call(mcp: &str, token: &str, session: &str, tool: &str, arguments: Value) -> (u16, Value) {
    let resp = post(
        mcp,
        Some(token),
        Some(session),
        &call_request(1, tool, arguments),
    )
    .send()
    .await
    .unwrap();
    let status = resp.status().as_u16();
    let body = if status == 200 {
        messages(resp).await.remove(0)
    } else {
        resp.json().await.unwrap()
    };
    (status, body)
}

async fn listed(mcp: &str, token: &str, session: &str) -> Vec<String> {
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let resp = post(mcp, Some(token), Some(session), &list)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tool_names(&messages(resp).await[0])
}

/// The value of the sample named exactly `series` in a Prometheus scrape.
async fn sample(origin: &str, series: &str) -> Option<f64> {
    let text = http()
        .get(format!("{origin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[ignore = "needs Node.js and npm (server-everything): cargo nextest run --run-ignored all"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_policy_decides_changes_live_and_its_staleness_is_exported() {
    let server = everything();
    let mut console = TestConsole::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mcp = format!("{origin}/mcp");
    let rs = console
        .resource_server("everything", &mcp, &["demo:read", "demo:math"])
        .await;
    let agent = console
        .client(&rs.id, "agent", &["demo:read", "demo:math"])
        .await;
    console.map(&rs.id, "echo", &["demo:read"]).await;
    console.map(&rs.id, "get-sum", &["demo:math"]).await;

    let (clock, time) = Clock::manual(authsec::system_now());
    let config = Config::builder(&console.base, &mcp)
        .jwks_url(console.jwks_url())
        .policy_mode(PolicyMode::RemoteRequired)
        .resource_server_id(&rs.id)
        .console_credentials(&rs.id, &rs.secret)
        .publish_manifest(true)
        .tool_scopes_json(r#"{"get-env": ["demo:admin"]}"#)
        .clock(clock)
        .build()
        .unwrap();
    let gw_config = GatewayConfig::new(server.url().parse().unwrap()).unwrap();
    let layer = authsec_gateway::start_layer(config, &gw_config)
        .await
        .unwrap();
    let remote = layer
        .remote_policy()
        .expect("remote policy started")
        .clone();
    let gateway = Gateway::with_listener(listener, gw_config, layer).unwrap();
    tokio::spawn(gateway.serve(std::future::pending()));

    // The upstream's tools are in the console's inventory: the mapped ones keep the admin's
    // decision, the others are new and unmapped, with the local map's suggestion.
    let tool = |name: &'static str| {
        let console = &console;
        let path = format!("/api/resource-servers/{}/tools/{name}", rs.id);
        async move {
            let (status, body) = console.admin(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 200, "{name}: {body}");
            body
        }
    };
    let echo = tool("echo").await;
    assert_eq!(
        (&echo["state"], &echo["in_latest_manifest"]),
        (&json!("mapped"), &json!(true))
    );
    assert!(
        echo["input_schema"]["properties"]["message"].is_object(),
        "{echo}"
    );
    let env = tool("get-env").await;
    assert_eq!(
        (&env["state"], &env["in_latest_manifest"]),
        (&json!("unmapped"), &json!(true))
    );
    assert_eq!(env["suggested_scopes"], json!(["demo:admin"]));
    // Its prompts and resources (and resource templates) too, each unmapped: denied until an
    // admin maps it.
    for (list, key) in [("prompts", "name"), ("resources", "uri")] {
        let path = format!("/api/resource-servers/{}/{list}", rs.id);
        let (status, body) = console.admin(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let entries = body[list].as_array().unwrap();
        assert!(!entries.is_empty(), "server-everything has {list}: {body}");
        for e in entries {
            assert_eq!(
                (&e["state"], &e["in_latest_manifest"]),
                (&json!("unmapped"), &json!(true)),
                "{e}"
            );
            assert!(e[key].is_string(), "{e}");
        }
        if list == "resources" {
            assert!(
                entries
                    .iter()
                    .any(|e| e["uri"].as_str().unwrap().contains('{')),
                "resources/templates/list contributes templates: {body}"
            );
        }
    }

    // The console's mapping decides: echo allowed, get-sum needs demo:math, the rest unmapped.
    let token = console.token(&agent, &mcp, "demo:read").await;
    let session = initialize(&mcp, Some(&token)).await;
    assert_eq!(listed(&mcp, &token, &session).await, ["echo"]);
    let (status, reply) = call(&mcp, &token, &session, "echo", json!({"message": "hi"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"]["content"][0]["text"], "Echo: hi");
    let (status, body) = call(&mcp, &token, &session, "get-sum", json!({"a": 1, "b": 2})).await;
    assert_eq!(status, 403);
    assert_eq!(body["reason"], "insufficient_scope");
    assert_eq!(body["required_scopes"], json!(["demo:math"]));
    let (status, body) = call(&mcp, &token, &session, "get-env", json!({})).await;
    assert_eq!((status, &body["reason"]), (403, &json!("tool_unmapped")));

    // A mapping change arrives through wait-for-change: the clock does not move.
    let before = remote.status().generation.unwrap();
    console.map(&rs.id, "get-sum", &["demo:read"]).await;
    eventually("get-sum allowed for demo:read", || async {
        call(&mcp, &token, &session, "get-sum", json!({"a": 1, "b": 2}))
            .await
            .0
            == 200
    })
    .await;
    assert_eq!(listed(&mcp, &token, &session).await, ["echo", "get-sum"]);
    let generation = remote.status().generation.unwrap();
    assert!(generation > before);

    assert_eq!(
        sample(&origin, "authsec_policy_generation").await,
        Some(generation as f64)
    );
    assert_eq!(
        sample(&origin, "authsec_policy_age_seconds").await,
        Some(0.0)
    );
    assert_eq!(sample(&origin, "authsec_policy_stale").await, Some(0.0));
    let fetched = sample(&origin, r#"authsec_policy_fetches_total{result="success"}"#)
        .await
        .unwrap();
    assert!(fetched >= 2.0, "start-up fetch and the change: {fetched}");
    assert_eq!(
        sample(&origin, r#"authsec_policy_fetches_total{result="failure"}"#).await,
        None
    );

    // The console stops: the held policy serves through the TTL and the maximum staleness
    // (30 s + 120 s by default), then every tool call is refused with 503.
    console.stop().await;
    eventually("a failed policy fetch", || async {
        remote.status().last_error.is_some()
    })
    .await;
    assert!(
        sample(&origin, r#"authsec_policy_fetches_total{result="failure"}"#)
            .await
            .is_some_and(|n| n >= 1.0)
    );
    time.advance(31);
    assert_eq!(
        call(&mcp, &token, &session, "echo", json!({"message": "hi"}))
            .await
            .0,
        200
    );
    assert_eq!(sample(&origin, "authsec_policy_stale").await, Some(1.0));
    assert_eq!(
        sample(&origin, "authsec_policy_age_seconds").await,
        Some(31.0)
    );
    assert_eq!(
        sample(&origin, "authsec_policy_generation").await,
        Some(generation as f64)
    );

    time.advance(120);
    let (status, body) = call(&mcp, &token, &session, "echo", json!({"message": "hi"})).await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "policy_unavailable");
    assert_eq!(sample(&origin, "authsec_policy_stale").await, Some(2.0));
    assert_eq!(
        sample(&origin, "authsec_policy_age_seconds").await,
        Some(151.0)
    );
    // And the gateway says it is not ready, and why.
    let resp = http().get(format!("{origin}/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    let reason = body["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "the console policy (generation {generation}) is 151s old, past the 30s TTL + 120s maximum staleness"
        )),
        "{reason}"
    );
}
