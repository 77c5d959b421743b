//! Resource servers: the list (the console's home page), creation, the overview with its launch
//! checklist and SDK status, enable/disable, credential rotation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::html::{ago, datetime, html, url_component, Html};
use super::layout::{csrf_field, state_badge, tab_href, Notice, Page, Tab};
use super::{see_other, Post, SignedIn, WebResult};
use crate::auth::Actor;
use crate::error::Error;
use crate::model::{self, ReadinessReason, ResourceServer, ResourceServerRow};
use crate::state::{AppState, SdkStatus};
use crate::store::{NewResourceServer, NewScope, ResourceServerPatch};

#[derive(Deserialize)]
pub(crate) struct DoneQuery {
    pub(crate) done: Option<String>,
}

/// The fixed message of a `?done=` key (never text from the URL).
pub(crate) fn done_notice(done: Option<&str>) -> Option<Notice> {
    let text = match done? {
        "enabled" => "Enabled: the SDK enforces the policy again.",
        "saved" => "Settings saved.",
        "key_rotated" => {
            "A new signing key signs from now on; the previous ones stay in the JWKS until retired."
        }
        "key_retired" => {
            "The key was retired: it left the JWKS and its tokens are no longer active."
        }
        "deleted" => "The resource server was deleted.",
        "disabled" => "Disabled: the SDK now denies every tool of this resource server.",
        "mapped" => "Saved. Running SDKs that wait for changes enforce it within milliseconds.",
        "cleared" => "The admin decision was removed.",
        "forgotten" => "The tool was forgotten (inventory entry and decision).",
        "scope_created" => "Scope defined.",
        "scope_updated" => "Description saved.",
        "scope_deleted" => "Scope deleted.",
        "client_updated" => "Client saved.",
        "key_client_created" => {
            "Client created: it authenticates with assertions signed by its private key (private_key_jwt)."
        }
        "client_deleted" => "Client deleted: its tokens are no longer active.",
        _ => return None,
    };
    Some(Notice::Done(text.to_owned()))
}

/// SDK status in a few words: when it last fetched, and whether it holds the current generation.
fn sdk_summary(h: &mut Html, rs: &ResourceServer, sdk: &SdkStatus, now: i64) {
    match (sdk.last_fetch_at, sdk.generation) {
        (Some(at), Some(g)) => {
            html!(*h, "<time datetime=\"" {at} "\" title=\"" {datetime(at)} "\">" {ago(at, now)} "</time>");
            if g == rs.generation {
                html!(*h, ", holds generation " {g} " <span class=\"badge ok\">current</span>");
            } else {
                html!(*h, ", holds generation " {g} " <span class=\"badge warn\">behind (" {rs.generation} ")</span>");
            }
        }
        _ => {
            h.raw("<span class=\"muted\">never</span>");
        }
    }
    if sdk.waiting > 0 {
        html!(*h, " · <span class=\"badge ok\">waiting for changes</span>");
    }
}

fn manifest_summary(h: &mut Html, rs: &ResourceServer, now: i64) {
    match rs.last_manifest_at {
        Some(at) => {
            html!(*h, "<time datetime=\"" {at} "\" title=\"" {datetime(at)} "\">" {ago(at, now)} "</time>")
        }
        None => {
            h.raw("<span class=\"muted\">never</span>");
        }
    }
}

/// `GET /`: every resource server, and the form to create one.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: SignedIn,
    Query(q): Query<DoneQuery>,
) -> WebResult {
    let servers = state.store().list_resource_servers().await?;
    let mut page = Page::new("Resource servers", Some(&session.csrf));
    page.notice = done_notice(q.done.as_deref());
    render_list(&state, &mut page, &servers, &NewServerForm::default());
    Ok(page.render())
}

#[derive(Default)]
struct NewServerForm {
    name: String,
    resource_uri: String,
    scopes: String,
    auto_apply: bool,
}

