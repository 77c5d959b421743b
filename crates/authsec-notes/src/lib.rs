//! The notes server: a small MCP server built on rmcp whose tools, prompt and resources
//! authsec protects one by one. `authsec demo` runs it in-process; `examples/notes-server` is
//! its binary, configured from the environment, and its tests.
//!
//! | tool, prompt or resource | needs |
//! |---|---|
//! | tool `list_notes` | `notes:read` |
//! | tool `add_note` | `notes:write` |
//! | tool `delete_note` | `notes:admin` |
//! | tool `server_time` | nothing (public) |
//! | tool `whoami` | nothing (public): returns the caller's subject |
//! | prompt `summarize_notes` | `notes:read` |
//! | resource `notes://all` | `notes:read` |
//! | resource template `notes://note/{id}` | `notes:read` |
//!
//! The binary (`examples/notes-server`) is configured only through `AUTHSEC_*` variables and
//! `--listen`; the maps come from `AUTHSEC_TOOL_SCOPES_JSON`, `AUTHSEC_PROMPT_SCOPES_JSON` and
//! `AUTHSEC_RESOURCE_SCOPES_JSON`, or from the console in the remote policy modes ([`start_layer`] publishes [`manifest`] and fetches the policy).
//! The example's tests drive [`protected_app`] over real HTTP.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use authsec::http::rmcp_support::principal_from_context;
use authsec::http::{mount_mcp, AuthSecLayer, LayerError};
use authsec::policy::remote::{
    manifest_from_mcp_prompts, manifest_from_mcp_resources, manifest_from_mcp_tools, Manifest,
};
use authsec::policy::{PromptPolicy, ResourcePolicy, ToolPolicy};
use authsec::{Principal, Validator};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams, Prompt,
    PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde::{Deserialize, Serialize};

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// The tool → scope map the README documents for this example.
pub const EXAMPLE_TOOL_SCOPES_JSON: &str = r#"{"list_notes":["notes:read"],"add_note":["notes:write"],"delete_note":["notes:admin"],"server_time":[],"whoami":[]}"#;

/// The prompt → scope map of this example.
pub const EXAMPLE_PROMPT_SCOPES_JSON: &str = r#"{"summarize_notes":["notes:read"]}"#;

/// The resource → scope map of this example: one URI and one URI template.
pub const EXAMPLE_RESOURCE_SCOPES_JSON: &str =
    r#"{"notes://all":["notes:read"],"notes://note/{id}":["notes:read"]}"#;

/// The prompt this example serves.
pub const SUMMARIZE_PROMPT: &str = "summarize_notes";
/// The resource holding every note.
pub const ALL_NOTES_URI: &str = "notes://all";
/// The template of one note's resource.
pub const NOTE_TEMPLATE: &str = "notes://note/{id}";

/// One note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Identifier, unique for the life of the process.
    pub id: u64,
    /// The text.
    pub text: String,
    /// The subject of whoever added it.
    pub author: Option<String>,
}

#[derive(Debug, Default)]
struct NotesInner {
    next_id: u64,
    notes: Vec<Note>,
}

/// The in-memory note store, shared by every session.
#[derive(Debug, Default, Clone)]
pub struct Notes(Arc<Mutex<NotesInner>>);

impl Notes {
    fn lock(&self) -> std::sync::MutexGuard<'_, NotesInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every note, oldest first.
    pub fn all(&self) -> Vec<Note> {
        self.lock().notes.clone()
    }

    /// Adds a note and returns it.
    pub fn add(&self, text: String, author: Option<String>) -> Note {
        let mut inner = self.lock();
        inner.next_id += 1;
        let note = Note {
            id: inner.next_id,
            text,
            author,
        };
        inner.notes.push(note.clone());
        note
    }

    /// The note with `id`, if any.
    pub fn get(&self, id: u64) -> Option<Note> {
        self.lock().notes.iter().find(|n| n.id == id).cloned()
    }

    /// Deletes a note; false when there is none with that id.
    pub fn delete(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.notes.len();
        inner.notes.retain(|n| n.id != id);
        inner.notes.len() != before
    }
}

/// `add_note` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddNote {
    /// The note's text.
    pub text: String,
}

