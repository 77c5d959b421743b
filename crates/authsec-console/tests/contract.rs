//! The console ⇄ SDK contract, over HTTP: every wire document the console serialises is read
//! by the SDK's own parser and policy code, and fits the schema the OpenAPI document gives it
//! (which `tests/openapi.rs` holds to `authsec-proto`'s).

mod common;

use authsec::policy::remote::{ManifestOutcome, SdkPolicyDocument};
use authsec::policy::{ConsolePolicy, PolicyView, TargetKind};
use authsec::AuthError;
use common::{schema_errors, TestConsole, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

const URI: &str = "https://notes.example.com/mcp";

/// The SDK's reading of a policy document as the console sent it.
fn sdk_reads(body: &Value) -> ConsolePolicy {
    let bytes = serde_json::to_vec(body).unwrap();
    let document: SdkPolicyDocument = serde_json::from_slice(&bytes).expect("the SDK parses it");
    ConsolePolicy::try_from(document).expect("the SDK accepts it")
}

#[tokio::test]
async fn every_policy_state_the_console_serves_is_read_by_the_sdk_and_fits_the_schema() {
    let db = TestDb::sqlite();
    let c = TestConsole::start(&db).await;
    let (rs, secret) = c.create_rs(URI, &[]).await;
    let fetch = || c.sdk_policy(&rs, Some((&rs, &secret)), "");

    let (status, _, needs_setup) = fetch().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        schema_errors("SdkPolicy", &needs_setup),
        Vec::<String>::new()
    );
    let p = sdk_reads(&needs_setup);
    assert_eq!(
        (p.state.as_deref(), p.incomplete.as_deref()),
        (Some("needs_setup"), Some("rs_needs_setup"))
    );

    for scope in ["notes:read", "notes:write"] {
        let (status, _) = c
            .post(
                &format!("/api/resource-servers/{rs}/scopes"),
                json!({ "name": scope }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, _, no_tools) = fetch().await;
    assert_eq!(schema_errors("SdkPolicy", &no_tools), Vec::<String>::new());
    assert_eq!(
        sdk_reads(&no_tools).incomplete.as_deref(),
        Some("no_tools_mapped")
    );

    c.map(
        &rs,
        "list_notes",
        json!({"state": "mapped", "scopes": ["notes:read", "notes:write"]}),
    )
    .await;
    c.map(
        &rs,
        "write_note",
        json!({"state": "mapped", "scopes": ["notes:read", "notes:write"], "scope_match": "all"}),
    )
    .await;
    c.map(&rs, "ping", json!({"state": "public"})).await;
    c.map(&rs, "drop_db", json!({"state": "unmapped"})).await;
    let (_, _, ready) = fetch().await;
    assert_eq!(schema_errors("SdkPolicy", &ready), Vec::<String>::new());
    let p = sdk_reads(&ready);
    assert_eq!(
        (p.state.as_deref(), p.incomplete.as_deref()),
        (Some("ready"), None)
    );
    assert_eq!(p.generation, ready["generation"].as_i64().unwrap());
    assert_eq!(p.scopes_supported, ["notes:read", "notes:write"]);
    let view = PolicyView::Console(&p);
    let read = ["notes:read".to_owned()];
    assert_eq!(view.decide(&read, "list_notes"), Ok(()));
    assert!(matches!(
        view.decide(&read, "write_note"),
        Err(AuthError::InsufficientScope { .. })
    ));
    assert_eq!(view.decide(&[], "ping"), Ok(()));
    assert!(matches!(
        view.decide(&read, "drop_db"),
        Err(AuthError::Unmapped { .. })
    ));

    let (status, _) = c
        .patch(
            &format!("/api/resource-servers/{rs}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, disabled) = fetch().await;
    assert_eq!(schema_errors("SdkPolicy", &disabled), Vec::<String>::new());
    let p = sdk_reads(&disabled);
    assert_eq!(
        (p.state.as_deref(), p.incomplete.as_deref()),
        (Some("disabled"), Some("rs_disabled"))
    );
    c.stop().await;
}

#[tokio::test]
async fn a_manifest_in_the_sdk_form_is_stored_whole_and_answered_in_the_sdk_form() {
    let db = TestDb::sqlite();
    let c = TestConsole::start(&db).await;
    let (rs, secret) = c.create_rs(URI, &["notes:read"]).await;
    // What the SDK sends, built by the SDK from an MCP tools/list entry.
    let mcp_tools = [
        json!({"name": "add_note", "title": "Add a note", "description": "Adds one",
               "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
               "annotations": {"destructiveHint": false}}),
        json!({"name": "ping"}),
    ];
    let local = authsec::policy::ToolPolicy::from_json(r#"{"add_note":["notes:read"]}"#).unwrap();
    let manifest = authsec::policy::remote::manifest_from_mcp_tools(&mcp_tools, &local);
    let sent = serde_json::to_value(&manifest).unwrap();
    for tool in sent.as_array().unwrap() {
        assert_eq!(schema_errors("ManifestTool", tool), Vec::<String>::new());
    }
    let (status, body) = c.manifest(&rs, &secret, sent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        schema_errors("ManifestOutcome", &body),
        Vec::<String>::new()
    );
    let outcome: ManifestOutcome = serde_json::from_value(body).expect("the SDK parses it");
    assert_eq!(outcome.added, ["add_note", "ping"]);
    assert_eq!((outcome.updated.len(), outcome.unchanged), (0, 0));

    let (status, tool) = c
        .get(&format!("/api/resource-servers/{rs}/tools/add_note"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tool["title"], "Add a note");
    assert_eq!(tool["description"], "Adds one");
    assert_eq!(tool["input_schema"], mcp_tools[0]["inputSchema"]);
    assert_eq!(tool["annotations"], mcp_tools[0]["annotations"]);
    assert_eq!(tool["suggested_scopes"], json!(["notes:read"]));

    // Sent again unchanged, every tool is reported unchanged: nothing is lost in the round trip.
    let (_, again) = c
        .manifest(&rs, &secret, serde_json::to_value(&manifest).unwrap())
        .await;
    assert_eq!(
        serde_json::from_value::<ManifestOutcome>(again).unwrap(),
        ManifestOutcome {
            generation: outcome.generation,
            added: vec![],
            updated: vec![],
            unchanged: 2,
            ..ManifestOutcome::default()
        }
    );
    c.stop().await;
}

#[tokio::test]
async fn prompt_and_resource_policies_the_console_serves_are_read_and_decided_by_the_sdk() {
    let db = TestDb::sqlite();
    let c = TestConsole::start(&db).await;
    let (rs, secret) = c.create_rs(URI, &["notes:read"]).await;
    let mapped = json!({"state": "mapped", "scopes": ["notes:read"]});
    for path in [
        "prompts/summarize_notes",
        "resources/notes%3A%2F%2Fnote%2F%7Bid%7D",
    ] {
        let (status, body) = c
            .put(
                &format!("/api/resource-servers/{rs}/{path}/mapping"),
                mapped.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = c
        .put(
            &format!("/api/resource-servers/{rs}/resources/notes%3A%2F%2Fpublic/mapping"),
            json!({"state": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, policy) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    assert_eq!(schema_errors("SdkPolicy", &policy), Vec::<String>::new());
    // The admin views fit their schemas too.
    let (_, prompts) = c.get(&format!("/api/resource-servers/{rs}/prompts")).await;
    let (_, resources) = c
        .get(&format!("/api/resource-servers/{rs}/resources"))
        .await;
    assert_eq!(
        schema_errors("Prompt", &prompts["prompts"][0]),
        Vec::<String>::new()
    );
    assert_eq!(
        schema_errors("Resource", &resources["resources"][0]),
        Vec::<String>::new()
    );
    let (_, view) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(schema_errors("ResourceServer", &view), Vec::<String>::new());
    let p = sdk_reads(&policy);
    assert_eq!(p.incomplete, None, "a mapped prompt completes the policy");
    let view = PolicyView::Console(&p);
    let read = ["notes:read".to_owned()];
    assert_eq!(
        view.decide_target(&read, TargetKind::Prompt, "summarize_notes"),
        Ok(())
    );
    assert!(matches!(
        view.decide_target(&[], TargetKind::Prompt, "summarize_notes"),
        Err(AuthError::InsufficientScope { .. })
    ));
    assert!(matches!(
        view.decide_target(&read, TargetKind::Prompt, "draft"),
        Err(AuthError::Unmapped { .. })
    ));
    assert_eq!(
        view.decide_target(&read, TargetKind::Resource, "notes://note/7"),
        Ok(())
    );
    assert!(matches!(
        view.decide_target(&[], TargetKind::Resource, "notes://note/7"),
        Err(AuthError::InsufficientScope { .. })
    ));
    assert_eq!(
        view.decide_target(&[], TargetKind::Resource, "notes://public"),
        Ok(())
    );
    assert!(matches!(
        view.decide_target(&read, TargetKind::Resource, "notes://all"),
        Err(AuthError::Unmapped { .. })
    ));
    c.stop().await;
}

#[test]
fn the_schema_checker_reports_what_does_not_fit() {
    let bad = json!({"state": "sleeping", "policy_complete": "yes", "generation": 1,
                     "scopes_supported": [], "tool_policy": [{"name": "t", "is_public": true,
                     "required_scopes": [], "scope_match": "most"}], "extra": 1});
    assert_eq!(
        schema_errors("SdkPolicy", &bad),
        [
            "SdkPolicy: \"reason\" is missing",
            "SdkPolicy: extra is not in the schema",
            "SdkPolicy.policy_complete: string is not [\"boolean\"]",
            "SdkPolicy.state: \"sleeping\" is not one of [String(\"ready\"), String(\"needs_setup\"), String(\"disabled\")]",
            "SdkPolicy.tool_policy[0].scope_match: \"most\" is not one of [String(\"any\"), String(\"all\")]",
        ]
    );
}
