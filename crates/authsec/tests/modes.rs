//! Each validation mode's accept/reject matrix: token (valid JWT, JWT failing a local check,
//! opaque) × introspection (active, inactive, down), asserting the status and reason a client
//! sees and how many introspection calls were made; then the `jwt_and_introspect` rules.

mod introspection_support;

use std::time::Duration;

use authsec::config::{Config, ValidationMode};
use authsec::AuthError;
use authsec::Clock;
use authsec::TokenKind;
use introspection_support::*;
use serde_json::json;

#[derive(Debug, Clone, Copy)]
enum Token {
    ValidJwt,
    InvalidJwt,
    Opaque,
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Active,
    Inactive,
    Down,
}

fn now() -> i64 {
    authsec_testkit::now()
}

/// Runs one cell: returns what the client sees and the number of introspection calls.
async fn cell(
    configure: fn(&str) -> Config,
    token: Token,
    backend: Backend,
) -> ((u16, String), u64) {
    let now = now();
    let token = match token {
        Token::ValidJwt => valid_jwt(now),
        Token::InvalidJwt => tampered_jwt(now),
        Token::Opaque => opaque_token(),
    };
    let fake = fake().await;
    let url = match backend {
        Backend::Active => {
            fake.set_active(&token, &token_claims(now));
            fake.url()
        }
        Backend::Inactive => {
            fake.revoke(&token);
            fake.url()
        }
        Backend::Down => dead_url().await,
    };
    let config = configure(&url);
    let result = validator(config.clone()).validate(&token).await;
    (outcome(&config, &result), fake.calls())
}

