//! `private_key_jwt` machine clients (RFC 7523): registration with a public JWKS (inline or at
//! a URL) and client assertions at the token endpoint, over real HTTP, against SQLite and
//! PostgreSQL.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use authsec_proto::jws::SigningKey;
use common::{schema_errors, Options, TestConsole, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

const URI: &str = "https://notes.example.com/mcp";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn key(kid: &str) -> SigningKey {
    let (_, pkcs8) = SigningKey::generate().unwrap();
    SigningKey::from_pkcs8(&pkcs8, Some(kid.to_owned())).unwrap()
}

fn jwks(keys: &[&SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}

fn now() -> i64 {
    authsec_console::Clock::system().now()
}

fn unique_jti() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "jti-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The claims of a good assertion by `client` for console `c`.
fn claims(c: &TestConsole, client: &str) -> Value {
    let t = now();
    json!({
        "iss": client, "sub": client, "aud": format!("{}/oauth/token", c.issuer),
        "iat": t, "exp": t + 60, "jti": unique_jti(),
    })
}

/// A token request authenticated by `assertion`.
async fn token_with(c: &TestConsole, assertion: &str) -> (StatusCode, Value) {
    let (status, headers, body) = c
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
            ],
        )
        .await;
    assert_eq!(headers["cache-control"], "no-store");
    if status == StatusCode::UNAUTHORIZED {
        assert!(headers.get("www-authenticate").is_none(), "{headers:?}");
    }
    (status, body)
}

fn refused(why: &str) -> Value {
    json!({ "error": "invalid_client", "error_description": format!("client assertion refused: {why}") })
}

/// A resource server with one `private_key_jwt` client whose inline JWKS holds `signer`.
async fn setup(c: &TestConsole, signer: &SigningKey) -> (String, String) {
    let (rs, _) = c.create_rs(URI, &["notes:read", "notes:write"]).await;
    let (status, body) = c
        .post(
            &format!("/api/resource-servers/{rs}/clients"),
            json!({ "name": "agent", "allowed_scopes": ["notes:read"], "jwks": jwks(&[signer]) }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body.get("client_secret"), None);
    assert_eq!(body["client"]["auth_method"], "private_key_jwt");
    assert_eq!(body["client"]["jwks"], jwks(&[signer]));
    assert_eq!(
        schema_errors("Client", &body["client"]),
        Vec::<String>::new()
    );
    (rs, body["client"]["client_id"].as_str().unwrap().to_owned())
}

async fn an_assertion_signed_by_a_registered_key_gets_a_token(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (rs, client) = setup(&c, &signer).await;
    let assertion = signer.sign("JWT", &claims(&c, &client)).unwrap();
    let (status, body) = token_with(&c, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "notes:read");
    let (_, access) = common::decode_jwt(body["access_token"].as_str().unwrap());
    assert_eq!(
        (&access["client_id"], &access["sub"], &access["aud"]),
        (&json!(client), &json!(client), &json!(URI))
    );
    // The issuer identifier is an audience too (RFC 7523bis).
    let mut by_issuer = claims(&c, &client);
    by_issuer["aud"] = json!(c.issuer);
    let (status, body) = token_with(&c, &signer.sign("JWT", &by_issuer).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audit = c.audit(Some(&rs)).await;
    assert_eq!(audit[0]["action"], "client.created");
    assert_eq!(audit[0]["after"]["auth_method"], "private_key_jwt");
    c.stop().await;
}

async fn a_replayed_assertion_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (_, client) = setup(&c, &signer).await;
    let mut replayed = claims(&c, &client);
    replayed["jti"] = json!("once-only-1");
    let assertion = signer.sign("JWT", &replayed).unwrap();
    let (status, _) = token_with(&c, &assertion).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = token_with(&c, &assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({
            "error": "invalid_client",
            "error_description": "client assertion refused: jti \"once-only-1\" was already used"
        })
    );
    // The same jti in a new assertion is a replay too.
    let again = signer.sign("JWT", &replayed).unwrap();
    assert_eq!(token_with(&c, &again).await.0, StatusCode::UNAUTHORIZED);
    c.stop().await;
}

async fn an_assertion_for_another_audience_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (_, client) = setup(&c, &signer).await;
    let token_endpoint = format!("{}/oauth/token", c.issuer);
    for aud in [
        json!("https://as.example.com/oauth/token"),
        json!(URI),
        json!([token_endpoint, "https://other.example.com"]),
        json!([]),
    ] {
        let mut wrong = claims(&c, &client);
        wrong["aud"] = aud.clone();
        let (status, body) = token_with(&c, &signer.sign("JWT", &wrong).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{aud}");
        let got = match aud {
            Value::String(s) => format!("Some([{s:?}])"),
            Value::Array(a) => format!(
                "Some({:?})",
                a.iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>()
            ),
            _ => unreachable!(),
        };
        assert_eq!(
            body,
            refused(&format!(
                "aud must be one value, the token endpoint {token_endpoint:?} or the issuer {:?}; got {got}",
                c.issuer
            ))
        );
    }
    c.stop().await;
}

async fn an_expired_assertion_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (_, client) = setup(&c, &signer).await;
    let mut expired = claims(&c, &client);
    let exp = now() - 120;
    expired["iat"] = json!(exp - 60);
    expired["exp"] = json!(exp);
    let (status, body) = token_with(&c, &signer.sign("JWT", &expired).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let why = body["error_description"].as_str().unwrap();
    assert!(
        why.starts_with(&format!("client assertion refused: expired at {exp} (now ")),
        "{why}"
    );
    let mut no_exp = claims(&c, &client);
    no_exp.as_object_mut().unwrap().remove("exp");
    let (status, body) = token_with(&c, &signer.sign("JWT", &no_exp).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refused("exp is required"));
    c.stop().await;
}

async fn a_long_lived_assertion_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (_, client) = setup(&c, &signer).await;
    let mut long = claims(&c, &client);
    long.as_object_mut().unwrap().remove("iat");
    long["exp"] = json!(now() + 3600);
    let (status, body) = token_with(&c, &signer.sign("JWT", &long).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let why = body["error_description"].as_str().unwrap();
    assert!(
        why.starts_with("client assertion refused: exp is "),
        "{why}"
    );
    assert!(
        why.ends_with(" s away; an assertion may live at most 300 s"),
        "{why}"
    );
    // Issued long ago with a far exp: the lifetime counts from iat.
    let mut old = claims(&c, &client);
    old["iat"] = json!(now() - 3000);
    old["exp"] = json!(now() + 60);
    let (status, body) = token_with(&c, &signer.sign("JWT", &old).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        refused("exp - iat is 3060 s; an assertion may live at most 300 s")
    );
    c.stop().await;
}

async fn an_assertion_signed_with_an_unknown_kid_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (_, client) = setup(&c, &signer).await;
    let stranger = key("agent-9");
    let (status, body) = token_with(&c, &stranger.sign("JWT", &claims(&c, &client)).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refused("no key with kid Some(\"agent-9\")"));
    c.stop().await;
}

