//! The JWKS cache against a loopback authorization server whose keys, status and latency the
//! test controls: discovery, rotation, unknown-`kid` floods, outages, never-loaded keys and
//! `Cache-Control`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use authsec::keys::{self, DiscoveryError, KeyCache, KeyFetchError, KeySource};
use authsec::JwksError;
use authsec::{AuthError, Config};
use authsec::{StartupError, Validator};
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use common::{render, RESOURCE, SCOPES};
use serde_json::json;

/// A configuration for `server` with an explicit JWKS URL.
fn config_for(server: &FakeAuthServer) -> authsec::config::ConfigBuilder {
    Config::builder(server.issuer(), RESOURCE)
        .jwks_url(server.jwks_url())
        .supported_scopes(SCOPES)
}

fn token(server: &FakeAuthServer, key: &TestKey) -> String {
    key.token(&claims(&server.issuer(), RESOURCE, "notes:read"))
}

/// A token naming a random `kid` (the flood): well-formed, from our issuer.
fn random_kid_token(server: &FakeAuthServer, key: &TestKey) -> String {
    let mut kid = [0u8; 12];
    aws_lc_rs::rand::fill(&mut kid).unwrap();
    let kid: String = kid.iter().map(|b| format!("{b:02x}")).collect();
    key.sign(
        &json!({"alg": key.alg, "kid": kid, "typ": "at+jwt"}),
        &claims(&server.issuer(), RESOURCE, "notes:read"),
    )
}

/// Validates `tokens` concurrently, one task each; returns every result.
async fn flood(v: &Validator, tokens: Vec<String>) -> Vec<Result<authsec::Principal, AuthError>> {
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let v = v.clone();
            tokio::spawn(async move { v.validate(&t).await })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

// ---- discovery ----

#[tokio::test]
async fn keys_are_found_through_issuer_discovery() {
    let key = TestKey::rsa("k1", "RS256");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let config = Config::builder(server.issuer(), RESOURCE).build().unwrap();
    let v = Validator::new(config).await.unwrap();
    assert_eq!(
        v.keys().jwks_url().map(|u| u.to_string()),
        Some(server.jwks_url())
    );
    let p = v.validate(&token(&server, &key)).await.unwrap();
    assert_eq!(p.subject(), Some("user-1"));
    assert_eq!(p.scopes(), ["notes:read"]);
    assert_eq!(server.jwks_fetches(), 1);
}

#[tokio::test]
async fn discovered_issuer_with_trailing_slash_fails_startup_showing_both_values() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let published = format!("{}/", server.issuer());
    server.set_metadata_issuer(Some(published.clone()));
    let config = Config::builder(server.issuer(), RESOURCE).build().unwrap();
    let err = Validator::new(config).await.unwrap_err();
    let StartupError::Discovery(DiscoveryError::IssuerMismatch {
        configured,
        published: got,
        url,
    }) = &err
    else {
        panic!("expected an issuer mismatch, got {err:?}");
    };
    assert_eq!(configured, &server.issuer());
    assert_eq!(got, &published);
    assert_eq!(
        url,
        &format!("{}/.well-known/oauth-authorization-server", server.issuer())
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{:?}", server.issuer()))
            && text.contains(&format!("{published:?}")),
        "{text}"
    );
    assert!(text.contains("Set AUTHSEC_ISSUER"), "{text}");
    assert_eq!(
        server.jwks_fetches(),
        0,
        "keys of a mismatched issuer were fetched"
    );
}

#[tokio::test]
async fn discovered_metadata_of_a_moved_issuer_fails_startup() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    server.set_metadata_issuer(Some("https://auth.example.com".into()));
    let config = Config::builder(server.issuer(), RESOURCE).build().unwrap();
    match Validator::new(config).await {
        Err(StartupError::Discovery(DiscoveryError::IssuerMismatch {
            configured,
            published,
            ..
        })) => {
            assert_eq!(configured, server.issuer());
            assert_eq!(published, "https://auth.example.com");
        }
        other => panic!("expected an issuer mismatch, got {other:?}"),
    }
}

