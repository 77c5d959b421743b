//! Hostile tokens: each is refused with the exact `AuthError` that names the trick, and the
//! client gets a 401 `invalid_token` saying so.

mod common;

use authsec::config::TypPolicy;
use authsec::extract_bearer;
use authsec::AuthError;
use authsec::{Malformed, Part};
use authsec_testkit::{b64, jwks, FakeAuthServer, TestKey};
use common::*;
use serde_json::json;

fn claim_err(name: &str, detail: &str) -> AuthError {
    AuthError::Malformed(Malformed::Claim {
        name: name.into(),
        detail: detail.into(),
    })
}

// ---- alg none, in any casing ----

#[test]
fn alg_none_in_any_casing_is_refused() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let payload = b64(claims("notes:write").to_string());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "kid": "k1", "typ": "at+jwt"}).to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.{}", b64([0u8; 64])),
        ] {
            let err = validate(&v, &token).unwrap_err();
            assert_eq!(err, AuthError::AlgorithmNotAllowed { alg: alg.into() });
            assert_invalid_token(&config, &err, "alg_not_allowed", "algorithm not allowed");
        }
    }
}

#[test]
fn alg_names_are_case_sensitive() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    for alg in ["es256", "Es256", "ES256 ", "EDDSA", "rs256"] {
        let token = unsigned(
            &json!({"alg": alg, "kid": "k1"}).to_string(),
            &claims("x").to_string(),
        );
        assert_eq!(
            validate(&v, &token),
            Err(AuthError::AlgorithmNotAllowed { alg: alg.into() }),
            "{alg}"
        );
    }
}

// ---- HS256 "signed" with the RSA public key (algorithm confusion) ----

fn hmac(alg: &str, secret: &[u8], message: &[u8]) -> Vec<u8> {
    use aws_lc_rs::hmac;
    let a = match alg {
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    };
    hmac::sign(&hmac::Key::new(a, secret), message)
        .as_ref()
        .to_vec()
}

#[test]
fn hs256_signed_with_the_rsa_public_key_bytes_is_refused() {
    let key = TestKey::rsa("k1", "RS256");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let jwk = key.jwk();
    let secrets: Vec<Vec<u8>> = vec![
        key.public_key_bytes(),                         // PKCS#1 DER
        jwk.to_string().into_bytes(),                   // the JWK as published
        jwk["n"].as_str().unwrap().as_bytes().to_vec(), // n, base64url text
        {
            // n ‖ e, raw big-endian bytes
            use base64::Engine as _;
            let raw = |m: &str| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(jwk[m].as_str().unwrap())
                    .unwrap()
            };
            [raw("n"), raw("e")].concat()
        },
        jwks(&[&key]).to_string().into_bytes(), // the whole JWKS document
    ];
    for alg in ["HS256", "HS384", "HS512"] {
        for secret in &secrets {
            let signing_input = format!(
                "{}.{}",
                b64(json!({"alg": alg, "kid": "k1", "typ": "at+jwt"}).to_string()),
                b64(claims("notes:write").to_string())
            );
            let token = format!(
                "{signing_input}.{}",
                b64(hmac(alg, secret, signing_input.as_bytes()))
            );
            let err = validate(&v, &token).unwrap_err();
            assert_eq!(err, AuthError::AlgorithmNotAllowed { alg: alg.into() });
            assert_invalid_token(&config, &err, "alg_not_allowed", "algorithm not allowed");
        }
    }
}

// ---- keys offered by the token itself ----

