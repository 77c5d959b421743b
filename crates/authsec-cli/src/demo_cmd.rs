//! `authsec demo`: the whole product on loopback in one command.
//!
//! 1. A console on SQLite in a fresh temporary directory (deleted on exit), with a demo
//!    resource server for the notes MCP server: scopes `notes:read`, `notes:write`,
//!    `notes:admin`, the notes tools mapped to them (two public), its prompt and resources
//!    mapped to `notes:read`, and an agent client allowed `notes:read notes:write` — so
//!    `delete_note` is the forbidden tool.
//! 2. The notes server (`authsec-notes`, in-process), protected by authsec: tokens from the console's
//!    token service (issuer = the console URL; JWKS and introspection), policy from the console
//!    (`remote_required`, wait-for-change), its manifest published at start-up.
//! 3. The web console's URL and a one-time sign-in link, then copy-paste commands for another
//!    shell; decisions are logged on stderr.
//!
//! Ctrl-C (or SIGTERM) stops the MCP server, then the console, then deletes the database.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use authsec::config::PolicyMode;
use authsec::{Config, Validator};
use authsec_console::auth::Actor;
use authsec_console::model::{ManifestPrompt, ManifestResource, ScopeMatch, ToolState};
use authsec_console::store::{NewResourceServer, NewScope};
use authsec_console::{Console, ConsoleConfig, Store};
use authsec_notes::{protected_app, serve, start_layer, Transport, MCP_PATH};
use serde_json::json;
use tokio::sync::oneshot;

use crate::cli::DemoArgs;
use crate::console_cmd::{init_logging, runtime, shutdown_signal};

/// The demo's scopes and what they grant.
const SCOPES: [(&str, &str); 3] = [
    ("notes:read", "List notes"),
    ("notes:write", "Add notes"),
    ("notes:admin", "Delete notes"),
];

/// The notes tools and the scopes the console maps them to (none: public).
const TOOLS: [(&str, &[&str]); 5] = [
    ("list_notes", &["notes:read"]),
    ("add_note", &["notes:write"]),
    ("delete_note", &["notes:admin"]),
    ("server_time", &[]),
    ("whoami", &[]),
];

/// What the demo agent may be granted.
const AGENT_SCOPES: [&str; 2] = ["notes:read", "notes:write"];

/// The line that ends the instructions (tests wait for it).
pub const READY_LINE: &str = "Decisions are logged on stderr. Ctrl-C stops everything.";

/// Runs the demo until Ctrl-C.
pub fn run(args: &DemoArgs) -> Result<ExitCode, String> {
    init_logging("warn,authsec::decision=info,authsec::policy=info");
    runtime()?.block_on(demo(args))
}

/// What the console registered.
struct Registered {
    rs_id: String,
    rs_secret: String,
    client_id: String,
    client_secret: String,
}

