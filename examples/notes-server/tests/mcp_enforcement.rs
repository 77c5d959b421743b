//! The notes server behind authsec, driven over real HTTP on loopback with tokens signed by a
//! test key whose JWKS a loopback authorization-server fake serves.

mod common;

use authsec::config::{ChallengeScope, PolicyMode};
use authsec_notes::Transport;
use common::*;
use serde_json::{json, Value};

const NO_TOKEN: &str = r#"{"error_description":"no bearer token","reason":"no_token"}"#;

fn body(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

// ---- allowed calls -------------------------------------------------------------------------

#[tokio::test]
async fn allowed_call_returns_the_tool_result() {
    let h = Harness::start().await;
    let token = h.token("notes:read notes:write");
    let session = h.initialize(Some(&token)).await;

    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(1, "add_note", json!({"text": "buy milk"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let m = messages(resp).await;
    let added: Value =
        serde_json::from_str(m[0]["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        added,
        json!({"id": 1, "text": "buy milk", "author": "user-1"})
    );

    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(2, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let m = messages(resp).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["id"], 2);
    assert_eq!(m[0]["result"]["isError"], false);
    assert_eq!(
        m[0]["result"]["content"][0]["text"],
        r#"[{"id":1,"text":"buy milk","author":"user-1"}]"#
    );
}

#[tokio::test]
async fn whoami_returns_the_callers_subject_through_the_principal_argument() {
    let h = Harness::start().await;
    let token = h.token_for("alice@example.com", "");
    let session = h.initialize(Some(&token)).await;
    let resp = h
        .send(Some(&token), Some(&session), &call(1, "whoami", json!({})))
        .await;
    assert_eq!(resp.status(), 200);
    let m = messages(resp).await;
    assert_eq!(m[0]["result"]["content"][0]["text"], "alice@example.com");
}

#[tokio::test]
async fn public_tool_needs_a_valid_token_and_no_scope() {
    let h = Harness::start().await;
    let token = h.token("");
    let session = h.initialize(Some(&token)).await;
    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(1, "server_time", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let m = messages(resp).await;
    assert!(m[0]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("{\"unix_seconds\":"));
    let (status, _, _) = denial(
        h.send(None, Some(&session), &call(2, "server_time", json!({})))
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn protected_resource_metadata_is_served_at_the_path_suffixed_well_known_uri() {
    let h = Harness::start().await;
    let resp = h.http.get(h.metadata_url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(
        doc,
        json!({
            "resource": h.mcp,
            "authorization_servers": [h.auth.issuer()],
            "bearer_methods_supported": ["header"],
            "scopes_supported": ["notes:admin", "notes:read", "notes:write"],
        })
    );
}

// ---- 401 -----------------------------------------------------------------------------------

#[tokio::test]
async fn no_token_on_a_mapped_tool_call_names_that_tools_scopes() {
    let h = Harness::start().await;
    let resp = h
        .send(None, None, &call(1, "add_note", json!({"text": "x"})))
        .await;
    let (status, www, b) = denial(resp).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:write\"",
            h.metadata_url()
        )
    );
    assert_eq!(b, body(NO_TOKEN));
}

#[tokio::test]
async fn no_token_on_anything_else_names_scopes_supported_or_base_scopes() {
    let h = Harness::start().await;
    let (status, www, b) = denial(h.send(None, None, &list(1)).await).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:admin notes:read notes:write\"",
            h.metadata_url()
        )
    );
    assert_eq!(b, body(NO_TOKEN));

    let h = Harness::start_with(Transport::Sessions, |b| b.base_scopes(["notes:read"])).await;
    let (_, www, _) = denial(h.send(None, None, &initialize_request()).await).await;
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:read\"",
            h.metadata_url()
        )
    );
    // A mapped tool still names its own scopes.
    let (_, www, _) = denial(
        h.send(None, None, &call(1, "delete_note", json!({"id": 1})))
            .await,
    )
    .await;
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:admin\"",
            h.metadata_url()
        )
    );
}

#[tokio::test]
async fn get_stream_and_delete_without_token_are_401() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let session = h.initialize(Some(&token)).await;
    let expected_www = format!(
        "Bearer resource_metadata=\"{}\", scope=\"notes:admin notes:read notes:write\"",
        h.metadata_url()
    );

    let get = h
        .http
        .get(&h.mcp)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let (status, www, b) = denial(get).await;
    assert_eq!((status, www.as_deref()), (401, Some(expected_www.as_str())));
    assert_eq!(b, body(NO_TOKEN));

    let delete = h
        .http
        .delete(&h.mcp)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let (status, www, b) = denial(delete).await;
    assert_eq!((status, www.as_deref()), (401, Some(expected_www.as_str())));
    assert_eq!(b, body(NO_TOKEN));

    // With the token, the GET stream opens.
    let get = h
        .http
        .get(&h.mcp)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["content-type"], "text/event-stream");
}

