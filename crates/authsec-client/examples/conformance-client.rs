//! A client for the MCP conformance suite's client scenarios
//! (`conformance client --command "conformance-client"`; `scripts/client-conformance.sh`).
//!
//! The suite runs it with the server URL as the only argument, the scenario in
//! `MCP_CONFORMANCE_SCENARIO`, and credentials in `MCP_CONFORMANCE_CONTEXT` (JSON). It connects
//! with rmcp through [`AuthsecHttpClient`], lists the tools and calls `test-tool`; everything
//! about authorization is the library's.

use std::process::ExitCode;
use std::sync::Arc;

use authsec_client::rmcp::{auth_error, AuthsecHttpClient};
use authsec_client::{
    Access, AccessBuilder, ClientAuth, ClientCredentials, IdentityAssertion, Interactive,
    PrivateKey, Secret,
};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use rmcp::ServiceExt;
use serde_json::Value;

/// The client ID metadata document URL the suite expects.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

fn context() -> Value {
    std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null)
}

fn configure(
    url: &str,
    scenario: &str,
    ctx: &Value,
) -> Result<AccessBuilder, authsec_client::Error> {
    let s = |k: &str| ctx[k].as_str().map(str::to_owned);
    let builder = Access::for_resource(url)?.allow_2025_03_26_discovery();
    Ok(match scenario {
        "auth/client-credentials-jwt" => {
            let key = PrivateKey::from_pem(&s("private_key_pem").unwrap_or_default())?;
            builder.client_credentials(ClientCredentials::new(
                s("client_id").unwrap_or_default(),
                ClientAuth::private_key_jwt(key),
            ))
        }
        "auth/cross-app-access-complete-flow" => builder.enterprise_managed(
            IdentityAssertion {
                token_endpoint: s("idp_token_endpoint").unwrap_or_default(),
                client_id: s("idp_client_id").unwrap_or_default(),
                auth: ClientAuth::None,
                id_token: Secret::new(s("idp_id_token").unwrap_or_default()),
            },
            ClientCredentials::new(
                s("client_id").unwrap_or_default(),
                ClientAuth::Secret(Secret::new(s("client_secret").unwrap_or_default())),
            ),
        ),
        "auth/client-credentials-basic" => builder.client_credentials(ClientCredentials::new(
            s("client_id").unwrap_or_default(),
            ClientAuth::Secret(Secret::new(s("client_secret").unwrap_or_default())),
        )),
        _ => {
            // The "browser": follow the authorization endpoint's redirect to the loopback
            // listener, as a user's browser would after consent.
            let browser = reqwest::Client::new();
            let flow = Interactive::new("authsec conformance client")
                .client_metadata_url(CLIENT_METADATA_URL)
                .user_agent(Arc::new(move |url| {
                    let browser = browser.clone();
                    Box::pin(async move {
                        browser
                            .get(url)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                }));
            let preregistered = s("client_id").map(|id| {
                ClientCredentials::new(
                    id,
                    match s("client_secret") {
                        Some(secret) => ClientAuth::Secret(Secret::new(secret)),
                        None => ClientAuth::None,
                    },
                )
            });
            builder.authorization_code(flow, preregistered)
        }
    })
}

async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let access = configure(url, &scenario, &context())?.build()?;
    let transport = StreamableHttpClientTransport::with_client(
        AuthsecHttpClient::new(reqwest::Client::new(), access),
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    let client = ().serve(transport).await?;
    let tools = client.list_all_tools().await?;
    eprintln!("tools: {}", tools.len());
    if tools.iter().any(|t| t.name == "test-tool") {
        client
            .call_tool(CallToolRequestParams::new("test-tool"))
            .await?;
        eprintln!("called test-tool");
    }
    client.cancel().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: conformance-client <server URL>");
        return ExitCode::from(2);
    };
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match auth_error(e.as_ref()) {
                Some(a) => eprintln!("error: {a}"),
                None => eprintln!("error: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}
