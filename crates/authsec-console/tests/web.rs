//! The web console over HTTP, as a browser without JavaScript uses it: sign-in, sessions,
//! CSRF, security headers, escaping, and that its forms reach the same rules as the admin API.
//! (`scripts/browser-tests.sh` drives the same pages in headless Chromium.)

mod common;

use std::sync::atomic::Ordering;

use common::{Options, TestConsole, TestDb, ADMIN};
use reqwest::header::{self, HeaderMap};
use reqwest::{redirect, StatusCode};
use serde_json::json;

/// A cookie-holding client that does not follow redirects (the tests assert them).
struct Browser {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

fn cookie_value(set_cookie: &str) -> (&str, &str) {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap()
}

impl Browser {
    fn new(console: &TestConsole) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            base: console.base.clone(),
            session: None,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, extra_cookie: Option<&str>) -> Page {
        let mut cookies: Vec<String> = Vec::new();
        if let Some(s) = &self.session {
            cookies.push(format!("authsec_console={s}"));
        }
        if let Some(c) = extra_cookie {
            cookies.push(c.to_owned());
        }
        let req = if cookies.is_empty() {
            req
        } else {
            req.header(header::COOKIE, cookies.join("; "))
        };
        let resp = req.send().await.unwrap();
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)), None)
            .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(
            self.http.post(format!("{}{path}", self.base)).form(form),
            None,
        )
        .await
    }

    /// Signs in through the form with `token`; returns the answer to the form.
    async fn sign_in_with(&mut self, token: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let bound = form
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("authsec_console_sign_in="))
            .expect("the sign-in form binds its CSRF token to a cookie");
        let (name, value) = cookie_value(&bound);
        let csrf = form.csrf();
        let resp = self
            .send(
                self.http.post(format!("{}/sign-in", self.base)).form(&[
                    ("csrf", csrf.as_str()),
                    ("admin_token", token),
                    ("next", "/"),
                ]),
                Some(&format!("{name}={value}")),
            )
            .await;
        if let Some(c) = resp
            .set_cookies()
            .iter()
            .find(|c| c.starts_with("authsec_console="))
        {
            let (_, v) = cookie_value(c);
            self.session = Some(v.to_owned()).filter(|v| !v.is_empty());
        }
        resp
    }

    async fn sign_in(&mut self) -> String {
        let resp = self.sign_in_with(ADMIN).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
        self.get("/").await.csrf()
    }
}

async fn signing_in_with_the_admin_token_sets_a_strict_http_only_session_cookie(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let mut b = Browser::new(&c);
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/sign-in");

    let resp = b.sign_in_with(ADMIN).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(resp.location(), "/");
    let session = resp
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("authsec_console="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(
        !session.contains("Secure"),
        "plain http: no Secure attribute"
    );

    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("<h1>Resource servers</h1>"));
    let h = &home.headers;
    assert_eq!(
        h[header::CONTENT_SECURITY_POLICY],
        authsec_console::web::CONTENT_SECURITY_POLICY
    );
    assert!(authsec_console::web::CONTENT_SECURITY_POLICY.starts_with("default-src 'self'"));
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(
        !home.body.contains("<script>") && !home.body.contains(" style=\""),
        "no inline script or style"
    );
    let audit = c.audit(None).await;
    assert!(audit.iter().any(|e| e["action"] == "console.signed_in"));
    c.stop().await;
}

async fn a_wrong_admin_token_is_refused_without_a_session(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let mut b = Browser::new(&c);
    let resp = b.sign_in_with("not-the-admin-token-at-all").await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert!(resp.body.contains("That is not the admin token."));
    assert_eq!(b.session, None);
    c.stop().await;
}

async fn the_sign_in_form_without_its_bound_cookie_is_refused(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let b = Browser::new(&c);
    let form = b.get("/sign-in").await;
    let resp = b
        .post(
            "/sign-in",
            &[("csrf", form.csrf().as_str()), ("admin_token", ADMIN)],
        )
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(resp.set_cookies().is_empty());
    c.stop().await;
}