type Row = (Token, Backend, u16, &'static str, u64);

async fn assert_matrix(configure: fn(&str) -> Config, expected_mode: ValidationMode, rows: &[Row]) {
    assert_eq!(
        validator(configure("http://127.0.0.1:1/i")).mode(),
        expected_mode
    );
    for &(token, backend, status, reason, calls) in rows {
        let (seen, made) = cell(configure, token, backend).await;
        assert_eq!(
            (seen, made),
            ((status, reason.to_owned()), calls),
            "{expected_mode:?}: {token:?} × introspection {backend:?}"
        );
    }
}

use Backend::*;
use Token::*;

#[tokio::test]
async fn jwt_only_matrix() {
    assert_matrix(
        |url| builder(url, ValidationMode::JwtOnly).build().unwrap(),
        ValidationMode::JwtOnly,
        &[
            (ValidJwt, Active, 200, "jwt", 0),
            (ValidJwt, Inactive, 200, "jwt", 0),
            (ValidJwt, Down, 200, "jwt", 0),
            (InvalidJwt, Active, 401, "bad_signature", 0),
            (InvalidJwt, Inactive, 401, "bad_signature", 0),
            (InvalidJwt, Down, 401, "bad_signature", 0),
            (Opaque, Active, 401, "malformed_token", 0),
            (Opaque, Inactive, 401, "malformed_token", 0),
            (Opaque, Down, 401, "malformed_token", 0),
        ],
    )
    .await;
}

#[tokio::test]
async fn introspection_only_matrix() {
    // Every token, JWT-shaped or not, is the authorization server's to judge.
    assert_matrix(
        |url| {
            builder(url, ValidationMode::IntrospectionOnly)
                .build()
                .unwrap()
        },
        ValidationMode::IntrospectionOnly,
        &[
            (ValidJwt, Active, 200, "introspected", 1),
            (ValidJwt, Inactive, 401, "token_revoked", 1),
            (ValidJwt, Down, 503, "validation_unavailable", 0),
            (InvalidJwt, Active, 200, "introspected", 1),
            (InvalidJwt, Inactive, 401, "token_revoked", 1),
            (InvalidJwt, Down, 503, "validation_unavailable", 0),
            (Opaque, Active, 200, "introspected", 1),
            (Opaque, Inactive, 401, "token_revoked", 1),
            (Opaque, Down, 503, "validation_unavailable", 0),
        ],
    )
    .await;
}

const JWT_AND_INTROSPECT: &[Row] = &[
    (ValidJwt, Active, 200, "jwt_introspected", 1),
    (ValidJwt, Inactive, 401, "token_revoked", 1),
    (ValidJwt, Down, 503, "validation_unavailable", 0),
    // Introspection never rescues a JWT that failed locally; it is not even asked.
    (InvalidJwt, Active, 401, "bad_signature", 0),
    (InvalidJwt, Inactive, 401, "bad_signature", 0),
    (InvalidJwt, Down, 401, "bad_signature", 0),
    (Opaque, Active, 200, "introspected", 1),
    (Opaque, Inactive, 401, "token_revoked", 1),
    (Opaque, Down, 503, "validation_unavailable", 0),
];

#[tokio::test]
async fn jwt_and_introspect_matrix() {
    assert_matrix(
        |url| {
            builder(url, ValidationMode::JwtAndIntrospect)
                .build()
                .unwrap()
        },
        ValidationMode::JwtAndIntrospect,
        JWT_AND_INTROSPECT,
    )
    .await;
}

#[tokio::test]
async fn jwt_or_introspect_matrix() {
    assert_matrix(
        |url| {
            builder(url, ValidationMode::JwtOrIntrospect)
                .build()
                .unwrap()
        },
        ValidationMode::JwtOrIntrospect,
        &[
            // Migration mode: JWTs are local only, so their revocation is not seen.
            (ValidJwt, Active, 200, "jwt", 0),
            (ValidJwt, Inactive, 200, "jwt", 0),
            (ValidJwt, Down, 200, "jwt", 0),
            (InvalidJwt, Active, 401, "bad_signature", 0),
            (InvalidJwt, Inactive, 401, "bad_signature", 0),
            (InvalidJwt, Down, 401, "bad_signature", 0),
            (Opaque, Active, 200, "introspected", 1),
            (Opaque, Inactive, 401, "token_revoked", 1),
            (Opaque, Down, 503, "validation_unavailable", 0),
        ],
    )
    .await;
}

#[tokio::test]
async fn auto_with_both_endpoints_is_jwt_and_introspect() {
    assert_matrix(
        |url| builder(url, ValidationMode::Auto).build().unwrap(),
        ValidationMode::JwtAndIntrospect,
        JWT_AND_INTROSPECT,
    )
    .await;
}

#[tokio::test]
async fn auto_resolves_from_the_configured_endpoints() {
    let only_introspection = Config::builder(ISSUER, RESOURCE)
        .introspection("http://127.0.0.1:1/i", CLIENT_ID, CLIENT_SECRET)
        .build()
        .unwrap();
    assert_eq!(
        validator(only_introspection).mode(),
        ValidationMode::IntrospectionOnly
    );
    let only_jwks = Config::builder(ISSUER, RESOURCE)
        .jwks_url(format!("{ISSUER}/jwks"))
        .build()
        .unwrap();
    assert_eq!(validator(only_jwks).mode(), ValidationMode::JwtOnly);
    let neither = Config::builder(ISSUER, RESOURCE).build().unwrap();
    let v = validator(neither);
    assert_eq!(v.mode(), ValidationMode::JwtOnly);
    assert!(v.introspector().is_none());
}

fn jwt_and_introspect(url: &str) -> Config {
    builder(url, ValidationMode::JwtAndIntrospect)
        .build()
        .unwrap()
}

#[tokio::test]
async fn jwt_and_introspect_refuses_another_subject() {
    let fake = fake().await;
    let now = now();
    let token = valid_jwt(now);
    let mut answer = token_claims(now);
    answer["sub"] = json!("user-2");
    fake.set_active(&token, &answer);
    let config = jwt_and_introspect(&fake.url());
    let result = validator(config.clone()).validate(&token).await;
    assert_eq!(
        result.as_ref().unwrap_err(),
        &AuthError::SubjectMismatch {
            jwt: Some("user-1".into()),
            introspected: Some("user-2".into())
        }
    );
    assert_eq!(outcome(&config, &result), (401, "subject_mismatch".into()));

    // An answer without `sub` does not confirm the JWT's subject either.
    let token = valid_jwt(now - 1);
    let mut answer = token_claims(now);
    answer.as_object_mut().unwrap().remove("sub");
    fake.set_active(&token, &answer);
    let result = validator(config.clone()).validate(&token).await;
    assert_eq!(outcome(&config, &result), (401, "subject_mismatch".into()));
}

#[tokio::test]
async fn jwt_and_introspect_does_not_need_aud_in_the_answer_but_checks_one_that_is_there() {
    let fake = fake().await;
    let now = now();
    let config = jwt_and_introspect(&fake.url());

    let token = valid_jwt(now);
    let mut answer = token_claims(now);
    answer.as_object_mut().unwrap().remove("aud");
    fake.set_active(&token, &answer);
    let principal = validator(config.clone()).validate(&token).await.unwrap();
    assert_eq!(principal.kind(), TokenKind::JwtIntrospected);
    // The principal is the locally verified JWT's.
    assert_eq!(principal.audiences(), [RESOURCE]);

    let token = valid_jwt(now - 1);
    let mut answer = token_claims(now);
    answer["aud"] = json!("https://other.example.com/mcp");
    fake.set_active(&token, &answer);
    let result = validator(config.clone()).validate(&token).await;
    assert_eq!(outcome(&config, &result), (401, "audience_mismatch".into()));
}

#[tokio::test]
async fn jwt_and_introspect_verified_cache_never_bypasses_revocation() {
    let fake = fake().await;
    let start = now();
    let token = valid_jwt(start);
    fake.set_active(&token, &token_claims(start));
    let (clock, hand) = Clock::manual(start);
    let config = builder(&fake.url(), ValidationMode::JwtAndIntrospect)
        .introspection_cache_ttl(Duration::from_secs(10))
        .clock(clock)
        .build()
        .unwrap();
    let v = validator(config.clone());
    v.validate(&token).await.unwrap();
    v.validate(&token).await.unwrap();
    let stats = v.cache_stats();
    assert_eq!(stats.verified_tokens, 1);
    assert_eq!(stats.introspection_answers, 1);
    assert_eq!(fake.calls(), 1, "both caches serve the repeat");

    fake.revoke(&token);
    hand.advance(10);
    // The JWT is still in the verified cache (valid for an hour); introspection is asked again.
    assert_revoked(&config, &v.validate(&token).await);
    assert_eq!(fake.calls(), 2);
    assert_eq!(v.cache_stats().verified_tokens, 1);
}

#[tokio::test]
async fn jwt_and_introspect_rechecks_exp_of_a_cached_jwt_before_introspecting() {
    let fake = fake().await;
    let start = now();
    let mut claims = token_claims(start);
    claims["exp"] = json!(start + 100);
    let token = key().token(&claims);
    fake.set_active(&token, &claims);
    let (clock, hand) = Clock::manual(start);
    let config = builder(&fake.url(), ValidationMode::JwtAndIntrospect)
        .clock_skew_secs(0)
        .clock(clock)
        .build()
        .unwrap();
    let v = validator(config.clone());
    v.validate(&token).await.unwrap();
    hand.advance(100);
    let result = v.validate(&token).await;
    assert_eq!(
        result.as_ref().unwrap_err(),
        &AuthError::Expired {
            exp: start + 100,
            now: start + 100,
            leeway: 0
        }
    );
    assert_eq!(fake.calls(), 1, "an expired JWT is not introspected");
}

#[tokio::test]
async fn jwt_only_verified_cache_rechecks_time_on_every_request() {
    let start = now();
    let mut claims = token_claims(start);
    claims["exp"] = json!(start + 100);
    let token = key().token(&claims);
    let (clock, hand) = Clock::manual(start);
    let config = Config::builder(ISSUER, RESOURCE)
        .clock_skew_secs(0)
        .clock(clock)
        .build()
        .unwrap();
    let v = validator(config.clone());
    v.validate(&token).await.unwrap();
    assert_eq!(v.cache_stats().verified_tokens, 1);
    hand.advance(99);
    assert_eq!(v.validate(&token).await.unwrap().kind(), TokenKind::Jwt);
    hand.advance(1);
    let result = v.validate(&token).await;
    assert_eq!(outcome(&config, &result), (401, "token_expired".into()));
}