async fn demo(args: &DemoArgs) -> Result<ExitCode, String> {
    let dir = DemoDir::create()?;
    let database = dir.path().join("console.db");

    let listen = |port: u16| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mcp_listener = tokio::net::TcpListener::bind(listen(args.mcp_port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{}: {e}. Pick another port with --mcp-port (0: any free port)",
                args.mcp_port
            )
        })?;
    let mcp_addr = mcp_listener
        .local_addr()
        .map_err(|e| format!("cannot read the MCP server's address: {e}"))?;
    let mcp_url = format!("http://{mcp_addr}{MCP_PATH}");

    let mut console_config = ConsoleConfig::new(
        database.to_string_lossy().into_owned(),
        listen(args.console_port),
    )
    .with_admin_token_from_env();
    // A throwaway database: its signing key is encrypted with a throwaway key.
    console_config.key_encryption_key =
        Some(authsec_console::oauth::jwt::KeyEncryptionKey::generate().map_err(|e| e.to_string())?);
    let console = Console::bind(console_config).await.map_err(|e| match e {
        e @ authsec_console::Error::Bind { .. } => {
            format!("{e}. Pick another port with --console-port (0: any free port)")
        }
        e => e.to_string(),
    })?;
    let console_url = console.public_url().to_owned();
    let admin_token = console.initial_admin_token().map(str::to_owned);
    let sign_in_link = console
        .sign_in_link()
        .await
        .map_err(|e| format!("cannot create a sign-in link: {e}"))?;
    let registered = register(console.state().store(), &mcp_url)
        .await
        .map_err(|e| format!("cannot register the demo in the console: {e}"))?;
    let (stop_console, console_stopped) = oneshot::channel::<()>();
    let console_task = tokio::spawn(console.serve(async {
        let _ = console_stopped.await;
    }));

    // The SDK, configured as a real deployment would be: tokens from the console's token
    // service, the tool policy from the console.
    let config = Config::builder(&console_url, &mcp_url)
        .jwks_url(format!("{console_url}/.well-known/jwks.json"))
        .introspection(
            format!("{console_url}/oauth/introspect"),
            &registered.rs_id,
            &registered.rs_secret,
        )
        .resource_name("Notes (authsec demo)")
        .resource_server_id(&registered.rs_id)
        .policy_mode(PolicyMode::RemoteRequired)
        .publish_manifest(true)
        // Only suggestions in the published manifest: the console's mapping decides.
        .tool_scopes_json(tool_scopes_json())
        .prompt_scopes_json(authsec_notes::EXAMPLE_PROMPT_SCOPES_JSON)
        .resource_scopes_json(authsec_notes::EXAMPLE_RESOURCE_SCOPES_JSON)
        .build()
        .map_err(|e| format!("demo configuration: {e}"))?;
    let validator = Validator::new(config)
        .await
        .map_err(|e| format!("cannot start the SDK: {e}"))?;
    let layer = start_layer(validator)
        .await
        .map_err(|e| format!("cannot start the SDK: {e}"))?;
    let app = protected_app(layer, Transport::StatelessJson);
    let (stop_mcp, mcp_stopped) = oneshot::channel::<()>();
    let mcp_task = tokio::spawn(serve(mcp_listener, app, async {
        let _ = mcp_stopped.await;
    }));

    print!(
        "{}",
        instructions(&Instructions {
            console_url: &console_url,
            mcp_url: &mcp_url,
            admin_token: admin_token.as_deref(),
            sign_in_link: &sign_in_link,
            registered: &registered,
            database: &database,
            authsec: &self_command(),
        })
    );

    shutdown_signal().await;
    eprintln!("authsec demo: stopping");
    let _ = stop_mcp.send(());
    if tokio::time::timeout(Duration::from_secs(10), mcp_task)
        .await
        .is_err()
    {
        eprintln!("authsec demo: the MCP server did not stop within 10 s");
    }
    let _ = stop_console.send(());
    let console_result = tokio::time::timeout(Duration::from_secs(10), console_task).await;
    drop(dir);
    match console_result {
        Ok(Ok(Ok(()))) => {
            println!(
                "authsec demo: stopped; deleted {}",
                database.parent().unwrap_or(&database).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok(Err(e))) => {
            eprintln!("authsec demo: the console stopped with an error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Ok(Err(e)) => {
            eprintln!("authsec demo: the console task failed: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(_) => {
            eprintln!("authsec demo: the console did not stop within 10 s");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Registers the demo resource server, its scopes, mappings and the agent client.
async fn register(store: &Store, mcp_url: &str) -> Result<Registered, authsec_console::Error> {
    let actor = Actor::System;
    let (rs, rs_secret) = store
        .create_resource_server(
            &actor,
            NewResourceServer {
                name: "notes (demo)".into(),
                resource_uri: mcp_url.into(),
                scopes: SCOPES
                    .iter()
                    .map(|(name, description)| NewScope {
                        name: (*name).into(),
                        description: (*description).into(),
                    })
                    .collect(),
                auto_apply_suggestions: false,
            },
        )
        .await?;
    for (tool, scopes) in TOOLS {
        let state = if scopes.is_empty() {
            ToolState::Public
        } else {
            ToolState::Mapped
        };
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        store
            .set_mapping(&actor, &rs.id, tool, state, scopes, ScopeMatch::Any)
            .await?;
    }
    // The prompt and the resources, as the notes server's own maps have them.
    let read = || vec!["notes:read".to_owned()];
    store
        .set_entry_mapping::<ManifestPrompt>(
            &actor,
            &rs.id,
            authsec_notes::SUMMARIZE_PROMPT,
            ToolState::Mapped,
            read(),
            ScopeMatch::Any,
        )
        .await?;
    for uri in [authsec_notes::ALL_NOTES_URI, authsec_notes::NOTE_TEMPLATE] {
        store
            .set_entry_mapping::<ManifestResource>(
                &actor,
                &rs.id,
                uri,
                ToolState::Mapped,
                read(),
                ScopeMatch::Any,
            )
            .await?;
    }
    let (client, client_secret) = store
        .create_client(
            &actor,
            &rs.id,
            "demo agent".into(),
            AGENT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        )
        .await?;
    Ok(Registered {
        rs_id: rs.id,
        rs_secret,
        client_id: client.client_id,
        client_secret,
    })
}

/// The console's mapping as `AUTHSEC_TOOL_SCOPES_JSON` (for `authsec diagnose`).
fn tool_scopes_json() -> String {
    let map: serde_json::Map<String, serde_json::Value> = TOOLS
        .iter()
        .map(|(tool, scopes)| ((*tool).to_owned(), json!(scopes)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

struct Instructions<'a> {
    console_url: &'a str,
    mcp_url: &'a str,
    admin_token: Option<&'a str>,
    sign_in_link: &'a str,
    registered: &'a Registered,
    database: &'a Path,
    authsec: &'a str,
}

/// The banner and the copy-paste commands.
fn instructions(i: &Instructions<'_>) -> String {
    let r = i.registered;
    let mcp = sq(i.mcp_url);
    let headers =
        "-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'";
    // Written out (not through serde_json, which sorts keys) so it reads like the spec.
    let call = |tool: &str, arguments: serde_json::Value| {
        sq(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
        ))
    };
    let (admin_shown, admin_header) = match i.admin_token {
        Some(t) => (
            format!(
                "{t}   (shown once; `Authorization: Bearer` on {}/api)",
                i.console_url
            ),
            sq(&format!("Authorization: Bearer {t}")),
        ),
        None => (
            "from AUTHSEC_CONSOLE_ADMIN_TOKEN".to_owned(),
            "\"Authorization: Bearer $AUTHSEC_CONSOLE_ADMIN_TOKEN\"".to_owned(),
        ),
    };
    let mut table = String::new();
    for (tool, scopes) in TOOLS {
        let needs = if scopes.is_empty() {
            "public".to_owned()
        } else {
            scopes.join(" ")
        };
        let verdict = if scopes.is_empty() || scopes.iter().any(|s| AGENT_SCOPES.contains(s)) {
            "allowed"
        } else {
            "forbidden"
        };
        table.push_str(&format!("  {tool:<12} {needs:<13} {verdict}\n"));
    }
    format!(
        "\
authsec demo: an MCP server protected by authsec, its tool policy and tokens from the console.
Everything runs on 127.0.0.1.

  console      {console}/   web console; token issuer, policy store, admin API (OpenAPI: {console}/api/openapi.json)
  sign in      {sign_in_link}   (opens the web console; one use, 15 minutes)
  admin token  {admin_shown}
  MCP server   {mcp_url}   the notes server; policy_mode remote_required
  resource     {rs}   tokens must carry aud = {mcp_url}
  agent        {client}   may be granted: {agent}   (demo credentials)
  database     {database}   SQLite, deleted when the demo stops

  tool         requires      for the agent
{table}
Try it in another shell (sh, bash or zsh):

# 1. Get a token for the agent from the console's token service (client_credentials)
TOKEN=$(curl -s -u {creds} -d grant_type=client_credentials -d resource={mcp} {token_url} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')

# 2. Allowed: add_note needs notes:write, which the token has -> 200
curl -si {mcp} -H \"Authorization: Bearer $TOKEN\" {headers} -d {add}

# 3. Forbidden: delete_note needs notes:admin -> 403 insufficient_scope with required_scopes
curl -si {mcp} -H \"Authorization: Bearer $TOKEN\" {headers} -d {delete}

# 4. No token -> 401 with the challenge (resource_metadata, scope)
curl -si {mcp} {headers} -d {list}

# 5. Every check the SDK runs on the token, explained (--online verifies the signature)
echo \"$TOKEN\" | {authsec} diagnose --online --issuer {console_q} --resource {mcp} --tool-scopes-json {scopes_json} --tool delete_note -

# 6. Change the policy in the console, no restart: notes:write may delete; then run 3 again -> 200
curl -s -X PUT {mapping_url} -H {admin_header} -H 'Content-Type: application/json' -d '{{\"state\":\"mapped\",\"scopes\":[\"notes:write\"]}}'

{READY_LINE}
",
        console = i.console_url,
        console_q = sq(i.console_url),
        sign_in_link = i.sign_in_link,
        mcp_url = i.mcp_url,
        rs = r.rs_id,
        client = r.client_id,
        agent = AGENT_SCOPES.join(" "),
        database = i.database.display(),
        creds = sq(&format!("{}:{}", r.client_id, r.client_secret)),
        token_url = sq(&format!("{}/oauth/token", i.console_url)),
        add = call("add_note", json!({"text": "hello from the demo"})),
        delete = call("delete_note", json!({"id": 1})),
        list = call("list_notes", json!({})),
        authsec = i.authsec,
        scopes_json = sq(&tool_scopes_json()),
        mapping_url = sq(&format!(
            "{}/api/resource-servers/{}/tools/delete_note/mapping",
            i.console_url, r.rs_id
        )),
    )
}

/// Quotes for sh when needed.
fn sq(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How to run this binary from another shell: `authsec` when that is what `PATH` finds,
/// otherwise its full path.
fn self_command() -> String {
    let Ok(exe) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "authsec".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            dir.join("authsec")
                .canonicalize()
                .is_ok_and(|found| found == exe)
        })
    });
    if on_path {
        "authsec".into()
    } else {
        sq(&exe.to_string_lossy())
    }
}

/// A fresh temporary directory for the demo database, removed on drop.
struct DemoDir(PathBuf);

impl DemoDir {
    fn create() -> Result<Self, String> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let path = base.join(format!("authsec-demo-{}-{attempt}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(DemoDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot create a directory in {}: {e}",
                        base.display()
                    ))
                }
            }
        }
        Err(format!(
            "cannot create a fresh directory in {}",
            base.display()
        ))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_leaves_plain_words_alone() {
        assert_eq!(sq("http://127.0.0.1:8080/mcp"), "http://127.0.0.1:8080/mcp");
        assert_eq!(sq("{\"a\":1}"), "'{\"a\":1}'");
        assert_eq!(sq("it's"), "'it'\\''s'");
    }

    #[test]
    fn the_diagnose_map_is_the_console_mapping() {
        let policy = authsec::policy::ToolPolicy::from_json(&tool_scopes_json()).unwrap();
        assert_eq!(
            policy,
            authsec::policy::ToolPolicy::from_json(authsec_notes::EXAMPLE_TOOL_SCOPES_JSON)
                .unwrap()
        );
    }
}
