//! `authsec probe` against the real notes example server (rmcp behind authsec's layer), with a
//! token from a loopback issuer: every MUST and SHOULD passes. The one MAY it skips is the root
//! metadata fallback: `mount_mcp` serves only the path-suffixed well-known URL, because a host may
//! carry several protected resources and the root document could only describe one of them.

mod common;

use authsec::config::Config;
use authsec::{AuthSecLayer, Validator};
use authsec_notes::{protected_app, Transport};
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use common::{authsec, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notes_example_server_passes_every_probe_check() {
    let key = TestKey::rsa("probe-key", "RS256");
    let issuer = FakeAuthServer::start(jwks(&[&key])).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = Config::builder(issuer.issuer(), url.clone())
        .tool_scopes_json(
            r#"{"list_notes":["notes:read"],"add_note":["notes:write"],"delete_note":["notes:admin"],"server_time":[],"whoami":[]}"#,
        )
        .build()
        .unwrap();
    let layer = AuthSecLayer::new(Validator::new(config).await.unwrap()).unwrap();
    let app = protected_app(layer, Transport::Sessions);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let token = key.token(&claims(&issuer.issuer(), &url, "notes:read"));
    let args = [
        "probe",
        "--json",
        "--token",
        "-",
        "--forbidden-tool",
        "delete_note",
        url.as_str(),
    ]
    .map(String::from);
    let stdin = token.clone();
    let r = tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        authsec(&argv, &stdin, &[])
    })
    .await
    .unwrap();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r);
    let failures: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failures, ["prm_root"], "{v:#}");
    assert_eq!(v["must_failures"], 0);
    assert_eq!(v["should_failures"], 0);
    let detail = |id: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["detail"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        detail("tools_list"),
        "tools/list: 3 tool(s): list_notes, server_time, whoami"
    );
    assert_eq!(
        detail("forbidden_tool_challenge"),
        "Bearer error=\"insufficient_scope\" with scope and resource_metadata"
    );
    assert!(!r.stdout.contains(&token) && !r.stderr.contains(&token));
}
