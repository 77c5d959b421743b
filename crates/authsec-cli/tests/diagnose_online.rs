//! `authsec diagnose --online` against loopback authorization servers: the issuer's metadata,
//! the JWKS, and clock skew measured from the `Date` header.

mod common;

use std::time::{Duration, SystemTime};

use authsec_testkit::{jwks, now, FakeAuthServer, TestKey};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::{authsec, json, Run};
use serde_json::{json, Value};

const RES: &str = "http://127.0.0.1:1/mcp";

fn claims(iss: &str) -> Value {
    json!({"iss": iss, "aud": RES, "sub": "u", "scope": "s", "iat": now() - 10, "exp": now() + 3600})
}

async fn run(args: Vec<String>, token: String) -> Run {
    tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        authsec(&argv, &token, &[])
    })
    .await
    .unwrap()
}

fn args(issuer: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "diagnose",
        "--json",
        "--online",
        "--issuer",
        issuer,
        "--resource",
        RES,
    ]
    .map(String::from)
    .to_vec();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("-".into());
    a
}

fn finding<'v>(v: &'v Value, check: &str) -> &'v Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {v:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_verifies_the_signature_with_the_discovered_jwks() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let token = key.token(&claims(&server.issuer()));
    let r = run(args(&server.issuer(), &[]), token).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r);
    assert_eq!(finding(&v, "signature")["actual"], "verified");
    assert_eq!(finding(&v, "kid")["expected"], json!(["k1"]));
    assert_eq!(server.jwks_fetches(), 1);
    // The loopback server's clock is this machine's: no skew worth a warning.
    assert_eq!(finding(&v, "clock")["ok"], true);
    assert_eq!(finding(&v, "clock")["hint"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_moved_issuer_shows_that_the_metadata_matches_the_configuration() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let token = key.token(&claims("https://auth-dev.example.com"));
    let v = json(&run(args(&server.issuer(), &[]), token).await);
    let hint = finding(&v, "iss")["hint"].as_str().unwrap().to_owned();
    assert!(
        hint.contains(&format!(
            "The authorization server's metadata ({}/.well-known/oauth-authorization-server) says \
             issuer is \"{}\", as configured: the token comes from elsewhere",
            server.issuer(),
            server.issuer()
        )),
        "{hint}"
    );
    assert!(hint.contains("Re-authorize"), "{hint}");
    assert_eq!(v["reason"], "issuer_mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_issuer_trailing_slash_shows_what_the_metadata_publishes() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let configured = format!("{}/", server.issuer());
    let token = key.token(&claims(&server.issuer()));
    let v = json(&run(args(&configured, &[]), token).await);
    let hint = finding(&v, "iss")["hint"].as_str().unwrap().to_owned();
    assert!(
        hint.contains("Trailing slash: the configured issuer"),
        "{hint}"
    );
    assert!(
        hint.contains(&format!(
            "says issuer is \"{}\" — the token's value: the configuration is wrong; set AUTHSEC_ISSUER={}",
            server.issuer(),
            server.issuer()
        )),
        "{hint}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_unreachable_keys_are_not_checked_with_the_reason() {
    // Nothing listens on port 1.
    let token = TestKey::es256("k1").token(&claims("http://127.0.0.1:1"));
    let v = json(&run(args("http://127.0.0.1:1", &[]), token).await);
    assert_eq!(finding(&v, "signature")["ok"], Value::Null);
    let kid = finding(&v, "kid")["hint"].as_str().unwrap().to_owned();
    assert!(kid.contains("keys could not be loaded"), "{kid}");
    assert!(kid.contains("503 validation_unavailable"), "{kid}");
}

/// An authorization server whose clock runs `behind` seconds behind this machine: its
/// metadata and JWKS answer with a `Date` header from its clock.
async fn skewed_server(key: &TestKey, behind: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let keys = jwks(&[key]);
    let meta = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")});
    let date = move || httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(behind));
    let d1 = date;
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { ([(header::DATE, d1())], axum::Json(meta)).into_response() }),
        )
        .route(
            "/jwks",
            get(
                move || async move { ([(header::DATE, date())], axum::Json(keys)).into_response() },
            ),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_only_because_of_clock_skew_says_so_with_the_measured_skew() {
    let key = TestKey::es256("k1");
    let issuer = skewed_server(&key, 300).await;
    // Expired 2 minutes ago here (beyond the 60 s leeway), but 3 minutes from now by the AS's clock.
    let token = key.token(&json!({
        "iss": issuer, "aud": RES, "sub": "u", "iat": now() - 3600, "exp": now() - 120
    }));
    let r = run(args(&issuer, &[]), token).await;
    assert_eq!(r.code, 1);
    let v = json(&r);
    let exp = finding(&v, "exp")["hint"].as_str().unwrap().to_owned();
    assert!(
        exp.contains("expired only by this machine's clock"),
        "{exp}"
    );
    assert!(
        exp.contains("the authorization server 5m behind this machine"),
        "{exp}"
    );
    assert!(exp.contains("use NTP"), "{exp}");
    let clock = finding(&v, "clock");
    assert_eq!(clock["ok"], true);
    assert!(
        clock["actual"]
            .as_str()
            .unwrap()
            .starts_with("authorization server -300s"),
        "{clock}"
    );
    assert!(
        clock["hint"].as_str().unwrap().contains("disagree by 5m"),
        "{clock}"
    );
    assert_eq!(v["reason"], "token_expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_with_agreeing_clocks_is_an_old_token_to_refresh() {
    let key = TestKey::es256("k1");
    let issuer = skewed_server(&key, 0).await;
    let token = key.token(&json!({"iss": issuer, "aud": RES, "sub": "u", "exp": now() - 600}));
    let v = json(&run(args(&issuer, &[]), token).await);
    let exp = finding(&v, "exp")["hint"].as_str().unwrap().to_owned();
    assert!(exp.starts_with("expired 10m"), "{exp}");
    assert!(
        exp.contains("this is an old token: the client should refresh it"),
        "{exp}"
    );
}