fn render_list(
    state: &AppState,
    page: &mut Page<'_>,
    servers: &[ResourceServer],
    f: &NewServerForm,
) {
    let now = state.store().now();
    let o = &mut page.main;
    if servers.is_empty() {
        o.raw("<p>No resource server yet. Create one below: each protected MCP server is one resource server.</p>");
    } else {
        o.raw("<table class=\"list\"><caption class=\"sr\">Resource servers</caption><thead><tr>\
               <th scope=\"col\">Name</th><th scope=\"col\">Id</th><th scope=\"col\">Resource URI</th>\
               <th scope=\"col\">Generation</th><th scope=\"col\">State</th><th scope=\"col\">Tools</th>\
               <th scope=\"col\">SDK last fetched</th><th scope=\"col\">Manifest published</th></tr></thead><tbody>");
        for rs in servers {
            let c = rs.tool_counts;
            html!(*o, "<tr><td><a href=\"" [tab_href(rs, Tab::Overview)] "\">" {rs.name} "</a></td>"
                "<td><code>" {rs.id} "</code></td><td><code>" {rs.resource_uri} "</code></td>"
                "<td>" {rs.generation} "</td><td>" [state_badge(rs)] "</td>"
                "<td>" {c.mapped} " mapped, " {c.public} " public, ");
            if c.unmapped > 0 {
                html!(*o, "<a class=\"warn-text\" href=\"" [tab_href(rs, Tab::Tools)] "?state=unmapped\">" {c.unmapped} " unmapped</a>");
            } else {
                o.raw("0 unmapped");
            }
            o.raw("</td><td>");
            sdk_summary(o, rs, &state.sdk_status(&rs.id), now);
            o.raw("</td><td>");
            manifest_summary(o, rs, now);
            o.raw("</td></tr>");
        }
        o.raw("</tbody></table>");
    }
    html!(*o, "<section aria-labelledby=\"new-rs\" class=\"card\"><h2 id=\"new-rs\">New resource server</h2>"
        "<form method=\"post\" action=\"/servers\">" [csrf_field(page.csrf.unwrap_or(""))]
        "<p><label for=\"rs-name\">Name</label><input id=\"rs-name\" name=\"name\" required maxlength=\"200\" value=\"" {f.name} "\"></p>"
        "<p><label for=\"rs-uri\">Resource URI</label><input id=\"rs-uri\" name=\"resource_uri\" type=\"url\" required "
        "placeholder=\"https://mcp.example.com/mcp\" aria-describedby=\"rs-uri-help\" value=\"" {f.resource_uri} "\">"
        "<span id=\"rs-uri-help\" class=\"help\">The MCP endpoint's public URL: the <code>aud</code> of its tokens (<code>AUTHSEC_RESOURCE_URI</code>).</span></p>"
        "<p><label for=\"rs-scopes\">Scopes (optional)</label><textarea id=\"rs-scopes\" name=\"scopes\" rows=\"3\" "
        "aria-describedby=\"rs-scopes-help\">" {f.scopes} "</textarea>"
        "<span id=\"rs-scopes-help\" class=\"help\">One per line or separated by spaces, e.g. <code>notes:read notes:write</code>. You can add more later.</span></p>"
        "<p class=\"check\"><input id=\"rs-auto\" type=\"checkbox\" name=\"auto_apply_suggestions\" value=\"true\"");
    if f.auto_apply {
        o.raw(" checked");
    }
    o.raw("><label for=\"rs-auto\">Apply the scopes a manifest suggests to tools no admin has decided on</label></p>\
           <p><button type=\"submit\">Create resource server</button></p></form></section>");
}

