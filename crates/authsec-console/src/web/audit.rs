//! The audit log: who changed what and when, filterable by resource server, actor and action.

use axum::extract::{Query, State};
use serde::Deserialize;

use super::html::{datetime, html, url_component};
use super::layout::{Page, Tab};
use super::{SignedIn, WebResult};
use crate::state::AppState;
use crate::store::AuditFilter;

const PAGE_SIZE: i64 = 100;

/// Action families offered by the filter (a prefix matches every action of the family).
const ACTIONS: [(&str, &str); 10] = [
    ("resource_server.", "resource servers"),
    ("scope.", "scopes"),
    ("mapping.", "tool mappings"),
    ("manifest.", "manifests"),
    ("tool.", "tools forgotten"),
    ("client.", "clients"),
    ("signing_key.", "signing keys"),
    ("token.", "token revocations"),
    ("admin_token.", "admin token"),
    ("console.", "console sign-ins"),
];

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    resource_server_id: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    before: Option<i64>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `GET /audit?resource_server_id=&actor=&action=&before=`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Query(q): Query<AuditQuery>,
) -> WebResult {
    let filter = AuditFilter {
        resource_server_id: non_empty(q.resource_server_id),
        actor: non_empty(q.actor),
        action_prefix: non_empty(q.action),
    };
    let servers = state.store().list_resource_servers().await?;
    let entries = state
        .store()
        .audit_log_matching(&filter, q.before, PAGE_SIZE)
        .await?;
    let current = filter
        .resource_server_id
        .as_deref()
        .and_then(|id| servers.iter().find(|s| s.id == id));
    let mut page = Page::new("Audit log", Some(&session.csrf));
    if let Some(rs) = current {
        page.server = Some((rs, Tab::Audit));
    }
    let o = &mut page.main;
    o.raw("<form method=\"get\" action=\"/audit\" class=\"card filters\" aria-label=\"Filter the audit log\">\
           <p><label for=\"audit-rs\">Resource server</label><select id=\"audit-rs\" name=\"resource_server_id\">\
           <option value=\"\">all</option>");
    for s in &servers {
        html!(*o, "<option value=\"" {s.id} "\"");
        if filter.resource_server_id.as_deref() == Some(s.id.as_str()) {
            o.raw(" selected");
        }
        html!(*o, ">" {s.name} " (" {s.id} ")</option>");
    }
    html!(*o, "</select></p><p><label for=\"audit-actor\">Actor</label><input id=\"audit-actor\" name=\"actor\" value=\""
        {filter.actor.as_deref().unwrap_or("")} "\" placeholder=\"admin, resource_server:rs-…, client:cl-…\"></p>"
        "<p><label for=\"audit-action\">Action</label><select id=\"audit-action\" name=\"action\"><option value=\"\">all</option>");
    for (prefix, label) in ACTIONS {
        html!(*o, "<option value=\"" {prefix} "\"");
        if filter.action_prefix.as_deref() == Some(prefix) {
            o.raw(" selected");
        }
        html!(*o, ">" {label} "</option>");
    }
    o.raw("</select></p><p><button type=\"submit\">Filter</button></p></form>");
    if entries.is_empty() {
        o.raw("<p>No entry matches.</p>");
        return Ok(page.render());
    }
    o.raw("<table class=\"list\" id=\"audit\"><caption class=\"sr\">Audit entries, newest first</caption><thead><tr>\
           <th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">Action</th>\
           <th scope=\"col\">Resource server</th><th scope=\"col\">Object</th><th scope=\"col\">Change</th></tr></thead><tbody>");
    for e in &entries {
        html!(*o, "<tr><td><time datetime=\"" {e.at} "\">" {datetime(e.at)} "</time></td><td>" {e.actor} "</td>"
            "<td><code>" {e.action} "</code></td><td>");
        if let Some(rs) = &e.resource_server_id {
            html!(*o, "<a href=\"/servers/" {url_component(rs)} "\"><code>" {rs} "</code></a>");
        }
        html!(*o, "</td><td>" {e.target.as_deref().unwrap_or("")} "</td><td>");
        if e.before.is_some() || e.after.is_some() {
            o.raw("<details><summary>before / after</summary>");
            if let Some(b) = &e.before {
                html!(*o, "<p>Before</p><pre>" {serde_json::to_string_pretty(b).unwrap_or_default()} "</pre>");
            }
            if let Some(a) = &e.after {
                html!(*o, "<p>After</p><pre>" {serde_json::to_string_pretty(a).unwrap_or_default()} "</pre>");
            }
            o.raw("</details>");
        }
        o.raw("</td></tr>");
    }
    o.raw("</tbody></table>");
    if entries.len() as i64 == PAGE_SIZE {
        if let Some(last) = entries.last() {
            let mut href = format!("/audit?before={}", last.id);
            for (k, v) in [
                ("resource_server_id", &filter.resource_server_id),
                ("actor", &filter.actor),
                ("action", &filter.action_prefix),
            ] {
                if let Some(v) = v {
                    href.push_str(&format!("&{k}={}", url_component(v)));
                }
            }
            html!(*o, "<p><a href=\"" {href} "\">Older entries</a></p>");
        }
    }
    Ok(page.render())
}