async fn an_assertion_signed_with_another_key_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (_, client) = setup(&c, &signer).await;
    let impostor = key("agent-1");
    let (status, body) = token_with(&c, &impostor.sign("JWT", &claims(&c, &client)).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refused("bad signature"));
    c.stop().await;
}

async fn an_assertion_for_another_client_or_without_jti_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("agent-1");
    let (rs, client) = setup(&c, &signer).await;
    let (secret_client, _) = c.create_client(&rs, &["notes:read"]).await;
    // A secret client cannot be authenticated by an assertion, whatever it names.
    let mut other = claims(&c, &secret_client);
    other["iss"] = json!(secret_client);
    let (status, body) = token_with(&c, &signer.sign("JWT", &other).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        refused(&format!("{secret_client} is not a private_key_jwt client"))
    );
    let mut iss = claims(&c, &client);
    iss["iss"] = json!("someone-else");
    let (status, body) = token_with(&c, &signer.sign("JWT", &iss).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        refused(&format!(
            "iss and sub must both be the client id {client:?} (iss Some(\"someone-else\"), sub Some({client:?}))"
        ))
    );
    let mut no_jti = claims(&c, &client);
    no_jti.as_object_mut().unwrap().remove("jti");
    let (status, body) = token_with(&c, &signer.sign("JWT", &no_jti).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refused("jti is required"));
    // And a private_key_jwt client has no secret to present.
    let (status, _, body) = c
        .oauth(
            "/oauth/token",
            Some((&client, "asc_guess")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "unknown client or wrong secret");
    c.stop().await;
}

