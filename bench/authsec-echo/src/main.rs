//! `authsec-echo`: the benchmark's echo MCP server on rmcp, bare or behind authsec.
//!
//! ```text
//! authsec-echo [--listen ADDR] [--bare]
//! ```
//!
//! Protected (the default), it is configured by the `AUTHSEC_*` variables like any authsec
//! server (`AUTHSEC_ISSUER`, `AUTHSEC_JWKS_URL`, `AUTHSEC_RESOURCE_URI`,
//! `AUTHSEC_TOOL_SCOPES_JSON`, …). `--bare` serves the same tool with no authentication, as the
//! baseline. A bad configuration prints the field and the fix and exits with status 2.

use std::net::SocketAddr;
use std::process::ExitCode;

use authsec::http::AuthSecLayer;
use authsec::{Config, Validator};
use authsec_echo::{bare_app, protected_app, MCP_PATH};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: authsec-echo [--listen ADDR] [--bare]
  --listen ADDR   address to serve on (default 127.0.0.1:8080); MCP is at /mcp
  --bare          serve WITHOUT authsec (the benchmark baseline)
Protected, it is configured by AUTHSEC_* variables (AUTHSEC_ISSUER, AUTHSEC_RESOURCE_URI, ...).";

fn parse_args() -> Result<(SocketAddr, bool), String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut bare = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let v = it.next().ok_or("--listen needs an address")?;
                listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?}: {e} (expected e.g. 127.0.0.1:8080)"))?;
            }
            "--bare" => bare = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((listen, bare))
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("AUTHSEC_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let (listen, bare) = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("authsec-echo: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    let app = if bare {
        bare_app()
    } else {
        let validator = match Config::from_env() {
            Ok(config) => Validator::new(config).await,
            Err(e) => {
                eprintln!("authsec-echo: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let validator = match validator {
            Ok(v) => v,
            Err(e) => {
                eprintln!("authsec-echo: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        match AuthSecLayer::start(validator).await {
            Ok(layer) => protected_app(layer),
            Err(e) => {
                eprintln!("authsec-echo: cannot start: {e}");
                return ExitCode::from(2);
            }
        }
    };

    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("authsec-echo: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "authsec-echo ({}) listening on http://{listen}{MCP_PATH}",
        if bare { "bare" } else { "authsec" }
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authsec-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
