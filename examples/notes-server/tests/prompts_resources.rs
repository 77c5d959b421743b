//! Prompts and resources through the layer, in both protocol eras: `prompts/get` and
//! `resources/read` decided like `tools/call` (its result marked private), the three lists
//! filtered and marked private,
//! `subscriptions/listen` decided by the resources it subscribes to.

mod common;

use authsec_notes::Transport;
use common::*;
use serde_json::{json, Value};

const MODERN: &str = "2026-07-28";

/// The two eras: 2025 (a session, no revision in the request) and 2026-07-28 (stateless, the
/// revision in the header and `_meta`, routing headers).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Era {
    Sessions2025,
    Stateless2026,
}

const ERAS: [Era; 2] = [Era::Sessions2025, Era::Stateless2026];

struct Server {
    h: Harness,
    era: Era,
}

impl Server {
    async fn start(era: Era) -> Self {
        Self::start_with(era, |b| b).await
    }

    async fn start_with(
        era: Era,
        tweak: impl FnOnce(authsec::config::ConfigBuilder) -> authsec::config::ConfigBuilder,
    ) -> Self {
        let transport = match era {
            Era::Sessions2025 => Transport::Sessions,
            Era::Stateless2026 => Transport::StatelessJson,
        };
        Server {
            h: Harness::start_with(transport, tweak).await,
            era,
        }
    }

    /// Sends `body` as this era's client would, with `token` (a session is opened first in
    /// the 2025 era).
    async fn send(&self, token: Option<&str>, mut body: Value) -> reqwest::Response {
        match self.era {
            Era::Sessions2025 => {
                let session = self.h.initialize(Some(&self.h.token(""))).await;
                // The session belongs to user-1; every token here is user-1's.
                self.h.send(token, Some(&session), &body).await
            }
            Era::Stateless2026 => {
                body["params"]["_meta"] = json!({
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                });
                let mut rb = self
                    .h
                    .post(token, None)
                    .header("mcp-protocol-version", MODERN)
                    .header("mcp-method", body["method"].as_str().unwrap());
                let params = &body["params"];
                if let Some(name) = params["name"].as_str().or(params["uri"].as_str()) {
                    rb = rb.header("mcp-name", name);
                }
                rb.body(body.to_string()).send().await.unwrap()
            }
        }
    }

    /// A 403's `scope`: the operation's scopes in 2026, plus the granted ones in 2025.
    fn step_up_scope(&self, required: &str, granted: &str) -> String {
        match self.era {
            Era::Sessions2025 => format!("{required} {granted}"),
            Era::Stateless2026 => required.to_owned(),
        }
    }
}

fn get_prompt(id: u64, name: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"prompts/get","params":{"name":name}})
}

fn read(id: u64, uri: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"resources/read","params":{"uri":uri}})
}

fn list_of(id: u64, method: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":method,"params":{}})
}

async fn one(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    let m = messages(resp).await;
    assert_eq!(m.len(), 1, "{m:?}");
    m.into_iter().next().unwrap()
}

#[tokio::test]
async fn prompts_get_is_allowed_with_the_prompts_scope_in_both_eras() {
    for era in ERAS {
        let s = Server::start(era).await;
        let token = s.h.token("notes:read");
        let m = one(s.send(Some(&token), get_prompt(1, "summarize_notes")).await).await;
        assert_eq!(m["id"], 1, "{era:?}");
        assert_eq!(
            m["result"]["messages"],
            json!([{"role": "user", "content": {"type": "text", "text": "Summarize these notes: []"}}]),
            "{era:?}"
        );
    }
}

#[tokio::test]
async fn prompts_get_without_the_scope_is_403_naming_the_prompt_in_both_eras() {
    for era in ERAS {
        let s = Server::start(era).await;
        let token = s.h.token("notes:write");
        let (status, www, body) =
            denial(s.send(Some(&token), get_prompt(1, "summarize_notes")).await).await;
        assert_eq!(status, 403, "{era:?}");
        assert_eq!(
            www.unwrap(),
            format!(
                "Bearer error=\"insufficient_scope\", error_description=\"prompt summarize_notes requires more scope\", \
                 scope=\"{}\", resource_metadata=\"{}\"",
                s.step_up_scope("notes:read", "notes:write"),
                s.h.metadata_url()
            ),
            "{era:?}"
        );
        assert_eq!(
            body,
            json!({"error": "insufficient_scope",
                   "error_description": "prompt summarize_notes requires more scope",
                   "reason": "insufficient_scope", "prompt": "summarize_notes",
                   "required_scopes": ["notes:read"], "granted_scopes": ["notes:write"]}),
            "{era:?}"
        );
    }
}

