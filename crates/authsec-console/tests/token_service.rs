//! The token service: client_credentials tokens, JWKS, RFC 8414 metadata, RFC 7662
//! introspection, RFC 7009 revocation and key rotation — against SQLite and PostgreSQL; and
//! the authsec SDK accepting what it issues.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::{decode_jwt, Creds, Options, TestConsole, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

const URI: &str = "https://notes.example.com/mcp";

struct Fixture {
    c: TestConsole,
    rs: String,
    rs_secret: String,
    client: String,
    client_secret: String,
}

async fn fixture(db: &TestDb, opts: Options) -> Fixture {
    let c = TestConsole::start_with(db, opts).await;
    let (rs, rs_secret) = c
        .create_rs(URI, &["notes:read", "notes:write", "notes:admin"])
        .await;
    let (client, client_secret) = c.create_client(&rs, &["notes:read", "notes:write"]).await;
    Fixture {
        c,
        rs,
        rs_secret,
        client,
        client_secret,
    }
}

impl Fixture {
    fn client(&self) -> (&str, &str) {
        (&self.client, &self.client_secret)
    }

    fn rs(&self) -> (&str, &str) {
        (&self.rs, &self.rs_secret)
    }

    async fn introspect(&self, token: &str) -> Value {
        let (status, headers, body) = self
            .c
            .oauth("/oauth/introspect", Some(self.rs()), &[("token", token)])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        body
    }
}

