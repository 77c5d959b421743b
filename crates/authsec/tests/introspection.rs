//! RFC 7662 introspection against a loopback fake: failure semantics (503, never inactive,
//! never allow), `active` typing, claim rules, client authentication, the answer cache and
//! merged concurrent calls.

mod introspection_support;

use std::sync::Arc;
use std::time::Duration;

use authsec::config::{ClientAuthMethod, Config, ValidationMode};
use authsec::AuthError;
use authsec::Clock;
use authsec::TokenKind;
use authsec_testkit::{FakeAuthServer, FakeIntrospection};
use introspection_support::*;
use serde_json::json;

const MODE: ValidationMode = ValidationMode::IntrospectionOnly;

fn now() -> i64 {
    authsec_testkit::now()
}

/// An active answer for an opaque token: the standard claims.
fn active(fake: &FakeIntrospection, token: &str) {
    fake.set_active(token, &token_claims(now()));
}

#[tokio::test]
async fn active_opaque_token_is_accepted_with_the_introspected_claims() {
    let fake = fake().await;
    let token = opaque_token();
    active(&fake, &token);
    let config = builder(&fake.url(), MODE).build().unwrap();
    let principal = validator(config).validate(&token).await.unwrap();
    assert_eq!(principal.kind(), TokenKind::Introspected);
    assert_eq!(principal.subject(), Some("user-1"));
    assert_eq!(principal.client_id(), Some("client-1"));
    assert_eq!(principal.scopes(), ["notes:read", "notes:write"]);
    assert_eq!(principal.audiences(), [RESOURCE]);
    assert_eq!(principal.fingerprint(), authsec::Fingerprint::of(&token));
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn introspection_down_is_503_validation_unavailable() {
    let config = builder(&dead_url().await, MODE).build().unwrap();
    let result = validator(config.clone()).validate(&opaque_token()).await;
    assert_unavailable(&config, &result);
}

#[tokio::test]
async fn introspection_slower_than_the_timeout_is_503() {
    let fake = fake().await;
    let token = opaque_token();
    active(&fake, &token);
    fake.set_delay(Duration::from_secs(4));
    let config = builder(&fake.url(), MODE)
        .introspection_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let result = validator(config.clone()).validate(&token).await;
    assert_unavailable(&config, &result);
    let Err(AuthError::ValidationUnavailable { detail }) = result else {
        unreachable!()
    };
    assert!(detail.contains("did not answer within 1s"), "{detail}");
}

#[tokio::test]
async fn introspection_error_statuses_are_503_never_inactive() {
    for status in [429, 500, 502, 503, 400] {
        let fake = fake().await;
        let token = opaque_token();
        active(&fake, &token);
        fake.set_status(status);
        let config = builder(&fake.url(), MODE).build().unwrap();
        let result = validator(config.clone()).validate(&token).await;
        assert_unavailable(&config, &result);
        let Err(AuthError::ValidationUnavailable { detail }) = result else {
            unreachable!()
        };
        assert!(detail.contains(&format!("HTTP {status}")), "{detail}");
    }
}

#[tokio::test]
async fn rejected_client_credentials_are_503_not_inactive() {
    let fake = FakeIntrospection::start(CLIENT_ID, "another-secret").await;
    let token = opaque_token();
    active(&fake, &token);
    let config = builder(&fake.url(), MODE).build().unwrap();
    let result = validator(config.clone()).validate(&token).await;
    assert_unavailable(&config, &result);
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn unusable_introspection_bodies_are_503() {
    for body in [
        "not json",
        "",
        "[]",
        r#"{"active":true,"exp":"tomorrow"}"#,
        r#"{"active":true,"aud":42}"#,
        r#"{"active":true,"scope":["a"]}"#,
        // Ambiguous: which `active` counts? Neither.
        r#"{"active":false,"active":true}"#,
    ] {
        let fake = fake().await;
        fake.set_raw_body(Some(body));
        let config = builder(&fake.url(), MODE).build().unwrap();
        let result = validator(config.clone()).validate(&opaque_token()).await;
        assert_unavailable(&config, &result);
    }
}

#[tokio::test]
async fn oversized_introspection_body_is_503() {
    let fake = fake().await;
    let token = opaque_token();
    let mut claims = token_claims(now());
    claims["padding"] = json!("x".repeat(70 * 1024));
    fake.set_active(&token, &claims);
    let config = builder(&fake.url(), MODE).build().unwrap();
    let result = validator(config.clone()).validate(&token).await;
    assert_unavailable(&config, &result);
}

#[tokio::test]
async fn active_as_the_string_true_is_401_token_revoked() {
    let fake = fake().await;
    let token = opaque_token();
    let mut answer = token_claims(now());
    answer["active"] = json!("true");
    fake.set_response(&token, answer);
    let config = builder(&fake.url(), MODE).build().unwrap();
    let result = validator(config.clone()).validate(&token).await;
    assert_revoked(&config, &result);
}

#[tokio::test]
async fn missing_or_non_boolean_active_is_401_token_revoked() {
    for active in [json!(null), json!(1), json!("false"), json!({})] {
        let fake = fake().await;
        let token = opaque_token();
        let mut answer = token_claims(now());
        answer["active"] = active;
        fake.set_response(&token, answer);
        let config = builder(&fake.url(), MODE).build().unwrap();
        let result = validator(config.clone()).validate(&token).await;
        assert_revoked(&config, &result);
    }
    let fake = fake().await;
    let token = opaque_token();
    fake.set_response(&token, token_claims(now()));
    let config = builder(&fake.url(), MODE).build().unwrap();
    let result = validator(config.clone()).validate(&token).await;
    assert_revoked(&config, &result);
}

#[tokio::test]
async fn revoked_token_is_401_token_revoked() {
    let fake = fake().await;
    let token = opaque_token();
    fake.revoke(&token);
    let config = builder(&fake.url(), MODE).build().unwrap();
    let result = validator(config.clone()).validate(&token).await;
    assert_revoked(&config, &result);
}

#[tokio::test]
async fn revocation_is_visible_no_later_than_the_cache_ttl() {
    let fake = fake().await;
    let token = opaque_token();
    let start = now();
    fake.set_active(&token, &token_claims(start));
    let (clock, hand) = Clock::manual(start);
    let config = builder(&fake.url(), MODE)
        .introspection_cache_ttl(Duration::from_secs(30))
        .clock(clock)
        .build()
        .unwrap();
    let v = validator(config.clone());
    v.validate(&token).await.unwrap();
    fake.revoke(&token);
    hand.advance(29);
    // Still within the TTL: served from the cache, the revocation is not seen yet.
    v.validate(&token).await.unwrap();
    assert_eq!(fake.calls(), 1);
    hand.advance(1);
    assert_revoked(&config, &v.validate(&token).await);
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn an_active_answer_is_never_cached_past_exp() {
    let fake = fake().await;
    let token = opaque_token();
    let start = now();
    let mut claims = token_claims(start);
    claims["exp"] = json!(start + 10);
    fake.set_active(&token, &claims);
    let (clock, hand) = Clock::manual(start);
    let config = builder(&fake.url(), MODE)
        .clock_skew_secs(0)
        .clock(clock)
        .build()
        .unwrap();
    let v = validator(config.clone());
    v.validate(&token).await.unwrap();
    hand.advance(9);
    v.validate(&token).await.unwrap();
    assert_eq!(fake.calls(), 1);
    hand.advance(1);
    // The default TTL (60 s) would still cover it; exp does not.
    let err = v.validate(&token).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::Expired {
            exp: start + 10,
            now: start + 10,
            leeway: 0
        }
    );
    assert_eq!(outcome(&config, &Err(err)), (401, "token_expired".into()));
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn inactive_answers_are_cached_only_briefly() {
    let fake = fake().await;
    let token = opaque_token();
    let start = now();
    let (clock, hand) = Clock::manual(start);
    let config = builder(&fake.url(), MODE).clock(clock).build().unwrap();
    let v = validator(config.clone());
    assert_revoked(&config, &v.validate(&token).await);
    hand.advance(4);
    assert_revoked(&config, &v.validate(&token).await);
    assert_eq!(
        fake.calls(),
        1,
        "inactive answer cached for the negative TTL"
    );
    fake.set_active(&token, &token_claims(start));
    hand.advance(1);
    v.validate(&token).await.unwrap();
    assert_eq!(fake.calls(), 2, "negative entry gone after 5 s");
}

#[tokio::test]
async fn negative_cache_ttl_is_configurable() {
    let fake = fake().await;
    let token = opaque_token();
    let (clock, hand) = Clock::manual(now());
    let config = builder(&fake.url(), MODE)
        .introspection_negative_cache_ttl(Duration::from_secs(0))
        .clock(clock)
        .build()
        .unwrap();
    let v = validator(config.clone());
    assert_revoked(&config, &v.validate(&token).await);
    assert_revoked(&config, &v.validate(&token).await);
    assert_eq!(fake.calls(), 2);
    hand.advance(1);
    assert_revoked(&config, &v.validate(&token).await);
    assert_eq!(fake.calls(), 3);
    let e = builder(&fake.url(), MODE)
        .introspection_negative_cache_ttl(Duration::from_secs(61))
        .build()
        .unwrap_err();
    assert_eq!(e.field, "introspection_negative_cache_ttl_secs");
}

#[tokio::test]
async fn backend_failures_are_not_cached() {
    let fake = fake().await;
    let token = opaque_token();
    active(&fake, &token);
    fake.set_status(500);
    let config = builder(&fake.url(), MODE).build().unwrap();
    let v = validator(config.clone());
    assert_unavailable(&config, &v.validate(&token).await);
    fake.set_status(200);
    v.validate(&token).await.unwrap();
    assert_eq!(fake.calls(), 2);
    assert_eq!(v.cache_stats().introspection_answers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_with_one_new_token_make_one_call() {
    let fake = fake().await;
    let token = Arc::new(opaque_token());
    active(&fake, &token);
    // The answer takes a while, so the requests really do overlap.
    fake.set_delay(Duration::from_millis(300));
    let config = builder(&fake.url(), MODE).build().unwrap();
    let v = validator(config);
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (v, token, barrier) = (v.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                v.validate(&token).await
            })
        })
        .collect();
    for t in tasks {
        let principal = t.await.unwrap().unwrap();
        assert_eq!(principal.subject(), Some("user-1"));
    }
    assert_eq!(fake.calls(), 1);
    let stats = v.cache_stats();
    assert_eq!(stats.introspection_calls, 1);
    assert_eq!(
        stats.introspections_in_flight, 0,
        "in-flight entry cleaned up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_during_an_outage_share_the_failed_call() {
    let fake = fake().await;
    let token = Arc::new(opaque_token());
    fake.set_status(503);
    fake.set_delay(Duration::from_secs(1));
    let config = builder(&fake.url(), MODE).build().unwrap();
    let v = validator(config.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (v, token, barrier) = (v.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                v.validate(&token).await
            })
        })
        .collect();
    for t in tasks {
        assert_unavailable(&config, &t.await.unwrap());
    }
    // Every request is answered by the one failed call they all waited for; the failure
    // itself is not cached.
    assert_eq!(fake.calls(), 1);
    assert_eq!(v.cache_stats().introspection_answers, 0);
    assert_eq!(v.cache_stats().introspections_in_flight, 0);
}

#[tokio::test]
async fn introspection_cache_holds_at_most_its_bound() {
    const N: usize = 16;
    let fake = fake().await;
    let config = builder(&fake.url(), MODE)
        .token_cache_entries(N)
        .build()
        .unwrap();
    let v = validator(config);
    for _ in 0..10 * N {
        let token = opaque_token();
        active(&fake, &token);
        v.validate(&token).await.unwrap();
        // Inactive answers share the bound.
        v.validate(&opaque_token()).await.unwrap_err();
    }
    let stats = v.cache_stats();
    assert!(
        stats.introspection_answers <= N,
        "{} entries",
        stats.introspection_answers
    );
    assert!(stats.introspection_answers > 0);
    assert_eq!(fake.calls(), 20 * N as u64);
}

#[tokio::test]
async fn verified_token_cache_holds_at_most_its_bound() {
    const N: usize = 16;
    let config = Config::builder(ISSUER, RESOURCE)
        .token_cache_entries(N)
        .build()
        .unwrap();
    let v = validator(config);
    let start = now();
    for i in 0..10 * N as i64 {
        // Distinct tokens: distinct iat.
        v.validate(&valid_jwt(start - i)).await.unwrap();
    }
    let stats = v.cache_stats();
    assert!(
        stats.verified_tokens <= N,
        "{} entries",
        stats.verified_tokens
    );
    assert!(stats.verified_tokens > 0);
}

#[tokio::test]
async fn client_secret_basic_is_the_default_and_form_encodes_the_credentials() {
    let secret = "p:ss w/rd%";
    let fake = FakeIntrospection::start(CLIENT_ID, secret).await;
    let token = opaque_token();
    active(&fake, &token);
    let config = Config::builder(ISSUER, RESOURCE)
        .introspection(fake.url(), CLIENT_ID, secret)
        .build()
        .unwrap();
    validator(config).validate(&token).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        r.basic_credentials(),
        Some((CLIENT_ID.to_owned(), secret.to_owned()))
    );
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        r.form,
        [
            ("token".to_owned(), token.clone()),
            ("token_type_hint".to_owned(), "access_token".to_owned())
        ]
    );
}

