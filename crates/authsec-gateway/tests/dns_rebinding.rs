//! DNS rebinding protection over HTTP: a request to the MCP endpoint or its metadata whose
//! `Origin` is not the gateway's (or an allowed CORS origin), or whose `Host` names another
//! host, is refused 403 before anything else — a valid token does not help, and nothing
//! reaches the upstream (none listens here: a forwarded request would be a 502).

mod common;

use common::*;
use serde_json::{json, Value};

fn refusal(message: &str, reason: &str) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": -32000, "message": message, "data": {"reason": reason}}})
}

async fn refused(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().get("www-authenticate").is_none());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_foreign_origin_is_403_origin_not_allowed_even_with_a_valid_token() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let token = gw.token("demo:read");
    let call = call_request(1, "echo", json!({"message": "hi"}));
    let resp = post(&gw.mcp, Some(&token), None, &call)
        .header("origin", "http://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused(resp).await,
        refusal(
            "Origin http://evil.example.com is not allowed",
            "origin_not_allowed"
        )
    );
}

#[tokio::test]
async fn a_foreign_host_is_403_host_not_allowed_even_with_a_valid_token() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let token = gw.token("demo:read");
    let call = call_request(1, "echo", json!({"message": "hi"}));
    let port = gw.origin.rsplit(':').next().unwrap();
    let host = format!("evil.example.com:{port}");
    let resp = post(&gw.mcp, Some(&token), None, &call)
        .header("host", &host)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused(resp).await,
        refusal(&format!("Host {host} is not allowed"), "host_not_allowed")
    );
}

#[tokio::test]
async fn the_origin_is_judged_before_the_host_and_before_the_token() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    // The conformance suite's rebinding request: both headers foreign, no token.
    let resp = post(&gw.mcp, None, None, &initialize_request())
        .header("host", "evil.example.com")
        .header("origin", "http://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused(resp).await,
        refusal(
            "Origin http://evil.example.com is not allowed",
            "origin_not_allowed"
        )
    );
}

#[tokio::test]
async fn the_gateways_own_origin_and_host_reach_the_protection() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let port = gw.origin.rsplit(':').next().unwrap().to_owned();
    for (host, origin) in [
        (format!("127.0.0.1:{port}"), gw.origin.clone()),
        (format!("localhost:{port}"), gw.origin.clone()),
        ("127.0.0.1".to_owned(), gw.origin.clone()),
    ] {
        let resp = post(&gw.mcp, None, None, &initialize_request())
            .header("host", &host)
            .header("origin", &origin)
            .send()
            .await
            .unwrap();
        // Past the guard: the token check answers.
        assert_eq!(resp.status(), 401, "{host} {origin}");
        assert!(resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer resource_metadata="));
    }
    // Allowed and authorized: forwarded, and the upstream (down) makes it a 502.
    let token = gw.token("demo:read");
    let call = call_request(1, "echo", json!({"message": "hi"}));
    let resp = post(&gw.mcp, Some(&token), None, &call)
        .header("origin", &gw.origin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
}

#[tokio::test]
async fn the_metadata_document_is_guarded_too() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp", gw.origin);
    let resp = http()
        .get(&prm)
        .header("host", "evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused(resp).await,
        refusal("Host evil.example.com is not allowed", "host_not_allowed")
    );
    let resp = http().get(&prm).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_any_host() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let resp = http()
            .get(format!("{}{path}", gw.origin))
            .header("host", "10.1.2.3:8080")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn an_allowed_host_admits_another_name_and_a_star_any() {
    let down = closed_port().await;
    let gw = gateway_with(&format!("http://{down}/mcp"), |g| {
        g.allowed_hosts(["gw.internal"]).unwrap()
    })
    .await;
    let send = |host: &'static str| {
        post(&gw.mcp, None, None, &initialize_request())
            .header("host", host)
            .send()
    };
    assert_eq!(send("gw.internal:8080").await.unwrap().status(), 401);
    assert_eq!(send("other.internal").await.unwrap().status(), 403);

    let any = gateway_with(&format!("http://{down}/mcp"), |g| {
        g.allowed_hosts(["*"]).unwrap()
    })
    .await;
    let resp = post(&any.mcp, None, None, &initialize_request())
        .header("host", "anything.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // `*` opens Host only: a foreign Origin is still refused.
    let resp = post(&any.mcp, None, None, &initialize_request())
        .header("host", "anything.example.com")
        .header("origin", "http://anything.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[test]
fn allowed_hosts_must_be_bare_host_names() {
    let config =
        || authsec_gateway::GatewayConfig::new("http://127.0.0.1:9/mcp".parse().unwrap()).unwrap();
    for bad in [
        "gw.internal:8080",
        "http://gw.internal",
        "gw.internal/mcp",
        "",
    ] {
        let err = config().allowed_hosts([bad]).unwrap_err();
        assert!(
            matches!(err, authsec_gateway::GatewayError::InvalidHost { .. }),
            "{bad}: {err}"
        );
    }
}
