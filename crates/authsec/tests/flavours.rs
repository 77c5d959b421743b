//! Every flavour in the troubleshooting guide, as the validator sees it: the exact `AuthError`
//! and what the client is told.

mod common;

use authsec::config::Config;
use authsec::policy::{Target, ToolPolicy, ToolRule};
use authsec::AuthError;
use authsec::Clock;
use authsec::ScopeMatch;
use authsec_testkit::TestKey;
use common::*;
use serde_json::json;

fn with_claim(name: &str, value: serde_json::Value) -> serde_json::Value {
    let mut c = claims("notes:read");
    c[name] = value;
    c
}

// ---- aud mismatch, flavour (a): no aud at all ----

#[test]
fn token_without_aud_is_audience_mismatch_with_empty_actual() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c.as_object_mut().unwrap().remove("aud");
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(
        err,
        AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec![]
        }
    );
    assert_invalid_token(&config, &err, "audience_mismatch", "audience mismatch");
}

#[test]
fn empty_aud_array_is_audience_mismatch() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    assert_eq!(
        validate(&v, &key.token(&with_claim("aud", json!([])))),
        Err(AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec![]
        })
    );
}

// ---- flavour (b): aud is the OAuth client_id (Hydra) ----

#[test]
fn aud_equal_to_client_id_is_denied_by_default() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let err = validate(&v, &key.token(&with_claim("aud", json!("client-1")))).unwrap_err();
    assert_eq!(
        err,
        AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec!["client-1".into()]
        }
    );
    assert_invalid_token(&config, &err, "audience_mismatch", "audience mismatch");
}

#[test]
fn aud_equal_to_client_id_is_accepted_only_with_the_legacy_opt_in_and_warns() {
    let key = TestKey::es256("k1");
    let config = builder()
        .legacy_client_id_audiences(["client-1"])
        .build()
        .unwrap();
    let (v, startup) = Capture::run(|| validator(config.clone(), &[&key]));
    assert!(
        startup.iter().any(|e| e.target == "authsec::config"
            && e.level == tracing::Level::WARN
            && e.field("message")
                .unwrap_or("")
                .contains("legacy_client_id_audiences")),
        "{startup:?}"
    );
    let token = key.token(&with_claim("aud", json!("client-1")));
    let (result, events) = Capture::run(|| validate(&v, &token));
    let p = result.unwrap();
    assert_eq!(p.audiences(), ["client-1"]);
    assert!(
        events
            .iter()
            .any(|e| e.level == tracing::Level::WARN && e.field("client_id") == Some("client-1")),
        "{events:?}"
    );
    // Another client's id is still refused, and the error lists everything acceptable.
    assert_eq!(
        validate(&v, &key.token(&with_claim("aud", json!("client-2")))),
        Err(AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into(), "client-1".into()],
            actual: vec!["client-2".into()]
        })
    );
}

// ---- flavour (c): trailing slash, both directions ----

#[test]
fn aud_with_trailing_slash_does_not_match_resource_without_one() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let err = validate(
        &v,
        &key.token(&with_claim("aud", json!(format!("{RESOURCE}/")))),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::AudienceMismatch {
            expected: vec!["https://mcp.example.com/mcp".into()],
            actual: vec!["https://mcp.example.com/mcp/".into()]
        }
    );
    assert_invalid_token(&config, &err, "audience_mismatch", "audience mismatch");
}

#[test]
fn aud_without_trailing_slash_does_not_match_resource_with_one() {
    let key = TestKey::es256("k1");
    let config = Config::builder(ISSUER, "https://mcp.example.com/mcp/")
        .clock(Clock::fixed(NOW))
        .build()
        .unwrap();
    let v = validator(config, &[&key]);
    assert_eq!(
        validate(&v, &key.token(&claims("notes:read"))),
        Err(AuthError::AudienceMismatch {
            expected: vec!["https://mcp.example.com/mcp/".into()],
            actual: vec!["https://mcp.example.com/mcp".into()]
        })
    );
}

#[test]
fn aud_is_compared_byte_for_byte_never_normalised() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    for aud in [
        "https://MCP.example.com/mcp",
        "https://mcp.example.com:443/mcp",
        "https://mcp.example.com/MCP",
        "https://mcp.example.com/mcp?",
        "https://mcp.example.com/mcp#",
        " https://mcp.example.com/mcp",
    ] {
        assert_eq!(
            validate(&v, &key.token(&with_claim("aud", json!(aud)))),
            Err(AuthError::AudienceMismatch {
                expected: vec![RESOURCE.into()],
                actual: vec![aud.into()]
            }),
            "{aud}"
        );
    }
}

// ---- aud as an array that contains the resource among others ----

#[test]
fn aud_array_containing_the_resource_among_others_is_accepted() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let aud = json!(["https://other.example.com", RESOURCE, "client-1"]);
    let p = validate(&v, &key.token(&with_claim("aud", aud))).unwrap();
    assert_eq!(
        p.audiences(),
        ["https://other.example.com", RESOURCE, "client-1"]
    );
}