/// `POST /servers`: creates a resource server and shows its credentials, once.
pub(crate) async fn create(State(state): State<AppState>, post: Post) -> WebResult {
    let f = NewServerForm {
        name: post.form.text("name"),
        resource_uri: post.form.text("resource_uri"),
        scopes: post.form.text("scopes"),
        auto_apply: post.form.one("auto_apply_suggestions") == Some("true"),
    };
    let new = NewResourceServer {
        name: f.name.clone(),
        resource_uri: f.resource_uri.clone(),
        scopes: f
            .scopes
            .split_whitespace()
            .map(|s| NewScope {
                name: s.to_owned(),
                description: String::new(),
            })
            .collect(),
        auto_apply_suggestions: f.auto_apply,
    };
    let csrf = post.session.csrf.as_str();
    match state
        .store()
        .create_resource_server(&Actor::Admin, new)
        .await
    {
        Ok((rs, secret)) => {
            let mut page = Page::new("Resource server created", Some(csrf));
            page.notice = Some(Notice::Done(format!(
                "{} was created. Copy its secret now: it is shown only this once.",
                rs.name
            )));
            credentials_block(&mut page.main, &state, &rs, &secret);
            html!(page.main, "<p><a class=\"button\" href=\"" [tab_href(&rs, Tab::Overview)] "\">Continue to " {rs.name} "</a></p>");
            Ok(page.render())
        }
        Err(e @ (Error::InvalidInput { .. } | Error::ResourceUriTaken { .. })) => {
            let servers = state.store().list_resource_servers().await?;
            let mut page = Page::new("Resource servers", Some(csrf));
            page.notice = Some(Notice::Error(format!("Not created: {e}")));
            render_list(&state, &mut page, &servers, &f);
            Ok(page.render_status(StatusCode::BAD_REQUEST))
        }
        Err(e) => Err(e.into()),
    }
}

/// The credentials and the SDK's environment, shown once.
fn credentials_block(o: &mut Html, state: &AppState, rs: &ResourceServer, secret: &str) {
    let console = state.issuer();
    html!(*o, "<section class=\"card secret\" aria-labelledby=\"creds\"><h2 id=\"creds\">Credentials</h2>"
        "<dl class=\"pairs\"><dt>Client id</dt><dd><code id=\"rs-client-id\">" {rs.client_id} "</code></dd>"
        "<dt>Client secret</dt><dd><code id=\"rs-client-secret\">" {secret} "</code> "
        "<button type=\"button\" class=\"copy\" data-copy=\"rs-client-secret\">Copy</button></dd></dl>"
        "<p>The SDK uses them to fetch the policy and publish its manifest (and to introspect tokens). "
        "Set these on the MCP server:</p><pre id=\"rs-env\">"
        "AUTHSEC_ISSUER=" {console} "\n"
        "AUTHSEC_RESOURCE_URI=" {rs.resource_uri} "\n"
        "AUTHSEC_RESOURCE_SERVER_ID=" {rs.id} "\n"
        "AUTHSEC_CONSOLE_URL=" {console} "\n"
        "AUTHSEC_INTROSPECTION_CLIENT_ID=" {rs.client_id} "\n"
        "AUTHSEC_INTROSPECTION_CLIENT_SECRET=" {secret} "\n"
        "AUTHSEC_POLICY_MODE=remote_required\n"
        "AUTHSEC_PUBLISH_MANIFEST=true</pre>"
        "<button type=\"button\" class=\"copy\" data-copy=\"rs-env\">Copy</button>"
        "<p class=\"help\"><code>AUTHSEC_ISSUER</code> is this console when its token service issues the tokens; "
        "otherwise your authorization server.</p></section>");
}

/// One launch checklist item.
struct Check {
    met: bool,
    label: &'static str,
    fix: Html,
}