// ---- rotation ----

#[tokio::test]
async fn a_new_kid_is_picked_up_by_one_refresh() {
    let k1 = TestKey::es256("k1");
    let k2 = TestKey::es256("k2");
    let server = FakeAuthServer::start(jwks(&[&k1])).await;
    let config = config_for(&server)
        .jwks_min_refresh_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let v = Validator::new(config).await.unwrap();
    v.validate(&token(&server, &k1)).await.unwrap();
    assert_eq!(server.jwks_fetches(), 1);

    server.set_jwks(jwks(&[&k1, &k2]));
    // The rate limit counts from the start-up fetch.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let p = v.validate(&token(&server, &k2)).await.unwrap();
    assert_eq!(p.subject(), Some("user-1"));
    assert_eq!(server.jwks_fetches(), 2);
    // Both keys now verify without further fetches.
    v.validate(&token(&server, &k1)).await.unwrap();
    v.validate(&token(&server, &k2)).await.unwrap();
    assert_eq!(server.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_new_kid_within_the_refresh_interval_is_unknown_until_the_interval_passes() {
    let k1 = TestKey::es256("k1");
    let k2 = TestKey::es256("k2");
    let server = FakeAuthServer::start(jwks(&[&k1])).await;
    let v = Validator::new(config_for(&server).build().unwrap())
        .await
        .unwrap();
    server.set_jwks(jwks(&[&k1, &k2]));
    assert_eq!(
        v.validate(&token(&server, &k2)).await,
        Err(AuthError::UnknownKey {
            kid: Some("k2".into())
        })
    );
    assert_eq!(server.jwks_fetches(), 1);
    // The periodic refresh (which ignores the rate limit) brings it in.
    v.keys().refresh().await.unwrap();
    v.validate(&token(&server, &k2)).await.unwrap();
}

#[tokio::test]
async fn a_rotated_out_kid_works_until_a_refresh_drops_it_even_for_cached_tokens() {
    let k1 = TestKey::es256("k1");
    let k2 = TestKey::es256("k2");
    let server = FakeAuthServer::start(jwks(&[&k1, &k2])).await;
    let v = Validator::new(config_for(&server).build().unwrap())
        .await
        .unwrap();
    let old = token(&server, &k1);
    v.validate(&old).await.unwrap(); // now in the verified-token cache

    server.set_jwks(jwks(&[&k2]));
    // Until the next refresh, the last fetched key set still has k1.
    v.validate(&old).await.unwrap();
    v.validate(&token(&server, &k1)).await.unwrap();

    v.keys().refresh().await.unwrap();
    assert_eq!(server.jwks_fetches(), 2);
    // The key is gone: neither a fresh token nor the cached one is accepted any more.
    let unknown = Err(AuthError::UnknownKey {
        kid: Some("k1".into()),
    });
    assert_eq!(v.validate(&token(&server, &k1)).await, unknown);
    assert_eq!(v.validate(&old).await, unknown);
    v.validate(&token(&server, &k2)).await.unwrap();
}

// ---- unknown-kid floods ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_on_a_cold_cache_shares_one_fetch() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    server.set_delay(Duration::from_millis(200));
    let config = config_for(&server).build().unwrap();
    let cache = KeyCache::new(
        KeySource::Url(config.jwks_url.clone().unwrap()),
        authsec::fetch::HttpClient::new().unwrap(),
        config.jwks_min_refresh_interval,
    );
    let v = Validator::with_key_cache(config, Arc::new(cache));
    let tokens = (0..1000).map(|_| random_kid_token(&server, &key)).collect();
    let results = flood(&v, tokens).await;
    assert_eq!(results.len(), 1000);
    for r in &results {
        assert!(
            matches!(r, Err(AuthError::UnknownKey { kid: Some(_) })),
            "{r:?}"
        );
    }
    assert_eq!(server.jwks_fetches(), 1);
    assert_eq!(v.keys().fetch_count(), 1);
    // The one fetch loaded the real key.
    v.validate(&token(&server, &key)).await.unwrap();
    assert_eq!(server.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_right_after_startup_fetches_nothing() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let v = Validator::new(config_for(&server).build().unwrap())
        .await
        .unwrap();
    assert_eq!(server.jwks_fetches(), 1);
    let tokens = (0..1000).map(|_| random_kid_token(&server, &key)).collect();
    let results = flood(&v, tokens).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(AuthError::UnknownKey { .. }))));
    assert_eq!(server.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_floods_fetch_at_most_once_per_interval() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let config = config_for(&server)
        .jwks_min_refresh_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let cache = KeyCache::new(
        KeySource::Url(config.jwks_url.clone().unwrap()),
        authsec::fetch::HttpClient::new().unwrap(),
        config.jwks_min_refresh_interval,
    );
    let v = Validator::with_key_cache(config, Arc::new(cache));
    let batch = || (0..300).map(|_| random_kid_token(&server, &key)).collect();
    flood(&v, batch()).await;
    assert_eq!(server.jwks_fetches(), 1);
    flood(&v, batch()).await;
    assert_eq!(server.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    flood(&v, batch()).await;
    assert_eq!(server.jwks_fetches(), 2);
}

// ---- outages ----

#[tokio::test]
async fn keys_keep_working_when_the_jwks_server_goes_down_after_start() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    // No verified-token cache: every validation below really uses the keys.
    let config = config_for(&server).token_cache_entries(0).build().unwrap();
    let v = Validator::new(config).await.unwrap();
    let t = token(&server, &key);
    v.validate(&t).await.unwrap();

    server.set_jwks_status(500);
    let err = v.keys().refresh().await.unwrap_err();
    assert_eq!(
        err,
        KeyFetchError::Status {
            url: server.jwks_url(),
            status: http::StatusCode::INTERNAL_SERVER_ERROR
        }
    );
    assert_eq!(
        err.to_string(),
        format!("GET {}: HTTP 500 Internal Server Error", server.jwks_url())
    );
    assert_eq!(v.keys().last_error(), Some(err));
    v.validate(&t).await.unwrap();
    v.validate(&token(&server, &key)).await.unwrap();
    // Known keys loaded: an unknown kid is still an invalid token, not an outage.
    assert!(matches!(
        v.validate(&random_kid_token(&server, &key)).await,
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(server.jwks_fetches(), 2);
}

#[tokio::test]
async fn an_empty_or_broken_jwks_does_not_replace_the_last_good_keys() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let config = config_for(&server).token_cache_entries(0).build().unwrap();
    let v = Validator::new(config).await.unwrap();
    let url = server.jwks_url();
    for broken in [
        json!({"keys": []}),
        json!({"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}]}),
    ] {
        server.set_jwks(broken.clone());
        let err = v.keys().refresh().await.unwrap_err();
        assert_eq!(
            err,
            KeyFetchError::NoUsableKeys { url: url.clone() },
            "{broken}"
        );
        v.validate(&token(&server, &key)).await.unwrap();
    }
    server.set_jwks(json!({"not": "a jwks"}));
    let err = v.keys().refresh().await.unwrap_err();
    assert!(
        matches!(&err, KeyFetchError::Invalid { url: u, error: JwksError::NotAJwks { .. } } if *u == url),
        "{err:?}"
    );
    v.validate(&token(&server, &key)).await.unwrap();
}

#[tokio::test]
async fn never_loaded_keys_are_503_validation_unavailable() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    server.set_jwks_status(500);
    let config = config_for(&server)
        .jwks_min_refresh_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    // Start-up does not fail: the server may come up later.
    let v = Validator::new(config.clone()).await.unwrap();
    let err = v.validate(&token(&server, &key)).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::ValidationUnavailable {
            detail: format!(
                "signing keys unavailable: GET {}: HTTP 500 Internal Server Error",
                server.jwks_url()
            )
        }
    );
    let d = render(&config, &err);
    assert_eq!(d.status, 503);
    assert_eq!(d.www_authenticate, None);
    assert_eq!(
        d.body,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "token validation unavailable",
            "reason": "validation_unavailable"
        })
    );
    // Never a 401: an unknown kid is unavailable too, not "unknown key".
    assert!(matches!(
        v.validate(&random_kid_token(&server, &key)).await,
        Err(AuthError::ValidationUnavailable { .. })
    ));

    // Once the server is back (and the rate limit allows a fetch), tokens validate.
    server.set_jwks_status(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.validate(&token(&server, &key)).await.unwrap();
}

