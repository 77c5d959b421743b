//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Diagnose OAuth bearer tokens for MCP servers, explain denials, probe servers, run the console.
#[derive(Debug, Parser)]
#[command(
    name = "authsec",
    version,
    args_override_self = true,
    about = "Diagnose OAuth bearer tokens for MCP servers, explain denials, probe servers, run the console.",
    after_help = TOP_EXAMPLES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const TOP_EXAMPLES: &str = "\
Examples:
  authsec demo
  authsec decode - < token.txt
  authsec diagnose --config authsec.toml --tool add_note - < token.txt
  curl -si https://mcp.example.com/mcp | authsec explain
  authsec probe https://mcp.example.com/mcp
  authsec token --resource https://mcp.example.com/mcp --client-id agent-7 --client-secret-file agent-7.secret
  authsec console --database-url postgres://user:pass@db/authsec

Tokens are secrets: pass `-` and pipe them on stdin (an argument is visible in shell history
and `ps`). authsec never prints a token, only its fingerprint (first 8 bytes of SHA-256).";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a token's header and claims, with times in UTC and relative. NOT VERIFIED; offline.
    #[command(after_help = DECODE_EXAMPLES)]
    Decode(DecodeArgs),
    /// Run every check the SDK runs on a token, explain each finding, predict the response.
    #[command(after_help = DIAGNOSE_EXAMPLES)]
    Diagnose(Box<DiagnoseArgs>),
    /// Explain a 401/403/400/503 (WWW-Authenticate and/or JSON body) and what to do next.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Check a live MCP server's authorization against the specs (exit 1 on a MUST failure).
    #[command(after_help = PROBE_EXAMPLES)]
    Probe(ProbeArgs),
    /// Run the console: policy store, admin API, SDK policy endpoints, token service.
    #[command(after_help = CONSOLE_EXAMPLES)]
    Console(ConsoleArgs),
    /// Start a console and the notes MCP server it protects; print commands to try.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// A throwaway loopback token issuer (never for production): serves a JWKS on 127.0.0.1,
    /// prints AUTHSEC_ISSUER, AUTHSEC_JWKS_URL and one access token for RESOURCE.
    #[command(after_help = crate::dev_issuer_cmd::DEV_ISSUER_EXAMPLES)]
    DevIssuer(crate::dev_issuer_cmd::DevIssuerArgs),
    /// Protect an MCP server written in any language: a reverse proxy enforcing the policy.
    #[command(after_help = crate::gateway_cmd::GATEWAY_EXAMPLES)]
    Gateway(Box<crate::gateway_cmd::GatewayArgs>),
    /// Get an access token for a protected resource as a machine client; print it or run a
    /// command with it.
    #[command(after_help = crate::token_cmd::TOKEN_EXAMPLES)]
    Token(Box<crate::token_cmd::TokenArgs>),
}

const CONSOLE_EXAMPLES: &str = "\
The admin token is created at first start and printed once on stderr (stored only hashed), unless
AUTHSEC_CONSOLE_ADMIN_TOKEN (16+ characters) is set. The token service's signing keys are
encrypted in the database with AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY (32 random bytes, base64:
openssl rand -base64 32; keep it outside the database); without it they are stored in the clear
and a warning says so. Ctrl-C (or SIGTERM) stops it gracefully.

Examples:
  authsec console
  authsec console --listen 0.0.0.0:7410 --public-url https://console.example.com
  authsec console --database-url postgres://user:pass@db/authsec
  authsec console --reset-admin-token";

/// `authsec console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// A SQLite file (created if missing) or a postgres:// URL (several consoles may share it).
    #[arg(long, value_name = "URL|FILE", default_value = "authsec-console.db")]
    pub database_url: String,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7410")]
    pub listen: std::net::SocketAddr,
    /// The URL clients reach the console at: the token issuer and the base of every URL it
    /// advertises (default: http://<listen address>).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Lifetime of the access tokens the token service issues, in seconds (1 to 86400).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub token_lifetime: u64,
    /// Replace the stored admin token with a new one, print it once, and exit.
    #[arg(long)]
    pub reset_admin_token: bool,
}

const DEMO_EXAMPLES: &str = "\
Starts, on loopback: the console (SQLite in a temporary directory, deleted on exit) with a demo
resource server, its scopes and tool mappings, and an agent client allowed notes:read and
notes:write; and the notes MCP server protected by authsec with the console's policy
(remote_required) and the console's tokens. Then prints copy-paste commands: get a token, an
allowed call (200), a forbidden tool (403), no token (401), and authsec diagnose on the token.
Ctrl-C stops everything.

Examples:
  authsec demo
  authsec demo --console-port 0 --mcp-port 0     # any free ports";

/// `authsec demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The console's port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 7410)]
    pub console_port: u16,
    /// The notes MCP server's port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 8080)]
    pub mcp_port: u16,
}

const DECODE_EXAMPLES: &str = "\
Examples:
  authsec decode - < token.txt
  pbpaste | authsec decode
  authsec decode --json - < token.txt | jq .claims.aud";