#[tokio::test]
async fn client_secret_post_sends_the_credentials_in_the_form() {
    let fake = fake().await;
    let token = opaque_token();
    active(&fake, &token);
    let config = builder(&fake.url(), MODE)
        .introspection_auth_method(ClientAuthMethod::ClientSecretPost)
        .build()
        .unwrap();
    validator(config).validate(&token).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.authorization, None);
    assert_eq!(
        r.form,
        [
            ("token".to_owned(), token.clone()),
            ("token_type_hint".to_owned(), "access_token".to_owned()),
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
        ]
    );
}

/// Runs one opaque token whose active answer is `claims` through a validator from `config`.
async fn check_answer(
    config: impl FnOnce(String) -> Config,
    claims: serde_json::Value,
) -> (Config, Result<authsec::Principal, AuthError>) {
    let fake = fake().await;
    let token = opaque_token();
    fake.set_active(&token, &claims);
    let config = config(fake.url());
    let result = validator(config.clone()).validate(&token).await;
    (config, result)
}

fn strict(url: String) -> Config {
    builder(&url, MODE).build().unwrap()
}

fn aud_optional(url: String) -> Config {
    builder(&url, MODE)
        .introspection_require_aud(false)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_answer_without_aud_is_refused_by_default() {
    let mut claims = token_claims(now());
    claims.as_object_mut().unwrap().remove("aud");
    let (config, result) = check_answer(strict, claims).await;
    assert_eq!(
        result.as_ref().unwrap_err(),
        &AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec![]
        }
    );
    assert_eq!(outcome(&config, &result), (401, "audience_mismatch".into()));
}

