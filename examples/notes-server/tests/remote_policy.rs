//! Remote policy end to end: a real authsec console (SQLite in a temp dir) on loopback, the
//! notes server protected by the SDK in `remote_required` / `remote_with_local_fallback`, and
//! tokens from the console's token service.
//!
//! Time is the SDK's manual clock wherever the behaviour depends on it (TTL, maximum staleness,
//! introspection cache), so nothing here waits for a TTL to pass in real time. Changes that
//! must arrive without a clock step (wait-for-change) are awaited with a generous deadline.

mod common;

use std::time::Duration;

use authsec::config::{ConfigBuilder, PolicyMode};
use authsec::http::{AuthSecLayer, LayerError};
use authsec::policy::remote::{Freshness, RemotePolicyError};
use authsec::policy::{PromptPolicy, ResourcePolicy};
use authsec::{Clock, ManualClock};
use authsec::{Config, Validator};
use authsec_notes::{manifest, protected_app, start_layer, Transport};
use authsec_testkit::console::{Credentials, TestConsole};
use authsec_testkit::eventually;
use common::{call, denial, list, messages, tool_names, ACCEPT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SCOPES: [&str; 3] = ["notes:read", "notes:write", "notes:admin"];

/// A real console with a resource server for the notes server, its scopes and an agent client
/// allowed `notes:read notes:write`; and the notes server's listener (bound first: its URL is
/// the resource URI).
struct Setup {
    console: TestConsole,
    http: reqwest::Client,
    rs: Credentials,
    client: Credentials,
    listener: Option<tokio::net::TcpListener>,
    mcp: String,
    origin: String,
}

impl Setup {
    async fn new() -> Self {
        let console = TestConsole::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let mcp = format!("{origin}/mcp");
        let rs = console.resource_server("notes", &mcp, &SCOPES).await;
        let client = console
            .client(&rs.id, "agent", &["notes:read", "notes:write"])
            .await;
        Setup {
            console,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            rs,
            client,
            listener: Some(listener),
            mcp,
            origin,
        }
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.console.admin(method, path, body).await
    }

    /// An admin decision for `tool`: `scopes` (any of), or public when empty.
    async fn map(&self, tool: &str, scopes: &[&str]) {
        self.console.map(&self.rs.id, tool, scopes).await;
    }

    /// The notes example's mapping, as the README documents it.
    async fn map_example(&self) {
        self.map("list_notes", &["notes:read"]).await;
        self.map("add_note", &["notes:write"]).await;
        self.map("delete_note", &["notes:admin"]).await;
        self.map("server_time", &[]).await;
        self.map("whoami", &[]).await;
    }

    async fn tool(&self, tool: &str) -> Value {
        let (status, body) = self
            .admin(
                reqwest::Method::GET,
                &format!("/api/resource-servers/{}/tools/{tool}", self.rs.id),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// A token from the console's token service for the agent client.
    async fn token(&self, scope: &str) -> String {
        self.console.token(&self.client, &self.mcp, scope).await
    }

    /// The SDK configuration: tokens from the console (JWKS), policy from the console.
    fn config(&self, mode: PolicyMode) -> ConfigBuilder {
        Config::builder(&self.console.base, &self.mcp)
            .jwks_url(self.console.jwks_url())
            .policy_mode(mode)
            .resource_server_id(&self.rs.id)
            .console_credentials(&self.rs.id, &self.rs.secret)
    }

    /// Starts the notes server (stateless JSON) behind the layer; returns the layer and the
    /// SDK's clock handle.
    async fn serve(&mut self, builder: ConfigBuilder) -> (AuthSecLayer, ManualClock) {
        let (clock, handle) = Clock::manual(authsec::system_now());
        let config = builder.clock(clock).build().unwrap();
        let layer = start_layer(Validator::new(config).await.unwrap())
            .await
            .unwrap();
        let app = protected_app(layer.clone(), Transport::StatelessJson);
        let listener = self.listener.take().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (layer, handle)
    }

    /// A `tools/call`: status and the JSON body (a JSON-RPC reply or a denial).
    async fn call(&self, token: &str, tool: &str, arguments: Value) -> (u16, Value) {
        let resp = post_call(&self.http, &self.mcp, Some(token), tool, arguments).await;
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn status_of(&self, token: &str, tool: &str) -> u16 {
        self.call(token, tool, json!({})).await.0
    }
}

/// POSTs a `tools/call` of `tool` to the MCP endpoint.
async fn post_call(
    http: &reqwest::Client,
    mcp: &str,
    token: Option<&str>,
    tool: &str,
    arguments: Value,
) -> reqwest::Response {
    let mut rb = http
        .post(mcp)
        .header("accept", ACCEPT)
        .header("content-type", "application/json");
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.body(call(1, tool, arguments).to_string())
        .send()
        .await
        .unwrap()
}

/// After the console stops, its last answer (the pending wait-for-change request is answered
/// at shutdown) is recorded before the first failure: wait for that failure so that every
/// later clock step counts from the last success.
async fn wait_for_a_failed_fetch(layer: &AuthSecLayer) {
    let remote = layer.remote_policy().unwrap();
    eventually("a failed fetch after the console stopped", || async {
        remote.status().last_error.is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_change_reaches_the_sdk_through_wait_for_change() {
    let mut s = Setup::new().await;
    s.map_example().await;
    // The SDK's clock never moves, so the 30 s TTL never passes: only the wait-for-change
    // channel can deliver the change.
    let (layer, _clock) = s.serve(s.config(PolicyMode::RemoteRequired)).await;
    let token = s.token("notes:read notes:write").await;
    let (status, body) = s.call(&token, "delete_note", json!({"id": 1})).await;
    assert_eq!(status, 403);
    assert_eq!(body["required_scopes"], json!(["notes:admin"]));

    let before = layer.remote_policy().unwrap().status();
    s.map("delete_note", &["notes:write"]).await;
    let took = eventually("delete_note allowed for notes:write", || async {
        s.status_of(&token, "delete_note").await == 200
    })
    .await;
    eprintln!(
        "wait-for-change: the mapping change was enforced {} ms after the admin API answered",
        took.as_millis()
    );
    let after = layer.remote_policy().unwrap().status();
    assert_eq!(after.freshness, Some(Freshness::Fresh));
    assert!(after.generation > before.generation);
    assert_eq!(after.age_secs, Some(0), "the clock did not move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wait_for_change_a_mapping_change_arrives_after_the_ttl() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let (layer, clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .policy_wait_for_change(false)
                .policy_cache_ttl(Duration::from_secs(5)),
        )
        .await;
    let remote = layer.remote_policy().unwrap().clone();
    let token = s.token("notes:read notes:write").await;
    assert_eq!(s.status_of(&token, "delete_note").await, 403);

    s.map("delete_note", &["notes:write"]).await;
    // Within the TTL the held policy decides and nothing is fetched.
    clock.advance(5);
    assert_eq!(s.status_of(&token, "delete_note").await, 403);
    assert_eq!(remote.status().fetches, 1);

    // Past the TTL the next request starts one background refresh; the change follows.
    clock.advance(1);
    eventually("delete_note allowed after the TTL", || async {
        s.status_of(&token, "delete_note").await == 200
    })
    .await;
    let status = remote.status();
    assert_eq!(status.fetches, 2, "exactly one refresh");
    assert_eq!(status.freshness, Some(Freshness::Fresh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_console_stopped_the_cached_policy_serves_until_max_staleness_then_503() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let (layer, clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .policy_cache_ttl(Duration::from_secs(30))
                .policy_max_stale(Duration::from_secs(120)),
        )
        .await;
    let token = s.token("notes:read").await;
    assert_eq!(s.status_of(&token, "list_notes").await, 200);

    s.console.stop().await;
    wait_for_a_failed_fetch(&layer).await;
    for step in [31, 60, 59] {
        // 31 s (stale), 91 s, 150 s = TTL + maximum staleness: the cached policy still decides.
        clock.advance(step);
        assert_eq!(s.status_of(&token, "list_notes").await, 200);
        let (status, body) = s.call(&token, "delete_note", json!({"id": 1})).await;
        assert_eq!(
            (status, &body["reason"]),
            (403, &json!("insufficient_scope"))
        );
    }
    let status = layer.remote_policy().unwrap().status();
    assert_eq!(status.freshness, Some(Freshness::Stale));
    assert!(status.last_error.is_some());

    clock.advance(1);
    for tool in ["list_notes", "server_time"] {
        let resp = post_call(&s.http, &s.mcp, Some(&token), tool, json!({})).await;
        let (status, www, body) = denial(resp).await;
        assert_eq!(status, 503);
        assert_eq!(www, None);
        assert_eq!(
            body,
            json!({
                "error": "temporarily_unavailable",
                "error_description": "policy unavailable",
                "reason": "policy_unavailable"
            })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_staleness_concurrent_requests_share_one_fetch_and_failures_back_off() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let (layer, clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .policy_wait_for_change(false),
        )
        .await;
    let remote = layer.remote_policy().unwrap().clone();
    let token = s.token("notes:read").await;
    s.console.stop().await;
    assert_eq!(remote.status().fetches, 1);

    clock.advance(151);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, mcp, token) = (s.http.clone(), s.mcp.clone(), token.clone());
        calls.spawn(async move {
            let resp = post_call(&http, &mcp, Some(&token), "list_notes", json!({})).await;
            resp.status().as_u16()
        });
    }
    assert_eq!(calls.join_all().await, vec![503; 8]);
    assert_eq!(remote.status().fetches, 2, "one fetch for all of them");

    // Within the 10 s backoff nothing is fetched; after it, one more attempt.
    clock.advance(9);
    assert_eq!(s.status_of(&token, "list_notes").await, 503);
    assert_eq!(remote.status().fetches, 2);
    clock.advance(1);
    assert_eq!(s.status_of(&token, "list_notes").await, 503);
    assert_eq!(remote.status().fetches, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_fallback_the_local_map_decides_past_max_staleness() {
    let mut s = Setup::new().await;
    s.map_example().await;
    // The local map differs from the console's so the fallback shows.
    let (layer, clock) = s
        .serve(
            s.config(PolicyMode::RemoteWithLocalFallback)
                .tool_scopes_json(r#"{"list_notes":["notes:admin"]}"#),
        )
        .await;
    let token = s.token("notes:read").await;
    assert_eq!(s.status_of(&token, "list_notes").await, 200);
    s.console.stop().await;
    wait_for_a_failed_fetch(&layer).await;
    clock.advance(150);
    assert_eq!(s.status_of(&token, "list_notes").await, 200);
    clock.advance(1);
    let (status, body) = s.call(&token, "list_notes", json!({})).await;
    assert_eq!(status, 403);
    assert_eq!(body["reason"], "insufficient_scope");
    assert_eq!(body["required_scopes"], json!(["notes:admin"]));
    let (status, body) = s.call(&token, "server_time", json!({})).await;
    assert_eq!((status, &body["reason"]), (403, &json!("tool_unmapped")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_required_does_not_start_without_the_console_and_fallback_does() {
    let s = Setup::new().await;
    s.map_example().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let config = s
        .config(PolicyMode::RemoteRequired)
        .console_url(&dead)
        .build()
        .unwrap();
    let err = AuthSecLayer::start(Validator::new(config).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LayerError::RemotePolicy(RemotePolicyError::Unreachable { url, .. }) if url.starts_with(&dead)),
        "{err:?}"
    );

    let config = s
        .config(PolicyMode::RemoteWithLocalFallback)
        .console_url(&dead)
        .build()
        .unwrap();
    let layer = AuthSecLayer::start(Validator::new(config).await.unwrap())
        .await
        .unwrap();
    let status = layer.remote_policy().unwrap().status();
    assert_eq!(status.generation, None);
    assert!(
        matches!(&status.last_error, Some(RemotePolicyError::Unreachable { url, .. }) if url.starts_with(&dead)),
        "{:?}",
        status.last_error
    );

    // Wrong credentials: the console refuses them and start-up says which variables to check.
    let config = Config::builder(&s.console.base, &s.mcp)
        .jwks_url(s.console.jwks_url())
        .policy_mode(PolicyMode::RemoteRequired)
        .resource_server_id(&s.rs.id)
        .console_credentials(&s.rs.id, "wrong-secret")
        .build()
        .unwrap();
    let err = AuthSecLayer::start(Validator::new(config).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::RemotePolicy(RemotePolicyError::Unauthorized { status: 401, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("AUTHSEC_INTROSPECTION_CLIENT_ID"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_adds_new_tools_as_unmapped_and_they_are_denied() {
    let mut s = Setup::new().await;
    s.map("list_notes", &["notes:read"]).await;
    let (_layer, _clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .publish_manifest(true)
                .tool_scopes_json(authsec_notes::EXAMPLE_TOOL_SCOPES_JSON),
        )
        .await;

    let add = s.tool("add_note").await;
    assert_eq!(add["state"], "unmapped");
    assert_eq!(add["mapping"], Value::Null);
    assert_eq!(add["suggested_scopes"], json!(["notes:write"]));
    assert_eq!(add["in_latest_manifest"], true);
    assert!(
        add["input_schema"]["properties"]["text"].is_object(),
        "{add}"
    );
    assert_eq!(s.tool("list_notes").await["state"], "mapped");

    let token = s.token("notes:read notes:write").await;
    let (status, body) = s.call(&token, "add_note", json!({"text": "x"})).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool add_note is not mapped to any scope",
            "reason": "tool_unmapped",
            "tool": "add_note"
        })
    );
    assert_eq!(s.status_of(&token, "list_notes").await, 200);
    let resp = s
        .http
        .post(&s.mcp)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .bearer_auth(&token)
        .body(list(2).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(tool_names(&messages(resp).await[0]), ["list_notes"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_mapping_survives_a_later_manifest() {
    let mut s = Setup::new().await;
    s.map("list_notes", &["notes:read"]).await;
    let (layer, _clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .publish_manifest(true)
                .tool_scopes_json(authsec_notes::EXAMPLE_TOOL_SCOPES_JSON),
        )
        .await;
    s.map("add_note", &["notes:write"]).await;

    // A later release of the server suggests another scope for add_note.
    let suggestions =
        authsec::policy::ToolPolicy::from_json(&authsec_notes::EXAMPLE_TOOL_SCOPES_JSON.replace(
            r#""add_note":["notes:write"]"#,
            r#""add_note":["notes:admin"]"#,
        ))
        .unwrap();
    let remote = layer.remote_policy().unwrap();
    let outcome = remote
        .client()
        .publish_manifest(&manifest(
            &suggestions,
            &PromptPolicy::new(),
            &ResourcePolicy::new(),
        ))
        .await
        .unwrap();
    assert_eq!(outcome.updated, ["add_note"]);
    let add = s.tool("add_note").await;
    assert_eq!(add["suggested_scopes"], json!(["notes:admin"]));
    assert_eq!(add["mapping"]["source"], "admin");
    assert_eq!(add["mapping"]["scopes"], json!(["notes:write"]));

    let token = s.token("notes:write").await;
    eventually("the SDK holds the manifest's generation", || async {
        remote.status().generation >= Some(outcome.generation)
    })
    .await;
    assert_eq!(s.status_of(&token, "add_note").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_policy_denies_every_tool_with_the_console_reason() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let (_layer, _clock) = s.serve(s.config(PolicyMode::RemoteRequired)).await;
    let token = s.token("notes:read notes:write").await;
    assert_eq!(s.status_of(&token, "server_time").await, 200);

    let (status, body) = s
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/resource-servers/{}", s.rs.id),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("server_time denied", || async {
        s.status_of(&token, "server_time").await == 403
    })
    .await;
    for tool in ["server_time", "list_notes", "unknown_tool"] {
        let (status, body) = s.call(&token, tool, json!({})).await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            json!({
                "error": "insufficient_scope",
                "error_description": format!("tool {tool} denied: policy incomplete (rs_disabled)"),
                "reason": "policy_incomplete",
                "tool": tool
            })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_metadata_advertises_the_live_scopes() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let (_layer, _clock) = s.serve(s.config(PolicyMode::RemoteRequired)).await;
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp", s.origin);
    let scopes = |doc: Value| doc["scopes_supported"].clone();
    let doc: Value = s.http.get(&prm).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        scopes(doc),
        json!(["notes:admin", "notes:read", "notes:write"])
    );

    let (status, body) = s
        .admin(
            reqwest::Method::POST,
            &format!("/api/resource-servers/{}/scopes", s.rs.id),
            Some(json!({"name": "notes:export"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually("notes:export advertised", || async {
        let doc: Value = s.http.get(&prm).send().await.unwrap().json().await.unwrap();
        scopes(doc)
            .as_array()
            .is_some_and(|a| a.contains(&json!("notes:export")))
    })
    .await;
    // A 401 names the same live scopes.
    let resp = s
        .http
        .post(&s.mcp)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(list(1).to_string())
        .send()
        .await
        .unwrap();
    let (status, www, _) = denial(resp).await;
    assert_eq!(status, 401);
    assert!(www
        .unwrap()
        .contains("scope=\"notes:admin notes:export notes:read notes:write\""),);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_within_the_introspection_cache_ttl() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let introspect = format!("{}/oauth/introspect", s.console.base);
    let (_layer, clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .introspection(&introspect, &s.rs.id, &s.rs.secret)
                .introspection_cache_ttl(Duration::from_secs(60)),
        )
        .await;
    let token = s.token("notes:read").await;
    assert_eq!(s.status_of(&token, "list_notes").await, 200);

    let resp = s
        .http
        .post(format!("{}/oauth/revoke", s.console.base))
        .basic_auth(&s.client.id, Some(&s.client.secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The active answer is cached for the TTL; past it the revocation is seen.
    assert_eq!(s.status_of(&token, "list_notes").await, 200);
    clock.advance(61);
    let resp = post_call(&s.http, &s.mcp, Some(&token), "list_notes", json!({})).await;
    let (status, www, body) = denial(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "token_revoked");
    assert_eq!(body["error"], "invalid_token");
    assert!(www
        .unwrap()
        .starts_with("Bearer error=\"invalid_token\", error_description=\"token inactive\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_only_accepts_console_tokens_and_refuses_a_revoked_one() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let introspect = format!("{}/oauth/introspect", s.console.base);
    let (layer, clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .introspection(&introspect, &s.rs.id, &s.rs.secret)
                .validation_mode(authsec::config::ValidationMode::IntrospectionOnly)
                .introspection_cache_ttl(Duration::from_secs(10)),
        )
        .await;
    assert_eq!(
        layer.validator().mode(),
        authsec::config::ValidationMode::IntrospectionOnly
    );
    let token = s.token("notes:write").await;
    let (status, body) = s.call(&token, "add_note", json!({"text": "hi"})).await;
    assert_eq!(status, 200, "{body}");
    let resp = s
        .http
        .post(format!("{}/oauth/revoke", s.console.base))
        .basic_auth(&s.rs.id, Some(&s.rs.secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    clock.advance(11);
    let (status, body) = s.call(&token, "add_note", json!({"text": "hi"})).await;
    assert_eq!((status, &body["reason"]), (401, &json!("token_revoked")));
}

/// A JSON-RPC request of the notes server's MCP endpoint: status and the JSON body (a
/// JSON-RPC reply or a denial) with the `WWW-Authenticate` header.
async fn rpc(s: &Setup, token: &str, method: &str, params: Value) -> (u16, Option<String>, Value) {
    let resp = s
        .http
        .post(&s.mcp)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string())
        .send()
        .await
        .unwrap();
    denial(resp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_and_resources_mapped_in_the_console_are_enforced_and_the_lists_filtered() {
    let mut s = Setup::new().await;
    s.map_example().await;
    let (layer, _clock) = s
        .serve(
            s.config(PolicyMode::RemoteRequired)
                .publish_manifest(true)
                .tool_scopes_json(authsec_notes::EXAMPLE_TOOL_SCOPES_JSON)
                .prompt_scopes_json(authsec_notes::EXAMPLE_PROMPT_SCOPES_JSON)
                .resource_scopes_json(authsec_notes::EXAMPLE_RESOURCE_SCOPES_JSON),
        )
        .await;
    // The manifest brought the prompt and both resources in, unmapped, with the local maps'
    // suggestions.
    let rs = s.rs.id.clone();
    let (status, prompts) = s
        .admin(
            reqwest::Method::GET,
            &format!("/api/resource-servers/{rs}/prompts"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            &prompts["prompts"][0]["name"],
            &prompts["prompts"][0]["state"],
            &prompts["prompts"][0]["suggested_scopes"]
        ),
        (
            &json!("summarize_notes"),
            &json!("unmapped"),
            &json!(["notes:read"])
        )
    );
    let (_, resources) = s
        .admin(
            reqwest::Method::GET,
            &format!("/api/resource-servers/{rs}/resources"),
            None,
        )
        .await;
    let listed: Vec<(&str, &str)> = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["uri"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("notes://all", "unmapped"),
            ("notes://note/{id}", "unmapped")
        ]
    );

    // The admin maps the prompt and the template; notes://all stays unmapped.
    let mapped = json!({"state": "mapped", "scopes": ["notes:read"]});
    for path in [
        "prompts/summarize_notes",
        "resources/notes%3A%2F%2Fnote%2F%7Bid%7D",
    ] {
        let (status, body) = s
            .admin(
                reqwest::Method::PUT,
                &format!("/api/resource-servers/{rs}/{path}/mapping"),
                Some(mapped.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, view) = s
        .admin(
            reqwest::Method::GET,
            &format!("/api/resource-servers/{rs}"),
            None,
        )
        .await;
    let generation = view["generation"].as_i64().unwrap();
    let remote = layer.remote_policy().unwrap();
    eventually("the SDK holds the mappings", || async {
        remote.status().generation >= Some(generation)
    })
    .await;

    let writer = s.token("notes:write").await;
    let (status, _) = s.call(&writer, "add_note", json!({"text": "milk"})).await;
    assert_eq!(status, 200);
    let reader = s.token("notes:read").await;

    // Allowed with the mapped scope.
    let (status, _, reply) = rpc(
        &s,
        &reader,
        "prompts/get",
        json!({"name": "summarize_notes"}),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("milk"));
    let (status, _, reply) = rpc(
        &s,
        &reader,
        "resources/read",
        json!({"uri": "notes://note/1"}),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"]["contents"][0]["uri"], "notes://note/1");

    // Denied without it, the challenge naming the scope.
    let (status, www, body) = rpc(
        &s,
        &writer,
        "prompts/get",
        json!({"name": "summarize_notes"}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"prompt summarize_notes requires more scope\", \
             scope=\"notes:read notes:write\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            s.origin
        )
    );
    assert_eq!(
        body,
        json!({"error": "insufficient_scope",
               "error_description": "prompt summarize_notes requires more scope",
               "reason": "insufficient_scope", "prompt": "summarize_notes",
               "required_scopes": ["notes:read"], "granted_scopes": ["notes:write"]})
    );
    let (status, www, body) = rpc(
        &s,
        &writer,
        "resources/read",
        json!({"uri": "notes://note/1"}),
    )
    .await;
    assert_eq!(status, 403);
    assert!(www.unwrap().contains("scope=\"notes:read notes:write\""));
    assert_eq!(
        (&body["reason"], &body["required_scopes"]),
        (&json!("insufficient_scope"), &json!(["notes:read"]))
    );

    // Unmapped: denied to everyone.
    let both = s.token("notes:read notes:write").await;
    let (status, www, body) = rpc(&s, &both, "resources/read", json!({"uri": "notes://all"})).await;
    assert_eq!(status, 403);
    assert!(!www.unwrap().contains("scope="));
    assert_eq!(
        body,
        json!({"error": "insufficient_scope",
               "error_description": "resource notes://all is not mapped to any scope",
               "reason": "resource_unmapped", "resource": "notes://all"})
    );

    // The lists show what the caller may use.
    let names = |reply: &Value, list: &str, key: &str| -> Vec<String> {
        reply["result"][list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} in {reply}"))
            .iter()
            .map(|e| e[key].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, reply) = rpc(&s, &reader, "prompts/list", json!({})).await;
    assert_eq!(names(&reply, "prompts", "name"), ["summarize_notes"]);
    let (_, _, reply) = rpc(&s, &writer, "prompts/list", json!({})).await;
    assert_eq!(names(&reply, "prompts", "name"), Vec::<String>::new());
    let (_, _, reply) = rpc(&s, &both, "resources/list", json!({})).await;
    assert_eq!(
        names(&reply, "resources", "uri"),
        Vec::<String>::new(),
        "notes://all is unmapped"
    );
    let (_, _, reply) = rpc(&s, &reader, "resources/templates/list", json!({})).await;
    assert_eq!(
        names(&reply, "resourceTemplates", "uriTemplate"),
        ["notes://note/{id}"]
    );
    let (_, _, reply) = rpc(&s, &writer, "resources/templates/list", json!({})).await;
    assert_eq!(
        names(&reply, "resourceTemplates", "uriTemplate"),
        Vec::<String>::new()
    );
}
