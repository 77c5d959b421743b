//! The Tools tab: every tool of the published inventory and every mapped tool, its rule, the
//! scopes its manifest suggests, when it was last seen; unmapped tools stand out with a
//! one-click form to map them; filter, search and bulk mapping; a page per tool.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::html::{ago, datetime, html, url_component, Html};
use super::layout::{csrf_field, tab_href, Notice, Page, Tab};
use super::servers::done_notice;
use super::{see_other, Post, SignedIn, WebError, WebResult};
use crate::auth::Actor;
use crate::error::Error;
use crate::model::{Mapping, MappingSource, ResourceServer, Scope, ScopeMatch, Tool, ToolState};
use crate::state::AppState;

/// The Tools tab's filters (`?q=&state=`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ToolsQuery {
    /// Search in names, titles and descriptions (case-insensitive).
    pub q: Option<String>,
    /// `unmapped`, `mapped` or `public`; anything else shows every tool.
    pub state: Option<String>,
    /// The fixed message after a change.
    pub done: Option<String>,
}

impl ToolsQuery {
    fn state_filter(&self) -> Option<ToolState> {
        self.state.as_deref().and_then(ToolState::parse)
    }

    fn search(&self) -> String {
        self.q.as_deref().unwrap_or("").trim().to_lowercase()
    }

    /// `?q=…&state=…` to come back to the same view.
    fn back(&self) -> String {
        let mut s = String::new();
        if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
            s.push_str(&format!("&q={}", url_component(q)));
        }
        if let Some(st) = self.state_filter() {
            s.push_str(&format!("&state={}", st.as_str()));
        }
        s
    }
}

fn matches(t: &Tool, search: &str, state: Option<ToolState>) -> bool {
    if state.is_some_and(|s| s != t.state) {
        return false;
    }
    if search.is_empty() {
        return true;
    }
    let has = |v: &str| v.to_lowercase().contains(search);
    has(&t.name) || t.title.as_deref().is_some_and(has) || t.description.as_deref().is_some_and(has)
}

/// The rule of a tool, prompt or resource (its effective mapping), in words.
pub(super) fn rule_cell(o: &mut Html, mapping: Option<&Mapping>) {
    let Some(m) = mapping else {
        o.raw("<span class=\"badge bad\">unmapped</span> <span class=\"why\">denied to everyone</span>");
        return;
    };
    match m.state {
        ToolState::Unmapped => {
            o.raw("<span class=\"badge bad\">unmapped</span> <span class=\"why\">denied to everyone (admin decision)</span>");
        }
        ToolState::Public => {
            o.raw(
                "<span class=\"badge ok\">public</span> <span class=\"why\">any valid token</span>",
            );
        }
        ToolState::Mapped => {
            o.raw(match m.scope_match {
                ScopeMatch::Any => "<span class=\"badge\">any of</span> ",
                ScopeMatch::All => "<span class=\"badge\">all of</span> ",
            });
            scope_list(o, &m.scopes);
            if m.source == MappingSource::Suggested {
                o.raw(" <span class=\"why\">(suggested by the manifest, applied automatically)</span>");
            }
        }
    }
}

/// When a tool, prompt or resource was last published, and whether the latest manifest has it.
pub(super) fn last_seen_cell(o: &mut Html, last_seen: Option<i64>, in_latest: bool, now: i64) {
    match last_seen {
        Some(at) => {
            html!(*o, "<time datetime=\"" {at} "\" title=\"" {datetime(at)} "\">" {ago(at, now)} "</time>");
            if !in_latest {
                o.raw(" <span class=\"why\">(not in the latest manifest)</span>");
            }
        }
        None => {
            o.raw("<span class=\"why\">never published</span>");
        }
    }
}

pub(super) fn scope_list(o: &mut Html, scopes: &[String]) {
    for (i, s) in scopes.iter().enumerate() {
        if i > 0 {
            o.raw(" ");
        }
        html!(*o, "<code class=\"scope\">" {s} "</code>");
    }
}

fn tool_href(rs: &ResourceServer, name: &str) -> Html {
    let mut h = Html::default();
    html!(h, "/servers/" {url_component(&rs.id)} "/tool?name=" {url_component(name)});
    h
}

