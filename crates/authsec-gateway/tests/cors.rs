//! Browser-based MCP clients: with `cors_allow_origins` the gateway answers CORS preflights
//! itself (no token needed, the upstream never sees them) and exposes `WWW-Authenticate` and
//! `Mcp-Session-Id` to the allowed origins; without it, no CORS header is ever sent, and a
//! request from another origin is refused (DNS rebinding protection). No MCP server is needed:
//! nothing here reaches the upstream.

mod common;

use common::*;
use serde_json::json;

const APP: &str = "https://app.example.com";

fn preflight(url: &str, origin: &str) -> reqwest::RequestBuilder {
    http()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,mcp-session-id,mcp-protocol-version",
        )
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_answered_and_the_challenge_exposed() {
    let down = closed_port().await;
    let gw = gateway_with(&format!("http://{down}/mcp"), |g| {
        g.cors_allow_origins([APP]).unwrap()
    })
    .await;

    let resp = preflight(&gw.mcp, APP).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&resp, "access-control-allow-methods"),
        Some("GET,POST,DELETE")
    );
    let allowed = header(&resp, "access-control-allow-headers").unwrap();
    for h in [
        "authorization",
        "content-type",
        "mcp-session-id",
        "mcp-protocol-version",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    assert_eq!(header(&resp, "access-control-max-age"), Some("3600"));

    // The 401 a browser client gets first: it can read the challenge to find the metadata.
    let call = call_request(1, "echo", json!({"message": "hi"}));
    let resp = post(&gw.mcp, None, None, &call)
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&resp, "access-control-expose-headers"),
        Some("www-authenticate,mcp-session-id,mcp-protocol-version")
    );
    assert!(header(&resp, "www-authenticate")
        .unwrap()
        .starts_with("Bearer resource_metadata="));

    // And the metadata document itself.
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp", gw.origin);
    let resp = http().get(&prm).header("origin", APP).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let down = closed_port().await;
    let gw = gateway_with(&format!("http://{down}/mcp"), |g| {
        g.cors_allow_origins([APP]).unwrap()
    })
    .await;
    let resp = preflight(&gw.mcp, "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn any_origin_with_a_star() {
    let down = closed_port().await;
    let gw = gateway_with(&format!("http://{down}/mcp"), |g| {
        g.cors_allow_origins(["*"]).unwrap()
    })
    .await;
    let resp = preflight(&gw.mcp, "https://anywhere.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn without_cors_a_preflight_from_another_origin_is_refused_as_origin_not_allowed() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let resp = preflight(&gw.mcp, APP).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["data"]["reason"], "origin_not_allowed");
}

#[test]
fn origins_must_be_scheme_host_and_port() {
    let config =
        || authsec_gateway::GatewayConfig::new("http://127.0.0.1:9/mcp".parse().unwrap()).unwrap();
    for ok in [
        "https://app.example.com",
        "http://localhost:5173",
        "https://app.example.com/",
        "*",
    ] {
        assert!(config().cors_allow_origins([ok]).is_ok(), "{ok}");
    }
    for bad in [
        "app.example.com",
        "https://app.example.com/mcp",
        "ftp://x.example",
        "https://a.example?x=1",
        "",
    ] {
        let err = config().cors_allow_origins([bad]).unwrap_err();
        assert!(
            matches!(err, authsec_gateway::GatewayError::InvalidOrigin { .. }),
            "{bad}: {err}"
        );
    }
}
