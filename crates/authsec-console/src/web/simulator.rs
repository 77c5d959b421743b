//! The access simulator: a client (or a set of scopes) against every tool, prompt and resource,
//! decided by the SDK's own code — the console's policy document goes through `authsec`'s
//! [`ConsolePolicy::try_from`], [`PolicyView::decide_target`] and [`challenge::render`],
//! exactly as a running SDK handles it — so each denial is the 403 the SDK would send. A
//! resource entry keyed by a URI template is decided for a URI spelled like the template
//! (`notes://note/{id}`), which that template matches.

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::Value;

use authsec::challenge::{self, ChallengeContext};
use authsec::config::{ChallengeScope, ACCUMULATING_PROTOCOL};
use authsec::policy::{ConsolePolicy, PolicyError, PolicyView, TargetKind};

use super::html::{html, url_component, Html};
use super::layout::{Page, Tab};
use super::{SignedIn, WebError, WebResult};
use crate::model::{Entry, ManifestEntry, SdkPolicyDocument, Tool};
use crate::oauth::granted_scope;
use crate::state::AppState;

/// The MCP revision before [`ACCUMULATING_PROTOCOL`] offered by the form.
const EARLIER_PROTOCOL: &str = "2025-11-25";

/// One tool's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The tool.
    pub tool: String,
    /// 200 when allowed; otherwise the denial's status.
    pub status: u16,
    /// `allowed`, or the denial's `reason` (`tool_unmapped`, `insufficient_scope`, …).
    pub reason: String,
    /// The denial's `WWW-Authenticate`.
    pub www_authenticate: Option<String>,
    /// The denial's JSON body.
    pub body: Option<Value>,
}

/// Decides every tool for a principal holding `granted`, as the SDK would with `policy`
/// (speaking MCP revision `protocol`, which sets the 403's `scope`). `Err` when the SDK would
/// refuse the policy document itself (it then keeps its previous policy).
pub fn simulate(
    policy: &SdkPolicyDocument,
    resource_uri: &str,
    tools: &[Tool],
    granted: &[String],
    protocol: &str,
) -> Result<Vec<Verdict>, PolicyError> {
    let targets: Vec<(TargetKind, &str)> = tools
        .iter()
        .map(|t| (TargetKind::Tool, t.name.as_str()))
        .collect();
    simulate_targets(policy, resource_uri, &targets, granted, protocol)
}

/// [`simulate`] for any targets: tools, prompts (by name) and resources (by URI).
pub fn simulate_targets(
    policy: &SdkPolicyDocument,
    resource_uri: &str,
    targets: &[(TargetKind, &str)],
    granted: &[String],
    protocol: &str,
) -> Result<Vec<Verdict>, PolicyError> {
    // The wire document (one type on both sides), checked by the SDK's own code.
    let console_policy = ConsolePolicy::try_from(policy.clone())?;
    let view = PolicyView::Console(&console_policy);
    let ctx = ChallengeContext {
        resource_metadata: authsec::metadata::metadata_url(resource_uri),
        scope: Vec::new(),
        challenge_scope: ChallengeScope::ByProtocol.for_protocol(Some(protocol)),
    };
    Ok(targets
        .iter()
        .map(
            |&(kind, name)| match view.decide_target(granted, kind, name) {
                Ok(()) => Verdict {
                    tool: name.to_owned(),
                    status: 200,
                    reason: "allowed".into(),
                    www_authenticate: None,
                    body: None,
                },
                Err(e) => {
                    let denial = challenge::render(&e, &ctx);
                    Verdict {
                        tool: name.to_owned(),
                        status: denial.status.as_u16(),
                        reason: e.reason().to_owned(),
                        www_authenticate: denial.www_authenticate,
                        body: Some(denial.body),
                    }
                }
            },
        )
        .collect())
}