/// `delete_note` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteNote {
    /// The id `add_note` returned.
    pub id: u64,
}

/// The rmcp server handler. Knows nothing about tokens: authsec decided before a tool runs.
#[derive(Debug, Clone)]
pub struct NotesServer {
    notes: Notes,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl NotesServer {
    /// A handler over `notes`.
    pub fn new(notes: Notes) -> Self {
        NotesServer {
            notes,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "List every note (needs notes:read).")]
    async fn list_notes(&self) -> String {
        serde_json::to_string(&self.notes.all()).unwrap_or_else(|_| "[]".into())
    }

    #[tool(description = "Add a note and return it (needs notes:write).")]
    async fn add_note(
        &self,
        Parameters(AddNote { text }): Parameters<AddNote>,
        ctx: RequestContext<RoleServer>,
    ) -> String {
        let author = principal_from_context(&ctx).and_then(|p| p.subject().map(str::to_owned));
        let note = self.notes.add(text, author);
        serde_json::to_string(&note).unwrap_or_default()
    }

    #[tool(description = "Delete a note by id (needs notes:admin).")]
    async fn delete_note(
        &self,
        Parameters(DeleteNote { id }): Parameters<DeleteNote>,
    ) -> Result<String, String> {
        if self.notes.delete(id) {
            Ok(format!("deleted note {id}"))
        } else {
            Err(format!("no note {id}"))
        }
    }

    #[tool(description = "The server's clock in Unix seconds (public).")]
    async fn server_time(&self) -> String {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("{{\"unix_seconds\":{secs}}}")
    }

    #[tool(description = "The caller's subject, as established by the access token (public).")]
    async fn whoami(&self, principal: Principal) -> String {
        principal.subject().unwrap_or("(no subject)").to_owned()
    }
}

impl NotesServer {
    fn all_json(&self) -> String {
        serde_json::to_string(&self.notes.all()).unwrap_or_else(|_| "[]".into())
    }
}

/// What `prompts/list` shows.
fn prompts() -> Vec<Prompt> {
    vec![Prompt::new(
        SUMMARIZE_PROMPT,
        Some("Ask the model to summarize every note (needs notes:read)."),
        None,
    )]
}

/// What `resources/list` shows.
fn resources() -> Vec<Resource> {
    vec![Resource::new(ALL_NOTES_URI, "all notes")]
}

/// What `resources/templates/list` shows.
fn resource_templates() -> Vec<ResourceTemplate> {
    vec![ResourceTemplate::new(NOTE_TEMPLATE, "one note")]
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for NotesServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_instructions(
            "Notes: list, add and delete notes; each tool, prompt and resource needs its own scope.",
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != SUMMARIZE_PROMPT {
            return Err(ErrorData::invalid_params(
                format!("no prompt {}", request.name),
                None,
            ));
        }
        let text = format!("Summarize these notes: {}", self.all_json());
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resource_templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let text = if uri == ALL_NOTES_URI {
            self.all_json()
        } else {
            let note = uri
                .strip_prefix("notes://note/")
                .and_then(|id| id.parse::<u64>().ok())
                .and_then(|id| self.notes.get(id))
                .ok_or_else(|| ErrorData::resource_not_found(format!("no resource {uri}"), None))?;
            serde_json::to_string(&note).unwrap_or_default()
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into())
    }
}

/// How the Streamable HTTP transport answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// Sessions (`initialize` issues an `Mcp-Session-Id`), responses as SSE. The default.
    #[default]
    Sessions,
    /// No sessions; each request answered with plain JSON when possible.
    StatelessJson,
}