#[tokio::test]
async fn an_answer_without_aud_is_accepted_only_when_opted_out() {
    let mut claims = token_claims(now());
    claims.as_object_mut().unwrap().remove("aud");
    let (_, result) = check_answer(aud_optional, claims).await;
    assert_eq!(result.unwrap().kind(), TokenKind::Introspected);
}

#[tokio::test]
async fn an_answer_for_another_audience_is_refused_even_when_opted_out() {
    let mut claims = token_claims(now());
    claims["aud"] = json!(["https://other.example.com/mcp", "client-1"]);
    let (config, result) = check_answer(aud_optional, claims).await;
    assert_eq!(
        result.as_ref().unwrap_err(),
        &AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec!["https://other.example.com/mcp".into(), "client-1".into()]
        }
    );
    assert_eq!(outcome(&config, &result), (401, "audience_mismatch".into()));
}

#[tokio::test]
async fn an_aud_array_containing_the_resource_is_accepted() {
    let mut claims = token_claims(now());
    claims["aud"] = json!(["https://other.example.com", RESOURCE]);
    let (_, result) = check_answer(strict, claims).await;
    result.unwrap();
}

#[tokio::test]
async fn an_answer_from_another_issuer_is_refused_and_a_missing_iss_is_accepted() {
    let mut claims = token_claims(now());
    claims["iss"] = json!("https://as.example.com/");
    let (config, result) = check_answer(strict, claims.clone()).await;
    assert_eq!(
        result.as_ref().unwrap_err(),
        &AuthError::IssuerMismatch {
            expected: ISSUER.into(),
            actual: Some("https://as.example.com/".into())
        }
    );
    assert_eq!(outcome(&config, &result), (401, "issuer_mismatch".into()));

    claims.as_object_mut().unwrap().remove("iss");
    let (_, result) = check_answer(strict, claims).await;
    result.unwrap();
}

