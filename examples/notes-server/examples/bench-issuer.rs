//! A loopback token issuer for the load script (`scripts/load-notes.sh`): serves a JWKS and
//! RFC 8414 metadata on 127.0.0.1, prints the issuer, the JWKS URL and one signed access token,
//! then serves until killed.
//!
//! ```text
//! cargo run -p notes-server --example bench-issuer -- RESOURCE_URI SCOPE
//! ```

use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(resource), Some(scope)) = (args.next(), args.next()) else {
        eprintln!("usage: bench-issuer RESOURCE_URI SCOPE");
        std::process::exit(2);
    };
    let key = TestKey::es256("bench");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let mut c = claims(&server.issuer(), &resource, &scope);
    // Long enough for any run of the script.
    c["exp"] = serde_json::json!(authsec_testkit::now() + 6 * 3600);
    println!("ISSUER={}", server.issuer());
    println!("JWKS_URL={}", server.jwks_url());
    println!("TOKEN={}", key.token(&c));
    std::future::pending::<()>().await;
}