/// The rmcp Streamable HTTP service over `notes`. `allowed_hosts` feeds rmcp's DNS-rebinding
/// check of the `Host` header.
pub fn mcp_service(
    notes: Notes,
    transport: Transport,
    allowed_hosts: Vec<String>,
) -> StreamableHttpService<NotesServer, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_legacy_session_mode(transport == Transport::Sessions)
        .with_json_response(transport == Transport::StatelessJson);
    StreamableHttpService::new(
        move || Ok(NotesServer::new(notes.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// Loopback names plus the host of `resource_uri`.
pub fn allowed_hosts(resource_uri: Option<&str>) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(host) = resource_uri
        .and_then(|u| u.parse::<axum::http::Uri>().ok())
        .and_then(|u| u.host().map(|h| h.trim_matches(['[', ']']).to_owned()))
    {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// The manifest: the tools (what `tools/list` shows, from rmcp's tool router), the prompt
/// and the resources (what `prompts/list`, `resources/list` and `resources/templates/list`
/// show), each suggesting the scopes the local maps give it.
pub fn manifest(
    tools: &ToolPolicy,
    prompts: &PromptPolicy,
    resources: &ResourcePolicy,
) -> Manifest {
    fn json<T: Serialize>(items: &[T]) -> Vec<serde_json::Value> {
        items
            .iter()
            .filter_map(|t| serde_json::to_value(t).ok())
            .collect()
    }
    let listed_resources: Vec<serde_json::Value> = json(&self::resources())
        .into_iter()
        .chain(json(&resource_templates()))
        .collect();
    Manifest {
        tools: manifest_from_mcp_tools(&json(&NotesServer::tool_router().list_all()), tools),
        prompts: manifest_from_mcp_prompts(&json(&self::prompts()), prompts),
        resources: manifest_from_mcp_resources(&listed_resources, resources),
    }
}

/// The authsec layer for `validator`'s configuration: publishes [`manifest`] (suggesting the
/// local maps' scopes) when `publish_manifest` is on, and fetches the console's policy in the
/// remote modes ([`AuthSecLayer::start`]).
pub async fn start_layer(validator: Validator) -> Result<AuthSecLayer, LayerError> {
    let c = validator.config();
    let manifest = manifest(&c.tool_policy, &c.prompt_policy, &c.resource_policy);
    AuthSecLayer::start(validator).manifest(&manifest).await
}

/// The protected server: `/mcp` behind authsec and the protected resource metadata route.
/// `layer` comes from [`start_layer`] (any policy mode) or [`AuthSecLayer::new`] (the local
/// ones).
pub fn protected_app(layer: AuthSecLayer, transport: Transport) -> axum::Router {
    let hosts = allowed_hosts(Some(&layer.config().resource_uri));
    let service = mcp_service(Notes::default(), transport, hosts);
    mount_mcp(axum::Router::new(), MCP_PATH, service, layer)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small SSE frames must not wait for delayed ACKs (Nagle): without this every keep-alive
    // request pays ~40 ms.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The same server without authsec, for throughput baselines only: no token is checked.
pub fn unprotected_app(transport: Transport) -> axum::Router {
    let service = mcp_service(Notes::default(), transport, allowed_hosts(None));
    axum::Router::new().route_service(MCP_PATH, service)
}

/// How `config`'s local tool policy covers this server's tools (unmapped tools, entries naming
/// no tool); `main` warns at start-up when it is not complete.
pub fn tool_coverage(config: &authsec::Config) -> authsec::policy::Coverage {
    authsec::http::rmcp_support::tool_coverage(config, &NotesServer::tool_router())
}

#[cfg(test)]
mod coverage_tests {
    use super::*;
    use authsec::config::Config;

    fn config(tools: &str) -> Config {
        Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
            .tool_scopes_json(tools)
            .build()
            .unwrap()
    }

    #[test]
    fn the_example_map_covers_every_tool() {
        let coverage = tool_coverage(&config(EXAMPLE_TOOL_SCOPES_JSON));
        assert!(coverage.is_complete(), "{coverage}");
    }

    #[test]
    fn a_typo_in_the_map_is_named_with_the_tool_it_meant() {
        let coverage = tool_coverage(&config(
            r#"{"list_notes":["notes:read"],"add_nte":["notes:write"],"delete_note":["notes:admin"],"server_time":[],"whoami":[]}"#,
        ));
        assert_eq!(coverage.unmapped, ["add_note"]);
        assert_eq!(
            coverage.unknown,
            [("add_nte".to_owned(), Some("add_note".to_owned()))]
        );
        assert_eq!(
            coverage.to_string(),
            "\"add_note\" is served but not in the policy: it is denied to everyone (map it, [] for public)\n\
             \"add_nte\" is in the policy but not served: did you mean \"add_note\"?"
        );
    }
}