#[test]
fn embedded_jwk_header_is_never_used_to_verify() {
    let ours = TestKey::es256("k1");
    let attacker = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&ours]);
    let c = claims("notes:write");
    // Naming our kid: verified with our key, which the attacker does not hold.
    let with_our_kid = attacker.sign(
        &json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt", "jwk": attacker.jwk()}),
        &c,
    );
    let err = validate(&v, &with_our_kid).unwrap_err();
    assert_eq!(err, AuthError::BadSignature);
    assert_invalid_token(&config, &err, "bad_signature", "bad signature");
    // No kid at all: still only our JWKS is consulted.
    let without_kid = attacker.sign(
        &json!({"alg": "ES256", "typ": "at+jwt", "jwk": attacker.jwk_without_alg()}),
        &c,
    );
    assert_eq!(validate(&v, &without_kid), Err(AuthError::BadSignature));
    // Its own kid: unknown to us.
    let mut own = attacker.jwk();
    own["kid"] = json!("attacker");
    let with_own_kid = attacker.sign(
        &json!({"alg": "ES256", "kid": "attacker", "typ": "at+jwt", "jwk": own}),
        &c,
    );
    assert_eq!(
        validate(&v, &with_own_kid),
        Err(AuthError::UnknownKey {
            kid: Some("attacker".into())
        })
    );
}

#[test]
fn embedded_x5c_certificate_chain_is_never_used() {
    let ours = TestKey::es256("k1");
    let attacker = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&ours]);
    let token = attacker.sign(
        &json!({"alg": "ES256", "kid": "k1", "x5c": ["MIIBkTCB+wIJAKHHIG..."], "x5t#S256": "abc"}),
        &claims("notes:write"),
    );
    assert_eq!(validate(&v, &token), Err(AuthError::BadSignature));
}

#[tokio::test]
async fn jku_and_x5u_pointing_at_an_attackers_keys_are_never_fetched() {
    let ours = TestKey::es256("ours");
    let attacker_key = TestKey::es256("attacker");
    let server = FakeAuthServer::start(jwks(&[&ours])).await;
    let attacker = FakeAuthServer::start(jwks(&[&attacker_key])).await;
    let config = authsec::Config::builder(server.issuer(), RESOURCE)
        .jwks_url(server.jwks_url())
        .supported_scopes(SCOPES)
        .build()
        .unwrap();
    let v = authsec::Validator::new(config.clone()).await.unwrap();
    assert_eq!(server.jwks_fetches(), 1);

    let c = authsec_testkit::claims(&server.issuer(), RESOURCE, "notes:write");
    for member in ["jku", "x5u"] {
        let token = attacker_key.sign(
            &json!({"alg": "ES256", "kid": "attacker", "typ": "at+jwt", member: attacker.jwks_url()}),
            &c,
        );
        let err = v.validate(&token).await.unwrap_err();
        assert_eq!(
            err,
            AuthError::UnknownKey {
                kid: Some("attacker".into())
            },
            "{member}"
        );
        assert_eq!(render(&config, &err).status, 401);
    }
    // With our kid and a jku: verified against our key only.
    let token = attacker_key.sign(
        &json!({"alg": "ES256", "kid": "ours", "jku": attacker.jwks_url()}),
        &c,
    );
    assert_eq!(v.validate(&token).await, Err(AuthError::BadSignature));

    assert_eq!(
        attacker.jwks_fetches(),
        0,
        "the attacker's JWKS was fetched"
    );
    // Within the refresh interval of the start-up fetch, unknown kids fetch nothing more.
    assert_eq!(server.jwks_fetches(), 1);
}

// ---- kid tricks ----

#[test]
fn path_traversal_and_other_hostile_kids_are_just_unknown_keys() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    for kid in [
        "../../etc/passwd",
        "/dev/null",
        "k1\u{0000}",
        "k1 ",
        "K1",
        "' OR '1'='1",
        "",
    ] {
        let token = key.sign(&json!({"alg": "ES256", "kid": kid}), &claims("x"));
        let err = validate(&v, &token).unwrap_err();
        assert_eq!(
            err,
            AuthError::UnknownKey {
                kid: Some(kid.into())
            },
            "{kid:?}"
        );
        assert_invalid_token(&config, &err, "unknown_key", "unknown signing key");
    }
}

#[test]
fn kid_that_is_not_a_string_is_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let token = key.sign(&json!({"alg": "ES256", "kid": 1}), &claims("x"));
    assert_eq!(
        validate(&v, &token),
        Err(claim_err("kid", "is not a string"))
    );
}

// ---- signature edge cases ----