#[tokio::test]
async fn invalid_tokens_are_401_naming_the_failed_claim() {
    let h = Harness::start().await;
    let now = authsec_testkit::now();
    let other_key = authsec_testkit::TestKey::es256("k1");
    let cases = [
        (
            h.token_with("notes:write", |c| {
                c["exp"] = json!(now - 3600);
                c["iat"] = json!(now - 7200);
            }),
            "expired",
            "token_expired",
        ),
        (
            h.token_with("notes:write", |c| {
                c["aud"] = json!("http://127.0.0.1:1/mcp")
            }),
            "audience mismatch",
            "audience_mismatch",
        ),
        (
            h.token_with("notes:write", |c| c["iss"] = json!("http://127.0.0.1:1")),
            "issuer mismatch",
            "issuer_mismatch",
        ),
        (
            other_key.token(&authsec_testkit::claims(
                &h.auth.issuer(),
                &h.mcp,
                "notes:write",
            )),
            "bad signature",
            "bad_signature",
        ),
    ];
    for (token, description, reason) in cases {
        let resp = h
            .send(
                Some(&token),
                None,
                &call(1, "add_note", json!({"text": "x"})),
            )
            .await;
        let (status, www, b) = denial(resp).await;
        assert_eq!(status, 401, "{reason}");
        assert_eq!(
            www.unwrap(),
            format!(
                "Bearer error=\"invalid_token\", error_description=\"{description}\", resource_metadata=\"{}\", scope=\"notes:write\"",
                h.metadata_url()
            )
        );
        assert_eq!(
            b,
            json!({"error": "invalid_token", "error_description": description, "reason": reason})
        );
        assert!(!b.to_string().contains(&token));
    }
}

// ---- 403 -----------------------------------------------------------------------------------

#[tokio::test]
async fn missing_scope_is_403_with_required_plus_granted_step_up_scope() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let resp = h
        .send(
            Some(&token),
            None,
            &call(1, "add_note", json!({"text": "x"})),
        )
        .await;
    let (status, www, b) = denial(resp).await;
    assert_eq!(status, 403);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"tool add_note requires more scope\", scope=\"notes:write notes:read\", resource_metadata=\"{}\"",
            h.metadata_url()
        )
    );
    assert_eq!(
        b,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool add_note requires more scope",
            "reason": "insufficient_scope",
            "tool": "add_note",
            "required_scopes": ["notes:write"],
            "granted_scopes": ["notes:read"],
        })
    );
}

#[tokio::test]
async fn required_only_challenge_scope_names_just_the_tools_scopes() {
    let h = Harness::start_with(Transport::Sessions, |b| {
        b.challenge_scope(ChallengeScope::RequiredOnly)
    })
    .await;
    let token = h.token("notes:read");
    let resp = h
        .send(
            Some(&token),
            None,
            &call(1, "delete_note", json!({"id": 1})),
        )
        .await;
    let (status, www, b) = denial(resp).await;
    assert_eq!(status, 403);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"tool delete_note requires more scope\", scope=\"notes:admin\", resource_metadata=\"{}\"",
            h.metadata_url()
        )
    );
    assert_eq!(b["required_scopes"], json!(["notes:admin"]));
    assert_eq!(b["granted_scopes"], json!(["notes:read"]));
}

#[tokio::test]
async fn unmapped_tool_is_403_tool_unmapped_without_scope() {
    let h = Harness::start().await;
    let token = h.token("notes:read notes:write notes:admin");
    let resp = h
        .send(Some(&token), None, &call(1, "drop_tables", json!({})))
        .await;
    let (status, www, b) = denial(resp).await;
    assert_eq!(status, 403);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"tool drop_tables is not mapped to any scope\", resource_metadata=\"{}\"",
            h.metadata_url()
        )
    );
    assert_eq!(
        b,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool drop_tables is not mapped to any scope",
            "reason": "tool_unmapped",
            "tool": "drop_tables",
        })
    );
}

#[tokio::test]
async fn batch_with_one_denied_call_is_denied_whole_naming_the_tool() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let batch = json!([
        call(1, "list_notes", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {}},
        call(2, "delete_note", json!({"id": 1})),
        call(3, "server_time", json!({})),
    ]);
    let (status, www, b) = denial(h.send(Some(&token), None, &batch).await).await;
    assert_eq!(status, 403);
    assert!(www.unwrap().contains("scope=\"notes:admin notes:read\""));
    assert_eq!(b["tool"], "delete_note");
    assert_eq!(b["required_scopes"], json!(["notes:admin"]));

    // Without a token, a batch's 401 names every mapped tool's scopes.
    let (status, www, _) = denial(h.send(None, None, &batch).await).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.unwrap(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:read notes:admin\"",
            h.metadata_url()
        )
    );
}