async fn a_token_has_exactly_the_right_claims(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let (status, headers, body) =
        f.c.oauth(
            "/oauth/token",
            Some(f.client()),
            &[
                ("grant_type", "client_credentials"),
                ("resource", URI),
                ("scope", "notes:write notes:admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "notes:write");
    let token = body["access_token"].as_str().unwrap();
    let (header, claims) = decode_jwt(token);
    let (_, jwks) = {
        let resp =
            f.c.http
                .get(f.c.url("/.well-known/jwks.json"))
                .send()
                .await
                .unwrap();
        (resp.status(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "at+jwt", "kid": jwks["keys"][0]["kid"]})
    );
    let iat = claims["iat"].as_i64().unwrap();
    let jti = claims["jti"].as_str().unwrap();
    assert!(
        jti.len() == 32 && jti.bytes().all(|b| b.is_ascii_hexdigit()),
        "{jti}"
    );
    assert!((iat - authsec_console::Clock::system().now()).abs() < 60);
    assert_eq!(
        claims,
        json!({
            "iss": f.c.base, "aud": URI, "sub": f.client, "client_id": f.client,
            "scope": "notes:write", "iat": iat, "exp": iat + 3600, "jti": jti,
        })
    );
    f.c.stop().await;
}

async fn scopes_and_resource_default_to_the_client_registration(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let token = f.c.token(f.client(), &[]).await;
    let (_, claims) = decode_jwt(&token);
    assert_eq!(claims["scope"], "notes:read notes:write");
    assert_eq!(claims["aud"], URI);
    f.c.stop().await;
}

async fn client_secret_post_works_too(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let (status, _, body) =
        f.c.oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &f.client),
                ("client_secret", &f.client_secret),
                ("scope", "notes:read"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "notes:read");
    f.c.stop().await;
}

/// (what, credentials, form, expected status, expected `error`).
type ErrorCase<'a> = (
    &'a str,
    Creds<'a>,
    Vec<(&'a str, &'a str)>,
    StatusCode,
    &'a str,
);

async fn token_errors_follow_rfc6749(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let cc = ("grant_type", "client_credentials");
    let cases: Vec<ErrorCase> = vec![
        (
            "no credentials",
            None,
            vec![cc],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "wrong secret",
            Some((&f.client, "asc_wrong")),
            vec![cc],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "unknown client",
            Some(("cl-0000000000000000", "x")),
            vec![cc],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "resource server credentials",
            Some(f.rs()),
            vec![cc],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "two auth methods",
            Some(f.client()),
            vec![cc, ("client_secret", &f.client_secret)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "no grant_type",
            Some(f.client()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "repeated grant_type",
            Some(f.client()),
            vec![cc, cc],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "other grant",
            Some(f.client()),
            vec![("grant_type", "password")],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "scope not allowed",
            Some(f.client()),
            vec![cc, ("scope", "notes:admin")],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            "scope in other case",
            Some(f.client()),
            vec![cc, ("scope", "NOTES:READ")],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            "other resource",
            Some(f.client()),
            vec![cc, ("resource", "https://notes.example.com/mcp/")],
            StatusCode::BAD_REQUEST,
            "invalid_target",
        ),
        (
            "two resources",
            Some(f.client()),
            vec![cc, ("resource", URI), ("resource", URI)],
            StatusCode::BAD_REQUEST,
            "invalid_target",
        ),
    ];
    for (what, creds, form, status, error) in cases {
        let (s, headers, body) = f.c.oauth("/oauth/token", creds, &form).await;
        assert_eq!(s, status, "{what}: {body}");
        assert_eq!(body["error"], error, "{what}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert!(body.get("access_token").is_none(), "{what}");
        if status == StatusCode::UNAUTHORIZED && creds.is_some() {
            assert_eq!(
                headers["www-authenticate"], "Basic realm=\"authsec-console\"",
                "{what}"
            );
        }
    }
    f.c.stop().await;
}

async fn metadata_and_jwks_describe_the_service(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let resp =
        f.c.http
            .get(f.c.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let meta: Value = resp.json().await.unwrap();
    let base = &f.c.base;
    assert_eq!(meta["issuer"], base.as_str());
    assert_eq!(meta["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(meta["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{base}/oauth/introspect")
    );
    assert_eq!(meta["revocation_endpoint"], format!("{base}/oauth/revoke"));
    assert_eq!(meta["grant_types_supported"], json!(["client_credentials"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        meta["scopes_supported"],
        json!(["notes:admin", "notes:read", "notes:write"])
    );
    let resp =
        f.c.http
            .get(meta["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/jwk-set+json");
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none(), "no private key in the JWKS");
    f.c.stop().await;
}

async fn introspection_reports_active_tokens(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let token = f.c.token(f.client(), &[("scope", "notes:read")]).await;
    let (_, claims) = decode_jwt(&token);
    let body = f.introspect(&token).await;
    assert_eq!(
        body,
        json!({
            "active": true, "scope": "notes:read", "client_id": f.client, "sub": f.client,
            "aud": URI, "iss": f.c.base, "exp": claims["exp"], "iat": claims["iat"],
            "jti": claims["jti"], "token_type": "Bearer",
        })
    );
    f.c.stop().await;
}

async fn introspection_is_inactive_for_revoked_expired_unknown_and_foreign_tokens(db: &TestDb) {
    let offset = Arc::new(AtomicI64::new(0));
    let f = fixture(
        db,
        Options {
            clock_offset: offset.clone(),
            ..Options::default()
        },
    )
    .await;
    let inactive = json!({"active": false});

    // Unknown / garbage.
    assert_eq!(f.introspect("not-a-token").await, inactive);
    let foreign_signer = authsec_testkit_like_token();
    assert_eq!(f.introspect(&foreign_signer).await, inactive);

    // Another resource server's token.
    let (other, other_secret) =
        f.c.create_rs("https://other.example.com/mcp", &["o:read"])
            .await;
    let (oc, ocs) = f.c.create_client(&other, &["o:read"]).await;
    let other_token = f.c.token((&oc, &ocs), &[]).await;
    assert_eq!(f.introspect(&other_token).await, inactive);
    let (_, _, body) =
        f.c.oauth(
            "/oauth/introspect",
            Some((&other, &other_secret)),
            &[("token", &other_token)],
        )
        .await;
    assert_eq!(
        body["active"], true,
        "its own resource server sees it active"
    );

    // Revoked by its client.
    let token = f.c.token(f.client(), &[]).await;
    assert_eq!(f.introspect(&token).await["active"], true);
    let (status, _, body) =
        f.c.oauth(
            "/oauth/revoke",
            Some(f.client()),
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(f.introspect(&token).await, inactive);

    // Expired.
    let token = f.c.token(f.client(), &[]).await;
    assert_eq!(f.introspect(&token).await["active"], true);
    offset.store(3601, Ordering::SeqCst);
    assert_eq!(f.introspect(&token).await, inactive);
    offset.store(0, Ordering::SeqCst);

    // Its client deleted.
    let (c2, c2s) = f.c.create_client(&f.rs, &["notes:read"]).await;
    let token = f.c.token((&c2, &c2s), &[]).await;
    assert_eq!(f.introspect(&token).await["active"], true);
    f.c.delete(&format!("/api/resource-servers/{}/clients/{c2}", f.rs))
        .await;
    assert_eq!(f.introspect(&token).await, inactive);
    f.c.stop().await;
}

/// A well-formed ES256 at+jwt from a key this console never had.
fn authsec_testkit_like_token() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"at+jwt","kid":"stranger"}"#);
    let claims = URL_SAFE_NO_PAD.encode(r#"{"iss":"x","aud":"https://notes.example.com/mcp"}"#);
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]))
}

async fn introspection_needs_resource_server_credentials(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let token = f.c.token(f.client(), &[]).await;
    for (what, creds) in [
        ("none", None),
        ("client credentials", Some(f.client())),
        ("wrong secret", Some((f.rs.as_str(), "asr_wrong"))),
    ] {
        let (status, _, body) =
            f.c.oauth("/oauth/introspect", creds, &[("token", &token)])
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(body["error"], "invalid_client", "{what}");
        assert!(body.get("active").is_none(), "{what}");
    }
    let (status, _, body) = f.c.oauth("/oauth/introspect", Some(f.rs()), &[]).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_request"))
    );
    f.c.stop().await;
}

async fn revocation_is_limited_to_the_client_and_its_resource(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let token = f.c.token(f.client(), &[]).await;
    // Another client of the same resource server may not revoke it.
    let (c2, c2s) = f.c.create_client(&f.rs, &["notes:read"]).await;
    let (status, _, body) =
        f.c.oauth("/oauth/revoke", Some((&c2, &c2s)), &[("token", &token)])
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(f.introspect(&token).await["active"], true);
    // The resource server it is for may.
    let (status, _, _) =
        f.c.oauth("/oauth/revoke", Some(f.rs()), &[("token", &token)])
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.introspect(&token).await["active"], false);
    // Unknown tokens are accepted silently (RFC 7009 §2.2).
    let (status, _, _) =
        f.c.oauth("/oauth/revoke", Some(f.client()), &[("token", "garbage")])
            .await;
    assert_eq!(status, StatusCode::OK);
    // Bad credentials are not.
    let (status, _, _) =
        f.c.oauth(
            "/oauth/revoke",
            Some((f.client.as_str(), "asc_wrong")),
            &[("token", "garbage")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let entries = f.c.audit(Some(&f.rs)).await;
    let revoked = entries
        .iter()
        .find(|e| e["action"] == "token.revoked")
        .unwrap();
    assert_eq!(revoked["actor"], format!("resource_server:{}", f.rs));
    assert_eq!(revoked["after"]["client_id"], f.client.as_str());
    assert!(
        !revoked.to_string().contains(&token),
        "the token itself is never stored"
    );
    f.c.stop().await;
}

async fn jwks_kids(f: &Fixture) -> Vec<String> {
    let jwks: Value =
        f.c.http
            .get(f.c.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn key_states(keys: &Value) -> Vec<(String, String)> {
    keys["signing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_rotated_key_is_published_before_it_signs(db: &TestDb) {
    let offset = Arc::new(AtomicI64::new(0));
    let f = fixture(
        db,
        Options {
            clock_offset: offset.clone(),
            ..Options::default()
        },
    )
    .await;
    let old_token = f.c.token(f.client(), &[]).await;
    let old_kid = decode_jwt(&old_token).0["kid"].as_str().unwrap().to_owned();
    let (status, key) = f.c.post("/api/signing-keys", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let new_kid = key["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(key["state"], "published");
    assert_eq!(key["signs_from"], key["created_at"].as_i64().unwrap() + 300);

    // Published at once, but the old key keeps signing for the activation delay.
    assert_eq!(jwks_kids(&f).await, [new_kid.as_str(), old_kid.as_str()]);
    let token = f.c.token(f.client(), &[]).await;
    assert_eq!(decode_jwt(&token).0["kid"], old_kid.as_str());
    offset.store(299, Ordering::SeqCst);
    let token = f.c.token(f.client(), &[]).await;
    assert_eq!(decode_jwt(&token).0["kid"], old_kid.as_str());

    offset.store(300, Ordering::SeqCst);
    let new_token = f.c.token(f.client(), &[]).await;
    assert_eq!(decode_jwt(&new_token).0["kid"], new_kid.as_str());
    let (_, keys) = f.c.get("/api/signing-keys").await;
    assert_eq!(
        key_states(&keys),
        [
            (new_kid.clone(), "signing".to_owned()),
            (old_kid.clone(), "verifying".to_owned())
        ]
    );
    assert_eq!(f.introspect(&old_token).await["active"], true);
    f.c.stop().await;
}

async fn retiring_the_signing_key_makes_the_published_one_sign_at_once(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let old_token = f.c.token(f.client(), &[]).await;
    let old_kid = decode_jwt(&old_token).0["kid"].as_str().unwrap().to_owned();
    let (_, key) = f.c.post("/api/signing-keys", json!({})).await;
    let new_kid = key["kid"].as_str().unwrap().to_owned();

    let (status, retired) = f.c.delete(&format!("/api/signing-keys/{old_kid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(retired["state"], "retired");
    assert!(retired["retired_at"].as_i64().is_some());
    assert_eq!(jwks_kids(&f).await, [new_kid.as_str()]);
    assert_eq!(f.introspect(&old_token).await["active"], false);
    let new_token = f.c.token(f.client(), &[]).await;
    assert_eq!(decode_jwt(&new_token).0["kid"], new_kid.as_str());
    assert_eq!(f.introspect(&new_token).await["active"], true);

    let (status, _) = f.c.delete(&format!("/api/signing-keys/{new_kid}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "the last active key stays");
    let (_, keys) = f.c.get("/api/signing-keys").await;
    assert_eq!(
        key_states(&keys),
        [
            (new_kid.clone(), "signing".to_owned()),
            (old_kid.clone(), "retired".to_owned())
        ],
        "retired keys stay listed"
    );
    f.c.stop().await;
}

async fn the_authsec_sdk_accepts_issued_tokens(db: &TestDb) {
    let f = fixture(db, Options::default()).await;
    let token = f.c.token(f.client(), &[("scope", "notes:write")]).await;
    let config = authsec::Config::builder(f.c.base.clone(), URI)
        .build()
        .expect("SDK config");
    let validator = authsec::Validator::new(config)
        .await
        .expect("discovery via RFC 8414");
    let principal = validator
        .validate(&token)
        .await
        .expect("the SDK accepts the token");
    assert_eq!(principal.client_id(), Some(f.client.as_str()));
    assert_eq!(principal.subject(), Some(f.client.as_str()));
    assert_eq!(principal.scopes(), ["notes:write"]);
    assert_eq!(principal.audiences(), [URI]);
    // For another resource it is refused: audience mismatch.
    let other = authsec::Config::builder(f.c.base.clone(), "https://other.example.com/mcp")
        .build()
        .unwrap();
    let err = authsec::Validator::new(other)
        .await
        .unwrap()
        .validate(&token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, authsec::AuthError::AudienceMismatch { .. }),
        "{err:?}"
    );
    f.c.stop().await;
}

backend_tests!(
    a_token_has_exactly_the_right_claims,
    scopes_and_resource_default_to_the_client_registration,
    client_secret_post_works_too,
    token_errors_follow_rfc6749,
    metadata_and_jwks_describe_the_service,
    introspection_reports_active_tokens,
    introspection_is_inactive_for_revoked_expired_unknown_and_foreign_tokens,
    introspection_needs_resource_server_credentials,
    revocation_is_limited_to_the_client_and_its_resource,
    a_rotated_key_is_published_before_it_signs,
    retiring_the_signing_key_makes_the_published_one_sign_at_once,
    the_authsec_sdk_accepts_issued_tokens,
);
