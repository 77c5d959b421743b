//! `authsec console`: runs the control plane (`authsec_console::run`) until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use authsec_console::ConsoleConfig;

use crate::cli::ConsoleArgs;

/// Runs the console, or resets its admin token.
pub fn run(args: ConsoleArgs) -> Result<ExitCode, String> {
    init_logging("info");
    let runtime = runtime()?;
    if args.reset_admin_token {
        let token = runtime
            .block_on(authsec_console::reset_admin_token(&args.database_url))
            .map_err(|e| format!("cannot reset the admin token: {e}"))?;
        eprintln!(
            "authsec console: the admin token was replaced; the old one no longer works. \
             It is shown only this once:"
        );
        println!("{token}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = ConsoleConfig::new(args.database_url, args.listen)
        .with_admin_token_from_env()
        .with_key_encryption_key_from_env()
        .with_session_lifetime_from_env()
        .and_then(ConsoleConfig::with_key_activation_delay_from_env)
        .map_err(|e| e.to_string())?;
    config.public_url = args.public_url;
    config.token_lifetime = std::time::Duration::from_secs(args.token_lifetime);
    match runtime.block_on(authsec_console::run(config, shutdown_signal())) {
        Ok(()) => {
            eprintln!("authsec console: stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ authsec_console::Error::Config { .. }) => Err(e.to_string()),
        Err(e) => {
            eprintln!("authsec console: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The multi-threaded runtime the servers run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Logs to stderr with `AUTHSEC_LOG` as the filter (`default` when unset).
pub(crate) fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHSEC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