#[test]
fn es256_signature_with_r_and_s_zero_is_bad_signature() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let signing_input = format!(
        "{}.{}",
        b64(key.header().to_string()),
        b64(claims("notes:write").to_string())
    );
    for sig in [vec![0u8; 64], vec![0u8; 0], vec![0u8; 32], vec![0xffu8; 64]] {
        let token = format!("{signing_input}.{}", b64(&sig));
        let err = validate(&v, &token).unwrap_err();
        assert_eq!(err, AuthError::BadSignature, "{} bytes", sig.len());
        assert_invalid_token(&config, &err, "bad_signature", "bad signature");
    }
}

#[test]
fn signature_for_a_different_rsa_alg_than_the_header_says_is_bad_signature() {
    // Key without a pinned alg: RS512 in the header, RS256 signature bytes.
    let rs256 = TestKey::rsa("k1", "RS256");
    let set = authsec::keys::KeySet::from_json(
        json!({"keys": [rs256.jwk_without_alg()]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let v = authsec::Validator::with_keys(builder().build().unwrap(), set);
    let signing_input = format!(
        "{}.{}",
        b64(json!({"alg": "RS512", "kid": "k1"}).to_string()),
        b64(claims("x").to_string())
    );
    let token = format!(
        "{signing_input}.{}",
        b64(rs256.sign_bytes(signing_input.as_bytes()))
    );
    assert_eq!(validate(&v, &token), Err(AuthError::BadSignature));
}

// ---- header members authsec does not understand ----

#[test]
fn unknown_crit_is_refused() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let token = key.sign(
        &json!({"alg": "ES256", "kid": "k1", "crit": ["exp", "urn:example:policy"], "exp": 1}),
        &claims("x"),
    );
    let err = validate(&v, &token).unwrap_err();
    assert_eq!(
        err,
        AuthError::UnsupportedCritical {
            names: vec!["exp".into(), "urn:example:policy".into()]
        }
    );
    assert_invalid_token(
        &config,
        &err,
        "unsupported_crit",
        "unsupported critical header parameters: exp, urn:example:policy",
    );
    // b64 (RFC 7797) changes what is signed: also refused.
    let token = key.sign(
        &json!({"alg": "ES256", "kid": "k1", "crit": ["b64"], "b64": false}),
        &claims("x"),
    );
    assert_eq!(
        validate(&v, &token),
        Err(AuthError::UnsupportedCritical {
            names: vec!["b64".into()]
        })
    );
    // crit must be a non-empty array of strings (RFC 7515 §4.1.11).
    for crit in [json!([]), json!("exp"), json!([1])] {
        let token = key.sign(
            &json!({"alg": "ES256", "kid": "k1", "crit": crit}),
            &claims("x"),
        );
        let err = validate(&v, &token).unwrap_err();
        assert!(
            matches!(&err, AuthError::Malformed(Malformed::Claim { name, .. }) if name == "crit"),
            "{crit}: {err:?}"
        );
    }
}

#[test]
fn nested_jwt_is_refused() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    for cty in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
        let token = key.sign(
            &json!({"alg": "ES256", "kid": "k1", "cty": cty}),
            &claims("x"),
        );
        let err = validate(&v, &token).unwrap_err();
        assert_eq!(err, AuthError::NestedJwt, "{cty}");
        assert_invalid_token(
            &config,
            &err,
            "nested_jwt",
            "nested JWTs (cty: JWT) are not accepted",
        );
    }
}

