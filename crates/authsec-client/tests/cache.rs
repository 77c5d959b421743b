//! The token cache against a real token service (the authsec console): one request for many
//! concurrent callers, cached tokens reused while fresh, replaced inside the refresh margin.
//! Every console token has its own `jti`, so equal tokens mean one token request.

use std::time::Duration;

use authsec_client::{Access, ClientAuth, ClientCredentials, Secret};
use authsec_testkit::console::TestConsole;

/// A console, the notes example trusting it (its protected resource metadata names the
/// console), and a client allowed `notes:read`.
async fn setup(refresh_ahead: Duration) -> (TestConsole, Access) {
    let console = TestConsole::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let rs = console
        .resource_server("notes", &mcp, &["notes:read"])
        .await;
    let agent = console.client(&rs.id, "agent", &["notes:read"]).await;
    let config = authsec::Config::builder(&console.base, &mcp)
        .jwks_url(console.jwks_url())
        .tool_scopes_json(r#"{"list_notes":["notes:read"]}"#)
        .build()
        .unwrap();
    let app = authsec_notes::protected_app(
        authsec::AuthSecLayer::new(authsec::Validator::new(config).await.unwrap()).unwrap(),
        authsec_notes::Transport::StatelessJson,
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(ClientCredentials::new(
            &agent.id,
            ClientAuth::Secret(Secret::new(&agent.secret)),
        ))
        .refresh_ahead(refresh_ahead)
        .build()
        .unwrap();
    (console, access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_token_request() {
    let (_console, access) = setup(Duration::from_secs(60)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let a = access.clone();
        tasks.spawn(async move { a.token().await.unwrap().access_token });
    }
    let tokens = tasks.join_all().await;
    assert_eq!(tokens.len(), 8);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

#[tokio::test]
async fn a_fresh_token_is_served_from_the_cache() {
    let (_console, access) = setup(Duration::from_secs(60)).await;
    let first = access.token().await.unwrap();
    let second = access.token().await.unwrap();
    assert_eq!(first.access_token, second.access_token);
    assert_eq!(second.scopes, ["notes:read"]);
}

#[tokio::test]
async fn a_token_inside_the_refresh_margin_is_replaced() {
    // A margin longer than any console token's lifetime: every token is due for replacement.
    let (_console, access) = setup(Duration::from_secs(365 * 86_400)).await;
    let first = access.token().await.unwrap();
    let second = access.token().await.unwrap();
    assert_ne!(first.access_token, second.access_token);
}
