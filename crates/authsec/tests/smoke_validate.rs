//! End-to-end validation against a loopback JWKS: the happy path and key discovery.

use authsec::config::Config;
use authsec::validate::Validator;
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};

#[tokio::test]
async fn valid_rs256_token_from_discovered_jwks_is_accepted() {
    let key = TestKey::rsa("k1", "RS256");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let resource = "http://127.0.0.1:1/mcp";
    let config = Config::builder(server.issuer(), resource).build().unwrap();
    let validator = Validator::new(config).await.unwrap();
    let token = key.token(&claims(&server.issuer(), resource, "notes:read"));
    let principal = validator.validate(&token).await.unwrap();
    assert_eq!(principal.subject(), Some("user-1"));
    assert_eq!(principal.scopes(), ["notes:read"]);
    assert_eq!(server.jwks_fetches(), 1);
}