#[tokio::test]
async fn open_policy_mode_lets_any_valid_token_call_any_tool() {
    let h = Harness::start_with(Transport::Sessions, |b| b.policy_mode(PolicyMode::Open)).await;
    let token = h.token("");
    let session = h.initialize(Some(&token)).await;
    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(1, "add_note", json!({"text": "x"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(messages(resp).await[0]["result"]["isError"], false);
    let (status, _, _) = denial(
        h.send(
            None,
            Some(&session),
            &call(2, "add_note", json!({"text": "x"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
}

// ---- 400 / 413 -----------------------------------------------------------------------------

#[tokio::test]
async fn unparsable_body_is_400_malformed_body() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    for raw in [
        "{not json",
        "[]",
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
    ] {
        let resp = h.post(Some(&token), None).body(raw).send().await.unwrap();
        let (status, www, b) = denial(resp).await;
        assert_eq!(status, 400, "{raw}");
        assert_eq!(
            www.unwrap(),
            format!(
                "Bearer error=\"invalid_request\", error_description=\"invalid request: request body is not valid JSON-RPC\", resource_metadata=\"{}\"",
                h.metadata_url()
            )
        );
        assert_eq!(
            b,
            json!({"error": "invalid_request",
                   "error_description": "invalid request: request body is not valid JSON-RPC",
                   "reason": "malformed_body"})
        );
    }
}

#[tokio::test]
async fn mcp_name_header_disagreeing_with_the_body_is_400() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let resp = h
        .post(Some(&token), None)
        .header("mcp-name", "list_notes")
        .body(call(1, "delete_note", json!({"id": 1})).to_string())
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(resp).await;
    assert_eq!(status, 400);
    assert_eq!(b["reason"], "mcp_name_mismatch");
    assert_eq!(
        b["error_description"],
        "invalid request: Mcp-Name header does not match the request body"
    );
}

#[tokio::test]
async fn body_above_the_cap_is_413() {
    let h = Harness::start_with(Transport::Sessions, |b| b.max_body_bytes(1024)).await;
    let token = h.token("notes:write");
    let big = call(1, "add_note", json!({"text": "x".repeat(2000)}));
    let (status, www, b) = denial(h.send(Some(&token), None, &big).await).await;
    assert_eq!(status, 413);
    assert_eq!(www, None);
    assert_eq!(
        b,
        json!({"error": "invalid_request",
               "error_description": "request body above 1024 bytes",
               "reason": "payload_too_large"})
    );
    // Just under the cap passes the layer (and reaches the server).
    let small = call(1, "add_note", json!({"text": "x".repeat(900)}));
    let resp = h.send(Some(&token), None, &small).await;
    assert_ne!(resp.status(), 413);
}

#[tokio::test]
async fn token_in_the_query_string_is_400() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let resp = h
        .http
        .post(format!("{}?access_token={token}", h.mcp))
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(list(1).to_string())
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(resp).await;
    assert_eq!(status, 400);
    assert_eq!(b["reason"], "token_in_query");
    assert!(!b.to_string().contains(&token));
}

// ---- tools/list filtering ------------------------------------------------------------------

#[tokio::test]
async fn tools_list_sse_response_lists_only_callable_tools() {
    let h = Harness::start().await;
    for (scope, expected) in [
        ("notes:read", vec!["list_notes", "server_time", "whoami"]),
        ("notes:admin", vec!["delete_note", "server_time", "whoami"]),
        (
            "notes:read notes:write notes:admin",
            vec![
                "add_note",
                "delete_note",
                "list_notes",
                "server_time",
                "whoami",
            ],
        ),
    ] {
        let token = h.token(scope);
        let session = h.initialize(Some(&token)).await;
        let resp = h.send(Some(&token), Some(&session), &list(5)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let m = messages(resp).await;
        let listed: Vec<&Value> = m.iter().filter(|m| m["id"] == 5).collect();
        assert_eq!(listed.len(), 1);
        assert_eq!(tool_names(listed[0]), expected, "{scope}");
    }
}

#[tokio::test]
async fn tools_list_json_response_lists_only_callable_tools() {
    let h = Harness::start_with(Transport::StatelessJson, |b| b).await;
    let token = h.token("notes:write");
    let resp = h.send(Some(&token), None, &list(7)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let m = messages(resp).await;
    assert_eq!(m[0]["id"], 7);
    assert_eq!(tool_names(&m[0]), ["add_note", "server_time", "whoami"]);
}

#[tokio::test]
async fn tools_list_filtering_can_be_turned_off() {
    let h = Harness::start_with(Transport::StatelessJson, |b| b.filter_tools_list(false)).await;
    let token = h.token("notes:write");
    let m = messages(h.send(Some(&token), None, &list(7)).await).await;
    assert_eq!(
        tool_names(&m[0]),
        [
            "add_note",
            "delete_note",
            "list_notes",
            "server_time",
            "whoami"
        ]
    );
}

// ---- sessions ------------------------------------------------------------------------------

#[tokio::test]
async fn session_presented_with_another_principals_token_is_403() {
    let h = Harness::start().await;
    let alice = h.token_for("alice", "notes:read notes:admin");
    let mallory = h.token_for("mallory", "notes:read notes:admin");
    let session = h.initialize(Some(&alice)).await;
    let mismatch = json!({"error": "invalid_request",
                          "error_description": "session belongs to another principal",
                          "reason": "session_principal_mismatch"});

    let (status, www, b) = denial(
        h.send(
            Some(&mallory),
            Some(&session),
            &call(1, "list_notes", json!({})),
        )
        .await,
    )
    .await;
    assert_eq!((status, www), (403, None));
    assert_eq!(b, mismatch);

    let get = h
        .http
        .get(&h.mcp)
        .bearer_auth(&mallory)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(get).await;
    assert_eq!((status, b), (403, mismatch.clone()));

    let delete = h
        .http
        .delete(&h.mcp)
        .bearer_auth(&mallory)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(delete).await;
    assert_eq!((status, b), (403, mismatch));

    // The owner's session is intact.
    let resp = h
        .send(
            Some(&alice),
            Some(&session),
            &call(2, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(messages(resp).await[0]["result"]["isError"], false);

    // A new token for the same subject (same issuer) is the same principal.
    let alice_again = h.token_for("alice", "notes:read");
    let resp = h
        .send(
            Some(&alice_again),
            Some(&session),
            &call(3, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);

    // The owner may end the session; afterwards it is gone for everyone.
    let delete = h
        .http
        .delete(&h.mcp)
        .bearer_auth(&alice)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 202);
    let resp = h
        .send(
            Some(&alice),
            Some(&session),
            &call(4, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 404);
}

// ---- in-band denials -----------------------------------------------------------------------

#[tokio::test]
async fn in_band_mode_answers_denials_as_json_rpc_and_lets_the_handshake_pass() {
    let h = Harness::start_with(Transport::Sessions, |b| b.in_band_denials(true)).await;

    // The handshake passes without a token; the session it opens belongs to no principal, so
    // a later request without a token is denied in band instead of reaching it.
    let anonymous = h.initialize(None).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let resp = h.send(None, Some(&anonymous), &ping).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["data"]["_meta"]["authsec/denial"]["reason"],
        "no_token"
    );

    // A tool call without the scope: an isError tool result with the structured denial.
    let token = h.token("notes:read");
    let session = h.initialize(Some(&token)).await;
    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(2, "add_note", json!({"text": "x"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"jsonrpc": "2.0", "id": 2, "result": {
            "content": [{"type": "text", "text": "denied (insufficient_scope): tool add_note requires more scope; required scopes: [notes:write], granted: [notes:read]"}],
            "isError": true,
            "_meta": {"authsec/denial": {
                "error": "insufficient_scope",
                "error_description": "tool add_note requires more scope",
                "reason": "insufficient_scope",
                "tool": "add_note",
                "required_scopes": ["notes:write"],
                "granted_scopes": ["notes:read"],
                "status": 403,
                "www_authenticate": format!("Bearer error=\"insufficient_scope\", error_description=\"tool add_note requires more scope\", scope=\"notes:write notes:read\", resource_metadata=\"{}\"", h.metadata_url()),
            }}
        }})
    );

    // Another request without a token: a JSON-RPC error carrying the 401 challenge.
    let resp = h.send(None, Some(&session), &list(3)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], 3);
    assert_eq!(v["error"]["code"], -32001);
    assert_eq!(v["error"]["message"], "denied (no_token): no bearer token");
    let meta = &v["error"]["data"]["_meta"]["authsec/denial"];
    assert_eq!(meta["status"], 401);
    assert_eq!(meta["reason"], "no_token");
    assert_eq!(
        meta["www_authenticate"],
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"notes:admin notes:read notes:write\"",
            h.metadata_url()
        )
    );

    // Allowed calls are untouched.
    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(4, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        messages(resp).await[0]["result"]["content"][0]["text"],
        "[]"
    );

    // Requests without a JSON-RPC body still get HTTP challenges.
    let get = h
        .http
        .get(&h.mcp)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401);
}

#[tokio::test]
async fn a_tool_call_in_the_body_of_another_method_is_refused() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let resp = h
        .http
        .put(&h.mcp)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(call(1, "delete_note", json!({"id": 1})).to_string())
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(resp).await;
    assert_eq!(status, 400);
    assert_eq!(b["reason"], "body_not_allowed");
}
