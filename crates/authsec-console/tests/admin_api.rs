//! The admin API: authentication, resource servers, scopes, mappings, clients, secrets shown
//! once, the audit log — against SQLite and PostgreSQL.

mod common;

use common::{TestConsole, TestDb, ADMIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const URI: &str = "https://notes.example.com/mcp";

/// Fills in `{…}` path parameters with values that exist, or look plausible.
fn concrete(path: &str) -> String {
    path.replace("{id}", "rs-00000000")
        .replace("{scope}", "notes:read")
        .replace("{tool}", "list_notes")
        .replace("{prompt}", "summarize_notes")
        .replace("{uri}", "notes%3A%2F%2Fall")
        .replace("{client_id}", "cl-0000000000000000")
        .replace("{kid}", "nokid")
}

async fn every_admin_route_refuses_a_missing_or_wrong_token(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let routes = authsec_console::route_table();
    let admin_routes: Vec<_> = routes
        .iter()
        .filter(|(_, p)| p.starts_with("/api/") && *p != "/api/openapi.json")
        .collect();
    assert!(admin_routes.len() > 20);
    for (method, path) in admin_routes {
        let url = c.url(&concrete(path));
        let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
        for token in [None, Some("wrong-token"), Some(&ADMIN[1..])] {
            let mut req = c.http.request(method.clone(), &url).json(&json!({}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Bearer realm=\"authsec-console\""
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "unauthorized");
        }
    }
    let resp = c.http.get(c.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the OpenAPI document is public"
    );
    c.stop().await;
}

async fn resource_server_lifecycle(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (status, created) = c
        .post(
            "/api/resource-servers",
            json!({"name": "Notes", "resource_uri": URI,
                   "scopes": [{"name": "notes:read", "description": "read notes"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let rs = created["resource_server"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        rs.len() == 11
            && rs.starts_with("rs-")
            && rs[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{rs}"
    );
    assert_eq!(created["credentials"]["client_id"], rs.as_str());
    assert!(created["credentials"]["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("asr_"));
    let view = &created["resource_server"];
    assert_eq!(view["name"], "Notes");
    assert_eq!(view["resource_uri"], URI);
    assert_eq!(view["enabled"], true);
    assert_eq!(view["generation"], 1);
    assert_eq!(view["scopes"], json!(["notes:read"]));
    assert_eq!(
        view["readiness"],
        json!({"state": "needs_setup", "policy_complete": false, "reason": "no_tools_mapped"})
    );
    assert_eq!(
        view["tool_counts"],
        json!({"mapped": 0, "public": 0, "unmapped": 0})
    );

    let (status, list) = c.get("/api/resource-servers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["resource_servers"].as_array().unwrap().len(), 1);

    let (status, updated) = c
        .patch(
            &format!("/api/resource-servers/{rs}"),
            json!({"name": "Notes v2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["name"], "Notes v2");
    assert_eq!(updated["resource_uri"], URI);
    assert_eq!(updated["generation"], 2);

    let (status, body) = c
        .post(
            "/api/resource-servers",
            json!({"name": "dup", "resource_uri": URI}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["resource_server_id"], rs.as_str());

    let (status, body) = c
        .post(
            "/api/resource-servers",
            json!({"name": "bad", "resource_uri": "notes.example.com/mcp"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "resource_uri");

    let (status, body) = c.delete(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    c.stop().await;
}

async fn secrets_are_never_returned_after_creation(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, rs_secret) = c.create_rs(URI, &["notes:read"]).await;
    let (client, client_secret) = c.create_client(&rs, &["notes:read"]).await;
    let (_, rotated) = c
        .post(
            &format!("/api/resource-servers/{rs}/clients/{client}/secret"),
            json!({}),
        )
        .await;
    let rotated = rotated["client_secret"].as_str().unwrap().to_owned();
    let mut everything = String::new();
    for path in [
        "/api/resource-servers".to_owned(),
        format!("/api/resource-servers/{rs}"),
        format!("/api/resource-servers/{rs}/clients"),
        format!("/api/resource-servers/{rs}/clients/{client}"),
        format!("/api/resource-servers/{rs}/sdk-policy"),
        "/api/audit".to_owned(),
        "/api/signing-keys".to_owned(),
        "/api/info".to_owned(),
    ] {
        let (status, body) = c.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        everything.push_str(&body.to_string());
    }
    for secret in [&rs_secret, &client_secret, &rotated, &ADMIN.to_owned()] {
        assert!(!everything.contains(secret.as_str()), "a secret leaked");
    }
    assert!(!everything.contains("sha256$"), "a secret hash leaked");
    assert!(!everything.contains("secret_hash"));
    assert!(!everything.contains("private_key"));
    c.stop().await;
}

async fn scopes_are_validated_and_protected_while_in_use(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let scopes = format!("/api/resource-servers/{rs}/scopes");
    let (status, body) = c.post(&scopes, json!({"name": "notes write"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = c.post(&scopes, json!({"name": "notes:read"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, s) = c
        .post(
            &scopes,
            json!({"name": "notes:write", "description": "write"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(s["name"], "notes:write");
    assert_eq!(s["description"], "write");

    // Scopes are compared byte for byte: a capitalised twin is another scope.
    let (status, body) = c
        .put(
            &format!("/api/resource-servers/{rs}/tools/write_note/mapping"),
            json!({"state": "mapped", "scopes": ["notes:Write"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["unknown_scopes"], json!(["notes:Write"]));

    c.map(
        &rs,
        "write_note",
        json!({"state": "mapped", "scopes": ["notes:write"]}),
    )
    .await;
    let (client, _) = c.create_client(&rs, &["notes:write"]).await;
    let (status, body) = c.delete(&format!("{scopes}/notes:write")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["tools"], json!(["write_note"]));
    assert_eq!(body["clients"], json!([client]));

    let (status, body) = c
        .patch(
            &format!("{scopes}/notes:write"),
            json!({"description": "write notes"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["description"], "write notes");

    let (status, _) = c.delete(&format!("{scopes}/notes:read")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = c.get(&scopes).await;
    let names: Vec<&str> = list["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["notes:write"]);
    c.stop().await;
}

async fn mappings_are_validated(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let path = format!("/api/resource-servers/{rs}/tools/t/mapping");
    for (body, field) in [
        (json!({"state": "mapped", "scopes": []}), "scopes"),
        (
            json!({"state": "public", "scopes": ["notes:read"]}),
            "scopes",
        ),
        (
            json!({"state": "mapped", "scopes": ["notes:read", "notes:read"]}),
            "scopes",
        ),
    ] {
        let (status, resp) = c.put(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["field"], field, "{body}");
    }
    for body in [
        json!({"state": "maybe"}),
        json!({"state": "mapped", "scopes": ["notes:read"], "scope_match": "some"}),
        json!({"state": "public", "extra": 1}),
    ] {
        let (status, resp) = c.put(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["error"], "invalid_request", "{body}");
    }
    let (status, _) = c
        .put(
            "/api/resource-servers/rs-00000000/tools/t/mapping",
            json!({"state": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c
        .delete(&format!("/api/resource-servers/{rs}/tools/t/mapping"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no decision to clear");
    c.stop().await;
}

async fn a_tool_can_be_mapped_before_it_is_ever_seen_and_then_forgotten(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let t = c
        .map(
            &rs,
            "future_tool",
            json!({"state": "mapped", "scopes": ["notes:read"], "scope_match": "all"}),
        )
        .await;
    assert_eq!(t["state"], "mapped");
    assert_eq!(t["first_seen"], Value::Null);
    assert_eq!(
        t["mapping"],
        json!({"source": "admin", "state": "mapped", "scopes": ["notes:read"],
               "scope_match": "all", "updated_at": t["mapping"]["updated_at"]})
    );
    let (_, rsv) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(
        rsv["tool_counts"],
        json!({"mapped": 1, "public": 0, "unmapped": 0})
    );
    assert_eq!(rsv["readiness"]["state"], "ready");
    let (status, _) = c
        .delete(&format!("/api/resource-servers/{rs}/tools/future_tool"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = c
        .get(&format!("/api/resource-servers/{rs}/tools/future_tool"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    c.stop().await;
}

async fn clients_can_be_managed(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read", "notes:write"]).await;
    let clients = format!("/api/resource-servers/{rs}/clients");
    let (status, body) = c
        .post(&clients, json!({"name": "agent", "allowed_scopes": []}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = c
        .post(
            &clients,
            json!({"name": "agent", "allowed_scopes": ["notes:admin"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["unknown_scopes"], json!(["notes:admin"]));
    let (status, created) = c
        .post(
            &clients,
            json!({"name": "agent", "allowed_scopes": ["notes:read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["client"]["client_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cl-") && id.len() == 19, "{id}");
    assert!(created["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("asc_"));
    assert_eq!(created["client"]["resource_server_id"], rs.as_str());
    let (status, updated) = c
        .patch(
            &format!("{clients}/{id}"),
            json!({"allowed_scopes": ["notes:read", "notes:write"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        updated["allowed_scopes"],
        json!(["notes:read", "notes:write"])
    );
    assert_eq!(updated["name"], "agent");
    let (_, list) = c.get(&clients).await;
    assert_eq!(list["clients"][0]["client_id"], id.as_str());
    let (status, _) = c.delete(&format!("{clients}/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = c.get(&format!("{clients}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    c.stop().await;
}

async fn every_mutation_is_audited(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let base = format!("/api/resource-servers/{rs}");
    c.patch(&base, json!({"name": "renamed"})).await;
    c.post(&format!("{base}/secret"), json!({})).await;
    c.post(&format!("{base}/scopes"), json!({"name": "notes:write"}))
        .await;
    c.patch(
        &format!("{base}/scopes/notes:write"),
        json!({"description": "w"}),
    )
    .await;
    c.map(
        &rs,
        "t",
        json!({"state": "mapped", "scopes": ["notes:read"]}),
    )
    .await;
    c.delete(&format!("{base}/tools/t/mapping")).await;
    c.map(&rs, "t", json!({"state": "public"})).await;
    c.delete(&format!("{base}/tools/t")).await;
    c.delete(&format!("{base}/scopes/notes:write")).await;
    let (client, _) = c.create_client(&rs, &["notes:read"]).await;
    c.patch(&format!("{base}/clients/{client}"), json!({"name": "bot"}))
        .await;
    c.post(&format!("{base}/clients/{client}/secret"), json!({}))
        .await;
    c.delete(&format!("{base}/clients/{client}")).await;
    c.delete(&base).await;

    let entries = c.audit(Some(&rs)).await;
    let actions: Vec<&str> = entries
        .iter()
        .rev()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "resource_server.created",
            "resource_server.updated",
            "resource_server.secret_rotated",
            "scope.created",
            "scope.updated",
            "mapping.set",
            "mapping.cleared",
            "mapping.set",
            "tool.deleted",
            "scope.deleted",
            "client.created",
            "client.updated",
            "client.secret_rotated",
            "client.deleted",
            "resource_server.deleted",
        ]
    );
    for e in &entries {
        assert_eq!(e["actor"], "admin");
        assert_eq!(e["resource_server_id"], rs.as_str());
        assert!(e["at"].as_i64().unwrap() > 1_700_000_000);
    }
    let updated = entries
        .iter()
        .find(|e| e["action"] == "resource_server.updated")
        .unwrap();
    assert_eq!(updated["before"]["name"], "notes");
    assert_eq!(updated["after"]["name"], "renamed");
    let mapping = entries
        .iter()
        .rev()
        .find(|e| e["action"] == "mapping.set")
        .unwrap();
    assert_eq!(mapping["target"], "t");
    assert_eq!(mapping["before"], Value::Null);
    assert_eq!(mapping["after"]["scopes"], json!(["notes:read"]));
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "resource_server.deleted")
        .unwrap();
    assert_eq!(deleted["after"], Value::Null);
    assert_eq!(deleted["before"]["id"], rs.as_str());
    c.stop().await;
}

async fn the_audit_log_pages(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    for i in 0..5 {
        c.map(&rs, &format!("t{i}"), json!({"state": "public"}))
            .await;
    }
    let mut seen = Vec::new();
    let mut path = format!("/api/audit?resource_server_id={rs}&limit=2");
    loop {
        let (status, page) = c.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 2);
        seen.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_before"].as_i64() {
            Some(b) => path = format!("/api/audit?resource_server_id={rs}&limit=2&before={b}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "creation and five mappings");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    let (status, _) = c.get("/api/audit?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    c.stop().await;
}

async fn the_admin_token_can_be_rotated_unless_it_comes_from_the_environment(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (status, body) = c.post("/api/admin-token", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("AUTHSEC_CONSOLE_ADMIN_TOKEN"));
    let (_, info) = c.get("/api/info").await;
    assert_eq!(info["admin_token_source"], "env");
    assert_eq!(info["database"], db.backend);
    assert_eq!(info["issuer"], c.base.as_str());
    c.stop().await;
}

/// Concurrent writers never fail (no `SQLITE_BUSY`) and never lose an update.
async fn concurrent_changes_all_apply_and_each_bumps_the_generation(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let creations = (0..16).map(|i| {
        let (http, url, token) = (
            c.http.clone(),
            c.url("/api/resource-servers"),
            c.admin_token.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"name": format!("s{i}"), "resource_uri": format!("https://s{i}.example.com/mcp")}))
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    for creation in creations.collect::<Vec<_>>() {
        assert_eq!(creation.await.unwrap(), StatusCode::CREATED);
    }
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let changes = (0..24).map(|i| {
        let (http, url, token) = (
            c.http.clone(),
            c.url(&format!("/api/resource-servers/{rs}/tools/t{i}/mapping")),
            c.admin_token.clone(),
        );
        tokio::spawn(async move {
            http.put(url)
                .bearer_auth(token)
                .json(&json!({"state": "public"}))
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    for change in changes.collect::<Vec<_>>() {
        assert_eq!(change.await.unwrap(), StatusCode::OK);
    }
    let (_, view) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(view["generation"], 25);
    assert_eq!(view["tool_counts"]["public"], 24);
    assert_eq!(c.audit(Some(&rs)).await.len(), 25);
    c.stop().await;
}

/// A resource URI or URI template as one path segment (form encoding, with a space as %20:
/// `+` is a plus sign in a path).
fn seg(uri: &str) -> String {
    url::form_urlencoded::byte_serialize(uri.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The object-form manifest of the notes example's prompt and resources.
fn notes_manifest() -> Value {
    json!({
        "prompts": [{"name": "summarize_notes", "title": "Summarise",
                     "arguments": [{"name": "style", "required": false}]}],
        "resources": [
            {"uri": "notes://all", "name": "all", "mimeType": "application/json"},
            {"uri": "notes://note/{id}", "name": "note"}
        ]
    })
}

async fn prompts_and_resources_are_listed_mapped_cleared_and_forgotten_like_tools(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c.create_rs(URI, &["notes:read"]).await;
    let base = format!("/api/resource-servers/{rs}");
    let (status, outcome) = c.manifest(&rs, &secret, notes_manifest()).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["prompts_added"], json!(["summarize_notes"]));
    assert_eq!(
        outcome["resources_added"],
        json!(["notes://all", "notes://note/{id}"])
    );

    let (status, list) = c.get(&format!("{base}/prompts")).await;
    assert_eq!(status, StatusCode::OK);
    let prompt = &list["prompts"][0];
    assert_eq!(
        (&prompt["name"], &prompt["state"], &prompt["mapping"]),
        (&json!("summarize_notes"), &json!("unmapped"), &Value::Null)
    );
    assert_eq!(
        prompt["arguments"],
        json!([{"name": "style", "required": false}])
    );
    assert_eq!(prompt["in_latest_manifest"], true);
    let (_, list) = c.get(&format!("{base}/resources")).await;
    let uris: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["notes://all", "notes://note/{id}"]);
    assert_eq!(list["resources"][0]["mime_type"], "application/json");

    let (status, p) = c
        .put(
            &format!("{base}/prompts/summarize_notes/mapping"),
            json!({"state": "mapped", "scopes": ["notes:read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["state"], "mapped");
    assert_eq!(
        p["mapping"],
        json!({"source": "admin", "state": "mapped", "scopes": ["notes:read"],
               "scope_match": "any", "updated_at": p["mapping"]["updated_at"]})
    );
    let template = format!("{base}/resources/{}", seg("notes://note/{id}"));
    let (status, r) = c
        .put(&format!("{template}/mapping"), json!({"state": "public"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (&r["uri"], &r["state"]),
        (&json!("notes://note/{id}"), &json!("public"))
    );
    let (status, r) = c.get(&template).await;
    assert_eq!((status, &r["state"]), (StatusCode::OK, &json!("public")));

    let (_, view) = c.get(&base).await;
    assert_eq!(
        view["prompt_counts"],
        json!({"mapped": 1, "public": 0, "unmapped": 0})
    );
    assert_eq!(
        view["resource_counts"],
        json!({"mapped": 0, "public": 1, "unmapped": 1})
    );
    let (_, policy) = c.get(&format!("{base}/sdk-policy")).await;
    assert_eq!(policy["tool_policy"], json!([]));
    assert_eq!(
        policy["prompt_policy"],
        json!([{"name": "summarize_notes", "is_public": false,
                "required_scopes": ["notes:read"], "scope_match": "any"}])
    );
    assert_eq!(
        policy["resource_policy"],
        json!([{"uri": "notes://note/{id}", "is_public": true,
                "required_scopes": [], "scope_match": "any"}])
    );
    assert_eq!(
        (&policy["policy_complete"], &policy["state"]),
        (&json!(true), &json!("ready"))
    );

    let (status, r) = c.delete(&format!("{template}/mapping")).await;
    assert_eq!((status, &r["state"]), (StatusCode::OK, &json!("unmapped")));
    let (status, _) = c.delete(&format!("{base}/prompts/summarize_notes")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = c.get(&format!("{base}/prompts/summarize_notes")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "error_description": "prompt \"summarize_notes\" not found",
               "kind": "prompt", "id": "summarize_notes"})
    );
    let (_, policy) = c.get(&format!("{base}/sdk-policy")).await;
    assert_eq!(policy.get("prompt_policy"), None, "omitted when empty");
    assert_eq!(policy.get("resource_policy"), None, "omitted when empty");
    assert_eq!(policy["reason"], "no_tools_mapped");
    c.stop().await;
}

async fn prompt_and_resource_mappings_are_validated_like_tool_mappings(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let base = format!("/api/resource-servers/{rs}");
    for path in [
        format!("{base}/prompts/p/mapping"),
        format!("{base}/resources/{}/mapping", seg("notes://all")),
    ] {
        let (status, resp) = c.put(&path, json!({"state": "mapped", "scopes": []})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(resp["field"], "scopes", "{path}");
        let (status, resp) = c
            .put(&path, json!({"state": "mapped", "scopes": ["notes:Read"]}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(resp["unknown_scopes"], json!(["notes:Read"]), "{path}");
        let (status, resp) = c.put(&path, json!({"state": "maybe"})).await;
        assert_eq!(
            (status, &resp["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_request"))
        );
        let (status, resp) = c.delete(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no decision to clear");
        assert_eq!(resp["kind"], "mapping");
    }
    for bad in ["x://{a}{b}", "x://{+path}", "x://a}", "notes://with space"] {
        let (status, resp) = c
            .put(
                &format!("{base}/resources/{}/mapping", seg(bad)),
                json!({"state": "public"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(resp["field"], "uri", "{bad}");
    }
    let (status, _) = c
        .put(
            "/api/resource-servers/rs-00000000/prompts/p/mapping",
            json!({"state": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = c
        .get(&format!("{base}/resources/{}", seg("notes://nothing")))
        .await;
    assert_eq!(
        (status, &body["kind"]),
        (StatusCode::NOT_FOUND, &json!("resource"))
    );
    c.stop().await;
}

async fn a_scope_a_prompt_or_resource_mapping_uses_cannot_be_deleted(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read", "notes:write"]).await;
    let base = format!("/api/resource-servers/{rs}");
    let mapped = json!({"state": "mapped", "scopes": ["notes:write"]});
    c.put(&format!("{base}/prompts/draft/mapping"), mapped.clone())
        .await;
    c.put(
        &format!("{base}/resources/{}/mapping", seg("notes://note/{id}")),
        mapped,
    )
    .await;
    let (status, body) = c.delete(&format!("{base}/scopes/notes:write")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({
            "error": "conflict",
            "error_description": "scope \"notes:write\" is in use by tools [], prompts [draft], resources [notes://note/{id}] and clients []",
            "tools": [], "prompts": ["draft"], "resources": ["notes://note/{id}"], "clients": []
        })
    );
    c.stop().await;
}

async fn prompt_and_resource_changes_are_audited_and_bump_the_generation(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c.create_rs(URI, &["notes:read"]).await;
    let base = format!("/api/resource-servers/{rs}");
    let generation = || async { c.get(&base).await.1["generation"].as_i64().unwrap() };
    let g0 = generation().await;
    let resource = format!("{base}/resources/{}", seg("notes://all"));
    c.put(
        &format!("{base}/prompts/p/mapping"),
        json!({"state": "public"}),
    )
    .await;
    let g1 = generation().await;
    c.put(
        &format!("{resource}/mapping"),
        json!({"state": "mapped", "scopes": ["notes:read"], "scope_match": "all"}),
    )
    .await;
    c.delete(&format!("{resource}/mapping")).await;
    c.delete(&format!("{base}/prompts/p")).await;
    let g4 = generation().await;
    assert_eq!((g1, g4), (g0 + 1, g0 + 4));
    let entries = c.audit(Some(&rs)).await;
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .rev()
        .skip(1)
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("prompt_mapping.set", "p"),
            ("resource_mapping.set", "notes://all"),
            ("resource_mapping.cleared", "notes://all"),
            ("prompt.deleted", "p"),
        ]
    );
    let set = entries
        .iter()
        .find(|e| e["action"] == "resource_mapping.set")
        .unwrap();
    assert_eq!(set["before"], Value::Null);
    assert_eq!(set["after"]["scope_match"], "all");
    c.stop().await;
}

backend_tests!(
    prompts_and_resources_are_listed_mapped_cleared_and_forgotten_like_tools,
    prompt_and_resource_mappings_are_validated_like_tool_mappings,
    a_scope_a_prompt_or_resource_mapping_uses_cannot_be_deleted,
    prompt_and_resource_changes_are_audited_and_bump_the_generation,
    concurrent_changes_all_apply_and_each_bumps_the_generation,
    every_admin_route_refuses_a_missing_or_wrong_token,
    resource_server_lifecycle,
    secrets_are_never_returned_after_creation,
    scopes_are_validated_and_protected_while_in_use,
    mappings_are_validated,
    a_tool_can_be_mapped_before_it_is_ever_seen_and_then_forgotten,
    clients_can_be_managed,
    every_mutation_is_audited,
    the_audit_log_pages,
    the_admin_token_can_be_rotated_unless_it_comes_from_the_environment,
);