/// The prompts and resources to simulate, by kind and key, with whether each is public.
fn entry_targets<M: ManifestEntry>(
    kind: TargetKind,
    entries: &[Entry<M>],
) -> Vec<(TargetKind, String, bool)> {
    entries
        .iter()
        .map(|e| {
            let public = e
                .mapping
                .as_ref()
                .is_some_and(|m| m.state == crate::model::ToolState::Public);
            (kind, e.key().to_owned(), public)
        })
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct SimQuery {
    client: Option<String>,
    scopes: Option<String>,
    protocol: Option<String>,
}

/// `GET /servers/{id}/simulator?client=&scopes=&protocol=`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<SimQuery>,
) -> WebResult {
    let rs = state.store().resource_server(&id).await?;
    let clients = state.store().list_clients(&id).await?;
    let client_id = q.client.as_deref().filter(|c| !c.is_empty());
    let typed = q.scopes.as_deref().unwrap_or("").trim().to_owned();
    let protocol = match q.protocol.as_deref() {
        Some(EARLIER_PROTOCOL) => EARLIER_PROTOCOL,
        _ => ACCUMULATING_PROTOCOL,
    };
    let client = match client_id {
        Some(c) => Some(
            clients
                .iter()
                .find(|x| x.client_id == c)
                .ok_or_else(|| WebError::BadRequest(format!("no client {c:?} on {id}")))?,
        ),
        None => None,
    };
    let mut page = Page::new("Access simulator", Some(&session.csrf));
    page.server = Some((&rs, Tab::Simulator));
    let o = &mut page.main;
    html!(*o, "<p>Which tools a caller may call, and the exact answer the SDK sends when it may not: "
        "decided by the SDK's own policy code on the console's current policy (generation " {rs.generation} "), "
        "for a token that is otherwise valid.</p>"
        "<form method=\"get\" class=\"card filters\" aria-label=\"Simulate\">"
        "<p><label for=\"sim-client\">Client</label><select id=\"sim-client\" name=\"client\">"
        "<option value=\"\">— none: use the scopes below —</option>");
    for c in &clients {
        html!(*o, "<option value=\"" {c.client_id} "\"");
        if Some(c.client_id.as_str()) == client_id {
            o.raw(" selected");
        }
        html!(*o, ">" {c.name} " (" {c.client_id} ")</option>");
    }
    html!(*o, "</select></p><p><label for=\"sim-scopes\">Scopes</label><input id=\"sim-scopes\" name=\"scopes\" value=\"" {typed}
        "\" aria-describedby=\"sim-scopes-help\"><span id=\"sim-scopes-help\" class=\"help\">Space-separated. "
        "With a client: the scopes its token requests (none: everything it is allowed). Without: the scopes the token carries.</span></p>"
        "<p><label for=\"sim-protocol\">MCP revision</label><select id=\"sim-protocol\" name=\"protocol\">");
    for (value, label) in [
        (
            ACCUMULATING_PROTOCOL,
            "2026-07-28 (a 403 names the tool's scopes)",
        ),
        (
            EARLIER_PROTOCOL,
            "2025-11-25 or earlier (a 403 names the tool's and the granted scopes)",
        ),
    ] {
        html!(*o, "<option value=\"" {value} "\"");
        if value == protocol {
            o.raw(" selected");
        }
        html!(*o, ">" {label} "</option>");
    }
    o.raw("</select></p><p><button type=\"submit\">Simulate</button></p></form>");

    if client.is_none() && q.scopes.is_none() {
        return Ok(page.render());
    }
    // The scopes the token would carry: the token service's own rule for a client.
    let granted: Result<Vec<String>, String> = match client {
        Some(c) => {
            let requested = (!typed.is_empty()).then_some(typed.as_str());
            granted_scope(requested, &c.allowed_scopes)
                .map(|s| s.split(' ').map(str::to_owned).collect())
                .map_err(|e| format!("the token service refuses this request ({})", e.explain()))
        }
        None => Ok(typed.split_whitespace().map(str::to_owned).collect()),
    };
    let granted = match granted {
        Ok(g) => g,
        Err(why) => {
            html!(*o, "<div class=\"notice error\" role=\"alert\">No token: " {why} "</div>");
            return Ok(page.render());
        }
    };
    if let Some(c) = client {
        if !c.enabled {
            html!(*o, "<div class=\"notice error\" role=\"alert\">" {c.name}
                " is disabled: the token service gives it no token, and its tokens introspect as inactive. Shown: what its token would be allowed if it were enabled.</div>");
        }
    }
    if !rs.enabled {
        o.raw("<div class=\"notice error\" role=\"alert\">The resource server is disabled: the token service issues no token for it, and the SDK denies every tool.</div>");
    }
    let policy = state.store().sdk_policy(&id).await?;
    let tools = state.store().list_tools(&id).await?;
    let verdicts = match simulate(&policy, &rs.resource_uri, &tools, &granted, protocol) {
        Ok(v) => v,
        Err(why) => {
            let why = why.to_string();
            html!(*o, "<div class=\"notice error\" role=\"alert\">The SDK would refuse this policy document and keep its previous one: " {why} "</div>");
            return Ok(page.render());
        }
    };
    let allowed = verdicts.iter().filter(|v| v.status == 200).count();
    html!(*o, "<section aria-labelledby=\"results\"><h2 id=\"results\">Result</h2>"
        "<p id=\"sim-summary\">Token scopes: <code>" {if granted.is_empty() { "(none)".to_owned() } else { granted.join(" ") }}
        "</code>. Allowed " {allowed} " of " {verdicts.len()} " tools.</p>"
        "<table class=\"list\" id=\"sim-results\"><caption class=\"sr\">Decision per tool</caption><thead><tr>"
        "<th scope=\"col\">Tool</th><th scope=\"col\">Decision</th><th scope=\"col\">Reason</th><th scope=\"col\">The SDK's answer</th></tr></thead><tbody>");
    for v in &verdicts {
        html!(*o, "<tr data-tool=\"" {v.tool} "\" data-status=\"" {v.status} "\" data-reason=\"" {v.reason} "\" class=\""
            {if v.status == 200 { "allowed" } else { "denied" }} "\"><th scope=\"row\"><a href=\"/servers/" {url_component(&rs.id)} "/tool?name=" {url_component(&v.tool)} "\"><code>" {v.tool} "</code></a></th><td>");
        if v.status == 200 {
            o.raw("<span class=\"badge ok\">allowed</span></td><td>");
            html!(*o, {allowed_reason(&tools, &v.tool)} "</td><td>200 (the tool runs)</td></tr>");
        } else {
            denial_cells(o, v);
        }
    }
    html!(*o, "</tbody></table>");

    // Prompts and resources, decided the same way.
    let prompts = state
        .store()
        .list_entries::<crate::model::ManifestPrompt>(&id)
        .await?;
    let resources = state
        .store()
        .list_entries::<crate::model::ManifestResource>(&id)
        .await?;
    let others: Vec<(TargetKind, String, bool)> = entry_targets(TargetKind::Prompt, &prompts)
        .into_iter()
        .chain(entry_targets(TargetKind::Resource, &resources))
        .collect();
    if !others.is_empty() {
        let targets: Vec<(TargetKind, &str)> =
            others.iter().map(|(k, n, _)| (*k, n.as_str())).collect();
        let verdicts = simulate_targets(&policy, &rs.resource_uri, &targets, &granted, protocol)
            .map_err(|e| WebError::BadRequest(e.to_string()))?;
        html!(*o, "<h3>Prompts and resources</h3><table class=\"list\" id=\"sim-entry-results\"><caption class=\"sr\">Decision per prompt and resource</caption><thead><tr>"
            "<th scope=\"col\">Prompt or resource</th><th scope=\"col\">Decision</th><th scope=\"col\">Reason</th><th scope=\"col\">The SDK's answer</th></tr></thead><tbody>");
        for (v, (kind, _, public)) in verdicts.iter().zip(&others) {
            html!(*o, "<tr data-" {kind.as_str()} "=\"" {v.tool} "\" data-status=\"" {v.status} "\" data-reason=\"" {v.reason} "\" class=\""
                {if v.status == 200 { "allowed" } else { "denied" }} "\"><th scope=\"row\">" {kind.as_str()} " <code>" {v.tool} "</code></th><td>");
            if v.status == 200 {
                html!(*o, "<span class=\"badge ok\">allowed</span></td><td>"
                    {if *public { "public" } else { "the token has the scopes" }} "</td><td>200</td></tr>");
            } else {
                denial_cells(o, v);
            }
        }
        o.raw("</tbody></table>");
    }
    let mut note = Html::default();
    html!(note, "<p class=\"help\">Assumes the SDK's default <code>AUTHSEC_CHALLENGE_SCOPE=by_protocol</code> and that it holds the current policy "
        "(see the <a href=\"/servers/" {url_component(&rs.id)} "\">SDK status</a>).</p>");
    html!(*o, [note] "</section>");
    Ok(page.render())
}

/// The cells of a denied row: badge, reason and the SDK's exact answer.
fn denial_cells(o: &mut Html, v: &Verdict) {
    html!(*o, "<span class=\"badge bad\">denied</span></td><td><code>" {v.reason} "</code><div class=\"why\">"
        {v.body.as_ref().and_then(|b| b["error_description"].as_str()).unwrap_or("")} "</div></td><td>"
        "<details><summary>HTTP " {v.status} "</summary>");
    if let Some(h) = &v.www_authenticate {
        html!(*o, "<p><code>WWW-Authenticate: " {h} "</code></p>");
    }
    if let Some(b) = &v.body {
        html!(*o, "<pre>" {serde_json::to_string_pretty(b).unwrap_or_default()} "</pre>");
    }
    o.raw("</details></td></tr>");
}

fn allowed_reason(tools: &[Tool], name: &str) -> &'static str {
    match tools
        .iter()
        .find(|t| t.name == name)
        .and_then(|t| t.mapping.as_ref())
    {
        Some(m) if m.state == crate::model::ToolState::Public => "public",
        _ => "the token has the scopes",
    }
}