/// `authsec decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token, `Bearer <token>`, or `-` (the default) to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

const DIAGNOSE_EXAMPLES: &str = "\
Configuration comes from flags, then --config FILE, then AUTHSEC_* variables: a flag wins over
the file, the file over the environment. The same validation as the SDK runs on the result.

Exit status: 0 the SDK would allow the request, 1 it would deny it, 2 usage or configuration error.

Examples:
  # the four-claim checklist, offline, with the server's environment
  authsec diagnose - < token.txt
  # against a config file, for a tools/call of add_note
  authsec diagnose --config authsec.toml --tool add_note - < token.txt
  # a prompts/get, a resources/read
  authsec diagnose --config authsec.toml --prompt summarize_notes - < token.txt
  authsec diagnose --config authsec.toml --read notes://note/7 - < token.txt
  # everything on the command line
  authsec diagnose --issuer https://auth.example.com --resource https://mcp.example.com/mcp \\
      --tool-scopes-json '{\"add_note\":[\"notes:write\"]}' --tool add_note - < token.txt
  # verify the signature and the issuer against the authorization server, measure clock skew
  authsec diagnose --online - < token.txt
  # machine-readable
  authsec diagnose --json - < token.txt | jq '.findings[] | select(.ok == false)'";

/// `authsec diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The token, `Bearer <token>`, or `-` (the default) to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: Option<String>,
    /// Check a `tools/call` of this tool against the tool policy.
    #[arg(long, value_name = "NAME", group = "target")]
    pub tool: Option<String>,
    /// Check a `prompts/get` of this prompt against the prompt policy.
    #[arg(long, value_name = "NAME", group = "target")]
    pub prompt: Option<String>,
    /// Check a `resources/read` of this resource URI against the resource policy (`--resource`
    /// is the server's own URI).
    #[arg(long, value_name = "URI", group = "target")]
    pub read: Option<String>,
    /// Fetch the issuer's metadata and JWKS (signature, issuer) and measure clock skew from
    /// the authorization server's Date header. Nothing else leaves the machine; never the token.
    #[arg(long)]
    pub online: bool,
    /// Verify the signature with the keys in this JWKS file (offline).
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show only failed checks and warnings (and the verdict).
    #[arg(long, conflicts_with = "json")]
    pub brief: bool,
    /// The server's configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The server configuration flags: each maps to the `AUTHSEC_*` variable of the same name.
#[derive(Debug, Args, Default)]
pub struct ConfigArgs {
    /// A TOML configuration file (the snake_case names of the AUTHSEC_* variables).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// AUTHSEC_ISSUER: the issuer tokens must carry in `iss`.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// AUTHSEC_RESOURCE_URI: this server's resource URI; `aud` must contain it.
    #[arg(long, visible_alias = "resource-uri", value_name = "URL")]
    pub resource: Option<String>,
    /// AUTHSEC_JWKS_URL (with --online; otherwise discovered from the issuer).
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
    /// AUTHSEC_AUTHORIZATION_SERVER.
    #[arg(long, value_name = "URL")]
    pub authorization_server: Option<String>,
    /// AUTHSEC_TOOL_SCOPES_JSON: `{"tool":["scope",…]}`, `[]` = public.
    #[arg(long, value_name = "JSON")]
    pub tool_scopes_json: Option<String>,
    /// AUTHSEC_PROMPT_SCOPES_JSON: `{"prompt":["scope",…]}`, `[]` = public.
    #[arg(long, value_name = "JSON")]
    pub prompt_scopes_json: Option<String>,
    /// AUTHSEC_RESOURCE_SCOPES_JSON: `{"uri or uri template":["scope",…]}`, `[]` = public.
    #[arg(long, value_name = "JSON")]
    pub resource_scopes_json: Option<String>,
    /// AUTHSEC_CLOCK_SKEW_SECS: leeway for exp/nbf/iat.
    #[arg(long, value_name = "SECS")]
    pub clock_skew_secs: Option<String>,
    /// AUTHSEC_TYP_POLICY: lenient | rfc9068.
    #[arg(long, value_name = "POLICY")]
    pub typ_policy: Option<String>,
    /// AUTHSEC_POLICY_MODE: remote_required | remote_with_local_fallback | local_only | open.
    #[arg(long, value_name = "MODE")]
    pub policy_mode: Option<String>,
    /// AUTHSEC_LEGACY_CLIENT_ID_AUDIENCES (not recommended).
    #[arg(long, value_name = "IDS")]
    pub legacy_client_id_audiences: Option<String>,
    /// AUTHSEC_BASE_SCOPES.
    #[arg(long, value_name = "SCOPES")]
    pub base_scopes: Option<String>,
    /// AUTHSEC_SUPPORTED_SCOPES.
    #[arg(long, value_name = "SCOPES")]
    pub supported_scopes: Option<String>,
    /// AUTHSEC_CHALLENGE_SCOPE: required_and_granted | required.
    #[arg(long, value_name = "WHAT")]
    pub challenge_scope: Option<String>,
    /// AUTHSEC_MAX_TOKEN_BYTES.
    #[arg(long, value_name = "BYTES")]
    pub max_token_bytes: Option<String>,
    /// AUTHSEC_CONSOLE_URL.
    #[arg(long, value_name = "URL")]
    pub console_url: Option<String>,
    /// AUTHSEC_RESOURCE_SERVER_ID.
    #[arg(long, value_name = "ID")]
    pub resource_server_id: Option<String>,
}

