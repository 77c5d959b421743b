//! Every row of the denial table (DESIGN.md): the exact `AuthError`, and the exact status,
//! `WWW-Authenticate` and JSON body `challenge::render` turns it into.

mod common;

use authsec::config::{ChallengeScope, TypPolicy};
use authsec::internal::token::{extract_bearer, form_body_has_access_token};
use authsec::policy::{Target, ToolRule};
use authsec::AuthError;
use authsec::{InvalidRequest, Malformed, Part, ScopeMatch};
use authsec_testkit::{b64, TestKey};
use common::*;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

fn headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn scoped(scopes: &[&str]) -> ToolRule {
    ToolRule::Scoped {
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        scope_match: ScopeMatch::Any,
    }
}

// ---- no token: 401 without an error code (RFC 6750 §3.1) ----

#[test]
fn no_token_is_401_without_error_code_naming_metadata_and_supported_scopes() {
    let config = builder().build().unwrap();
    let err = extract_bearer(&headers(&[]), None, config.max_token_bytes).unwrap_err();
    assert_eq!(err, AuthError::NoToken);
    let d = render(&config, &err);
    assert_eq!(d.status, 401);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", \
             scope=\"notes:read notes:write\""
        )
    );
    assert_eq!(
        d.body,
        json!({"error_description": "no bearer token", "reason": "no_token"}),
        "no error code in the body either, as in the challenge"
    );
}

#[test]
fn no_token_for_a_mapped_tool_names_only_that_tools_scopes() {
    let config = builder().build().unwrap();
    let d = render_for_tool(&config, &AuthError::NoToken, &scoped(&["notes:write"]));
    assert_eq!(d.status, 401);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", \
             scope=\"notes:write\""
        )
    );
}

#[test]
fn no_token_names_base_scopes_when_they_are_configured() {
    let config = builder().base_scopes(["notes:read"]).build().unwrap();
    let d = render(&config, &AuthError::NoToken);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", \
             scope=\"notes:read\""
        )
    );
}

#[test]
fn another_auth_scheme_counts_as_no_bearer_token() {
    for v in ["Basic dXNlcjpwdw==", "DPoP abc.def.ghi", "Token abc"] {
        assert_eq!(
            extract_bearer(&headers(&[v]), None, 16384),
            Err(AuthError::NoToken),
            "{v}"
        );
    }
}

#[test]
fn bearer_scheme_is_matched_case_insensitively() {
    for v in [
        "Bearer a.b.c",
        "bearer a.b.c",
        "BEARER a.b.c",
        "bEaReR a.b.c",
    ] {
        assert_eq!(
            extract_bearer(&headers(&[v]), None, 16384),
            Ok("a.b.c"),
            "{v}"
        );
    }
}

// ---- 400 invalid_request ----

#[test]
fn token_in_query_string_is_400_invalid_request_even_beside_a_valid_header() {
    let config = builder().build().unwrap();
    for query in ["access_token=abc", "x=1&access_token=abc", "access_token"] {
        let err = extract_bearer(&headers(&["Bearer a.b.c"]), Some(query), 16384).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidRequest(InvalidRequest::TokenInQuery),
            "{query}"
        );
        assert_invalid_request(
            &config,
            &err,
            "token_in_query",
            "invalid request: access token in the query string",
        );
    }
    // A parameter that merely contains the name is not a token.
    assert_eq!(
        extract_bearer(
            &headers(&["Bearer a.b.c"]),
            Some("my_access_token=1"),
            16384
        ),
        Ok("a.b.c")
    );
}

#[test]
fn token_in_form_body_is_400_invalid_request() {
    assert!(form_body_has_access_token(
        Some("application/x-www-form-urlencoded"),
        b"grant=x&access_token=abc"
    ));
    assert!(!form_body_has_access_token(
        Some("application/json"),
        br#"{"access_token":"abc"}"#
    ));
    let config = builder().build().unwrap();
    assert_invalid_request(
        &config,
        &AuthError::InvalidRequest(InvalidRequest::TokenInBody),
        "token_in_body",
        "invalid request: access token in the request body",
    );
}