#[test]
fn aud_array_without_the_resource_lists_every_audience() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let aud = json!(["https://a.example.com", format!("{RESOURCE}/")]);
    assert_eq!(
        validate(&v, &key.token(&with_claim("aud", aud))),
        Err(AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec![
                "https://a.example.com".into(),
                "https://mcp.example.com/mcp/".into()
            ]
        })
    );
}

#[test]
fn aud_that_is_neither_string_nor_string_array_is_malformed() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    for aud in [json!(42), json!({"x": RESOURCE}), json!([RESOURCE, 1])] {
        let err = validate(&v, &key.token(&with_claim("aud", aud.clone()))).unwrap_err();
        assert!(
            matches!(&err, AuthError::Malformed(authsec::Malformed::Claim { name, .. }) if name == "aud"),
            "{aud}: {err:?}"
        );
        assert_eq!(render(&config, &err).body["reason"], "malformed_token");
    }
}

// ---- iss mismatch: trailing slash and moved issuer ----

#[test]
fn iss_with_trailing_slash_does_not_match_issuer_without_one() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let err = validate(
        &v,
        &key.token(&with_claim("iss", json!(format!("{ISSUER}/")))),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::IssuerMismatch {
            expected: "https://auth.example.com".into(),
            actual: Some("https://auth.example.com/".into())
        }
    );
    assert_invalid_token(&config, &err, "issuer_mismatch", "issuer mismatch");
}

#[test]
fn iss_without_trailing_slash_does_not_match_issuer_with_one() {
    let key = TestKey::es256("k1");
    let config = Config::builder("https://auth.example.com/", RESOURCE)
        .clock(Clock::fixed(NOW))
        .build()
        .unwrap();
    let v = validator(config, &[&key]);
    assert_eq!(
        validate(&v, &key.token(&claims("notes:read"))),
        Err(AuthError::IssuerMismatch {
            expected: "https://auth.example.com/".into(),
            actual: Some("https://auth.example.com".into())
        })
    );
}

#[test]
fn token_from_a_moved_issuer_signed_by_a_key_we_never_had_is_issuer_mismatch() {
    // Tokens from auth-dev are still in circulation after the move to auth.example.com.
    let current = TestKey::es256("auth-2025");
    let old = TestKey::es256("auth-dev-2024");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&current]);
    let err = validate(
        &v,
        &old.token(&with_claim("iss", json!("https://auth-dev.example.com"))),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::IssuerMismatch {
            expected: ISSUER.into(),
            actual: Some("https://auth-dev.example.com".into())
        }
    );
    assert_invalid_token(&config, &err, "issuer_mismatch", "issuer mismatch");
}

#[test]
fn token_from_a_moved_issuer_signed_by_a_shared_key_is_issuer_mismatch() {
    // Same key material, old iss: the signature verifies, the issuer does not.
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    assert_eq!(
        validate(
            &v,
            &key.token(&with_claim("iss", json!("https://auth-dev.example.com")))
        ),
        Err(AuthError::IssuerMismatch {
            expected: ISSUER.into(),
            actual: Some("https://auth-dev.example.com".into())
        })
    );
}

// ---- exp and the leeway ----

#[test]
fn token_expired_just_inside_the_leeway_is_accepted() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    // Valid while now < exp + 60.
    let p = validate(&v, &key.token(&with_claim("exp", json!(NOW - 59)))).unwrap();
    assert_eq!(p.expires_at(), Some(NOW - 59));
}

#[test]
fn token_expired_just_outside_the_leeway_is_expired() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let err = validate(&v, &key.token(&with_claim("exp", json!(NOW - 60)))).unwrap_err();
    assert_eq!(
        err,
        AuthError::Expired {
            exp: NOW - 60,
            now: NOW,
            leeway: 60
        }
    );
    assert_invalid_token(&config, &err, "token_expired", "expired");
}

#[test]
fn leeway_is_configurable() {
    let key = TestKey::es256("k1");
    let v = validator(builder().clock_skew_secs(0).build().unwrap(), &[&key]);
    assert_eq!(
        validate(&v, &key.token(&with_claim("exp", json!(NOW)))),
        Err(AuthError::Expired {
            exp: NOW,
            now: NOW,
            leeway: 0
        })
    );
    validate(&v, &key.token(&with_claim("exp", json!(NOW + 1)))).unwrap();
}

#[test]
fn nbf_just_inside_and_just_outside_the_leeway() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    validate(&v, &key.token(&with_claim("nbf", json!(NOW + 60)))).unwrap();
    assert_eq!(
        validate(&v, &key.token(&with_claim("nbf", json!(NOW + 61)))),
        Err(AuthError::NotYetValid {
            claim: "nbf",
            value: NOW + 61,
            now: NOW,
            leeway: 60
        })
    );
}

