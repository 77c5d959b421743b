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