#[tokio::test]
async fn an_unmapped_prompt_is_403_prompt_unmapped_without_a_scope() {
    for era in ERAS {
        let s = Server::start(era).await;
        let token = s.h.token("notes:read notes:write notes:admin");
        let (status, www, body) =
            denial(s.send(Some(&token), get_prompt(1, "leak_everything")).await).await;
        assert_eq!(status, 403, "{era:?}");
        assert_eq!(
            www.unwrap(),
            format!(
                "Bearer error=\"insufficient_scope\", error_description=\"prompt leak_everything is not mapped to any scope\", \
                 resource_metadata=\"{}\"",
                s.h.metadata_url()
            )
        );
        assert_eq!(
            body,
            json!({"error": "insufficient_scope",
                   "error_description": "prompt leak_everything is not mapped to any scope",
                   "reason": "prompt_unmapped", "prompt": "leak_everything"})
        );
    }
}

#[tokio::test]
async fn no_token_on_prompts_get_names_the_prompts_scope() {
    let s = Server::start(Era::Stateless2026).await;
    let (status, www, body) = denial(s.send(None, get_prompt(1, "summarize_notes")).await).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:read\"",
            s.h.metadata_url()
        )
    );
    assert_eq!(
        body,
        json!({"error_description": "no bearer token", "reason": "no_token"})
    );
}