fn checklist(
    rs: &ResourceServer,
    row: &ResourceServerRow,
    sdk: &SdkStatus,
    csrf: &str,
) -> Vec<Check> {
    let mut out = Vec::new();
    for (reason, met) in model::readiness_checks(row, rs.scopes.len(), rs.entry_counts()) {
        let mut fix = Html::default();
        let label = match reason {
            ReadinessReason::RsDisabled => {
                html!(fix, "<form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/enabled\" class=\"inline\">"
                    [csrf_field(csrf)] "<input type=\"hidden\" name=\"enabled\" value=\"true\">"
                    "<button type=\"submit\">Enable it</button></form>");
                "The resource server is enabled"
            }
            ReadinessReason::RsNeedsSetup => {
                html!(fix, "<a href=\"" [tab_href(rs, Tab::Scopes)] "\">Define a scope</a>");
                "At least one scope is defined"
            }
            ReadinessReason::NoToolsMapped => {
                html!(fix, "<a href=\"" [tab_href(rs, Tab::Tools)] "?state=unmapped\">Map a tool, or make one public</a>");
                "At least one tool, prompt or resource is mapped or public"
            }
        };
        if !met {
            html!(fix, " <span class=\"help\">(<code>" {reason.as_str()} "</code>: " {reason.description()} ")</span>");
        }
        out.push(Check { met, label, fix });
    }
    let mut fix = Html::default();
    fix.raw("Start the MCP server with <code>AUTHSEC_PUBLISH_MANIFEST=true</code>: its tools then appear here (unmapped until you map them).");
    out.push(Check {
        met: rs.last_manifest_at.is_some(),
        label: "The MCP server published its tool manifest",
        fix,
    });
    let mut fix = Html::default();
    html!(fix, "Set <code>AUTHSEC_POLICY_MODE=remote_required</code>, <code>AUTHSEC_RESOURCE_SERVER_ID=" {rs.id}
        "</code>, <code>AUTHSEC_CONSOLE_URL</code> and the credentials (<code>AUTHSEC_INTROSPECTION_CLIENT_ID</code> / <code>_SECRET</code>) on the MCP server; "
        "a lost secret can be rotated below.");
    out.push(Check {
        met: sdk.generation == Some(rs.generation),
        label: "An SDK holds the current policy",
        fix,
    });
    let mut fix = Html::default();
    html!(fix, "<a href=\"" [tab_href(rs, Tab::Tools)] "?state=unmapped\">Review the " {rs.tool_counts.unmapped} " unmapped tools</a> (each is denied to everyone until mapped).");
    out.push(Check {
        met: rs.tool_counts.unmapped == 0,
        label: "No tool is left unmapped",
        fix,
    });
    out
}

