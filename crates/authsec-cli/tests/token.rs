//! `authsec token` against a real console (its token service is the authorization server) and
//! the notes example (which publishes the protected resource metadata naming it).

mod common;

use authsec::config::Config;
use authsec::{AuthSecLayer, Validator};
use authsec_notes::{protected_app, Transport, EXAMPLE_TOOL_SCOPES_JSON};
use authsec_testkit::console::{Credentials, TestConsole};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::authsec;
use serde_json::Value;

/// A console, the notes server trusting it, and an agent allowed `notes:read notes:write`.
async fn setup() -> (TestConsole, String, Credentials) {
    let console = TestConsole::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let rs = console
        .resource_server("notes", &mcp, &["notes:read", "notes:write", "notes:admin"])
        .await;
    let agent = console
        .client(&rs.id, "agent", &["notes:read", "notes:write"])
        .await;
    let config = Config::builder(&console.base, &mcp)
        .jwks_url(console.jwks_url())
        .tool_scopes_json(EXAMPLE_TOOL_SCOPES_JSON)
        .build()
        .unwrap();
    let app = protected_app(
        AuthSecLayer::new(Validator::new(config).await.unwrap()).unwrap(),
        Transport::StatelessJson,
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (console, mcp, agent)
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.trim().split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_prints_a_token_for_the_resource_with_the_requested_scope() {
    let (console, mcp, agent) = setup().await;
    let run = authsec(
        &[
            "token",
            "--resource",
            &mcp,
            "--client-id",
            &agent.id,
            "--client-secret-file",
            "-",
            "--scope",
            "notes:read",
        ],
        &format!("{}\n", agent.secret),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1);
    let c = claims(&run.stdout);
    assert_eq!(c["iss"], console.base.as_str());
    assert_eq!(c["aud"], mcp.as_str());
    assert_eq!(c["scope"], "notes:read");
    assert_eq!(c["client_id"], agent.id.as_str());
    assert_eq!(run.stderr, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_runs_the_command_with_the_token_in_its_environment_and_its_exit_status() {
    let (_console, mcp, agent) = setup().await;
    let run = authsec(
        &[
            "token",
            "--resource",
            &mcp,
            "--client-id",
            &agent.id,
            "--client-secret-file",
            "-",
            "--env",
            "NOTES_TOKEN",
            "--",
            "sh",
            "-c",
            "printf %s \"$NOTES_TOKEN\"; exit 7",
        ],
        &agent.secret,
        &[],
    );
    assert_eq!(run.code, 7, "{}", run.stderr);
    // Without --scope: the resource's scopes_supported, as far as the console allows them.
    assert_eq!(claims(&run.stdout)["scope"], "notes:read notes:write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_secret_is_exit_1_with_the_oauth_error_and_never_echoed() {
    let (_console, mcp, agent) = setup().await;
    let wrong = "not-the-secret-0123456789";
    let run = authsec(
        &[
            "token",
            "--resource",
            &mcp,
            "--client-id",
            &agent.id,
            "--client-secret-file",
            "-",
        ],
        wrong,
        &[],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(
            "authsec: no token: token endpoint refused the request: 401 invalid_client"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(wrong));
}