#[test]
fn cached_token_still_expires_when_time_moves_on() {
    let key = TestKey::es256("k1");
    let (clock, hand) = Clock::manual(NOW);
    let v = validator(builder().clock(clock).build().unwrap(), &[&key]);
    let token = key.token(&claims("notes:read"));
    validate(&v, &token).unwrap();
    validate(&v, &token).unwrap(); // served from the verified-token cache
    hand.advance(3600 + 60);
    assert_eq!(
        validate(&v, &token),
        Err(AuthError::Expired {
            exp: NOW + 3600,
            now: NOW + 3660,
            leeway: 60
        })
    );
}

// ---- "you set Now to a fixed time for testing" ----

#[test]
fn fixed_clock_far_in_the_future_makes_valid_tokens_expire_and_is_reported() {
    let key = TestKey::es256("k1");
    let real_now = authsec_testkit::now();
    let later = real_now + 10 * 365 * 86_400;
    let config = Config::builder(ISSUER, RESOURCE)
        .clock(Clock::fixed(later))
        .build()
        .unwrap();
    assert!(config.clock.is_overridden());
    assert!(!Config::builder(ISSUER, RESOURCE)
        .build()
        .unwrap()
        .clock
        .is_overridden());

    let (v, startup) = Capture::run(|| validator(config, &[&key]));
    let warning = startup
        .iter()
        .find(|e| e.target == "authsec::config" && e.level == tracing::Level::WARN)
        .expect("a fixed clock is logged at start-up");
    assert_eq!(warning.field("now"), Some(later.to_string().as_str()));
    assert!(
        warning
            .field("message")
            .unwrap_or("")
            .contains("Remove the clock override"),
        "{warning:?}"
    );

    // A token that is valid right now, by the wall clock.
    let claims = authsec_testkit::claims(ISSUER, RESOURCE, "notes:read");
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > real_now);
    assert_eq!(
        validate(&v, &key.token(&claims)),
        Err(AuthError::Expired {
            exp,
            now: later,
            leeway: 60
        })
    );
}

#[test]
fn system_clock_is_not_logged_as_overridden() {
    let key = TestKey::es256("k1");
    let config = Config::builder(ISSUER, RESOURCE).build().unwrap();
    let (_v, startup) = Capture::run(|| validator(config, &[&key]));
    assert!(
        startup.iter().all(|e| e.level != tracing::Level::WARN),
        "{startup:?}"
    );
}

// ---- insufficient_scope: spelling, casing, namespacing ----

#[test]
fn scopes_come_through_byte_exact_and_casing_matters() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let token = key.token(&claims(
        "rs-525da3b4:tools:Write rs-525da3b4:tools:read rs-other:tools:write",
    ));
    let p = validate(&v, &token).unwrap();
    assert_eq!(
        p.scopes(),
        [
            "rs-525da3b4:tools:Write",
            "rs-525da3b4:tools:read",
            "rs-other:tools:write"
        ]
    );
    assert!(!p.has_scope("rs-525da3b4:tools:write"));
    assert!(p.has_scope("rs-525da3b4:tools:Write"));

    let policy = ToolPolicy::from_json(r#"{"add_note":["rs-525da3b4:tools:write"]}"#).unwrap();
    let rule = policy.get("add_note").unwrap();
    // Neither the capitalised scope nor the same scope in another namespace satisfies it.
    assert!(!rule.is_satisfied_by(p.scopes()));

    // What the client is told: exactly what it has and exactly what it lacks.
    let err = AuthError::InsufficientScope {
        target: Target::tool("add_note"),
        required: rule.scopes().to_vec(),
        scope_match: ScopeMatch::Any,
        granted: p.scopes().to_vec(),
    };
    let config = builder().build().unwrap();
    let d = render_for_tool(&config, &err, rule);
    assert_eq!(d.status, 403);
    assert_eq!(
        d.body["required_scopes"],
        json!(["rs-525da3b4:tools:write"])
    );
    assert_eq!(
        d.body["granted_scopes"],
        json!([
            "rs-525da3b4:tools:Write",
            "rs-525da3b4:tools:read",
            "rs-other:tools:write"
        ])
    );
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"tool add_note requires more scope\", \
             scope=\"rs-525da3b4:tools:write rs-525da3b4:tools:Write rs-525da3b4:tools:read rs-other:tools:write\", \
             resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        )
    );
}

#[test]
fn scp_array_and_scp_string_are_read_like_scope() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let mut c = claims("");
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["rs-525da3b4:tools:read", "rs-525da3b4:tools:Write"]);
    let p = validate(&v, &key.token(&c)).unwrap();
    assert_eq!(
        p.scopes(),
        ["rs-525da3b4:tools:read", "rs-525da3b4:tools:Write"]
    );
    c["scp"] = json!("a:b c:D");
    let p = validate(&v, &key.token(&c)).unwrap();
    assert_eq!(p.scopes(), ["a:b", "c:D"]);
}

#[test]
fn a_granted_scope_satisfies_the_matching_tool_rule() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let p = validate(&v, &key.token(&claims("rs-525da3b4:tools:write"))).unwrap();
    let rule = ToolRule::Scoped {
        scopes: vec!["rs-525da3b4:tools:write".into()],
        scope_match: ScopeMatch::Any,
    };
    assert!(rule.is_satisfied_by(p.scopes()));
}
