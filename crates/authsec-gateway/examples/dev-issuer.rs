//! A throwaway loopback token issuer for trying the gateway out and for the load script — never
//! for production. It publishes RFC 8414 metadata and a JWKS on 127.0.0.1 (a fresh ES256 key per
//! run), mints one access token for RESOURCE with SCOPES (valid 1 h, `sub` user-1, `client_id`
//! client-1), prints
//!
//! ```text
//! AUTHSEC_ISSUER=http://127.0.0.1:PORT
//! AUTHSEC_JWKS_URL=http://127.0.0.1:PORT/jwks
//! TOKEN=eyJ…
//! ```
//!
//! and serves until interrupted.
//!
//! ```sh
//! cargo run -p authsec-gateway --example dev-issuer -- http://127.0.0.1:8080/mcp "demo:read"
//! ```

use std::io::Write;

use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(resource), Some(scopes)) = (args.next(), args.next()) else {
        eprintln!("usage: dev-issuer RESOURCE_URI \"SCOPE …\"");
        std::process::exit(2);
    };
    let key = TestKey::es256("dev-1");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let token = key.token(&claims(&server.issuer(), &resource, &scopes));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "AUTHSEC_ISSUER={}", server.issuer());
    let _ = writeln!(out, "AUTHSEC_JWKS_URL={}", server.jwks_url());
    let _ = writeln!(out, "TOKEN={token}");
    let _ = out.flush();
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
}