#[test]
fn malformed_authorization_header_is_400_invalid_request() {
    let config = builder().build().unwrap();
    for v in [
        "",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a,b",
        "Bearer a.b.c extra",
        "Bearer tok\"en",
        " Bearer a.b.c",
    ] {
        let err = extract_bearer(&headers(&[v]), None, 16384).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidRequest(InvalidRequest::MalformedAuthorizationHeader),
            "{v:?}"
        );
        assert_invalid_request(
            &config,
            &err,
            "malformed_authorization_header",
            "invalid request: malformed Authorization header",
        );
    }
    // Bytes that are not visible ASCII.
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xffabc").unwrap(),
    );
    assert_eq!(
        extract_bearer(&h, None, 16384),
        Err(AuthError::InvalidRequest(
            InvalidRequest::MalformedAuthorizationHeader
        ))
    );
}

#[test]
fn two_authorization_headers_are_400_invalid_request() {
    let config = builder().build().unwrap();
    let err = extract_bearer(&headers(&["Bearer a.b.c", "Bearer d.e.f"]), None, 16384).unwrap_err();
    assert_eq!(
        err,
        AuthError::InvalidRequest(InvalidRequest::MultipleAuthorizationHeaders)
    );
    assert_invalid_request(
        &config,
        &err,
        "multiple_authorization_headers",
        "invalid request: more than one Authorization header",
    );
}

// ---- 401 invalid_token: token problems ----

#[test]
fn valid_token_is_accepted_and_yields_the_principal() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let token = key.token(&claims("notes:read"));
    let p = validate(&v, &token).unwrap();
    assert_eq!(p.subject(), Some("user-1"));
    assert_eq!(p.issuer(), ISSUER);
    assert_eq!(p.audiences(), [RESOURCE]);
    assert_eq!(p.scopes(), ["notes:read"]);
    assert_eq!(p.client_id(), Some("client-1"));
    assert_eq!(p.expires_at(), Some(NOW + 3600));
    assert_eq!(p.claim("jti"), Some(&json!("jti-1")));
    assert_eq!(p.claim("iat"), Some(&json!(NOW - 10)));
    assert_eq!(p.claim("nope"), None);
    assert_eq!(
        p.fingerprint().to_string(),
        authsec::Fingerprint::of(&token).to_string()
    );
}

#[test]
fn custom_claims_are_available_on_the_principal_as_sent() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let mut c = claims("notes:read");
    c["tenant"] = json!("acme");
    c["roles"] = json!(["admin", {"scoped": true}]);
    c["ratio"] = json!(0.25);
    let p = validate(&v, &key.token(&c)).unwrap();
    assert_eq!(p.claim("tenant"), Some(&json!("acme")));
    assert_eq!(p.claim("roles"), Some(&json!(["admin", {"scoped": true}])));
    assert_eq!(p.claim("ratio"), Some(&json!(0.25)));
    // The same claims typed from a map (introspection) give an equal principal.
    let from_map = authsec::Principal::from_claims(
        &authsec::internal::token::Claims::from_map(c.as_object().unwrap().clone()).unwrap(),
        ISSUER,
        p.fingerprint(),
        p.kind(),
    );
    assert_eq!(from_map, p);
}

#[test]
fn bad_signature_is_401_invalid_token_bad_signature() {
    let key = TestKey::rsa("k1", "RS256");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    // A genuine signature moved onto other claims (here: more scope).
    let token = key.token(&claims("notes:read"));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(claims("notes:read notes:write").to_string());
    let forged = parts.join(".");
    let err = validate(&v, &forged).unwrap_err();
    assert_eq!(err, AuthError::BadSignature);
    assert_invalid_token(&config, &err, "bad_signature", "bad signature");
}

#[test]
fn token_signed_by_another_key_with_our_kid_is_bad_signature() {
    let ours = TestKey::es256("k1");
    let theirs = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&ours]);
    assert_eq!(
        validate(&v, &theirs.token(&claims("notes:read"))),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn malformed_token_is_401_invalid_token_malformed_token() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let err = validate(&v, "not-a-jwt").unwrap_err();
    assert_eq!(err, AuthError::Malformed(Malformed::Segments(1)));
    assert_invalid_token(
        &config,
        &err,
        "malformed_token",
        "malformed token: expected 3 segments, found 1",
    );

    let err = validate(
        &v,
        &key.sign_raw(br#"{"alg":"ES256","kid":"k1"}"#, b"not json"),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            AuthError::Malformed(Malformed::Json {
                part: Part::Payload,
                ..
            })
        ),
        "{err:?}"
    );
    let d = render(&config, &err);
    assert_eq!(d.status, 401);
    assert_eq!(d.body["reason"], "malformed_token");

    let padded = format!("{}=", key.token(&claims("notes:read")));
    assert_eq!(
        validate(&v, &padded),
        Err(AuthError::Malformed(Malformed::Base64(Part::Signature)))
    );
}

