//! What the gateway answers itself: an upstream that is down (502) or silent (504), each with a
//! JSON-RPC error body for the request that failed, and its liveness route. No MCP server is
//! needed: the upstreams here are fault-injection fakes.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn an_unreachable_upstream_is_502_with_a_json_rpc_error_body() {
    let down = closed_port().await;
    let gw = gateway_with(&format!("http://{down}/mcp"), |g| {
        g.timeouts(short_timeouts())
    })
    .await;
    let token = gw.token("demo:read");

    let call = call_request(7, "echo", json!({"message": "anyone there?"}));
    let resp = post(&gw.mcp, Some(&token), None, &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 7,
               "error": {"code": -32603, "message": "upstream MCP server unreachable"}})
    );
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_504_after_the_response_timeout() {
    let silent = silent_upstream().await;
    let gw = gateway_with(&format!("http://{silent}/mcp"), |g| {
        g.timeouts(short_timeouts())
    })
    .await;
    let token = gw.token("demo:read");

    let call = call_request("req-8", "echo", json!({"message": "hello?"}));
    let resp = post(&gw.mcp, Some(&token), None, &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": "req-8",
               "error": {"code": -32603, "message": "upstream MCP server timed out"}})
    );
}

#[tokio::test]
async fn a_denied_request_is_answered_by_the_gateway_even_when_the_upstream_is_down() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let token = gw.token("demo:read");

    let call = call_request(9, "get-sum", json!({"a": 1, "b": 2}));
    let resp = post(&gw.mcp, Some(&token), None, &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "insufficient_scope");
}

#[tokio::test]
async fn healthz_is_200_without_a_token() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let resp = http()
        .get(format!("{}/healthz", gw.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_is_200_once_the_keys_are_loaded() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let resp = http()
        .get(format!("{}/readyz", gw.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
}

#[tokio::test]
async fn readyz_is_503_while_the_jwks_cannot_be_loaded_and_fetches_it_when_asked() {
    use authsec_gateway::{Gateway, GatewayConfig};
    use authsec_testkit::{jwks, FakeAuthServer, TestKey};
    let key = TestKey::es256("ready-1");
    let auth = FakeAuthServer::start(jwks(&[&key])).await;
    auth.set_jwks_status(500);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let config = authsec::Config::builder(auth.issuer(), format!("{origin}/mcp"))
        .jwks_url(auth.jwks_url())
        .tool_scopes_json(TOOL_SCOPES)
        .jwks_min_refresh_interval(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let validator = authsec::Validator::new(config).await.unwrap();
    let down = closed_port().await;
    let gw_config = GatewayConfig::new(format!("http://{down}/mcp").parse().unwrap()).unwrap();
    let layer = authsec::http::AuthSecLayer::new(validator).unwrap();
    let gateway = Gateway::with_listener(listener, gw_config, layer).unwrap();
    tokio::spawn(gateway.serve(std::future::pending()));

    let ready = || async {
        let resp = http().get(format!("{origin}/readyz")).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    let reason = body["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("no signing keys loaded from the authorization server's JWKS: "),
        "{reason}"
    );
    assert!(reason.contains("500"), "{reason}");

    // The authorization server is back: the probe itself loads the keys.
    auth.set_jwks_status(200);
    assert_eq!(ready().await, (200, json!({"status": "ready"})));
}

#[tokio::test]
async fn methods_other_than_post_get_and_delete_are_405() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let token = gw.token("demo:read");
    let resp = http()
        .put(&gw.mcp)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}
