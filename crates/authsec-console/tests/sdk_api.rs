//! The console ⇄ SDK wire format: `GET …/sdk-policy` (with the long-poll form) and
//! `PUT …/sdk-manifest`, against SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{Creds, Options, TestConsole, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::time::Instant;

const URI: &str = "https://notes.example.com/mcp";

async fn setup(c: &TestConsole) -> (String, String) {
    let (rs, secret) = c.create_rs(URI, &["notes:read", "notes:write"]).await;
    (rs, secret)
}

fn tool(name: &str, suggested: &[&str]) -> Value {
    json!({
        "name": name, "title": format!("{name} title"), "description": format!("does {name}"),
        "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
        "annotations": {"readOnlyHint": true}, "suggested_scopes": suggested,
    })
}

async fn sdk_policy_has_the_exact_wire_shape(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
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
    let (status, headers, body) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        body,
        json!({
            "state": "ready",
            "policy_complete": true,
            "reason": null,
            "generation": 5,
            "scopes_supported": ["notes:read", "notes:write"],
            "tool_policy": [
                {"name": "list_notes", "is_public": false, "required_scopes": ["notes:read", "notes:write"], "scope_match": "any"},
                {"name": "ping", "is_public": true, "required_scopes": [], "scope_match": "any"},
                {"name": "write_note", "is_public": false, "required_scopes": ["notes:read", "notes:write"], "scope_match": "all"},
            ]
        })
    );
    c.stop().await;
}

