//! Everything survives a restart of the console on the same database; the admin token is
//! created once, at first start — against SQLite and PostgreSQL.

mod common;

use common::{Options, TestConsole, TestDb, ADMIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

const URI: &str = "https://notes.example.com/mcp";

fn opts(admin_token: Option<&str>) -> Options {
    Options {
        admin_token: admin_token.map(str::to_owned),
        // A fixed issuer: the restarted console listens on another ephemeral port.
        public_url: Some("http://console.test".to_owned()),
        ..Options::default()
    }
}

async fn introspect(c: &TestConsole, rs: (&str, &str), token: &str) -> Value {
    c.oauth("/oauth/introspect", Some(rs), &[("token", token)])
        .await
        .2
}

async fn data_survives_a_restart(db: &TestDb) {
    let c = TestConsole::start_with(db, opts(None)).await;
    let admin = c
        .initial_admin_token
        .clone()
        .expect("the first start creates an admin token");
    assert!(admin.starts_with("asa_") && admin.len() > 40, "{admin}");
    let (rs, rs_secret) = c.create_rs(URI, &["notes:read", "notes:write"]).await;
    c.map(
        &rs,
        "write_note",
        json!({"state": "mapped", "scopes": ["notes:write"], "scope_match": "all"}),
    )
    .await;
    let (status, _) = c
        .manifest(&rs, &rs_secret, json!([{"name": "write_note"}, {"name": "new_tool", "suggested_scopes": ["notes:read"]}]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (client, client_secret) = c.create_client(&rs, &["notes:read"]).await;
    let kept = c.token((&client, &client_secret), &[]).await;
    let revoked = c.token((&client, &client_secret), &[]).await;
    let (status, _, _) = c
        .oauth(
            "/oauth/revoke",
            Some((&client, &client_secret)),
            &[("token", &revoked)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, rs_before) = c.get(&format!("/api/resource-servers/{rs}")).await;
    let (_, tools_before) = c.get(&format!("/api/resource-servers/{rs}/tools")).await;
    let (_, _, policy_before) = c.sdk_policy(&rs, Some((&rs, &rs_secret)), "").await;
    let (_, keys_before) = c.get("/api/signing-keys").await;
    let audit_before = c.audit(None).await;
    c.stop().await;

    let mut c = TestConsole::start_with(db, opts(None)).await;
    assert_eq!(
        c.initial_admin_token, None,
        "no new admin token on a restart"
    );
    c.admin_token = admin.clone();
    let (status, rs_after) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(status, StatusCode::OK, "the stored admin token still works");
    assert_eq!(rs_after, rs_before);
    assert_eq!(
        c.get(&format!("/api/resource-servers/{rs}/tools")).await.1,
        tools_before
    );
    let (status, _, policy_after) = c.sdk_policy(&rs, Some((&rs, &rs_secret)), "").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the resource server's secret still works"
    );
    assert_eq!(policy_after, policy_before);
    assert_eq!(c.get("/api/signing-keys").await.1, keys_before);
    assert_eq!(c.audit(None).await, audit_before);
    // Tokens issued before the restart: same keys, same revocations.
    assert_eq!(
        introspect(&c, (&rs, &rs_secret), &kept).await["active"],
        true
    );
    assert_eq!(
        introspect(&c, (&rs, &rs_secret), &revoked).await["active"],
        false
    );
    // The client's secret still works.
    c.token((&client, &client_secret), &[]).await;
    c.stop().await;
}

async fn a_configured_admin_token_replaces_the_stored_one(db: &TestDb) {
    let first = TestConsole::start_with(db, opts(None)).await;
    let stored = first.initial_admin_token.clone().unwrap();
    first.stop().await;

    let mut c = TestConsole::start_with(db, opts(Some(ADMIN))).await;
    assert_eq!(c.initial_admin_token, None);
    assert_eq!(c.get("/api/info").await.0, StatusCode::OK);
    c.admin_token = stored;
    assert_eq!(c.get("/api/info").await.0, StatusCode::UNAUTHORIZED);
    c.stop().await;
}

async fn a_lost_admin_token_can_be_reset_and_rotated(db: &TestDb) {
    let first = TestConsole::start_with(db, opts(None)).await;
    let lost = first.initial_admin_token.clone().unwrap();
    first.stop().await;

    let reset = authsec_console::reset_admin_token(&db.url).await.unwrap();
    assert_ne!(reset, lost);
    let mut c = TestConsole::start_with(db, opts(None)).await;
    c.admin_token = lost;
    assert_eq!(c.get("/api/info").await.0, StatusCode::UNAUTHORIZED);
    c.admin_token = reset.clone();
    assert_eq!(c.get("/api/info").await.0, StatusCode::OK);

    let (status, body) = c.post("/api/admin-token", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = body["admin_token"].as_str().unwrap().to_owned();
    assert_eq!(
        c.get("/api/info").await.0,
        StatusCode::UNAUTHORIZED,
        "the old token stops working"
    );
    c.admin_token = rotated;
    assert_eq!(c.get("/api/info").await.0, StatusCode::OK);
    let actions: Vec<String> = c
        .audit(None)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("admin_token."))
            .collect::<Vec<_>>(),
        [
            "admin_token.rotated",
            "admin_token.rotated",
            "admin_token.created"
        ]
    );
    c.stop().await;
}

/// SQLite runs in WAL mode, in a file created on first start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_creates_its_file_and_uses_wal() {
    let db = TestDb::sqlite();
    assert!(!std::path::Path::new(&db.url).exists());
    let c = TestConsole::start(&db).await;
    c.create_rs(URI, &["notes:read"]).await;
    assert!(std::path::Path::new(&db.url).exists());
    assert!(
        std::path::Path::new(&format!("{}-wal", db.url)).exists(),
        "a write-ahead log beside the database"
    );
    c.stop().await;
}

/// The key id a token was signed with.
fn kid(token: &str) -> String {
    common::decode_jwt(token).0["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn signing_keys_are_encrypted_at_rest_with_a_key_encryption_key(db: &TestDb) {
    use base64::Engine as _;
    let kek = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let with_kek = |k: Option<String>| Options {
        key_encryption_key: k,
        ..opts(Some(ADMIN))
    };
    let c = TestConsole::start_with(db, with_kek(Some(kek(7)))).await;
    let (rs, rs_secret) = c.create_rs(URI, &["notes:read"]).await;
    let (client, client_secret) = c.create_client(&rs, &["notes:read"]).await;
    let before = c.token((&client, &client_secret), &[]).await;
    c.stop().await;

    // In the database: only ciphertext.
    let store = authsec_console::Store::open(&db.url, authsec_console::Clock::system())
        .await
        .unwrap();
    let keys = store.signing_keys(true).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, kid(&before));
    assert!(
        keys[0].private_key.starts_with("enc:v1:"),
        "{}",
        keys[0].private_key
    );
    store.close().await;

    // The same key encryption key: the same signing key signs, old tokens still verify.
    let c = TestConsole::start_with(db, with_kek(Some(kek(7)))).await;
    let after = c.token((&client, &client_secret), &[]).await;
    assert_eq!(kid(&after), kid(&before));
    assert_eq!(
        introspect(&c, (&rs, &rs_secret), &before).await["active"],
        true
    );
    c.stop().await;

    // Another key, or none: the console refuses to start, saying why.
    for (k, expected) in [
        (
            Some(kek(8)),
            "does not decrypt with AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY",
        ),
        (None, "AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY is not set"),
    ] {
        let mut config =
            authsec_console::ConsoleConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
        config.admin_token = Some(ADMIN.to_owned());
        config.key_encryption_key = k;
        let err = authsec_console::Console::bind(config).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}

backend_tests!(
    signing_keys_are_encrypted_at_rest_with_a_key_encryption_key,
    data_survives_a_restart,
    a_configured_admin_token_replaces_the_stored_one,
    a_lost_admin_token_can_be_reset_and_rotated,
);