#[tokio::test]
async fn answer_times_are_checked_like_a_jwt() {
    let now = now();
    let mut expired = token_claims(now);
    expired["exp"] = json!(now - 120);
    let (config, result) = check_answer(strict, expired).await;
    assert_eq!(outcome(&config, &result), (401, "token_expired".into()));

    let mut early = token_claims(now);
    early["nbf"] = json!(now + 600);
    let (config, result) = check_answer(strict, early).await;
    assert_eq!(
        outcome(&config, &result),
        (401, "token_not_yet_valid".into())
    );

    // Within the default 60 s leeway.
    let mut recent = token_claims(now);
    recent["exp"] = json!(now - 30);
    let (_, result) = check_answer(strict, recent).await;
    result.unwrap();

    // RFC 7662 makes exp optional: the answer is then cached for the TTL only.
    let mut no_exp = token_claims(now);
    no_exp.as_object_mut().unwrap().remove("exp");
    let (_, result) = check_answer(strict, no_exp).await;
    assert_eq!(result.unwrap().expires_at(), None);
}

#[tokio::test]
async fn refresh_and_id_tokens_answered_active_are_refused() {
    for (member, value) in [
        ("token_use", "refresh_token"),
        ("token_use", "id_token"),
        ("typ", "Refresh"),
        ("typ", "Offline"),
    ] {
        let mut claims = token_claims(now());
        claims[member] = json!(value);
        let (config, result) = check_answer(strict, claims).await;
        assert_eq!(
            result.as_ref().unwrap_err(),
            &AuthError::TypNotAllowed {
                expected: vec!["access_token".into()],
                actual: Some(value.into())
            }
        );
        assert_eq!(outcome(&config, &result), (401, "invalid_typ".into()));
    }
    let mut claims = token_claims(now());
    claims["token_use"] = json!("access_token");
    claims["typ"] = json!("Bearer");
    let (_, result) = check_answer(strict, claims).await;
    result.unwrap();
}

