//! Command-line arguments.

use clap::{Args, Parser, Subcommand};

/// Diagnose OAuth bearer tokens for MCP servers, explain denials, probe servers.
#[derive(Debug, Parser)]
#[command(
    name = "authsec",
    version,
    about = "Diagnose OAuth bearer tokens for MCP servers, explain denials, probe servers.",
    after_help = TOP_EXAMPLES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const TOP_EXAMPLES: &str = "\
Examples:
  authsec decode - < token.txt
  authsec diagnose --config authsec.toml --tool add_note - < token.txt
  curl -si https://mcp.example.com/mcp | authsec explain
  authsec probe https://mcp.example.com/mcp

Tokens are secrets: pass `-` and pipe them on stdin (an argument is visible in shell history
and `ps`). authsec never prints a token, only its fingerprint (first 8 bytes of SHA-256).";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a token's header and claims, with times in UTC and relative. NOT VERIFIED; offline.
    #[command(after_help = DECODE_EXAMPLES)]
    Decode(DecodeArgs),
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