/// `GET /servers/{id}`: details, launch checklist, SDK status.
pub(crate) async fn overview(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> WebResult {
    let rs = state.store().resource_server(&id).await?;
    let row = state.store().resource_server_row(&id).await?;
    let mut page = Page::new("Overview", Some(&session.csrf));
    page.server = Some((&rs, Tab::Overview));
    page.notice = done_notice(q.done.as_deref());
    render_overview(
        &state,
        &mut page.main,
        &rs,
        &row,
        &session.csrf,
        &SettingsForm::of(&rs),
    );
    Ok(page.render())
}

fn render_overview(
    state: &AppState,
    o: &mut Html,
    rs: &ResourceServer,
    row: &ResourceServerRow,
    csrf: &str,
    settings: &SettingsForm,
) {
    let now = state.store().now();
    let sdk = state.sdk_status(&rs.id);
    let checks = checklist(rs, row, &sdk, csrf);
    let done = checks.iter().filter(|c| c.met).count();
    html!(*o, "<section aria-labelledby=\"checklist\" class=\"card\"><h2 id=\"checklist\">Launch checklist</h2>"
        "<p>" {done} " of " {checks.len()} " done. ");
    if rs.readiness.policy_complete {
        o.raw("The policy is complete: the SDK decides each tool by its rule.</p>");
    } else {
        o.raw("<strong>The policy is incomplete: the SDK denies every tool</strong> until the first three items are done.</p>");
    }
    o.raw("<ol class=\"checklist\">");
    for c in &checks {
        if c.met {
            html!(*o, "<li class=\"met\"><span class=\"mark\" aria-hidden=\"true\">✓</span> <span class=\"sr\">Done: </span>" {c.label} "</li>");
        } else {
            html!(*o, "<li class=\"unmet\"><span class=\"mark\" aria-hidden=\"true\">✗</span> <span class=\"sr\">To do: </span>" {c.label}
                "<div class=\"fix\">Fix: " [c.fix] "</div></li>");
        }
    }
    o.raw("</ol></section>");

    html!(*o, "<section aria-labelledby=\"sdk\" class=\"card\"><h2 id=\"sdk\">SDK status</h2><dl class=\"pairs\">"
        "<dt>Policy last fetched</dt><dd id=\"sdk-fetch\">");
    sdk_summary(o, rs, &sdk, now);
    html!(*o, "</dd><dt>Current generation</dt><dd>" {rs.generation} "</dd><dt>Manifest last published</dt><dd>");
    manifest_summary(o, rs, now);
    o.raw("</dd></dl><p class=\"help\">Fetches are those this console process answered (each console instance knows its own).</p></section>");

    html!(*o, "<section aria-labelledby=\"details\" class=\"card\"><h2 id=\"details\">Details</h2><dl class=\"pairs\">"
        "<dt>Id (client id of its credentials)</dt><dd><code>" {rs.id} "</code></dd>"
        "<dt>Resource URI</dt><dd><code>" {rs.resource_uri} "</code></dd>"
        "<dt>Scopes</dt><dd>" {rs.scopes.len()} " (<a href=\"" [tab_href(rs, Tab::Scopes)] "\">manage</a>)</dd>"
        "<dt>Tools</dt><dd>" {rs.tool_counts.mapped} " mapped, " {rs.tool_counts.public} " public, " {rs.tool_counts.unmapped} " unmapped</dd>"
        "<dt>Prompts</dt><dd>" {rs.prompt_counts.mapped} " mapped, " {rs.prompt_counts.public} " public, " {rs.prompt_counts.unmapped} " unmapped</dd>"
        "<dt>Resources</dt><dd>" {rs.resource_counts.mapped} " mapped, " {rs.resource_counts.public} " public, " {rs.resource_counts.unmapped} " unmapped</dd>"
        "<dt>Apply manifest suggestions</dt><dd>" {if rs.auto_apply_suggestions { "yes" } else { "no" }} "</dd>"
        "<dt>Created</dt><dd>" {datetime(rs.created_at)} "</dd><dt>Last change</dt><dd>" {datetime(rs.updated_at)} "</dd></dl>"
        "<div class=\"actions\"><form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/enabled\">" [csrf_field(csrf)]);
    if rs.enabled {
        o.raw("<input type=\"hidden\" name=\"enabled\" value=\"false\"><button type=\"submit\" class=\"danger\">Disable (deny every tool)</button>");
    } else {
        o.raw("<input type=\"hidden\" name=\"enabled\" value=\"true\"><button type=\"submit\">Enable</button>");
    }
    html!(*o, "</form><form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/secret\">" [csrf_field(csrf)]
        "<button type=\"submit\">Rotate the client secret</button></form></div></section>");
    render_settings(o, rs, csrf, settings);
}

/// The editable fields of a resource server, as typed.
pub(crate) struct SettingsForm {
    name: String,
    resource_uri: String,
    auto_apply: bool,
}

impl SettingsForm {
    fn of(rs: &ResourceServer) -> Self {
        SettingsForm {
            name: rs.name.clone(),
            resource_uri: rs.resource_uri.clone(),
            auto_apply: rs.auto_apply_suggestions,
        }
    }
}

fn render_settings(o: &mut Html, rs: &ResourceServer, csrf: &str, f: &SettingsForm) {
    let id = url_component(&rs.id).to_string();
    html!(*o, "<section aria-labelledby=\"settings\" class=\"card\"><h2 id=\"settings\">Settings</h2>"
        "<form method=\"post\" action=\"/servers/" {id} "/settings\">" [csrf_field(csrf)]
        "<p><label for=\"set-name\">Name</label><input id=\"set-name\" name=\"name\" required maxlength=\"200\" value=\"" {f.name} "\"></p>"
        "<p><label for=\"set-uri\">Resource URI</label><input id=\"set-uri\" name=\"resource_uri\" type=\"url\" required value=\"" {f.resource_uri}
        "\" aria-describedby=\"set-uri-help\"><span id=\"set-uri-help\" class=\"help\">Tokens already issued keep the old audience: change it together with the MCP server's <code>AUTHSEC_RESOURCE_URI</code>.</span></p>"
        "<p class=\"check\"><input id=\"set-auto\" type=\"checkbox\" name=\"auto_apply_suggestions\" value=\"true\"");
    if f.auto_apply {
        o.raw(" checked");
    }
    html!(*o, "><label for=\"set-auto\">Apply the scopes a manifest suggests to tools no admin has decided on</label></p>"
        "<p><button type=\"submit\">Save settings</button></p></form>"
        "<form method=\"post\" action=\"/servers/" {id} "/delete\" class=\"danger-zone\">" [csrf_field(csrf)]
        "<p class=\"check\"><input id=\"del-confirm\" type=\"checkbox\" name=\"confirm\" value=\"" {rs.id} "\" required>"
        "<label for=\"del-confirm\">Delete " {rs.name} " with its scopes, tools, mappings and clients (its SDKs then fail to fetch a policy)</label></p>"
        "<p><button type=\"submit\" class=\"danger\">Delete resource server</button></p></form></section>");
}

/// `POST /servers/{id}/settings`: name, resource URI, suggestions.
pub(crate) async fn settings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let f = SettingsForm {
        name: post.form.text("name"),
        resource_uri: post.form.text("resource_uri"),
        auto_apply: post.form.one("auto_apply_suggestions") == Some("true"),
    };
    let patch = ResourceServerPatch {
        name: Some(f.name.clone()),
        resource_uri: Some(f.resource_uri.clone()),
        auto_apply_suggestions: Some(f.auto_apply),
        ..ResourceServerPatch::default()
    };
    match state
        .store()
        .update_resource_server(&Actor::Admin, &id, patch)
        .await
    {
        Ok(_) => see_other(format!("/servers/{}?done=saved", url_component(&id))),
        Err(e @ (Error::InvalidInput { .. } | Error::ResourceUriTaken { .. })) => {
            let rs = state.store().resource_server(&id).await?;
            let row = state.store().resource_server_row(&id).await?;
            let csrf = post.session.csrf.as_str();
            let mut page = Page::new("Overview", Some(csrf));
            page.server = Some((&rs, Tab::Overview));
            page.notice = Some(Notice::Error(format!("Not saved: {e}")));
            render_overview(&state, &mut page.main, &rs, &row, csrf, &f);
            Ok(page.render_status(StatusCode::BAD_REQUEST))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /servers/{id}/delete`: needs the confirmation box, which carries the id.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    if post.form.one("confirm") != Some(id.as_str()) {
        return Err(super::WebError::BadRequest(
            "tick the confirmation box to delete a resource server".into(),
        ));
    }
    state
        .store()
        .delete_resource_server(&Actor::Admin, &id)
        .await?;
    see_other("/?done=deleted".to_owned())
}

/// `POST /servers/{id}/enabled`.
pub(crate) async fn set_enabled(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let enabled = post.form.one("enabled") == Some("true");
    let patch = ResourceServerPatch {
        enabled: Some(enabled),
        ..ResourceServerPatch::default()
    };
    state
        .store()
        .update_resource_server(&Actor::Admin, &id, patch)
        .await?;
    see_other(format!(
        "/servers/{}?done={}",
        url_component(&id),
        if enabled { "enabled" } else { "disabled" }
    ))
}

/// `POST /servers/{id}/secret`: a new client secret, shown once.
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let secret = state
        .store()
        .rotate_resource_server_secret(&Actor::Admin, &id)
        .await?;
    let rs = state.store().resource_server(&id).await?;
    let mut page = Page::new("New client secret", Some(&post.session.csrf));
    page.server = Some((&rs, Tab::Overview));
    page.notice = Some(Notice::Done(
        "The old secret no longer works. Copy the new one now: it is shown only this once.".into(),
    ));
    credentials_block(&mut page.main, &state, &rs, &secret);
    Ok(page.render())
}