async fn a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let path = format!("/servers/{rs}/scopes");
    let missing = b.post(&path, &[("name", "notes:write")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("Form refused"));
    let wrong = b
        .post(&path, &[("name", "notes:write"), ("csrf", "forged-token")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let (_, scopes) = c.get(&format!("/api/resource-servers/{rs}/scopes")).await;
    assert_eq!(scopes["scopes"].as_array().unwrap().len(), 1, "{scopes}");

    let ok = b
        .post(&path, &[("name", "notes:write"), ("csrf", csrf.as_str())])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (_, scopes) = c.get(&format!("/api/resource-servers/{rs}/scopes")).await;
    assert_eq!(scopes["scopes"].as_array().unwrap().len(), 2);
    c.stop().await;
}

async fn a_session_is_refused_after_sign_out(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let out = b.post("/sign-out", &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/sign-in?done=signed_out");
    assert!(out
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("authsec_console=;") && c.contains("Max-Age=0")));
    // The old cookie value, replayed, no longer signs in.
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/sign-in");
    c.stop().await;
}

async fn a_session_is_refused_after_it_expires(db: &TestDb) {
    let opts = Options::default();
    let offset = opts.clock_offset.clone();
    let c = TestConsole::start_with(db, opts).await;
    let mut b = Browser::new(&c);
    b.sign_in().await;
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    offset.store(8 * 3600 + 1, Ordering::Relaxed);
    let home = b.get("/audit").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/sign-in?next=%2Faudit");
    c.stop().await;
}

async fn a_sign_in_link_works_once(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let path = c.sign_in_link.strip_prefix(&c.issuer).unwrap().to_owned();
    let mut b = Browser::new(&c);
    let first = b.get(&path).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.location(), "/");
    let cookie = first
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("authsec_console="))
        .expect("a session cookie");
    b.session = Some(cookie_value(&cookie).1.to_owned());
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    let second = Browser::new(&c).get(&path).await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    assert_eq!(second.location(), "/sign-in?done=expired");
    assert!(second.set_cookies().is_empty());
    c.stop().await;
}