#[test]
fn unknown_kid_is_401_invalid_token_unknown_key() {
    let key = TestKey::es256("k1");
    let other = TestKey::es256("k2");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let err = validate(&v, &other.token(&claims("notes:read"))).unwrap_err();
    assert_eq!(
        err,
        AuthError::UnknownKey {
            kid: Some("k2".into())
        }
    );
    assert_invalid_token(&config, &err, "unknown_key", "unknown signing key");
}

#[test]
fn symmetric_alg_is_401_invalid_token_alg_not_allowed() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let token = unsigned(
        r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#,
        &claims("notes:read").to_string(),
    );
    let err = validate(&v, &token).unwrap_err();
    assert_eq!(
        err,
        AuthError::AlgorithmNotAllowed {
            alg: "HS256".into()
        }
    );
    assert_invalid_token(&config, &err, "alg_not_allowed", "algorithm not allowed");
}

#[test]
fn key_pinned_to_another_alg_is_401_invalid_token_key_alg_mismatch() {
    // The JWK says alg RS256; a PS256 token naming that key is refused before verifying.
    let rs = TestKey::rsa("k1", "RS256");
    let ps = TestKey::rsa("k1", "PS256");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&rs]);
    let err = validate(&v, &ps.token(&claims("notes:read"))).unwrap_err();
    assert_eq!(
        err,
        AuthError::KeyAlgorithmMismatch {
            kid: Some("k1".into()),
            key: "RS256".into(),
            token_alg: "PS256".into()
        }
    );
    assert_invalid_token(
        &config,
        &err,
        "key_alg_mismatch",
        "key k1 is pinned to RS256; the token says alg PS256",
    );
}

#[test]
fn wrong_typ_is_401_invalid_token_invalid_typ() {
    let key = TestKey::es256("k1");
    let config = builder().typ_policy(TypPolicy::Rfc9068).build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let token = key.sign(
        &json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
        &claims("notes:read"),
    );
    let err = validate(&v, &token).unwrap_err();
    assert_eq!(
        err,
        AuthError::TypNotAllowed {
            expected: vec!["at+jwt".into(), "application/at+jwt".into()],
            actual: Some("JWT".into())
        }
    );
    assert_invalid_token(
        &config,
        &err,
        "invalid_typ",
        "typ JWT is not allowed; expected at+jwt or application/at+jwt",
    );
}

#[test]
fn issuer_mismatch_is_401_with_issuer_mismatch_description() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c["iss"] = json!("https://evil.example.com");
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(
        err,
        AuthError::IssuerMismatch {
            expected: ISSUER.into(),
            actual: Some("https://evil.example.com".into())
        }
    );
    assert_invalid_token(&config, &err, "issuer_mismatch", "issuer mismatch");
}

#[test]
fn missing_issuer_is_issuer_mismatch_with_no_actual_value() {
    let key = TestKey::es256("k1");
    let v = validator(builder().build().unwrap(), &[&key]);
    let mut c = claims("notes:read");
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        validate(&v, &key.token(&c)),
        Err(AuthError::IssuerMismatch {
            expected: ISSUER.into(),
            actual: None
        })
    );
}

#[test]
fn audience_mismatch_is_401_with_audience_mismatch_description() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c["aud"] = json!("https://other.example.com/mcp");
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(
        err,
        AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec!["https://other.example.com/mcp".into()]
        }
    );
    assert_invalid_token(&config, &err, "audience_mismatch", "audience mismatch");
}

