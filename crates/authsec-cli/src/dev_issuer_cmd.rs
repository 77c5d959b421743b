//! `authsec dev-issuer`: a throwaway token issuer on loopback, for trying authsec out (the
//! gateway walkthrough) and for the load and conformance scripts. It is the SDK's
//! `authsec::testing::TestIssuer` behind a command line: a fresh ES256 key per run, its JWKS
//! and metadata on 127.0.0.1, one minted access token. Never for production.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use authsec::testing::{TestIssuer, DEFAULT_CLIENT_ID, DEFAULT_SUBJECT};
use clap::Args;

use crate::console_cmd::{runtime, shutdown_signal};

/// `--help` examples.
pub const DEV_ISSUER_EXAMPLES: &str = "\
Prints, one NAME=value a line on stdout, then serves the JWKS until Ctrl-C (or SIGTERM):

  AUTHSEC_ISSUER=http://127.0.0.1:PORT
  AUTHSEC_JWKS_URL=http://127.0.0.1:PORT/jwks
  TOKEN=eyJ…

The key lives only in this process: the token stops verifying when it stops. The token is a
bearer credential for RESOURCE; keep the output out of version control.

Examples:
  authsec dev-issuer http://127.0.0.1:8080/mcp 'demo:read' > dev.env
  authsec dev-issuer http://127.0.0.1:8080/mcp 'notes:read notes:write' --subject alice --expires-in-secs 21600";

/// `authsec dev-issuer`.
#[derive(Debug, Args)]
pub struct DevIssuerArgs {
    /// The protected resource's URI: the token's `aud`.
    #[arg(value_name = "RESOURCE")]
    pub resource: String,
    /// The token's `scope`, space-separated (none when omitted).
    #[arg(value_name = "SCOPE", default_value = "")]
    pub scope: String,
    /// The token's `sub`.
    #[arg(long, value_name = "SUB", default_value = DEFAULT_SUBJECT)]
    pub subject: String,
    /// The token's `client_id`.
    #[arg(long, value_name = "ID", default_value = DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// How long the token is valid.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub expires_in_secs: u64,
}

/// Runs the issuer until Ctrl-C.
pub fn run(args: &DevIssuerArgs) -> Result<ExitCode, String> {
    runtime()?.block_on(async {
        let issuer = TestIssuer::start()
            .await
            .map_err(|e| format!("cannot start the issuer on 127.0.0.1: {e}"))?;
        let mut token = issuer
            .token(&args.resource)
            .subject(&args.subject)
            .client_id(&args.client_id)
            .expires_in(Duration::from_secs(args.expires_in_secs));
        if !args.scope.is_empty() {
            token = token.scope(&args.scope);
        }
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "AUTHSEC_ISSUER={}\nAUTHSEC_JWKS_URL={}\nTOKEN={}",
            issuer.issuer(),
            issuer.jwks_url(),
            token.mint()
        )
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
        drop(out);
        eprintln!(
            "authsec dev-issuer: serving the JWKS at {}; keep it running while the token is used. Ctrl-C stops it.",
            issuer.jwks_url()
        );
        shutdown_signal().await;
        Ok(ExitCode::SUCCESS)
    })
}