async fn tool_names_and_descriptions_from_a_manifest_are_shown_as_text(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    let evil = "<img src=x onerror=alert(1)>";
    let (status, _) = c
        .manifest(
            &rs,
            &secret,
            json!([{ "name": evil, "title": "\"><script>alert(2)</script>",
                     "description": "<b>bold</b> & 'quoted'", "annotations": {"x": "</pre><script>"} }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut b = Browser::new(&c);
    b.sign_in().await;
    for path in [
        format!("/servers/{rs}/tools"),
        format!("/servers/{rs}/tool?name=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"),
        format!("/audit?resource_server_id={rs}"),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<img"), "{path}: {}", page.body);
        assert!(!page.body.contains("<script>alert"), "{path}");
        assert!(!page.body.contains("<b>bold"), "{path}");
        assert!(!page.body.contains("</pre><script>"), "{path}");
    }
    let tools = b.get(&format!("/servers/{rs}/tools")).await;
    assert!(tools.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(tools
        .body
        .contains("&lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39;"));
    c.stop().await;
}

async fn the_one_click_map_form_sets_the_mapping_through_the_admin_rules(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c
        .create_rs(
            "https://mcp.example.com/mcp",
            &["notes:read", "notes:write"],
        )
        .await;
    c.manifest(
        &rs,
        &secret,
        json!([{ "name": "add_note", "suggested_scopes": ["notes:write"] }, { "name": "list_notes" }]),
    )
    .await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let tools = b.get(&format!("/servers/{rs}/tools?state=unmapped")).await;
    assert!(tools.body.contains("Showing 2 of 2 tools"));
    assert!(
        tools
            .body
            .contains("<option value=\"notes:write\" selected>notes:write</option>"),
        "the suggested scope is preselected"
    );
    let map = format!("/servers/{rs}/tools/map");
    let resp = b
        .post(
            &map,
            &[
                ("csrf", csrf.as_str()),
                ("tools", "add_note"),
                ("state", "mapped"),
                ("scopes", "notes:write"),
                ("back_state", "unmapped"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(
        resp.location(),
        format!("/servers/{rs}/tools?done=mapped&state=unmapped")
    );
    let (_, tool) = c
        .get(&format!("/api/resource-servers/{rs}/tools/add_note"))
        .await;
    assert_eq!(tool["state"], "mapped");
    assert_eq!(tool["mapping"]["scopes"], json!(["notes:write"]));
    let audit = c.audit(Some(&rs)).await;
    assert_eq!(audit[0]["action"], "mapping.set");
    assert_eq!(audit[0]["actor"], "admin");

    // The admin rules refuse what the API refuses: a mapped tool needs a scope.
    let refused = b
        .post(
            &map,
            &[
                ("csrf", csrf.as_str()),
                ("tools", "list_notes"),
                ("state", "mapped"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused
        .body
        .contains("a mapped tool needs at least one scope"));

    // Bulk: both public, in one change (one generation).
    let (_, before) = c.get(&format!("/api/resource-servers/{rs}")).await;
    let resp = b
        .post(
            &map,
            &[
                ("csrf", csrf.as_str()),
                ("tools", "add_note"),
                ("tools", "list_notes"),
                ("state", "public"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    let (_, after) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(
        after["generation"].as_i64().unwrap(),
        before["generation"].as_i64().unwrap() + 1
    );
    let (_, tools) = c.get(&format!("/api/resource-servers/{rs}/tools")).await;
    assert!(tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["state"] == "public"));
    c.stop().await;
}

async fn deleting_a_scope_in_use_is_refused_with_the_reason(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c
        .create_rs(
            "https://mcp.example.com/mcp",
            &["notes:read", "notes:write"],
        )
        .await;
    c.map(
        &rs,
        "list_notes",
        json!({"state": "mapped", "scopes": ["notes:read"]}),
    )
    .await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let resp = b
        .post(
            &format!("/servers/{rs}/scopes/delete"),
            &[("csrf", csrf.as_str()), ("scope", "notes:read")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::CONFLICT);
    assert!(
        resp.body
            .contains("Not deleted: scope &quot;notes:read&quot; is in use by tools [list_notes]"),
        "{}",
        resp.body
    );
    c.stop().await;
}

async fn the_simulator_shows_the_sdk_answer_for_every_tool(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c
        .create_rs(
            "https://mcp.example.com/mcp",
            &["notes:read", "notes:write"],
        )
        .await;
    c.manifest(
        &rs,
        &secret,
        json!([{ "name": "list_notes" }, { "name": "add_note" }, { "name": "purge" }]),
    )
    .await;
    c.map(
        &rs,
        "list_notes",
        json!({"state": "mapped", "scopes": ["notes:read"]}),
    )
    .await;
    c.map(
        &rs,
        "add_note",
        json!({"state": "mapped", "scopes": ["notes:write"]}),
    )
    .await;
    let (client, _) = c.create_client(&rs, &["notes:read"]).await;
    let mut b = Browser::new(&c);
    b.sign_in().await;
    let page = b
        .get(&format!(
            "/servers/{rs}/simulator?client={client}&protocol=2025-11-25"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(body.contains("data-tool=\"list_notes\" data-status=\"200\" data-reason=\"allowed\""));
    assert!(body
        .contains("data-tool=\"add_note\" data-status=\"403\" data-reason=\"insufficient_scope\""));
    assert!(body.contains("data-tool=\"purge\" data-status=\"403\" data-reason=\"tool_unmapped\""));
    // The 2025 era names the required and the granted scopes.
    assert!(
        body.contains("scope=&quot;notes:write notes:read&quot;"),
        "{body}"
    );
    let now = b
        .get(&format!("/servers/{rs}/simulator?scopes=notes:write"))
        .await;
    assert!(now
        .body
        .contains("data-tool=\"add_note\" data-status=\"200\" data-reason=\"allowed\""));
    c.stop().await;
}

async fn a_disabled_client_gets_no_token_and_its_tokens_are_inactive(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, rs_secret) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    let (client, secret) = c.create_client(&rs, &["notes:read"]).await;
    let token = c.token((&client, &secret), &[]).await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let resp = b
        .post(
            &format!("/servers/{rs}/clients/{client}/enabled"),
            &[("csrf", csrf.as_str()), ("enabled", "false")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let (_, got) = c
        .get(&format!("/api/resource-servers/{rs}/clients/{client}"))
        .await;
    assert_eq!(got["enabled"], false);
    let (status, _, body) = c
        .oauth(
            "/oauth/token",
            Some((&client, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    let (_, _, intro) = c
        .oauth(
            "/oauth/introspect",
            Some((&rs, &rs_secret)),
            &[("token", &token)],
        )
        .await;
    assert_eq!(intro, json!({ "active": false }));
    c.stop().await;
}

async fn settings_are_saved_and_a_resource_server_is_deleted_only_when_confirmed(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    c.create_rs("https://other.example.com/mcp", &["x"]).await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let settings = format!("/servers/{rs}/settings");
    let taken = b
        .post(
            &settings,
            &[
                ("csrf", csrf.as_str()),
                ("name", "renamed"),
                ("resource_uri", "https://other.example.com/mcp"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(
        taken.body.contains("is already registered to"),
        "{}",
        taken.body
    );
    assert_eq!(taken.body.matches("id=\"set-name\"").count(), 1);
    let ok = b
        .post(
            &settings,
            &[
                ("csrf", csrf.as_str()),
                ("name", "renamed"),
                ("resource_uri", "https://mcp.example.com/mcp"),
                ("auto_apply_suggestions", "true"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (_, got) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(got["name"], "renamed");
    assert_eq!(got["auto_apply_suggestions"], true);

    let delete = format!("/servers/{rs}/delete");
    let unconfirmed = b.post(&delete, &[("csrf", csrf.as_str())]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    let (status, _) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(status, StatusCode::OK);
    let deleted = b
        .post(
            &delete,
            &[("csrf", csrf.as_str()), ("confirm", rs.as_str())],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/?done=deleted");
    let (status, _) = c.get(&format!("/api/resource-servers/{rs}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    c.stop().await;
}

async fn signing_keys_rotate_and_retire_but_the_last_one_stays(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let page = b.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    let (_, keys) = c.get("/api/signing-keys").await;
    let first = keys["signing_keys"][0]["kid"].as_str().unwrap().to_owned();
    let only = b
        .post(
            &format!("/console/signing-keys/{first}/retire"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(only.status, StatusCode::CONFLICT);
    assert!(
        only.body.contains("is the only active key"),
        "{}",
        only.body
    );
    let rotated = b
        .post("/console/signing-keys", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(rotated.status, StatusCode::SEE_OTHER);
    let page = b.get("/console").await;
    assert_eq!(
        page.body.matches("in the JWKS, signs from").count(),
        1,
        "the new key is published, the first one still signs: {}",
        page.body
    );
    assert_eq!(page.body.matches(">signs</span>").count(), 1);
    let retired = b
        .post(
            &format!("/console/signing-keys/{first}/retire"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(retired.status, StatusCode::SEE_OTHER);
    let (_, keys) = c.get("/api/signing-keys").await;
    let keys = keys["signing_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .any(|k| k["kid"] == first.as_str() && k["retired_at"].is_i64()));
    c.stop().await;
}

async fn rotating_the_admin_token_shows_it_once_and_signs_every_browser_out(db: &TestDb) {
    let opts = Options {
        admin_token: None,
        ..Options::default()
    };
    let c = TestConsole::start_with(db, opts).await;
    let old = c.initial_admin_token.clone().expect("a stored admin token");
    let mut b = Browser::new(&c);
    let resp = b.sign_in_with(&old).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    let csrf = b.get("/console").await.csrf();
    let shown = b
        .post("/console/admin-token", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    let at = shown.body.find("id=\"admin-token-value\">").unwrap();
    let new = shown.body[at + "id=\"admin-token-value\">".len()..]
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(new.starts_with("asa_") && new != old);
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER, "signed out");
    let mut again = Browser::new(&c);
    assert_eq!(
        again.sign_in_with(&old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(again.sign_in_with(&new).await.status, StatusCode::SEE_OTHER);
    c.stop().await;
}

async fn the_audit_log_filters_by_action_family_and_actor(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    c.manifest(&rs, &secret, json!([{ "name": "list_notes" }]))
        .await;
    c.map(&rs, "list_notes", json!({"state": "public"})).await;
    let mut b = Browser::new(&c);
    b.sign_in().await;
    let mappings = b.get("/audit?action=mapping.").await;
    assert!(mappings.body.contains("<code>mapping.set</code>"));
    assert!(!mappings.body.contains("<code>manifest.applied</code>"));
    assert!(!mappings
        .body
        .contains("<code>resource_server.created</code>"));
    let by_rs = b.get(&format!("/audit?actor=resource_server%3A{rs}")).await;
    assert!(by_rs.body.contains("<code>manifest.applied</code>"));
    assert!(!by_rs.body.contains("<code>mapping.set</code>"));
    // `_` is not a wildcard.
    let none = b.get("/audit?action=mapping_").await;
    assert!(none.body.contains("No entry matches."));
    c.stop().await;
}

async fn a_private_key_jwt_client_is_created_from_the_clients_tab(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    let (key, _) = authsec_proto::jws::SigningKey::generate().unwrap();
    let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let path = format!("/servers/{rs}/clients");
    let bad = b
        .post(
            &path,
            &[
                ("csrf", csrf.as_str()),
                ("name", "keyed <agent>"),
                ("allowed_scopes", "notes:read"),
                ("auth", "jwks"),
                ("jwks", "{\"keys\": ["),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains(
            "Not saved: jwks: is not JSON (EOF while parsing a list at line 1 column 10)"
        ),
        "{}",
        bad.body
    );
    // What was typed is kept, escaped.
    assert!(
        bad.body.contains("value=\"keyed &lt;agent&gt;\""),
        "{}",
        bad.body
    );
    assert!(bad
        .body
        .contains("id=\"auth-jwks\" name=\"auth\" value=\"jwks\" checked"));
    let created = b
        .post(
            &path,
            &[
                ("csrf", csrf.as_str()),
                ("name", "keyed agent"),
                ("allowed_scopes", "notes:read"),
                ("auth", "jwks"),
                ("jwks", jwks.as_str()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(
        created.location(),
        format!("/servers/{rs}/clients?done=key_client_created")
    );
    let (_, list) = c.get(&format!("/api/resource-servers/{rs}/clients")).await;
    let client = &list["clients"][0];
    assert_eq!(client["auth_method"], "private_key_jwt");
    assert_eq!(client["jwks"]["keys"][0]["kid"], key.kid());
    let page = b.get(created.location()).await;
    assert!(page
        .body
        .contains("private key (<code>private_key_jwt</code>), 1 registered key(s)"));
    assert!(!page.body.contains("Rotate secret"), "{}", page.body);
    c.stop().await;
}

async fn the_prompts_tab_lists_unmapped_first_and_maps_one_with_a_click(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    let (status, _) = c
        .manifest(
            &rs,
            &secret,
            json!({"prompts": [
                {"name": "summarize_notes", "suggested_scopes": ["notes:read"]},
                {"name": "<img src=x onerror=alert(1)>", "description": "<b>bold</b>"}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    c.put(
        &format!(
            "/api/resource-servers/{rs}/prompts/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E/mapping"
        ),
        json!({"state": "public"}),
    )
    .await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let page = b.get(&format!("/servers/{rs}/prompts")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("2 prompts. <strong class=\"warn-text\">1 unmapped"));
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert!(!page.body.contains("<b>bold"));
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    let unmapped_row = page.body.find("summarize_notes").unwrap();
    let public_row = page.body.find("&lt;img src=x").unwrap();
    assert!(unmapped_row < public_row, "unmapped first");
    assert!(page
        .body
        .contains("<option value=\"notes:read\" selected>notes:read</option>"));

    let map = format!("/servers/{rs}/prompts/map");
    let form = [
        ("key", "summarize_notes"),
        ("state", "mapped"),
        ("scopes", "notes:read"),
    ];
    let refused = b.post(&map, &form).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF token");
    let mut with_csrf = form.to_vec();
    with_csrf.push(("csrf", csrf.as_str()));
    let resp = b.post(&map, &with_csrf).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(
        resp.location(),
        format!("/servers/{rs}/prompts?done=mapped")
    );
    let (_, prompt) = c
        .get(&format!(
            "/api/resource-servers/{rs}/prompts/summarize_notes"
        ))
        .await;
    assert_eq!(prompt["state"], "mapped");
    assert_eq!(prompt["mapping"]["scopes"], json!(["notes:read"]));
    assert_eq!(c.audit(Some(&rs)).await[0]["action"], "prompt_mapping.set");

    let resp = b
        .post(
            &format!("/servers/{rs}/prompts/clear"),
            &[("key", "summarize_notes"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(
        resp.location(),
        format!("/servers/{rs}/prompts?done=cleared")
    );
    let (_, prompt) = c
        .get(&format!(
            "/api/resource-servers/{rs}/prompts/summarize_notes"
        ))
        .await;
    assert_eq!(prompt["state"], "unmapped");
    c.stop().await;
}

async fn the_resources_tab_maps_a_uri_template_and_refuses_an_ambiguous_one(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, _) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    let mut b = Browser::new(&c);
    let csrf = b.sign_in().await;
    let map = format!("/servers/{rs}/resources/map");
    let refused = b
        .post(
            &map,
            &[
                ("key", "notes://{a}-{b}"),
                ("state", "public"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("Not saved: uri: template &quot;notes://{a}-{b}&quot;"),
        "{}",
        refused.body
    );
    let resp = b
        .post(
            &map,
            &[
                ("key", "notes://note/{id}"),
                ("state", "mapped"),
                ("scopes", "notes:read"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let page = b.get(&format!("/servers/{rs}/resources")).await;
    assert!(page
        .body
        .contains("<code class=\"tool-name\">notes://note/{id}</code>"));
    assert!(page.body.contains("never published"));
    let (_, policy) = c
        .get(&format!("/api/resource-servers/{rs}/sdk-policy"))
        .await;
    assert_eq!(
        policy["resource_policy"],
        json!([{"uri": "notes://note/{id}", "is_public": false,
                "required_scopes": ["notes:read"], "scope_match": "any"}])
    );
    c.stop().await;
}

async fn the_simulator_decides_prompts_and_resources_too(db: &TestDb) {
    let c = TestConsole::start(db).await;
    let (rs, secret) = c
        .create_rs("https://mcp.example.com/mcp", &["notes:read"])
        .await;
    c.manifest(
        &rs,
        &secret,
        json!({"prompts": [{"name": "summarize_notes"}, {"name": "draft"}],
               "resources": [{"uri": "notes://all"}, {"uri": "notes://note/{id}"}]}),
    )
    .await;
    let mapped = json!({"state": "mapped", "scopes": ["notes:read"]});
    c.put(
        &format!("/api/resource-servers/{rs}/prompts/summarize_notes/mapping"),
        mapped.clone(),
    )
    .await;
    c.put(
        &format!("/api/resource-servers/{rs}/resources/notes%3A%2F%2Fnote%2F%7Bid%7D/mapping"),
        mapped,
    )
    .await;
    let mut b = Browser::new(&c);
    b.sign_in().await;
    let page = b
        .get(&format!("/servers/{rs}/simulator?scopes=notes:read"))
        .await;
    let body = &page.body;
    for row in [
        "data-prompt=\"summarize_notes\" data-status=\"200\" data-reason=\"allowed\"",
        "data-prompt=\"draft\" data-status=\"403\" data-reason=\"prompt_unmapped\"",
        "data-resource=\"notes://all\" data-status=\"403\" data-reason=\"resource_unmapped\"",
        "data-resource=\"notes://note/{id}\" data-status=\"200\" data-reason=\"allowed\"",
    ] {
        assert!(body.contains(row), "{row}: {body}");
    }
    let none = b.get(&format!("/servers/{rs}/simulator?scopes=")).await;
    assert!(none.body.contains(
        "data-prompt=\"summarize_notes\" data-status=\"403\" data-reason=\"insufficient_scope\""
    ));
    c.stop().await;
}

backend_tests!(
    the_simulator_decides_prompts_and_resources_too,
    the_prompts_tab_lists_unmapped_first_and_maps_one_with_a_click,
    the_resources_tab_maps_a_uri_template_and_refuses_an_ambiguous_one,
    a_private_key_jwt_client_is_created_from_the_clients_tab,
    the_audit_log_filters_by_action_family_and_actor,
    signing_keys_rotate_and_retire_but_the_last_one_stays,
    rotating_the_admin_token_shows_it_once_and_signs_every_browser_out,
    settings_are_saved_and_a_resource_server_is_deleted_only_when_confirmed,
    signing_in_with_the_admin_token_sets_a_strict_http_only_session_cookie,
    a_wrong_admin_token_is_refused_without_a_session,
    the_sign_in_form_without_its_bound_cookie_is_refused,
    a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing,
    a_session_is_refused_after_sign_out,
    a_session_is_refused_after_it_expires,
    a_sign_in_link_works_once,
    tool_names_and_descriptions_from_a_manifest_are_shown_as_text,
    the_one_click_map_form_sets_the_mapping_through_the_admin_rules,
    deleting_a_scope_in_use_is_refused_with_the_reason,
    the_simulator_shows_the_sdk_answer_for_every_tool,
    a_disabled_client_gets_no_token_and_its_tokens_are_inactive,
);
