//! `authsec dev-issuer`: what it prints is a configuration and a token the SDK accepts, for as
//! long as it runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use authsec::{AuthError, Config, Validator};

const RESOURCE: &str = "http://127.0.0.1:8080/mcp";

/// The running issuer; killed when dropped.
struct Issuer(Child);

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `authsec dev-issuer ARGS` and reads its three lines.
fn start(args: &[&str]) -> (Issuer, [String; 3]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authsec"))
        .arg("dev-issuer")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn authsec");
    let stdout = child.stdout.take().expect("stdout");
    let issuer = Issuer(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut value = |name: &str| {
        let line = lines.next().expect("a line").expect("utf-8");
        line.strip_prefix(&format!("{name}="))
            .unwrap_or_else(|| panic!("expected {name}=…, got {line:?}"))
            .to_owned()
    };
    let printed = [
        value("AUTHSEC_ISSUER"),
        value("AUTHSEC_JWKS_URL"),
        value("TOKEN"),
    ];
    (issuer, printed)
}

async fn validator(issuer: &str, jwks_url: &str) -> Validator {
    let config = Config::builder(issuer, RESOURCE)
        .jwks_url(jwks_url)
        .build()
        .unwrap();
    Validator::new(config).await.unwrap()
}

#[tokio::test]
async fn the_printed_token_validates_against_the_printed_issuer_and_jwks() {
    let (_running, [issuer, jwks_url, token]) = start(&[
        RESOURCE,
        "demo:read demo:write",
        "--subject",
        "alice",
        "--client-id",
        "agent-7",
    ]);
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let p = validator(&issuer, &jwks_url)
        .await
        .validate(&token)
        .await
        .unwrap();
    assert_eq!(p.subject(), Some("alice"));
    assert_eq!(p.client_id(), Some("agent-7"));
    assert_eq!(p.scopes(), ["demo:read", "demo:write"]);
}

#[tokio::test]
async fn a_token_for_another_resource_is_an_audience_mismatch() {
    let (_running, [issuer, jwks_url, token]) = start(&["https://other.example/mcp", "demo:read"]);
    let err = validator(&issuer, &jwks_url)
        .await
        .validate(&token)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::AudienceMismatch {
            expected: vec![RESOURCE.into()],
            actual: vec!["https://other.example/mcp".into()],
        }
    );
}