#[tokio::test]
async fn resources_read_by_uri_and_by_template_is_allowed_with_the_scope_in_both_eras() {
    for era in ERAS {
        let s = Server::start(era).await;
        let writer = s.h.token("notes:write");
        let added = s
            .send(Some(&writer), call(1, "add_note", json!({"text": "milk"})))
            .await;
        assert_eq!(added.status(), 200, "{era:?}");
        let reader = s.h.token("notes:read");
        let all = one(s.send(Some(&reader), read(2, "notes://all")).await).await;
        assert_eq!(
            all["result"]["contents"],
            json!([{"uri": "notes://all", "mimeType": "text/plain",
                    "text": r#"[{"id":1,"text":"milk","author":"user-1"}]"#}]),
            "{era:?}"
        );
        let note = one(s.send(Some(&reader), read(3, "notes://note/1")).await).await;
        assert_eq!(
            note["result"]["contents"],
            json!([{"uri": "notes://note/1", "mimeType": "text/plain",
                    "text": r#"{"id":1,"text":"milk","author":"user-1"}"#}]),
            "{era:?}"
        );
        // What was read was authorized for this caller: no shared cache may serve it.
        for m in [&all, &note] {
            assert_eq!(m["result"]["cacheScope"], "private", "{era:?}");
        }
    }
}

#[tokio::test]
async fn resources_read_without_the_scope_is_403_naming_the_resource_in_both_eras() {
    for era in ERAS {
        let s = Server::start(era).await;
        let token = s.h.token("notes:write");
        for uri in ["notes://all", "notes://note/7"] {
            let (status, www, body) = denial(s.send(Some(&token), read(1, uri)).await).await;
            assert_eq!(status, 403, "{era:?} {uri}");
            assert_eq!(
                www.unwrap(),
                format!(
                    "Bearer error=\"insufficient_scope\", error_description=\"resource {uri} requires more scope\", \
                     scope=\"{}\", resource_metadata=\"{}\"",
                    s.step_up_scope("notes:read", "notes:write"),
                    s.h.metadata_url()
                )
            );
            assert_eq!(
                body,
                json!({"error": "insufficient_scope",
                       "error_description": format!("resource {uri} requires more scope"),
                       "reason": "insufficient_scope", "resource": uri,
                       "required_scopes": ["notes:read"], "granted_scopes": ["notes:write"]})
            );
        }
    }
}

#[tokio::test]
async fn a_resource_no_entry_covers_is_403_resource_unmapped() {
    for era in ERAS {
        let s = Server::start(era).await;
        let token = s.h.token("notes:read notes:admin");
        // Outside the template: another scheme, a second segment, an empty id.
        for uri in [
            "notes://secret",
            "notes://note/1/raw",
            "notes://note/",
            "NOTES://all",
        ] {
            let (status, _, body) = denial(s.send(Some(&token), read(1, uri)).await).await;
            assert_eq!(status, 403, "{era:?} {uri}");
            assert_eq!(
                body,
                json!({"error": "insufficient_scope",
                       "error_description": format!("resource {uri} is not mapped to any scope"),
                       "reason": "resource_unmapped", "resource": uri})
            );
        }
    }
}

/// The items of a list result under `member`, by `key`.
fn items(m: &Value, member: &str, key: &str) -> Vec<String> {
    m["result"][member]
        .as_array()
        .unwrap_or_else(|| panic!("no {member} in {m}"))
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_three_lists_are_filtered_and_private_in_both_eras() {
    let lists = [
        ("prompts/list", "prompts", "name", "summarize_notes"),
        ("resources/list", "resources", "uri", "notes://all"),
        (
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
            "notes://note/{id}",
        ),
    ];
    for era in ERAS {
        let s = Server::start(era).await;
        for (scope, visible) in [("notes:read", true), ("notes:write notes:admin", false)] {
            let token = s.h.token(scope);
            for (method, member, key, item) in lists {
                let m = one(s.send(Some(&token), list_of(4, method)).await).await;
                let expected: Vec<String> = if visible {
                    vec![item.to_owned()]
                } else {
                    vec![]
                };
                assert_eq!(items(&m, member, key), expected, "{era:?} {scope} {method}");
                assert_eq!(
                    m["result"]["cacheScope"], "private",
                    "{era:?} {scope} {method}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_server_that_maps_only_tools_denies_prompts_and_resources_and_lists_none() {
    let s = Server::start_with(Era::Stateless2026, |b| {
        b.prompt_scopes_json("{}").resource_scopes_json("{}")
    })
    .await;
    let token = s.h.token("notes:read notes:write notes:admin");
    let (status, _, body) =
        denial(s.send(Some(&token), get_prompt(1, "summarize_notes")).await).await;
    assert_eq!((status, &body["reason"]), (403, &json!("prompt_unmapped")));
    let (status, _, body) = denial(s.send(Some(&token), read(2, "notes://all")).await).await;
    assert_eq!(
        (status, &body["reason"]),
        (403, &json!("resource_unmapped"))
    );
    let m = one(s.send(Some(&token), list_of(3, "prompts/list")).await).await;
    assert_eq!(m["result"]["prompts"], json!([]));
    let m = one(s.send(Some(&token), list_of(4, "resources/list")).await).await;
    assert_eq!(m["result"]["resources"], json!([]));
    // Tools work exactly as before.
    let m = one(s.send(Some(&token), call(5, "list_notes", json!({}))).await).await;
    assert_eq!(m["result"]["content"][0]["text"], "[]");
}

fn listen(id: u64, notifications: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"subscriptions/listen",
           "params":{"notifications": notifications}})
}

#[tokio::test]
async fn subscriptions_listen_to_a_resource_the_caller_cannot_read_is_403_naming_it() {
    let s = Server::start(Era::Stateless2026).await;
    let reader = s.h.token("notes:read");
    let (status, www, body) = denial(
        s.send(
            Some(&reader),
            listen(
                1,
                json!({"toolsListChanged": true,
                             "resourceSubscriptions": ["notes://all", "notes://secret", "x://y"]}),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"resource notes://secret is not mapped to any scope\", \
             resource_metadata=\"{}\"",
            s.h.metadata_url()
        )
    );
    assert_eq!(
        body,
        json!({"error": "insufficient_scope",
               "error_description": "resource notes://secret is not mapped to any scope",
               "reason": "resource_unmapped", "resource": "notes://secret"})
    );

    let writer = s.h.token("notes:write");
    let (status, www, body) = denial(
        s.send(
            Some(&writer),
            listen(2, json!({"resourceSubscriptions": ["notes://note/3"]})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"resource notes://note/3 requires more scope\", \
             scope=\"notes:read\", resource_metadata=\"{}\"",
            s.h.metadata_url()
        )
    );
    assert_eq!(body["resource"], "notes://note/3");
    assert_eq!(body["required_scopes"], json!(["notes:read"]));
}

#[tokio::test]
async fn a_subscription_filter_that_cannot_be_read_is_400_malformed_body() {
    let s = Server::start(Era::Stateless2026).await;
    let token = s.h.token("notes:read");
    for notifications in [
        json!({"resourceSubscriptions": "notes://all"}),
        json!({"resourceSubscriptions": [7]}),
        json!(["notes://all"]),
    ] {
        let (status, _, body) =
            denial(s.send(Some(&token), listen(1, notifications.clone())).await).await;
        assert_eq!(status, 400, "{notifications}");
        assert_eq!(body["reason"], "malformed_body", "{notifications}");
    }
}

#[tokio::test]
async fn subscriptions_listen_to_list_changes_only_needs_a_valid_token() {
    let s = Server::start(Era::Stateless2026).await;
    let (status, _, _) = denial(
        s.send(None, listen(1, json!({"toolsListChanged": true})))
            .await,
    )
    .await;
    assert_eq!(status, 401);
    // A token without any scope passes the layer: what answers is the MCP server itself
    // (the notes example does not implement subscriptions), not a denial.
    let token = s.h.token("");
    let resp = s
        .send(
            Some(&token),
            listen(
                2,
                json!({"toolsListChanged": true, "promptsListChanged": true,
                             "resourcesListChanged": true, "resourceSubscriptions": []}),
            ),
        )
        .await;
    // rmcp's own answer to a method the server does not implement: the layer let it through.
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"jsonrpc": "2.0", "id": 2,
               "error": {"code": -32601, "message": "subscriptions/listen"}})
    );
}
