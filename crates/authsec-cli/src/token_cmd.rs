//! `authsec token`: get an access token for a protected resource as a machine client — print
//! it, or run a command with it in the environment. Discovery, client authentication and the
//! token request are `authsec-client`'s.

use std::path::PathBuf;
use std::process::ExitCode;

use authsec_client::{
    Access, AssertionAudience, ClientAuth, ClientCredentials, PrivateKey, Secret,
};
use clap::{Args, ValueEnum};

pub const TOKEN_EXAMPLES: &str = "\
The authorization server is discovered from the resource (RFC 9728 protected resource metadata,
then RFC 8414 / OpenID discovery); the token is requested with the client_credentials grant and
resource=<the resource's identifier> (RFC 8707). Without --scope, the resource's
scopes_supported are requested. The credentials are bound to the discovered issuer (or to
--issuer): a resource naming another authorization server gets an error, not the secret.

The token goes to stdout, or, after --, into the environment of the command (AUTHSEC_TOKEN, or
--env NAME); it is never logged. Exit status: the command's, 0 for a printed token, 1 when no
token could be had, 2 for a usage error.

Examples:
  authsec token --resource https://mcp.example.com/mcp --client-id agent-7 \\
      --client-secret-file ~/.config/agent-7.secret --scope notes:read
  authsec token --resource https://mcp.example.com/mcp --client-id agent-7 \\
      --private-key agent-7.pem --key-id 2026-01 -- \\
      sh -c 'curl -H \"Authorization: Bearer $AUTHSEC_TOKEN\" https://mcp.example.com/mcp ...'";

/// `authsec token` arguments.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The protected resource (the MCP endpoint URL).
    #[arg(long, value_name = "URL")]
    pub resource: String,
    /// The client id registered at the authorization server.
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// A file holding the client secret (`-`: stdin); client_secret_basic, or
    /// client_secret_post where the server accepts only that.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "private_key",
        required_unless_present = "private_key"
    )]
    pub client_secret_file: Option<PathBuf>,
    /// A PEM private key (EC P-256 or RSA) for private_key_jwt (RFC 7523).
    #[arg(long, value_name = "PEM")]
    pub private_key: Option<PathBuf>,
    /// The `kid` of the private key in the client's registered JWKS.
    #[arg(long, value_name = "KID", requires = "private_key")]
    pub key_id: Option<String>,
    /// The client assertion's audience.
    #[arg(long, value_enum, default_value_t = Audience::Issuer, requires = "private_key")]
    pub assertion_audience: Audience,
    /// A scope to request (repeat, or space-separate).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// The only authorization server the credentials may be sent to.
    #[arg(long, value_name = "ISSUER")]
    pub issuer: Option<String>,
    /// The environment variable the command gets the token in.
    #[arg(long, value_name = "NAME", default_value = "AUTHSEC_TOKEN")]
    pub env: String,
    /// The command to run with the token in its environment.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The `aud` of a private_key_jwt assertion.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Audience {
    /// The issuer identifier (draft-ietf-oauth-rfc7523bis).
    Issuer,
    /// The token endpoint URL (RFC 7523 §3).
    TokenEndpoint,
}

fn read_secret(path: &PathBuf) -> Result<Secret, String> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(format!("{}: the client secret is empty", path.display()));
    }
    Ok(Secret::new(secret))
}

fn credentials(args: &TokenArgs) -> Result<ClientCredentials, String> {
    let auth = match (&args.client_secret_file, &args.private_key) {
        (Some(file), None) => ClientAuth::Secret(read_secret(file)?),
        (None, Some(pem)) => {
            let mut key = PrivateKey::from_pem_file(pem).map_err(|e| e.to_string())?;
            if let Some(kid) = &args.key_id {
                key = key.with_kid(kid);
            }
            ClientAuth::PrivateKeyJwt {
                key,
                audience: match args.assertion_audience {
                    Audience::Issuer => AssertionAudience::Issuer,
                    Audience::TokenEndpoint => AssertionAudience::TokenEndpoint,
                },
            }
        }
        _ => return Err("give --client-secret-file or --private-key".into()),
    };
    let mut creds = ClientCredentials::new(&args.client_id, auth);
    if let Some(issuer) = &args.issuer {
        creds = creds.for_issuer(issuer);
    }
    Ok(creds)
}

pub fn run(args: &TokenArgs) -> Result<ExitCode, String> {
    let creds = credentials(args)?;
    let mut builder = Access::for_resource(&args.resource)
        .map_err(|e| e.to_string())?
        .client_credentials(creds);
    let scopes: Vec<String> = args
        .scope
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.is_empty() {
        builder = builder.scopes(scopes);
    }
    let access = builder.build().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let token = match runtime.block_on(access.token()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("authsec: no token: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let Some((program, rest)) = args.command.split_first() else {
        println!("{}", token.access_token.secret());
        return Ok(ExitCode::SUCCESS);
    };
    let status = std::process::Command::new(program)
        .args(rest)
        .env(&args.env, token.access_token.secret())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    Ok(match status.code() {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}