/// Renders the Tools tab into `page` (pure: the benchmark renders 1,000 tools with it).
pub fn render_tools_page(
    page: &mut Page<'_>,
    rs: &ResourceServer,
    tools: &[Tool],
    scopes: &[Scope],
    q: &ToolsQuery,
    now: i64,
) {
    let csrf = page.csrf.unwrap_or("");
    let o = &mut page.main;
    let search = q.search();
    let state = q.state_filter();
    let shown: Vec<&Tool> = tools
        .iter()
        .filter(|t| matches(t, &search, state))
        .collect();
    let unmapped = tools
        .iter()
        .filter(|t| t.state == ToolState::Unmapped)
        .count();
    let map_action = {
        let mut h = Html::default();
        html!(h, "/servers/" {url_component(&rs.id)} "/tools/map");
        h
    };
    let back_fields = {
        let mut h = Html::default();
        if let Some(q) = q.q.as_deref().filter(|q| !q.is_empty()) {
            html!(h, "<input type=\"hidden\" name=\"back_q\" value=\"" {q} "\">");
        }
        if let Some(s) = state {
            html!(h, "<input type=\"hidden\" name=\"back_state\" value=\"" {s.as_str()} "\">");
        }
        h
    };

    // Filters (a GET form: bookmarkable, works without JavaScript).
    html!(*o, "<form method=\"get\" class=\"filters\" role=\"search\" aria-label=\"Filter tools\">"
        "<p><label for=\"tool-q\">Search</label><input id=\"tool-q\" name=\"q\" type=\"search\" value=\"" {q.q.as_deref().unwrap_or("")}
        "\" placeholder=\"name, title or description\" data-filter-rows=\"tool-rows\"></p>"
        "<p><label for=\"tool-state\">Show</label><select id=\"tool-state\" name=\"state\">");
    for (value, label) in [
        ("", "every tool"),
        ("unmapped", "unmapped (denied)"),
        ("mapped", "mapped"),
        ("public", "public"),
    ] {
        let selected = state.map_or("", ToolState::as_str) == value;
        html!(*o, "<option value=\"" {value} "\"");
        if selected {
            o.raw(" selected");
        }
        html!(*o, ">" {label} "</option>");
    }
    html!(*o, "</select></p><p><button type=\"submit\">Filter</button></p></form>"
        "<p class=\"summary\" id=\"tool-summary\">Showing " {shown.len()} " of " {tools.len()} " tools. ");
    if unmapped > 0 {
        html!(*o, "<strong class=\"warn-text\">" {unmapped} " unmapped: denied to everyone until mapped.</strong>");
    }
    o.raw("</p>");
    if scopes.is_empty() {
        html!(*o, "<p class=\"notice error\">No scope is defined yet, so no tool can be mapped. <a href=\""
            [tab_href(rs, Tab::Scopes)] "\">Define a scope</a> first (or make tools public).</p>");
    }

    // Bulk mapping: the rows' checkboxes belong to this form (form="bulk").
    html!(*o, "<form id=\"bulk\" method=\"post\" action=\"" [map_action] "\" class=\"bulk card\">" [csrf_field(csrf)] [back_fields]
        "<fieldset><legend>Change the selected tools</legend>"
        "<p><label for=\"bulk-state\">Rule</label><select id=\"bulk-state\" name=\"state\">"
        "<option value=\"mapped\">require scopes</option><option value=\"public\">public (any valid token)</option>"
        "<option value=\"unmapped\">unmapped (deny everyone)</option></select></p>"
        "<p><label for=\"bulk-match\">Scopes needed</label><select id=\"bulk-match\" name=\"scope_match\">"
        "<option value=\"any\">any one of</option><option value=\"all\">all of</option></select></p>"
        "<fieldset class=\"scopes\"><legend>Scopes</legend>");
    for (i, s) in scopes.iter().enumerate() {
        html!(*o, "<span class=\"check\"><input type=\"checkbox\" id=\"bulk-scope-" {i} "\" name=\"scopes\" value=\"" {s.name} "\">"
            "<label for=\"bulk-scope-" {i} "\">" {s.name} "</label></span>");
    }
    o.raw("</fieldset><p><button type=\"submit\">Apply to the selected tools</button></p></fieldset></form>");

    // The table.
    o.raw("<table class=\"list tools\"><caption class=\"sr\">Tools</caption><thead><tr>\
           <th scope=\"col\"><input type=\"checkbox\" id=\"select-all\" class=\"js-only\" data-select-all=\"tool-rows\" aria-label=\"Select every shown tool\"></th>\
           <th scope=\"col\">Tool</th><th scope=\"col\">Description</th><th scope=\"col\">Rule</th>\
           <th scope=\"col\">Suggested scopes</th><th scope=\"col\">Last seen</th><th scope=\"col\">Action</th></tr></thead>\
           <tbody id=\"tool-rows\">");
    for (i, t) in shown.iter().enumerate() {
        let unmapped = t.state == ToolState::Unmapped;
        let mut haystack = t.name.to_lowercase();
        for extra in [t.title.as_deref(), t.description.as_deref()]
            .into_iter()
            .flatten()
        {
            haystack.push(' ');
            haystack.push_str(&extra.to_lowercase());
        }
        html!(*o, "<tr class=\"" {if unmapped { "unmapped" } else { t.state.as_str() }} "\" data-search=\"" {haystack} "\">"
            "<td><input type=\"checkbox\" form=\"bulk\" name=\"tools\" value=\"" {t.name} "\" id=\"sel-" {i} "\" aria-label=\"Select " {t.name} "\"></td>"
            "<th scope=\"row\"><a href=\"" [tool_href(rs, &t.name)] "\"><code class=\"tool-name\">" {t.name} "</code></a>");
        if let Some(title) = &t.title {
            html!(*o, "<div class=\"title\">" {title} "</div>");
        }
        html!(*o, "</th><td class=\"desc\">" {t.description.as_deref().unwrap_or("")} "</td><td>");
        rule_cell(o, t.mapping.as_ref());
        o.raw("</td><td>");
        scope_list(o, &t.suggested_scopes);
        o.raw("</td><td>");
        last_seen_cell(o, t.last_seen, t.in_latest_manifest, now);
        o.raw("</td><td>");
        if unmapped && !scopes.is_empty() {
            let preselect = t
                .suggested_scopes
                .iter()
                .find(|s| scopes.iter().any(|d| &d.name == *s));
            html!(*o, "<form method=\"post\" action=\"" [map_action] "\" class=\"map-one\">" [csrf_field(csrf)] [back_fields]
                "<input type=\"hidden\" name=\"tools\" value=\"" {t.name} "\"><input type=\"hidden\" name=\"state\" value=\"mapped\">"
                "<label for=\"map-" {i} "\" class=\"sr\">Scope for " {t.name} "</label><select id=\"map-" {i} "\" name=\"scopes\">");
            for s in scopes {
                html!(*o, "<option value=\"" {s.name} "\"");
                if preselect == Some(&s.name) {
                    o.raw(" selected");
                }
                html!(*o, ">" {s.name} "</option>");
            }
            html!(*o, "</select> <button type=\"submit\" aria-label=\"Map " {t.name} "\">Map</button></form>");
        } else {
            html!(*o, "<a href=\"" [tool_href(rs, &t.name)] "\" aria-label=\"Edit " {t.name} "\">Edit</a>");
        }
        o.raw("</td></tr>");
    }
    o.raw("</tbody></table>");
    if shown.is_empty() {
        o.raw("<p>No tool matches. Tools appear when the MCP server publishes its manifest (<code>AUTHSEC_PUBLISH_MANIFEST=true</code>), or when you map a tool by name on its page.</p>");
    }
    html!(*o, "<form method=\"get\" action=\"/servers/" {url_component(&rs.id)} "/tool\" class=\"card inline-form\">"
        "<p><label for=\"new-tool\">Map a tool that was not published yet, by name</label>"
        "<input id=\"new-tool\" name=\"name\" required> <button type=\"submit\">Open</button></p></form>");
}