#[tokio::test]
async fn an_advertised_introspection_endpoint_is_not_used_without_configuration() {
    let fake = fake().await;
    let token = opaque_token();
    active(&fake, &token);
    let key = key();
    let server = FakeAuthServer::start(authsec_testkit::jwks(&[&key])).await;
    server.set_extra_metadata(json!({ "introspection_endpoint": fake.url() }));
    let config = Config::builder(server.issuer(), RESOURCE).build().unwrap();
    let v = authsec::Validator::new(config.clone()).await.unwrap();
    assert_eq!(v.mode(), ValidationMode::JwtOnly);
    assert!(v.introspector().is_none());
    let result = v.validate(&token).await;
    assert_eq!(outcome(&config, &result), (401, "malformed_token".into()));
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn a_mode_needing_introspection_without_its_settings_fails_closed() {
    let fake = fake().await;
    let token = opaque_token();
    active(&fake, &token);
    let mut config = builder(&fake.url(), MODE).build().unwrap();
    config.introspection = None;
    let result = validator(config.clone()).validate(&token).await;
    assert_unavailable(&config, &result);
    assert_eq!(fake.calls(), 0);
}

#[test]
fn introspection_settings_are_read_from_the_environment() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let config = Config::from_vars(
        "AUTHSEC_",
        vars(&[
            ("AUTHSEC_ISSUER", ISSUER),
            ("AUTHSEC_RESOURCE_URI", RESOURCE),
            (
                "AUTHSEC_INTROSPECTION_URL",
                "https://as.example.com/introspect",
            ),
            ("AUTHSEC_INTROSPECTION_CLIENT_ID", CLIENT_ID),
            ("AUTHSEC_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
            ("AUTHSEC_INTROSPECTION_AUTH_METHOD", "client_secret_post"),
            ("AUTHSEC_INTROSPECTION_TIMEOUT_SECS", "2"),
            ("AUTHSEC_INTROSPECTION_CACHE_TTL_SECS", "30"),
            ("AUTHSEC_INTROSPECTION_NEGATIVE_CACHE_TTL_SECS", "3"),
            ("AUTHSEC_INTROSPECTION_REQUIRE_AUD", "false"),
        ]),
    )
    .unwrap();
    let i = config.introspection.unwrap();
    assert_eq!(i.auth_method, ClientAuthMethod::ClientSecretPost);
    assert_eq!(i.timeout, Duration::from_secs(2));
    assert_eq!(i.cache_ttl, Duration::from_secs(30));
    assert_eq!(i.negative_cache_ttl, Duration::from_secs(3));
    assert!(!i.require_audience);

    let defaults = builder("https://as.example.com/introspect", MODE)
        .build()
        .unwrap()
        .introspection
        .unwrap();
    assert_eq!(defaults.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(defaults.timeout, Duration::from_secs(5));
    assert_eq!(defaults.cache_ttl, Duration::from_secs(60));
    assert_eq!(defaults.negative_cache_ttl, Duration::from_secs(5));
    assert!(defaults.require_audience, "aud is required by default");

    let e = Config::from_vars(
        "AUTHSEC_",
        vars(&[
            ("AUTHSEC_ISSUER", ISSUER),
            ("AUTHSEC_RESOURCE_URI", RESOURCE),
            (
                "AUTHSEC_INTROSPECTION_URL",
                "https://as.example.com/introspect",
            ),
            ("AUTHSEC_INTROSPECTION_CLIENT_ID", CLIENT_ID),
            ("AUTHSEC_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
            ("AUTHSEC_INTROSPECTION_REQUIRE_AUD", "maybe"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.field, "introspection_require_aud");
    assert_eq!(e.env, "AUTHSEC_INTROSPECTION_REQUIRE_AUD");
}