async fn a_client_with_a_jwks_uri_is_verified_with_the_keys_published_there(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let signer = key("remote-1");
    let published = jwks(&[&signer]);
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let body = published.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let (status, body) = c
        .post(
            &format!("/api/resource-servers/{rs}/clients"),
            json!({ "name": "remote agent", "allowed_scopes": ["notes:read"], "jwks_uri": jwks_uri }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["client"]["jwks_uri"], jwks_uri);
    assert_eq!(
        schema_errors("Client", &body["client"]),
        Vec::<String>::new()
    );
    let client = body["client"]["client_id"].as_str().unwrap().to_owned();
    let (status, body) = token_with(&c, &signer.sign("JWT", &claims(&c, &client)).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.stop().await;
}

async fn registration_refuses_keys_that_cannot_verify(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let path = format!("/api/resource-servers/{rs}/clients");
    let signer = key("k");
    let mut private = signer.public_jwk();
    private["d"] = json!("AAAA");
    for (body, field) in [
        (json!({ "keys": [private] }), "jwks"),
        (
            json!({ "keys": [{ "kty": "oct", "kid": "h", "k": "AAAA" }] }),
            "jwks",
        ),
        (json!({ "keys": [] }), "jwks"),
    ] {
        let (status, answer) = c
            .post(
                &path,
                json!({ "name": "a", "allowed_scopes": ["notes:read"], "jwks": body }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    let (status, answer) = c
        .post(
            &path,
            json!({ "name": "a", "allowed_scopes": ["notes:read"], "jwks_uri": "http://keys.example.com/jwks" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["field"], "jwks_uri");
    let (status, answer) = c
        .post(
            &path,
            json!({ "name": "a", "allowed_scopes": ["notes:read"], "jwks": jwks(&[&signer]),
                    "jwks_uri": "https://keys.example.com/jwks" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    c.stop().await;
}

async fn keys_are_replaced_and_a_key_client_has_no_secret_to_rotate(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let old = key("old");
    let (rs, client) = setup(&c, &old).await;
    let new = key("new");
    let path = format!("/api/resource-servers/{rs}/clients/{client}");
    let (status, body) = c.patch(&path, json!({ "jwks": jwks(&[&new]) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["jwks"], jwks(&[&new]));
    let (status, _) = token_with(&c, &old.sign("JWT", &claims(&c, &client)).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = token_with(&c, &new.sign("JWT", &claims(&c, &client)).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = c.post(&format!("{path}/secret"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "client");
    c.stop().await;
}

async fn a_replay_on_another_instance_is_refused(db: &TestDb) {
    let a = TestConsole::start(db).await;
    let b = TestConsole::start_with(
        db,
        Options {
            public_url: Some(a.issuer.clone()),
            ..Options::default()
        },
    )
    .await;
    let signer = key("agent-1");
    let (_, client) = setup(&a, &signer).await;
    let assertion = signer.sign("JWT", &claims(&a, &client)).unwrap();
    assert_eq!(token_with(&a, &assertion).await.0, StatusCode::OK);
    let (status, body) = token_with(&b, &assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .ends_with("was already used"),
        "{body}"
    );
    b.stop().await;
    a.stop().await;
}

backend_tests!(
    an_assertion_signed_by_a_registered_key_gets_a_token,
    a_replayed_assertion_is_refused,
    an_assertion_for_another_audience_is_refused,
    an_expired_assertion_is_refused,
    a_long_lived_assertion_is_refused,
    an_assertion_signed_with_an_unknown_kid_is_refused,
    an_assertion_signed_with_another_key_is_refused,
    an_assertion_for_another_client_or_without_jti_is_refused,
    a_client_with_a_jwks_uri_is_verified_with_the_keys_published_there,
    registration_refuses_keys_that_cannot_verify,
    keys_are_replaced_and_a_key_client_has_no_secret_to_rotate,
);

postgres_tests!(a_replay_on_another_instance_is_refused);

#[tokio::test]
async fn the_metadata_advertises_private_key_jwt_and_its_algorithms() {
    let db = TestDb::sqlite();
    let c = TestConsole::start(&db).await;
    let (status, meta) = c.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        schema_errors("AuthorizationServerMetadata", &meta),
        Vec::<String>::new()
    );
    let methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt"
    ]);
    let algs =
        json!(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]);
    assert_eq!(meta["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        algs
    );
    assert_eq!(meta["revocation_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        meta["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    c.stop().await;
}