impl ConfigArgs {
    /// The flags as `AUTHSEC_*` variables, so they are parsed by the same code as the
    /// environment.
    pub fn as_vars(&self) -> Vec<(&'static str, &str)> {
        self.flags()
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
            .collect()
    }

    /// Each flag with its variable.
    fn flags(&self) -> [(&'static str, &Option<String>); 17] {
        [
            ("AUTHSEC_ISSUER", &self.issuer),
            ("AUTHSEC_RESOURCE_URI", &self.resource),
            ("AUTHSEC_JWKS_URL", &self.jwks_url),
            ("AUTHSEC_AUTHORIZATION_SERVER", &self.authorization_server),
            ("AUTHSEC_TOOL_SCOPES_JSON", &self.tool_scopes_json),
            ("AUTHSEC_PROMPT_SCOPES_JSON", &self.prompt_scopes_json),
            ("AUTHSEC_RESOURCE_SCOPES_JSON", &self.resource_scopes_json),
            ("AUTHSEC_CLOCK_SKEW_SECS", &self.clock_skew_secs),
            ("AUTHSEC_TYP_POLICY", &self.typ_policy),
            ("AUTHSEC_POLICY_MODE", &self.policy_mode),
            (
                "AUTHSEC_LEGACY_CLIENT_ID_AUDIENCES",
                &self.legacy_client_id_audiences,
            ),
            ("AUTHSEC_BASE_SCOPES", &self.base_scopes),
            ("AUTHSEC_SUPPORTED_SCOPES", &self.supported_scopes),
            ("AUTHSEC_CHALLENGE_SCOPE", &self.challenge_scope),
            ("AUTHSEC_MAX_TOKEN_BYTES", &self.max_token_bytes),
            ("AUTHSEC_CONSOLE_URL", &self.console_url),
            ("AUTHSEC_RESOURCE_SERVER_ID", &self.resource_server_id),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authsec::config::SETTINGS;

    #[test]
    fn every_configuration_flag_is_a_declared_non_secret_setting() {
        for (var, _) in ConfigArgs::default().flags() {
            let env = var.strip_prefix("AUTHSEC_").unwrap();
            let setting = SETTINGS.iter().find(|s| s.env == env);
            assert!(
                setting.is_some_and(|s| !s.secret),
                "{var} is not a declared setting"
            );
        }
    }
}

const EXPLAIN_EXAMPLES: &str = "\
Reads a raw HTTP response (as `curl -si` prints it), WWW-Authenticate header lines, a bare
challenge value, or a JSON denial body, from the argument or stdin.

Examples:
  curl -si -X POST https://mcp.example.com/mcp | authsec explain
  authsec explain 'Bearer error=\"invalid_token\", error_description=\"expired\"'
  authsec explain --status 403 --body '{\"error\":\"insufficient_scope\",\"required_scopes\":[\"notes:write\"]}'
  authsec explain --json - < response.txt";

/// `authsec explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A raw response, a WWW-Authenticate value or a JSON body; `-` (or nothing) reads stdin.
    #[arg(value_name = "TEXT|-")]
    pub input: Option<String>,
    /// The WWW-Authenticate value.
    #[arg(long, value_name = "VALUE")]
    pub www_authenticate: Option<String>,
    /// The JSON body.
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
    /// The HTTP status.
    #[arg(long, value_name = "CODE")]
    pub status: Option<u16>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

const PROBE_EXAMPLES: &str = "\
Checks, with spec references: 401 + WWW-Authenticate + resource_metadata without a token (and
no error code), the protected resource metadata at the advertised, path-suffixed and root URLs,
`resource` identical to URL, every authorization server's `issuer`, scopes_supported, 401
invalid_token for a bad token, a token in the query string refused; with --token, initialize and
tools/list, and with --forbidden-tool the 403 step-up challenge.

Requests go only to URL, the metadata URLs it names and its authorization servers' metadata.
--token is sent only to URL, only in the Authorization header.

Exit status: 0 no MUST failure, 1 at least one, 2 usage error.

Examples:
  authsec probe https://mcp.example.com/mcp
  authsec probe --token - --forbidden-tool delete_note https://mcp.example.com/mcp < token.txt
  authsec probe --json https://mcp.example.com/mcp | jq '.checks[] | select(.ok == false)'";

/// `authsec probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The MCP endpoint, exactly as clients use it (the trailing slash matters).
    pub url: String,
    /// A valid access token for the authorized checks; `-` reads it from stdin.
    #[arg(long, value_name = "TOKEN|-")]
    pub token: Option<String>,
    /// A tool the token may not call: checks the 403 insufficient_scope challenge.
    #[arg(long, value_name = "NAME", requires = "token")]
    pub forbidden_tool: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