#[test]
fn typ_is_strict_in_rfc9068_mode_and_lenient_by_default() {
    let key = TestKey::es256("k1");
    let lenient = validator(builder().build().unwrap(), &[&key]);
    let strict = validator(
        builder().typ_policy(TypPolicy::Rfc9068).build().unwrap(),
        &[&key],
    );
    let token_with = |typ: Option<&str>| {
        let mut h = json!({"alg": "ES256", "kid": "k1"});
        if let Some(t) = typ {
            h["typ"] = json!(t);
        }
        key.sign(&h, &claims("x"))
    };
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "Application/At+Jwt",
    ] {
        validate(&lenient, &token_with(Some(typ))).unwrap();
        validate(&strict, &token_with(Some(typ))).unwrap();
    }
    for typ in [Some("JWT"), None] {
        validate(&lenient, &token_with(typ)).unwrap();
        assert_eq!(
            validate(&strict, &token_with(typ)),
            Err(AuthError::TypNotAllowed {
                expected: vec!["at+jwt".into(), "application/at+jwt".into()],
                actual: typ.map(str::to_owned)
            }),
            "{typ:?}"
        );
    }
    // Anything else is refused even leniently.
    for typ in ["JWS", "dpop+jwt", "secevent+jwt", "logout+jwt"] {
        assert_eq!(
            validate(&lenient, &token_with(Some(typ))),
            Err(AuthError::TypNotAllowed {
                expected: vec!["at+jwt".into(), "application/at+jwt".into(), "JWT".into()],
                actual: Some(typ.into())
            }),
            "{typ}"
        );
    }
}

#[test]
fn hostile_header_values_cannot_inject_challenge_parameters() {
    let key = TestKey::es256("k1");
    let config = builder().typ_policy(TypPolicy::Rfc9068).build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let typ = "x\", error=\"insufficient_scope\\\r\nSet-Cookie: a=b";
    let token = key.sign(
        &json!({"alg": "ES256", "kid": "k1", "typ": typ}),
        &claims("x"),
    );
    let err = validate(&v, &token).unwrap_err();
    let header = render(&config, &err).www_authenticate.unwrap();
    assert_eq!(
        header,
        invalid_token_challenge(
            "typ x, error=insufficient_scopeSet-Cookie: a=b is not allowed; \
             expected at+jwt or application/at+jwt"
        )
    );
    assert!(http::HeaderValue::from_str(&header).is_ok());
}

// ---- other serializations ----

#[test]
fn jwe_with_five_segments_is_refused() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM","cty":"JWT"}"#),
        b64([1u8; 256]),
        b64([2u8; 12]),
        b64([3u8; 64]),
        b64([4u8; 16])
    );
    let err = validate(&v, &jwe).unwrap_err();
    assert_eq!(err, AuthError::Malformed(Malformed::Jwe));
    assert_invalid_token(
        &config,
        &err,
        "malformed_token",
        "malformed token: JWE (encrypted) tokens are not accepted",
    );
}

#[test]
fn jws_json_serialization_is_refused() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let compact = key.token(&claims("x"));
    let parts: Vec<&str> = compact.split('.').collect();
    for doc in [
        json!({"payload": parts[1], "protected": parts[0], "signature": parts[2]}),
        json!({"payload": parts[1], "signatures": [{"protected": parts[0], "signature": parts[2]}]}),
    ] {
        let err = validate(&v, &doc.to_string()).unwrap_err();
        assert_eq!(err, AuthError::Malformed(Malformed::JsonSerialization));
        assert_invalid_token(
            &config,
            &err,
            "malformed_token",
            "malformed token: JWS JSON serialization is not accepted",
        );
    }
}

#[test]
fn wrong_segment_counts_are_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let t = key.token(&claims("x"));
    for (token, n) in [
        (String::new(), 1),
        ("a.b".to_owned(), 2),
        (format!("{t}."), 4),
        (format!("{t}.x.y.z"), 6),
    ] {
        assert_eq!(
            validate(&v, &token),
            Err(AuthError::Malformed(Malformed::Segments(n))),
            "{token}"
        );
    }
}

// ---- size cap: refused before parsing ----

#[test]
fn oversized_token_is_refused_without_parsing() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    // Not even a JWS: had it been parsed, it would be malformed.
    let huge = "A".repeat(16 * 1024 + 1);
    let err = validate(&v, &huge).unwrap_err();
    assert_eq!(
        err,
        AuthError::TokenTooLarge {
            size: 16385,
            limit: 16384
        }
    );
    assert_invalid_token(
        &config,
        &err,
        "token_too_large",
        "token is 16385 bytes, above the 16384-byte limit",
    );
    // The same cap applies at extraction.
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {huge}").parse().unwrap(),
    );
    assert_eq!(
        extract_bearer(&h, None, config.max_token_bytes),
        Err(AuthError::TokenTooLarge {
            size: 16385,
            limit: 16384
        })
    );
    // A genuine token above a lowered cap is refused just the same.
    let small = validator(builder().max_token_bytes(100).build().unwrap(), &[&key]);
    let token = key.token(&claims("x"));
    assert_eq!(
        validate(&small, &token),
        Err(AuthError::TokenTooLarge {
            size: token.len(),
            limit: 100
        })
    );
}