#[test]
fn expired_token_is_401_with_expired_description() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c["exp"] = json!(NOW - 3600);
    c["iat"] = json!(NOW - 7200);
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(
        err,
        AuthError::Expired {
            exp: NOW - 3600,
            now: NOW,
            leeway: 60
        }
    );
    assert_invalid_token(&config, &err, "token_expired", "expired");
}

#[test]
fn nbf_in_the_future_is_401_not_yet_valid() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c["nbf"] = json!(NOW + 600);
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(
        err,
        AuthError::NotYetValid {
            claim: "nbf",
            value: NOW + 600,
            now: NOW,
            leeway: 60
        }
    );
    assert_invalid_token(&config, &err, "token_not_yet_valid", "not yet valid");
}

#[test]
fn iat_in_the_future_is_401_not_yet_valid() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c["iat"] = json!(NOW + 600);
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(
        err,
        AuthError::NotYetValid {
            claim: "iat",
            value: NOW + 600,
            now: NOW,
            leeway: 60
        }
    );
    assert_invalid_token(&config, &err, "token_not_yet_valid", "not yet valid");
}

#[test]
fn missing_exp_is_401_missing_claim() {
    let key = TestKey::es256("k1");
    let config = builder().build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut c = claims("notes:read");
    c.as_object_mut().unwrap().remove("exp");
    let err = validate(&v, &key.token(&c)).unwrap_err();
    assert_eq!(err, AuthError::MissingClaim { claim: "exp" });
    assert_invalid_token(&config, &err, "missing_claim", "missing exp");
}

#[test]
fn inactive_token_renders_401_token_inactive() {
    let config = builder().build().unwrap();
    assert_invalid_token(
        &config,
        &AuthError::TokenRevoked,
        "token_revoked",
        "token inactive",
    );
}

// ---- 403 insufficient_scope ----

fn insufficient(scope_match: ScopeMatch) -> AuthError {
    AuthError::InsufficientScope {
        target: Target::tool("add_note"),
        required: vec!["notes:write".into()],
        scope_match,
        granted: vec!["notes:read".into()],
    }
}

#[test]
fn missing_scope_is_403_naming_required_plus_granted_scopes() {
    let config = builder().build().unwrap();
    let d = render_for_tool(
        &config,
        &insufficient(ScopeMatch::Any),
        &scoped(&["notes:write"]),
    );
    assert_eq!(d.status, 403);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"tool add_note requires more scope\", \
             scope=\"notes:write notes:read\", \
             resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        )
    );
    assert_eq!(
        d.body,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool add_note requires more scope",
            "reason": "insufficient_scope",
            "tool": "add_note",
            "required_scopes": ["notes:write"],
            "granted_scopes": ["notes:read"]
        })
    );
}

#[test]
fn missing_scope_challenge_names_only_required_scopes_when_configured() {
    let config = builder()
        .challenge_scope(ChallengeScope::RequiredOnly)
        .build()
        .unwrap();
    let d = render_for_tool(
        &config,
        &insufficient(ScopeMatch::Any),
        &scoped(&["notes:write"]),
    );
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"tool add_note requires more scope\", \
             scope=\"notes:write\", \
             resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        )
    );
}

#[test]
fn all_of_rule_is_reported_in_the_403_body() {
    let config = builder().build().unwrap();
    let d = render_for_tool(
        &config,
        &insufficient(ScopeMatch::All),
        &scoped(&["notes:write"]),
    );
    assert_eq!(d.status, 403);
    assert_eq!(d.body["scope_match"], "all");
}

#[test]
fn unmapped_tool_is_403_insufficient_scope_without_scope() {
    let config = builder().build().unwrap();
    let err = AuthError::Unmapped {
        target: Target::tool("drop_db"),
    };
    let d = render(&config, &err);
    assert_eq!(d.status, 403);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"tool drop_db is not mapped to any scope\", \
             resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        )
    );
    assert_eq!(
        d.body,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool drop_db is not mapped to any scope",
            "reason": "tool_unmapped",
            "tool": "drop_db"
        })
    );
}

// ---- 503 temporarily_unavailable ----

