//! `notes-server`: the notes MCP server, protected by authsec.
//!
//! Configured only through `AUTHSEC_*` environment variables (see the README) and flags:
//!
//! ```text
//! notes-server [--listen ADDR] [--stateless] [--unprotected]
//! ```
//!
//! * `--listen ADDR`: socket address to serve on (default `127.0.0.1:8080`); MCP is at `/mcp`.
//! * `--stateless`: no sessions; answers with plain JSON where possible.
//! * `--unprotected`: serve WITHOUT authsec, for throughput baselines only.
//!
//! A bad configuration prints the field, the problem and the fix, and exits with status 2.

use std::net::SocketAddr;
use std::process::ExitCode;

use authsec::{Config, Validator};
use authsec_notes::{protected_app, serve, start_layer, unprotected_app, Transport, MCP_PATH};
use tracing_subscriber::EnvFilter;

struct Args {
    listen: SocketAddr,
    transport: Transport,
    unprotected: bool,
}

const USAGE: &str = "usage: notes-server [--listen ADDR] [--stateless] [--unprotected]
  --listen ADDR   address to serve on (default 127.0.0.1:8080); MCP is at /mcp
  --stateless     no sessions; answer with plain JSON where possible
  --unprotected   serve WITHOUT authsec (throughput baselines only)
Configuration comes from AUTHSEC_* environment variables (AUTHSEC_ISSUER, AUTHSEC_RESOURCE_URI,
AUTHSEC_TOOL_SCOPES_JSON, AUTHSEC_PROMPT_SCOPES_JSON, AUTHSEC_RESOURCE_SCOPES_JSON, ...); AUTHSEC_LOG sets the log filter (default info).";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        transport: Transport::Sessions,
        unprotected: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let v = it
                    .next()
                    .ok_or("--listen needs an address, e.g. 127.0.0.1:8080")?;
                args.listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?}: {e} (expected e.g. 127.0.0.1:8080)"))?;
            }
            "--stateless" => args.transport = Transport::StatelessJson,
            "--unprotected" => args.unprotected = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("AUTHSEC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("notes-server: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    let app = if args.unprotected {
        tracing::warn!("--unprotected: serving WITHOUT authsec; for throughput baselines only");
        unprotected_app(args.transport)
    } else {
        let config = match Config::from_env() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("notes-server: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let coverage = authsec_notes::tool_coverage(&config);
        if !coverage.is_complete() && config.policy_mode == authsec::config::PolicyMode::LocalOnly {
            for line in coverage.to_string().lines() {
                tracing::warn!(target: "authsec::policy", "AUTHSEC_TOOL_SCOPES_JSON: {line}");
            }
        }
        let validator = match Validator::new(config).await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("notes-server: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        // Publishes the tool manifest and fetches the console's policy when configured.
        let layer = match start_layer(validator).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("notes-server: cannot start: {e}");
                return ExitCode::from(2);
            }
        };
        protected_app(layer, args.transport)
    };

    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("notes-server: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("notes-server listening on http://{}{MCP_PATH}", args.listen);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match serve(listener, app, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notes-server: {e}");
            ExitCode::FAILURE
        }
    }
}