async fn a_new_resource_server_needs_setup(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c.create_rs(URI, &[]).await;
    let (_, _, body) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    assert_eq!(
        body,
        json!({"state": "needs_setup", "policy_complete": false, "reason": "rs_needs_setup",
               "generation": 1, "scopes_supported": [], "tool_policy": []})
    );
    let (status, _) = c
        .post(
            &format!("/api/resource-servers/{rs}/scopes"),
            json!({"name": "notes:read"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, body) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    assert_eq!(body["reason"], "no_tools_mapped");
    assert_eq!(body["policy_complete"], false);
    c.map(
        &rs,
        "list_notes",
        json!({"state": "mapped", "scopes": ["notes:read"]}),
    )
    .await;
    let (_, _, body) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    assert_eq!(body["state"], "ready");
    assert_eq!(body["policy_complete"], true);
    let (status, _) = c
        .patch(
            &format!("/api/resource-servers/{rs}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    assert_eq!(
        (&body["state"], &body["policy_complete"], &body["reason"]),
        (&json!("disabled"), &json!(false), &json!("rs_disabled"))
    );
    c.stop().await;
}

async fn sdk_endpoints_refuse_bad_credentials_with_401(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    let (other, other_secret) = c.create_rs("https://other.example.com/mcp", &["x"]).await;
    let cases: Vec<(&str, Creds, String)> = vec![
        ("no credentials", None, rs.clone()),
        ("wrong secret", Some((&rs, "asr_wrong")), rs.clone()),
        (
            "another server's credentials",
            Some((&other, &other_secret)),
            rs.clone(),
        ),
        (
            "unknown id",
            Some(("rs-00000000", &secret)),
            "rs-00000000".to_owned(),
        ),
    ];
    for (what, creds, path_id) in cases {
        let (status, headers, body) = c.sdk_policy(&path_id, creds, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            headers["www-authenticate"], "Basic realm=\"authsec-console\"",
            "{what}"
        );
        assert_eq!(body["error"], "invalid_client", "{what}");
        assert!(body.get("tool_policy").is_none(), "{what}");
    }
    let resp = c
        .http
        .put(c.url(&format!("/authsec/resource-servers/{rs}/sdk-manifest")))
        .basic_auth(&rs, Some("asr_wrong"))
        .json(&json!([tool("list_notes", &[])]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, tools) = c.get(&format!("/api/resource-servers/{rs}/tools")).await;
    assert_eq!(
        tools["tools"],
        json!([]),
        "a refused manifest changes nothing"
    );
    c.stop().await;
}

async fn a_rotated_secret_replaces_the_old_one(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, old) = setup(&c).await;
    let (status, body) = c
        .post(&format!("/api/resource-servers/{rs}/secret"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let new = body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(
        c.sdk_policy(&rs, Some((&rs, &old)), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.sdk_policy(&rs, Some((&rs, &new)), "").await.0,
        StatusCode::OK
    );
    c.stop().await;
}

async fn a_manifest_adds_new_tools_as_unmapped(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    c.map(
        &rs,
        "list_notes",
        json!({"state": "mapped", "scopes": ["notes:read"]}),
    )
    .await;
    let (status, outcome) = c
        .manifest(
            &rs,
            &secret,
            json!([
                tool("list_notes", &[]),
                tool("delete_note", &["notes:write"])
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(
        outcome["added"],
        json!(["list_notes", "delete_note"]),
        "in manifest order"
    );
    assert_eq!(outcome["updated"], json!([]));
    let (_, tools) = c.get(&format!("/api/resource-servers/{rs}/tools")).await;
    let delete = &tools["tools"][0];
    assert_eq!(delete["name"], "delete_note");
    assert_eq!(delete["state"], "unmapped");
    assert_eq!(delete["mapping"], Value::Null);
    assert_eq!(delete["suggested_scopes"], json!(["notes:write"]));
    assert_eq!(delete["title"], "delete_note title");
    assert_eq!(delete["input_schema"]["properties"]["id"]["type"], "string");
    assert_eq!(delete["annotations"], json!({"readOnlyHint": true}));
    assert_eq!(delete["in_latest_manifest"], true);
    assert!(delete["first_seen"].as_i64().is_some());
    // The SDK policy leaves the unmapped tool out: absent = denied.
    let (_, _, policy) = c.sdk_policy(&rs, Some((&rs, &secret)), "").await;
    let names: Vec<&str> = policy["tool_policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list_notes"]);
    c.stop().await;
}

async fn an_admin_mapping_survives_a_later_manifest(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    // Even with suggestions applied automatically, the admin's decision stands.
    c.patch(
        &format!("/api/resource-servers/{rs}"),
        json!({"auto_apply_suggestions": true}),
    )
    .await;
    c.manifest(&rs, &secret, json!([tool("write_note", &["notes:read"])]))
        .await;
    let t = c
        .map(
            &rs,
            "write_note",
            json!({"state": "mapped", "scopes": ["notes:write"]}),
        )
        .await;
    assert_eq!(t["mapping"]["source"], "admin");
    let (status, outcome) = c
        .manifest(
            &rs,
            &secret,
            json!([tool("write_note", &["notes:read"]), tool("new_tool", &[])]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome["added"], json!(["new_tool"]));
    let (_, t) = c
        .get(&format!("/api/resource-servers/{rs}/tools/write_note"))
        .await;
    assert_eq!(t["state"], "mapped");
    assert_eq!(t["mapping"]["source"], "admin");
    assert_eq!(t["mapping"]["scopes"], json!(["notes:write"]));
    // A manifest that changes the suggestion does not touch the decision either.
    c.manifest(&rs, &secret, json!([tool("write_note", &["notes:admin"])]))
        .await;
    let (_, t) = c
        .get(&format!("/api/resource-servers/{rs}/tools/write_note"))
        .await;
    assert_eq!(t["mapping"]["scopes"], json!(["notes:write"]));
    assert_eq!(t["suggested_scopes"], json!(["notes:admin"]));
    c.stop().await;
}

async fn suggestions_apply_only_when_enabled(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    c.manifest(
        &rs,
        &secret,
        json!([tool("list_notes", &["notes:read", "notes:undefined"])]),
    )
    .await;
    let (_, t) = c
        .get(&format!("/api/resource-servers/{rs}/tools/list_notes"))
        .await;
    assert_eq!(t["state"], "unmapped");
    c.patch(
        &format!("/api/resource-servers/{rs}"),
        json!({"auto_apply_suggestions": true}),
    )
    .await;
    let (_, t) = c
        .get(&format!("/api/resource-servers/{rs}/tools/list_notes"))
        .await;
    assert_eq!(t["state"], "mapped");
    assert_eq!(
        t["mapping"],
        json!({"source": "suggested", "state": "mapped", "scopes": ["notes:read"], "scope_match": "any"})
    );
    c.stop().await;
}

async fn every_change_bumps_the_generation(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    let generation = || async {
        c.sdk_policy(&rs, Some((&rs, &secret)), "").await.2["generation"]
            .as_i64()
            .unwrap()
    };
    let g0 = generation().await;
    assert_eq!(g0, 1);
    c.map(&rs, "a", json!({"state": "public"})).await;
    assert_eq!(generation().await, 2);
    c.manifest(&rs, &secret, json!([tool("a", &[])])).await;
    assert_eq!(generation().await, 3);
    let (_, outcome) = c.manifest(&rs, &secret, json!([tool("a", &[])])).await;
    assert_eq!(
        (
            outcome["generation"].as_i64(),
            outcome["unchanged"].as_i64()
        ),
        (Some(3), Some(1)),
        "an identical manifest is not a change"
    );
    assert_eq!(generation().await, 3);
    c.post(
        &format!("/api/resource-servers/{rs}/scopes"),
        json!({"name": "notes:admin"}),
    )
    .await;
    assert_eq!(generation().await, 4);
    c.delete(&format!("/api/resource-servers/{rs}/tools/a/mapping"))
        .await;
    assert_eq!(generation().await, 5);
    c.stop().await;
}

async fn wait_for_generation_answers_at_once_when_it_differs(db: &TestDb) {
    let c = TestConsole::start_with(
        db,
        Options {
            long_poll_timeout: Duration::from_secs(60),
            ..Options::default()
        },
    )
    .await;
    let (rs, secret) = setup(&c).await;
    // Generation is 1; asking to wait on 0 (or on a future 7) answers now.
    for known in [0, 7] {
        let (status, _, body) = c
            .sdk_policy(
                &rs,
                Some((&rs, &secret)),
                &format!("?wait_for_generation={known}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["generation"], 1);
    }
    c.stop().await;
}

async fn wait_for_generation_wakes_on_a_change(db: &TestDb) {
    let c = TestConsole::start_with(
        db,
        Options {
            long_poll_timeout: Duration::from_secs(60),
            ..Options::default()
        },
    )
    .await;
    let (rs, secret) = setup(&c).await;
    let url = c.url(&format!(
        "/authsec/resource-servers/{rs}/sdk-policy?wait_for_generation=1"
    ));
    let waiter = {
        let http = c.http.clone();
        let (rs, secret) = (rs.clone(), secret.clone());
        tokio::spawn(async move {
            let resp = http
                .get(url)
                .basic_auth(&rs, Some(&secret))
                .send()
                .await
                .unwrap();
            (Instant::now(), resp.json::<Value>().await.unwrap())
        })
    };
    // Let the request reach its wait (a change before that is also answered at once).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "the long-poll answered before any change"
    );
    let changed_at = Instant::now();
    c.map(
        &rs,
        "list_notes",
        json!({"state": "mapped", "scopes": ["notes:read"]}),
    )
    .await;
    let (answered_at, body) = waiter.await.unwrap();
    let delay = answered_at.saturating_duration_since(changed_at);
    eprintln!("[{}] long-poll woke {delay:?} after the change", db.backend);
    // The timeout is 60 s: answering this soon means the change woke it.
    assert!(delay < Duration::from_secs(2), "woke after {delay:?}");
    assert_eq!(body["generation"], 2);
    assert_eq!(body["tool_policy"][0]["name"], "list_notes");
    c.stop().await;
}

/// Waiters woken by one change share one read of the policy; the next change is read afresh.
async fn every_waiter_woken_by_a_change_gets_that_change_and_the_next_one_too(db: &TestDb) {
    let c = TestConsole::start_with(
        db,
        Options {
            long_poll_timeout: Duration::from_secs(60),
            ..Options::default()
        },
    )
    .await;
    let (rs, secret) = setup(&c).await;
    for (known, tool) in [(1, "list_notes"), (2, "add_note")] {
        let url = c.url(&format!(
            "/authsec/resource-servers/{rs}/sdk-policy?wait_for_generation={known}"
        ));
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let (http, url) = (c.http.clone(), url.clone());
                let (rs, secret) = (rs.clone(), secret.clone());
                tokio::spawn(async move {
                    let resp = http
                        .get(url)
                        .basic_auth(&rs, Some(&secret))
                        .send()
                        .await
                        .unwrap();
                    resp.json::<Value>().await.unwrap()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "answered before the change"
        );
        c.map(
            &rs,
            tool,
            json!({"state": "mapped", "scopes": ["notes:read"]}),
        )
        .await;
        for w in waiters {
            // The long-poll timeout is 60 s; a waiter the change did not wake would hang here.
            let body = tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("the change woke every waiter")
                .unwrap();
            assert_eq!(body["generation"], known + 1);
            let names: Vec<&str> = body["tool_policy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            assert!(names.contains(&tool), "{names:?}");
        }
    }
    c.stop().await;
}

async fn wait_for_generation_times_out_with_the_unchanged_policy(db: &TestDb) {
    let c = TestConsole::start_with(
        db,
        Options {
            long_poll_timeout: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .await;
    let (rs, secret) = setup(&c).await;
    let (status, _, body) = c
        .sdk_policy(&rs, Some((&rs, &secret)), "?wait_for_generation=1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["generation"], 1);
    assert_eq!(body["state"], "needs_setup");
    c.stop().await;
}

async fn shutdown_ends_pending_long_polls(db: &TestDb) {
    let c = TestConsole::start_with(
        db,
        Options {
            long_poll_timeout: Duration::from_secs(600),
            ..Options::default()
        },
    )
    .await;
    let (rs, secret) = setup(&c).await;
    let url = c.url(&format!(
        "/authsec/resource-servers/{rs}/sdk-policy?wait_for_generation=1"
    ));
    let http = c.http.clone();
    let waiter = tokio::spawn(async move {
        http.get(url)
            .basic_auth(&rs, Some(&secret))
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // stop() waits for graceful shutdown, which waits for the long-poll: it must end it.
    c.stop().await;
    assert_eq!(waiter.await.unwrap(), StatusCode::OK);
}

async fn malformed_requests_are_400(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    let (status, _, body) = c
        .sdk_policy(&rs, Some((&rs, &secret)), "?wait_for_generation=soon")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    let (status, body) = c
        .manifest(&rs, &secret, json!({"name": "not-an-array"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = c
        .manifest(&rs, &secret, json!([tool("a", &[]), tool("a", &[])]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("listed twice"));
    c.stop().await;
}

async fn the_manifest_is_audited_as_the_resource_server(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = setup(&c).await;
    c.manifest(&rs, &secret, json!([tool("a", &[])])).await;
    c.manifest(&rs, &secret, json!([tool("a", &[])])).await; // unchanged: no entry
    let entries = c.audit(Some(&rs)).await;
    let manifests: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "manifest.applied")
        .collect();
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["actor"], format!("resource_server:{rs}"));
    assert_eq!(manifests[0]["after"]["added"], json!(["a"]));
    c.stop().await;
}

backend_tests!(
    sdk_policy_has_the_exact_wire_shape,
    a_new_resource_server_needs_setup,
    sdk_endpoints_refuse_bad_credentials_with_401,
    a_rotated_secret_replaces_the_old_one,
    a_manifest_adds_new_tools_as_unmapped,
    an_admin_mapping_survives_a_later_manifest,
    suggestions_apply_only_when_enabled,
    every_change_bumps_the_generation,
    wait_for_generation_answers_at_once_when_it_differs,
    wait_for_generation_wakes_on_a_change,
    every_waiter_woken_by_a_change_gets_that_change_and_the_next_one_too,
    wait_for_generation_times_out_with_the_unchanged_policy,
    shutdown_ends_pending_long_polls,
    malformed_requests_are_400,
    the_manifest_is_audited_as_the_resource_server,
);

/// Two console instances on one PostgreSQL database: a change made through one wakes a
/// long-poll waiting on the other (LISTEN/NOTIFY).
async fn a_change_on_one_instance_wakes_a_waiter_on_another(db: &TestDb) {
    let opts = Options {
        long_poll_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let a = TestConsole::start_with(db, opts.clone()).await;
    let b = TestConsole::start_with(db, opts).await;
    let (rs, secret) = setup(&a).await;
    let url = b.url(&format!(
        "/authsec/resource-servers/{rs}/sdk-policy?wait_for_generation=1"
    ));
    let waiter = {
        let http = b.http.clone();
        let (rs, secret) = (rs.clone(), secret.clone());
        tokio::spawn(async move {
            let resp = http
                .get(url)
                .basic_auth(&rs, Some(&secret))
                .send()
                .await
                .unwrap();
            (Instant::now(), resp.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    let changed_at = Instant::now();
    a.map(&rs, "list_notes", json!({"state": "public"})).await;
    let (answered_at, body) = waiter.await.unwrap();
    let delay = answered_at.saturating_duration_since(changed_at);
    eprintln!("[postgres] cross-instance long-poll woke {delay:?} after the change");
    assert!(delay < Duration::from_secs(2), "woke after {delay:?}");
    assert_eq!(body["generation"], 2);
    a.stop().await;
    b.stop().await;
}

postgres_tests!(a_change_on_one_instance_wakes_a_waiter_on_another);
