//! `bench-issuer`: the benchmark's token issuer. Publishes a JWKS (one RSA-2048 key) and RFC 8414
//! metadata on an ephemeral loopback port, mints one RS256 access token for the benchmark and one
//! for another audience (to prove servers refuse it), prints them, and serves until killed or
//! until the token expires (1 h).
//!
//! ```text
//! bench-issuer AUDIENCE SCOPE
//! ```
//!
//! Output on stdout, one `NAME=value` a line: `ISSUER`, `JWKS_URL`, `TOKEN`, `WRONG_AUD_TOKEN`.
//! The tokens are throwaway benchmark credentials signed by a key that lives only in this
//! process.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};

/// How long the issuer serves: the tokens' lifetime.
const LIFETIME: Duration = Duration::from_secs(3600);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [audience, scope] = args.as_slice() else {
        eprintln!("usage: bench-issuer AUDIENCE SCOPE");
        return ExitCode::from(2);
    };
    let key = TestKey::rsa("bench-rs256", "RS256");
    let server = FakeAuthServer::start(jwks(&[&key])).await;
    let issuer = server.issuer();
    let token = key.token(&claims(&issuer, audience, scope));
    let wrong_audience = format!("{}/other", audience.trim_end_matches('/'));
    let wrong_aud_token = key.token(&claims(&issuer, &wrong_audience, scope));

    let mut out = std::io::stdout().lock();
    let printed = writeln!(
        out,
        "ISSUER={issuer}\nJWKS_URL={}\nTOKEN={token}\nWRONG_AUD_TOKEN={wrong_aud_token}",
        server.jwks_url()
    )
    .and_then(|()| out.flush());
    drop(out);
    if let Err(e) = printed {
        eprintln!("bench-issuer: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = tokio::time::sleep(LIFETIME) => {}
    }
    ExitCode::SUCCESS
}