#[tokio::test]
async fn unreachable_discovery_is_503_validation_unavailable() {
    // Nothing listens on the discarded server's port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let key = TestKey::es256("k1");
    let config = Config::builder(&issuer, RESOURCE).build().unwrap();
    let v = Validator::new(config).await.unwrap();
    let t = key.token(&claims(&issuer, RESOURCE, "x"));
    match v.validate(&t).await {
        Err(AuthError::ValidationUnavailable { detail }) => {
            assert!(
                detail.starts_with(&format!(
                    "signing keys unavailable: no authorization server metadata for {issuer}"
                )),
                "{detail}"
            );
            assert!(!detail.contains(&t), "the token leaked into the detail");
        }
        other => panic!("expected 503, got {other:?}"),
    }
}

// ---- Cache-Control ----

#[tokio::test]
async fn cache_control_max_age_sets_the_refresh_interval_within_bounds() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let cache = KeyCache::new(
        KeySource::Url(server.jwks_url().parse().unwrap()),
        authsec::fetch::HttpClient::new().unwrap(),
        Duration::from_secs(10),
    );
    let cases = [
        (Some("public, max-age=600"), Some(600), 600),
        (Some("max-age=600, must-revalidate"), Some(600), 600),
        (Some("Max-Age=900"), Some(900), 900),
        (Some("s-maxage=1200"), Some(1200), 1200),
        (Some("max-age=5"), Some(5), 60),
        (Some("max-age=0"), Some(0), 60),
        (Some("max-age=31536000"), Some(31_536_000), 86_400),
        (Some("no-cache"), None, 300),
        (Some("max-age=soon"), None, 300),
        (None, None, 300),
    ];
    for (header, max_age, interval) in cases {
        server.set_cache_control(header.map(str::to_owned));
        let got = cache.refresh().await.unwrap();
        assert_eq!(got, max_age.map(Duration::from_secs), "{header:?}");
        assert_eq!(
            keys::refresh_interval(got),
            Duration::from_secs(interval),
            "{header:?}"
        );
        assert_eq!(
            cache.next_refresh(),
            Duration::from_secs(interval),
            "the periodic refresh follows the last fetch: {header:?}"
        );
    }
}

#[tokio::test]
async fn the_periodic_refresh_retries_sooner_after_a_failed_fetch() {
    let key = TestKey::es256("k1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let cache = KeyCache::new(
        KeySource::Url(server.jwks_url().parse().unwrap()),
        authsec::fetch::HttpClient::new().unwrap(),
        Duration::from_secs(10),
    );
    assert_eq!(
        cache.next_refresh(),
        Duration::from_secs(300),
        "before any fetch"
    );
    server.set_cache_control(Some("max-age=120".to_owned()));
    cache.refresh().await.unwrap();
    assert_eq!(cache.next_refresh(), Duration::from_secs(120));
    server.set_jwks_status(500);
    assert!(cache.refresh().await.is_err());
    assert_eq!(cache.next_refresh(), Duration::from_secs(30));
    assert_eq!(
        cache.current().kids(),
        ["k1"],
        "the last good keys are kept"
    );
}