// ---- numeric claims ----

#[test]
fn exp_that_is_not_a_sane_number_is_malformed() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let base = claims("x");
    let cases = [
        (r#""1750003600""#, "is not a number (NumericDate)"),
        ("1e308", "is out of range"),
        ("18446744073709551615", "is out of range"),
        ("9.3e18", "is out of range"),
        ("-1", "is negative"),
        ("-1.5", "is negative"),
        ("null", "is not a number (NumericDate)"),
        ("true", "is not a number (NumericDate)"),
        ("[1750003600]", "is not a number (NumericDate)"),
    ];
    for (exp, detail) in cases {
        // Hand-written JSON: serde_json::Value cannot hold 1e308 or u64::MAX as we need them.
        let mut payload = base.clone();
        payload.as_object_mut().unwrap().remove("exp");
        let text = payload.to_string();
        let text = format!("{},\"exp\":{exp}}}", &text[..text.len() - 1]);
        let token = key.sign_raw(key.header().to_string().as_bytes(), text.as_bytes());
        let err = validate(&v, &token).unwrap_err();
        assert_eq!(err, claim_err("exp", detail), "exp = {exp}");
        assert_invalid_token(
            &config,
            &err,
            "malformed_token",
            &format!("malformed token: \"exp\" {detail}"),
        );
    }
}

#[test]
fn exp_that_overflows_with_the_leeway_is_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let mut c = claims("x");
    c["exp"] = json!(i64::MAX);
    assert_eq!(
        validate(&v, &key.token(&c)),
        Err(claim_err("exp", "is out of range"))
    );
}

#[test]
fn nbf_and_iat_that_are_not_sane_numbers_are_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    for name in ["nbf", "iat"] {
        let mut c = claims("x");
        c[name] = json!("0");
        assert_eq!(
            validate(&v, &key.token(&c)),
            Err(claim_err(name, "is not a number (NumericDate)")),
            "{name}"
        );
        c[name] = json!(-5);
        assert_eq!(
            validate(&v, &key.token(&c)),
            Err(claim_err(name, "is negative"))
        );
    }
}

#[test]
fn fractional_exp_is_accepted_and_truncated() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let mut c = claims("x");
    c["exp"] = json!((NOW + 100) as f64 + 0.75);
    assert_eq!(
        validate(&v, &key.token(&c)).unwrap().expires_at(),
        Some(NOW + 100)
    );
}

// ---- duplicate members ----

#[test]
fn duplicate_aud_members_are_malformed() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let header = key.header().to_string();
    for payload in [
        format!(
            r#"{{"iss":"{ISSUER}","aud":"https://evil.example.com","aud":"{RESOURCE}","exp":{}}}"#,
            NOW + 3600
        ),
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{RESOURCE}","aud":"https://evil.example.com","exp":{}}}"#,
            NOW + 3600
        ),
        // The same name spelled with a JSON escape is still the same member.
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{RESOURCE}","a\u0075d":"https://evil.example.com","exp":{}}}"#,
            NOW + 3600
        ),
    ] {
        let token = key.sign_raw(header.as_bytes(), payload.as_bytes());
        let err = validate(&v, &token).unwrap_err();
        assert_eq!(
            err,
            AuthError::Malformed(Malformed::Duplicate {
                part: Part::Payload,
                name: "aud".into()
            }),
            "{payload}"
        );
        assert_invalid_token(
            &config,
            &err,
            "malformed_token",
            "malformed token: duplicate payload member \"aud\"",
        );
    }
}

#[test]
fn duplicate_header_members_are_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let token = key.sign_raw(
        br#"{"alg":"none","alg":"ES256","kid":"k1"}"#,
        claims("x").to_string().as_bytes(),
    );
    assert_eq!(
        validate(&v, &token),
        Err(AuthError::Malformed(Malformed::Duplicate {
            part: Part::Header,
            name: "alg".into()
        }))
    );
}

