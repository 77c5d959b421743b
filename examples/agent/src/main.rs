//! An MCP agent on authsec-client: a machine client that calls a protected MCP server through
//! rmcp, with no authorization code of its own. The first request's 401 says where the
//! authorization server is and which scope to ask for; tokens are cached and refreshed; a 403
//! `insufficient_scope` is a step-up; what cannot be fixed by a new token is a typed error,
//! printed with what to do next.
//!
//! ```sh
//! agent --resource http://127.0.0.1:8080/mcp --client-id ID --client-secret-file FILE \
//!       [--private-key PEM --key-id KID] TOOL [JSON-ARGUMENTS]
//! ```

use std::process::ExitCode;

use authsec_client::rmcp::{auth_error, AuthsecHttpClient};
use authsec_client::{Access, ClientAuth, ClientCredentials, Error, PrivateKey, Secret};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use rmcp::ServiceExt;
use serde_json::Value;

const USAGE: &str = "usage: agent --resource URL --client-id ID \
(--client-secret-file FILE | --private-key PEM [--key-id KID]) TOOL [JSON-ARGUMENTS]";

struct Args {
    resource: String,
    client_id: String,
    auth: ClientAuth,
    tool: String,
    arguments: Option<serde_json::Map<String, Value>>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut resource, mut client_id, mut secret_file, mut key, mut kid) =
        (None, None, None, None, None);
    let mut rest = Vec::new();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--resource" => resource = Some(value()?),
            "--client-id" => client_id = Some(value()?),
            "--client-secret-file" => secret_file = Some(value()?),
            "--private-key" => key = Some(value()?),
            "--key-id" => kid = Some(value()?),
            _ => rest.push(a),
        }
    }
    let auth = match (secret_file, key) {
        (Some(f), None) => {
            let s = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?;
            ClientAuth::Secret(Secret::new(s.trim_end()))
        }
        (None, Some(pem)) => {
            let mut key = PrivateKey::from_pem_file(&pem).map_err(|e| e.to_string())?;
            if let Some(kid) = kid {
                key = key.with_kid(kid);
            }
            ClientAuth::private_key_jwt(key)
        }
        _ => return Err(USAGE.into()),
    };
    let mut rest = rest.into_iter();
    let tool = rest.next().ok_or(USAGE)?;
    let arguments = match rest.next() {
        Some(json) => match serde_json::from_str(&json) {
            Ok(Value::Object(o)) => Some(o),
            _ => return Err(format!("arguments must be a JSON object: {json}")),
        },
        None => None,
    };
    Ok(Args {
        resource: resource.ok_or(USAGE)?,
        client_id: client_id.ok_or(USAGE)?,
        auth,
        tool,
        arguments,
    })
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let access = Access::for_resource(&args.resource)?
        .client_credentials(ClientCredentials::new(args.client_id, args.auth))
        .build()?;
    let transport = StreamableHttpClientTransport::with_client(
        AuthsecHttpClient::new(reqwest::Client::new(), access),
        StreamableHttpClientTransportConfig::with_uri(args.resource.as_str()),
    );
    let client = ().serve(transport).await?;
    let mut params = CallToolRequestParams::new(args.tool);
    if let Some(a) = args.arguments {
        params = params.with_arguments(a);
    }
    let result = client.call_tool(params).await?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    client.cancel().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match auth_error(e.as_ref()) {
                Some(Error::Denied(d) | Error::Unauthorized(d)) => {
                    eprintln!("denied: {}\nnext: {}", d.summary(), d.next_step());
                }
                Some(limit @ Error::StepUpLimit { denial, .. }) => {
                    eprintln!(
                        "{limit}\nnext: the authorization server does not grant this client \
                         \"{}\"; ask its administrator",
                        denial.scope.join(" ")
                    );
                }
                Some(a) => eprintln!("error: {a}"),
                None => eprintln!("error: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}