async fn tools_page(
    state: &AppState,
    session: &SignedIn,
    id: &str,
    q: &ToolsQuery,
    notice: Option<Notice>,
    status: StatusCode,
) -> WebResult {
    let (rs, tools, scopes) = state.store().resource_server_tools(id).await?;
    let mut page = Page::new("Tools", Some(&session.csrf));
    page.server = Some((&rs, Tab::Tools));
    page.notice = notice.or_else(|| done_notice(q.done.as_deref()));
    render_tools_page(&mut page, &rs, &tools, &scopes, q, state.store().now());
    Ok(page.render_status(status))
}

/// `GET /servers/{id}/tools`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ToolsQuery>,
) -> WebResult {
    tools_page(&state, &session, &id, &q, None, StatusCode::OK).await
}

/// `POST /servers/{id}/tools/map`: sets the rule of one tool (the one-click form, the tool's
/// page) or of every selected tool (bulk), through the admin API's store operation.
pub(crate) async fn map(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let f = &post.form;
    let back = ToolsQuery {
        q: f.one("back_q").map(str::to_owned),
        state: f.one("back_state").map(str::to_owned),
        done: None,
    };
    let from_tool_page = f.one("from") == Some("tool");
    let tools = f.all("tools");
    let outcome = async {
        let new_state = f
            .one("state")
            .and_then(ToolState::parse)
            .ok_or_else(|| Error::invalid("state", "choose mapped, public or unmapped"))?;
        let scope_match = match f.one("scope_match") {
            None => ScopeMatch::Any,
            Some(m) => {
                ScopeMatch::parse(m).ok_or_else(|| Error::invalid("scope_match", "any or all"))?
            }
        };
        let scopes = if new_state == ToolState::Mapped {
            f.all("scopes")
        } else {
            Vec::new()
        };
        if tools.is_empty() {
            return Err(Error::invalid("tools", "select at least one tool"));
        }
        state
            .store()
            .set_mappings(&Actor::Admin, &id, &tools, new_state, scopes, scope_match)
            .await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) if from_tool_page => see_other(format!(
            "/servers/{}/tool?name={}&done=mapped",
            url_component(&id),
            url_component(tools.first().map_or("", String::as_str))
        )),
        Ok(()) => see_other(format!(
            "/servers/{}/tools?done=mapped{}",
            url_component(&id),
            back.back()
        )),
        Err(e @ (Error::InvalidInput { .. } | Error::UnknownScopes { .. })) => {
            let notice = Some(Notice::Error(format!("Not saved: {e}")));
            if from_tool_page {
                if let Some(name) = tools.first() {
                    return tool_page(
                        &state,
                        &post.session,
                        &id,
                        name,
                        notice,
                        StatusCode::BAD_REQUEST,
                    )
                    .await;
                }
            }
            tools_page(
                &state,
                &post.session,
                &id,
                &back,
                notice,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(WebError::Console(e)),
    }
}

#[derive(Deserialize)]
pub(crate) struct ToolQuery {
    name: Option<String>,
    done: Option<String>,
}

/// `GET /servers/{id}/tool?name=…`: one tool, its manifest entry and its rule.
pub(crate) async fn detail(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ToolQuery>,
) -> WebResult {
    let name = q.name.unwrap_or_default();
    if name.is_empty() {
        return Err(WebError::BadRequest("which tool? (?name=)".into()));
    }
    tool_page(
        &state,
        &session,
        &id,
        &name,
        done_notice(q.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn tool_page(
    state: &AppState,
    session: &SignedIn,
    id: &str,
    name: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> WebResult {
    let rs = state.store().resource_server(id).await?;
    let scopes = state.store().list_scopes(id).await?;
    let now = state.store().now();
    // A tool no manifest listed yet can still be mapped by name (it is denied until then).
    let tool = match state.store().tool(id, name).await {
        Ok(t) => t,
        Err(Error::NotFound { kind: "tool", .. }) => Tool::unlisted(name),
        Err(e) => return Err(e.into()),
    };
    let csrf = session.csrf.as_str();
    let mut page = Page::new(format!("Tool {}", tool.name), Some(csrf));
    page.server = Some((&rs, Tab::Tools));
    page.notice = notice;
    let o = &mut page.main;
    html!(*o, "<p><a href=\"" [tab_href(&rs, Tab::Tools)] "\">← All tools</a></p>"
        "<section class=\"card\" aria-labelledby=\"manifest\"><h2 id=\"manifest\">From the manifest</h2><dl class=\"pairs\">"
        "<dt>Name</dt><dd><code class=\"tool-name\">" {tool.name} "</code></dd>"
        "<dt>Title</dt><dd>" {tool.title.as_deref().unwrap_or("—")} "</dd>"
        "<dt>Description</dt><dd class=\"desc\">" {tool.description.as_deref().unwrap_or("—")} "</dd>"
        "<dt>Suggested scopes</dt><dd>");
    scope_list(o, &tool.suggested_scopes);
    o.raw("</dd><dt>First seen</dt><dd>");
    match tool.first_seen {
        Some(at) => html!(*o, { datetime(at) }),
        None => {
            o.raw("never published");
        }
    }
    o.raw("</dd><dt>Last seen</dt><dd>");
    match tool.last_seen {
        Some(at) => html!(*o, {datetime(at)} " (" {ago(at, now)} ")"),
        None => {
            o.raw("—");
        }
    }
    o.raw("</dd></dl>");
    if let Some(a) = &tool.annotations {
        html!(*o, "<details><summary>Annotations</summary><pre>" {pretty(a)} "</pre></details>");
    }
    if let Some(s) = &tool.input_schema {
        html!(*o, "<details><summary>Input schema</summary><pre>" {pretty(s)} "</pre></details>");
    }
    html!(*o, "</section><section class=\"card\" aria-labelledby=\"rule\"><h2 id=\"rule\">Rule</h2><p>Now: ");
    rule_cell(o, tool.mapping.as_ref());
    o.raw("</p>");
    let current = tool.mapping.as_ref();
    let cur_state = current.map_or(ToolState::Unmapped, |m| m.state);
    let cur_match = current.map_or(ScopeMatch::Any, |m| m.scope_match);
    let cur_scopes: &[String] = current.map_or(&[], |m| &m.scopes);
    html!(*o, "<form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/tools/map\">" [csrf_field(csrf)]
        "<input type=\"hidden\" name=\"from\" value=\"tool\"><input type=\"hidden\" name=\"tools\" value=\"" {tool.name} "\">"
        "<fieldset><legend>Who may call it</legend>");
    for (value, label) in [
        (ToolState::Mapped, "Callers need scopes"),
        (ToolState::Public, "Public: any valid token"),
        (ToolState::Unmapped, "Unmapped: denied to everyone"),
    ] {
        html!(*o, "<span class=\"check\"><input type=\"radio\" name=\"state\" id=\"state-" {value.as_str()} "\" value=\"" {value.as_str()} "\"");
        if value == cur_state {
            o.raw(" checked");
        }
        html!(*o, "><label for=\"state-" {value.as_str()} "\">" {label} "</label></span>");
    }
    o.raw("</fieldset><fieldset><legend>Scopes needed</legend>");
    for (value, label) in [(ScopeMatch::Any, "any one of"), (ScopeMatch::All, "all of")] {
        html!(*o, "<span class=\"check\"><input type=\"radio\" name=\"scope_match\" id=\"match-" {value.as_str()} "\" value=\"" {value.as_str()} "\"");
        if value == cur_match {
            o.raw(" checked");
        }
        html!(*o, "><label for=\"match-" {value.as_str()} "\">" {label} "</label></span>");
    }
    o.raw("<div class=\"scopes\">");
    for (i, s) in scopes.iter().enumerate() {
        html!(*o, "<span class=\"check\"><input type=\"checkbox\" id=\"scope-" {i} "\" name=\"scopes\" value=\"" {s.name} "\"");
        if cur_scopes.contains(&s.name) {
            o.raw(" checked");
        }
        html!(*o, "><label for=\"scope-" {i} "\">" {s.name} "</label></span>");
    }
    if scopes.is_empty() {
        html!(*o, "<p>No scope is defined: <a href=\"" [tab_href(&rs, Tab::Scopes)] "\">define one</a>.</p>");
    }
    o.raw("</div></fieldset><p><button type=\"submit\">Save rule</button></p></form>");
    if current.is_some_and(|m| m.source == MappingSource::Admin) {
        html!(*o, "<form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/tool/clear\" class=\"inline\">" [csrf_field(csrf)]
            "<input type=\"hidden\" name=\"name\" value=\"" {tool.name} "\">"
            "<button type=\"submit\">Remove the admin decision</button></form> ");
    }
    if tool.first_seen.is_some() || current.is_some() {
        html!(*o, "<form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/tool/forget\" class=\"inline\">" [csrf_field(csrf)]
            "<input type=\"hidden\" name=\"name\" value=\"" {tool.name} "\">"
            "<button type=\"submit\" class=\"danger\">Forget this tool</button></form>");
    }
    html!(*o, "<p class=\"help\">Check it: <a href=\"/servers/" {url_component(&rs.id)} "/simulator\">access simulator</a>.</p></section>");
    Ok(page.render_status(status))
}

/// `POST /servers/{id}/tool/clear`.
pub(crate) async fn clear(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let name = post.form.one("name").unwrap_or("").to_owned();
    state
        .store()
        .clear_mapping(&Actor::Admin, &id, &name)
        .await?;
    see_other(format!(
        "/servers/{}/tool?name={}&done=cleared",
        url_component(&id),
        url_component(&name)
    ))
}

/// `POST /servers/{id}/tool/forget`.
pub(crate) async fn forget(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let name = post.form.one("name").unwrap_or("").to_owned();
    state.store().delete_tool(&Actor::Admin, &id, &name).await?;
    see_other(format!(
        "/servers/{}/tools?done=forgotten",
        url_component(&id)
    ))
}