#[test]
fn payload_that_is_not_a_json_object_is_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    for payload in [&b"[]"[..], b"\"x\"", b"{} {}", b"{\"a\":1", b""] {
        let token = key.sign_raw(key.header().to_string().as_bytes(), payload);
        let err = validate(&v, &token).unwrap_err();
        assert!(
            matches!(
                &err,
                AuthError::Malformed(Malformed::Json {
                    part: Part::Payload,
                    ..
                })
            ),
            "{:?}: {err:?}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn unknown_claims_are_checked_as_strictly_as_registered_ones() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let header = key.header().to_string();
    let base = claims("x").to_string();
    let with = |extra: &str| format!("{},{extra}}}", &base[..base.len() - 1]);
    for (extra, what) in [
        (r#""x":1e400"#, "number out of range"),
        (r#""x":[1,{"y":-1e999}]"#, "nested number out of range"),
        (r#""x":"\uD800""#, "lone surrogate escape"),
        (r#""x":"\q""#, "invalid escape"),
        (r#""x":tru"#, "bad literal"),
    ] {
        let token = key.sign_raw(header.as_bytes(), with(extra).as_bytes());
        let err = validate(&v, &token).unwrap_err();
        assert!(
            matches!(
                &err,
                AuthError::Malformed(Malformed::Json {
                    part: Part::Payload,
                    ..
                })
            ),
            "{what}: {err:?}"
        );
    }
    // Invalid UTF-8 inside an unknown claim's string.
    let mut payload = with(r#""x":"ab""#).into_bytes();
    let at = payload.len() - 3;
    payload[at] = 0xff;
    let token = key.sign_raw(header.as_bytes(), &payload);
    assert!(matches!(
        validate(&v, &token),
        Err(AuthError::Malformed(Malformed::Json {
            part: Part::Payload,
            ..
        }))
    ));
    // A duplicate among unknown claims is still a duplicate.
    let token = key.sign_raw(header.as_bytes(), with(r#""x":1,"x":2"#).as_bytes());
    assert_eq!(
        validate(&v, &token),
        Err(AuthError::Malformed(Malformed::Duplicate {
            part: Part::Payload,
            name: "x".into()
        }))
    );
    // Nested objects may repeat names (only the claims set itself is checked), as before.
    let token = key.sign_raw(header.as_bytes(), with(r#""x":{"a":1,"a":2}"#).as_bytes());
    assert_eq!(
        validate(&v, &token).unwrap().claim("x"),
        Some(&json!({"a": 2}))
    );
}

#[test]
fn escaped_duplicate_header_member_is_malformed() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let token = key.sign_raw(
        br#"{"alg":"ES256","kid":"k1","a\u006cg":"none"}"#,
        claims("x").to_string().as_bytes(),
    );
    assert_eq!(
        validate(&v, &token),
        Err(AuthError::Malformed(Malformed::Duplicate {
            part: Part::Header,
            name: "alg".into()
        }))
    );
}

#[test]
fn duplicates_are_found_among_many_members() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let header = key.header().to_string();
    let base = claims("x").to_string();
    let many: Vec<String> = (0..40).map(|i| format!("\"c{i}\":{i}")).collect();
    for dup in ["c3", "c30", "iss"] {
        let payload = format!(
            "{},{},\"{dup}\":0}}",
            &base[..base.len() - 1],
            many.join(",")
        );
        let token = key.sign_raw(header.as_bytes(), payload.as_bytes());
        assert_eq!(
            validate(&v, &token),
            Err(AuthError::Malformed(Malformed::Duplicate {
                part: Part::Payload,
                name: dup.into()
            })),
            "{dup}"
        );
    }
    let payload = format!("{},{}}}", &base[..base.len() - 1], many.join(","));
    let p = validate(&v, &key.sign_raw(header.as_bytes(), payload.as_bytes())).unwrap();
    assert_eq!(p.claim("c39"), Some(&json!(39)));
}
