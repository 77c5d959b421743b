//! `/metrics`: after a known sequence of requests, the Prometheus text holds exactly the
//! decisions, latencies, cache lookups, JWKS fetches and upstream errors they caused. One test
//! in this binary, so the process-wide recorder sees only these requests.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn metrics_count_every_decision_by_outcome_and_reason() {
    let down = closed_port().await;
    let gw = gateway(&format!("http://{down}/mcp")).await;
    let token = gw.token("demo:read");
    let echo = call_request(1, "echo", json!({"message": "m"}));

    let statuses = [
        post(&gw.mcp, None, None, &echo)
            .send()
            .await
            .unwrap()
            .status(),
        post(&gw.mcp, Some(&token), None, &echo)
            .send()
            .await
            .unwrap()
            .status(),
        post(
            &gw.mcp,
            Some(&token),
            None,
            &call_request(2, "get-sum", json!({})),
        )
        .send()
        .await
        .unwrap()
        .status(),
        post(
            &gw.mcp,
            Some(&token),
            None,
            &call_request(3, "get-env", json!({})),
        )
        .send()
        .await
        .unwrap()
        .status(),
        post(&gw.mcp, Some(&token), None, &echo)
            .send()
            .await
            .unwrap()
            .status(),
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [401, 502, 403, 403, 502]);

    let resp = http()
        .get(format!("{}/metrics", gw.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "# TYPE authsec_decisions_total counter",
        r#"authsec_decisions_total{decision="allow",reason="allowed"} 2"#,
        r#"authsec_decisions_total{decision="deny",reason="no_token"} 1"#,
        r#"authsec_decisions_total{decision="deny",reason="insufficient_scope"} 1"#,
        r#"authsec_decisions_total{decision="deny",reason="tool_unmapped"} 1"#,
        "# TYPE authsec_decision_duration_seconds histogram",
        r#"authsec_decision_duration_seconds_count{decision="allow"} 2"#,
        r#"authsec_decision_duration_seconds_count{decision="deny"} 3"#,
        r#"authsec_decision_duration_seconds_bucket{decision="deny",le="+Inf"} 3"#,
        r#"authsec_token_cache_lookups_total{cache="verified_token",result="miss"} 1"#,
        r#"authsec_token_cache_lookups_total{cache="verified_token",result="hit"} 3"#,
        r#"authsec_jwks_refreshes_total{result="success"} 1"#,
        r#"authsec_token_cache_entries{cache="verified_token"} 1"#,
        "authsec_jwks_keys 1",
        r#"authsec_gateway_upstream_errors_total{kind="unreachable"} 2"#,
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected:?} in:\n{text}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("# HELP authsec_decisions_total ")),
        "{text}"
    );
    assert!(!text.contains(&token));
}
