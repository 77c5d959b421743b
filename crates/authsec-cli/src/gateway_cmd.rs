//! `authsec gateway`: the SDK's protection in front of an MCP server written in any language.
//! Configuration from flags, `--config FILE` and `AUTHSEC_*` (as for `diagnose`); the proxy
//! itself is `authsec_gateway`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use authsec::config::PolicyMode;
use authsec_gateway::{GatewayConfig, IdentityHeaders, Timeouts};
use clap::Args;
use http::HeaderName;

use crate::cli::ConfigArgs;
use crate::console_cmd::{init_logging, shutdown_signal};

/// `--help` examples.
pub const GATEWAY_EXAMPLES: &str = "\
Configuration comes from flags, then --config FILE, then AUTHSEC_* variables (a flag wins over
the file, the file over the environment). AUTHSEC_ISSUER and AUTHSEC_RESOURCE_URI are required;
AUTHSEC_RESOURCE_URI is the gateway's public URL, the one clients call. Tools without a policy
entry are denied: map them with AUTHSEC_TOOL_SCOPES_JSON or [tool_scopes].

The upstream receives the caller's identity in X-Authsec-Subject, X-Authsec-Client-Id and
X-Authsec-Scopes (never the token; any X-Authsec-* header a client sends is dropped), so it must
be reachable only through the gateway.

DNS rebinding protection: the MCP endpoint and its metadata refuse (403) a request whose Origin
is neither AUTHSEC_RESOURCE_URI's origin nor a --cors-allow-origin, or whose Host names another
host than AUTHSEC_RESOURCE_URI's, the --listen address (and localhost on loopback) or an
--allowed-host.

Routes: the MCP endpoint (POST, GET, DELETE), its protected resource metadata, /healthz
(liveness), /readyz (503 naming what is missing until keys and, in remote_required, the console
policy are loaded) and /metrics (Prometheus). Ctrl-C or SIGTERM stops accepting connections and lets in-flight
requests and streams finish (at most --drain-timeout-secs).

Examples:
  AUTHSEC_ISSUER=https://auth.example.com AUTHSEC_RESOURCE_URI=https://mcp.example.com/mcp \\
  AUTHSEC_TOOL_SCOPES_JSON='{\"echo\":[\"demo:read\"]}' \\
      authsec gateway --upstream http://127.0.0.1:3001/mcp
  authsec gateway --config authsec.toml --upstream http://127.0.0.1:3001/mcp --listen 0.0.0.0:8080";

/// `authsec gateway`.
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// The MCP endpoint to protect, e.g. http://127.0.0.1:3001/mcp.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the MCP endpoint at this path [default: the path of AUTHSEC_RESOURCE_URI].
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Header carrying the token's `sub` upstream.
    #[arg(long, value_name = "NAME", default_value = "x-authsec-subject")]
    pub subject_header: HeaderName,
    /// Header carrying the token's `client_id` upstream.
    #[arg(long, value_name = "NAME", default_value = "x-authsec-client-id")]
    pub client_id_header: HeaderName,
    /// Header carrying the granted scopes (space-separated) upstream.
    #[arg(long, value_name = "NAME", default_value = "x-authsec-scopes")]
    pub scopes_header: HeaderName,
    /// Upstream connect timeout.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub connect_timeout_secs: u64,
    /// Longest wait for the upstream's response headers (a stream may then run indefinitely).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub response_timeout_secs: u64,
    /// On shutdown, how long in-flight requests and streams may run.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub drain_timeout_secs: u64,
    /// Let browser-based MCP clients from ORIGIN (scheme://host[:port], or * for any) call the
    /// gateway: CORS preflights are answered and WWW-Authenticate and Mcp-Session-Id exposed.
    /// Repeat for several origins. Without it, no CORS headers are sent.
    #[arg(long = "cors-allow-origin", value_name = "ORIGIN")]
    pub cors_allow_origin: Vec<String>,
    /// Accept HOST in the Host header of MCP requests, besides the host of AUTHSEC_RESOURCE_URI
    /// and the --listen address (DNS rebinding protection; the port is not compared). A bare
    /// host name or IP address ([v6] in brackets); * accepts any Host. Repeat for several.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_host: Vec<String>,
    /// The protection's configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl GatewayArgs {
    fn gateway_config(&self) -> Result<GatewayConfig, String> {
        let upstream = url::Url::parse(&self.upstream)
            .map_err(|e| format!("--upstream {:?}: {e}", self.upstream))?;
        let mut config = GatewayConfig::new(upstream)
            .map_err(|e| e.to_string())?
            .listen(self.listen)
            .identity_headers(IdentityHeaders {
                subject: self.subject_header.clone(),
                client_id: self.client_id_header.clone(),
                scopes: self.scopes_header.clone(),
            })
            .timeouts(Timeouts {
                connect: Duration::from_secs(self.connect_timeout_secs),
                response: Duration::from_secs(self.response_timeout_secs),
                drain: Duration::from_secs(self.drain_timeout_secs),
                ..Timeouts::default()
            })
            .cors_allow_origins(&self.cors_allow_origin)
            .map_err(|e| format!("--cors-allow-origin: {e}"))?
            .allowed_hosts(&self.allowed_host)
            .map_err(|e| format!("--allowed-host: {e}"))?;
        if let Some(path) = &self.path {
            config = config.path(path);
        }
        Ok(config)
    }
}

/// Runs the gateway until Ctrl-C or SIGTERM.
pub fn run(args: &GatewayArgs) -> Result<ExitCode, String> {
    let authsec = crate::diagnose_cmd::build_config(&args.config).map_err(|e| e.to_string())?;
    let gateway = args.gateway_config()?;
    init_logging("info");
    if authsec.tool_policy.is_empty() && authsec.policy_mode == PolicyMode::LocalOnly {
        tracing::warn!(
            target: "authsec::config",
            "no tool is mapped: every tools/call will be denied (403 tool_unmapped). Map tools \
             with AUTHSEC_TOOL_SCOPES_JSON or [tool_scopes]"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime
        .block_on(authsec_gateway::run(gateway, authsec, shutdown_signal()))
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