#[test]
fn backend_unavailable_is_503_without_challenge() {
    let config = builder().build().unwrap();
    for (err, reason, description) in [
        (
            AuthError::ValidationUnavailable {
                detail: "GET https://auth.example.com/jwks: HTTP 500".into(),
            },
            "validation_unavailable",
            "token validation unavailable",
        ),
        (
            AuthError::PolicyUnavailable {
                detail: "console unreachable".into(),
            },
            "policy_unavailable",
            "policy unavailable",
        ),
    ] {
        let d = render(&config, &err);
        assert_eq!(d.status, 503);
        assert_eq!(d.www_authenticate, None);
        assert_eq!(
            d.body,
            json!({"error": "temporarily_unavailable", "error_description": description, "reason": reason})
        );
    }
}

// ---- the HTTP response itself ----

#[test]
fn denial_response_is_json_no_store_with_the_challenge_header() {
    let config = builder().build().unwrap();
    let resp: http::Response<String> = render(&config, &AuthError::BadSignature).into_response();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(
        resp.headers()["www-authenticate"],
        invalid_token_challenge("bad signature").as_str()
    );
    let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "bad signature", "reason": "bad_signature"})
    );
}

#[test]
fn denials_never_echo_the_token() {
    let key = TestKey::es256("k1");
    let config = builder().typ_policy(TypPolicy::Rfc9068).build().unwrap();
    let v = validator(config.clone(), &[&key]);
    let mut expired = claims("notes:read");
    expired["exp"] = json!(NOW - 3600);
    let tokens = [
        key.token(&expired),
        key.sign(&json!({"alg": "ES256", "kid": "k1"}), &claims("x")),
        format!("{}x", key.token(&claims("x"))),
        "eyJhbGciOiJub25lIn0.e30.".to_owned(),
    ];
    for token in tokens {
        let err = validate(&v, &token).unwrap_err();
        let d = render(&config, &err);
        let seen = format!("{:?} {} {}", d.www_authenticate, d.body, err);
        for segment in token.split('.').filter(|s| s.len() > 8) {
            assert!(!seen.contains(segment), "{seen} echoes {segment}");
        }
    }
}

// ---- cross-check with jsonwebtoken ----

#[test]
fn every_supported_algorithm_validates_and_agrees_with_jsonwebtoken() {
    use jsonwebtoken::{Algorithm as J, DecodingKey, Validation};
    let keys = [
        (TestKey::rsa("rs256", "RS256"), J::RS256),
        (TestKey::rsa("rs384", "RS384"), J::RS384),
        (TestKey::rsa("rs512", "RS512"), J::RS512),
        (TestKey::rsa("ps256", "PS256"), J::PS256),
        (TestKey::rsa("ps384", "PS384"), J::PS384),
        (TestKey::rsa("ps512", "PS512"), J::PS512),
        (TestKey::es256("es256"), J::ES256),
        (TestKey::es384("es384"), J::ES384),
        (TestKey::ed25519("eddsa"), J::EdDSA),
    ];
    let refs: Vec<&TestKey> = keys.iter().map(|(k, _)| k).collect();
    let v = validator(
        authsec::Config::builder(ISSUER, RESOURCE).build().unwrap(),
        &refs,
    );
    for (key, alg) in &keys {
        let jwk = key.jwk();
        let s = |m: &str| jwk[m].as_str().unwrap().to_owned();
        let decoding = match key.alg {
            "ES256" | "ES384" => DecodingKey::from_ec_components(&s("x"), &s("y")).unwrap(),
            "EdDSA" => DecodingKey::from_ed_components(&s("x")).unwrap(),
            _ => DecodingKey::from_rsa_components(&s("n"), &s("e")).unwrap(),
        };
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[RESOURCE]);
        let token = key.token(&authsec_testkit::claims(ISSUER, RESOURCE, "notes:read"));
        let ours = now_or_never(v.validate(&token)).unwrap();
        let theirs = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            &token,
            &decoding,
            &validation,
        )
        .unwrap();
        assert_eq!(ours.claim("sub"), theirs.claims.get("sub"), "{}", key.alg);
        assert_eq!(
            ours.expires_at(),
            theirs.claims["exp"].as_i64(),
            "{}",
            key.alg
        );
        // A flipped signature bit: both refuse.
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            now_or_never(v.validate(&forged)),
            Err(AuthError::BadSignature),
            "{}",
            key.alg
        );
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&forged, &decoding, &validation).is_err()
        );
    }
}
