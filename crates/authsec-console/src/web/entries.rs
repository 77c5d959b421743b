//! The Prompts and Resources tabs: every prompt (by name) and resource (by exact URI or URI
//! template) of the published inventory and every mapped one, with its rule — the Tools tab's
//! table for the other two kinds. Unmapped entries come first, each with a one-click form to
//! map it to a scope; a mapped or public one can be handed back (its admin decision removed);
//! a form at the bottom maps any name or URI template, published or not. Every form is a
//! POST with the session's CSRF token, through the admin API's store operations.

use std::marker::PhantomData;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::html::{html, url_component, Html};
use super::layout::{csrf_field, tab_href, Notice, Page, Tab};
use super::servers::done_notice;
use super::tools::{last_seen_cell, rule_cell, scope_list};
use super::{see_other, Post, SignedIn, WebError, WebResult};
use crate::auth::Actor;
use crate::error::Error;
use crate::model::{
    Entry, EntryKind, ManifestEntry, ManifestPrompt, ManifestResource, ResourceServer, Scope,
    ScopeMatch, ToolState,
};
use crate::state::AppState;

/// What the tab shows of one kind of entry beyond its key.
pub trait Shown: ManifestEntry {
    /// The tab.
    const TAB: Tab;
    /// What the key is called in a form label (`name`, `URI or URI template`).
    const KEY_LABEL: &'static str;
    /// A title or name, if any.
    fn title(&self) -> Option<&str>;
    /// A description, if any.
    fn description(&self) -> Option<&str>;
}

impl Shown for ManifestPrompt {
    const TAB: Tab = Tab::Prompts;
    const KEY_LABEL: &'static str = "name";
    fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl Shown for ManifestResource {
    const TAB: Tab = Tab::Resources;
    const KEY_LABEL: &'static str = "URI or URI template";
    fn title(&self) -> Option<&str> {
        self.title.as_deref().or(self.name.as_deref())
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

fn tab_action(rs: &ResourceServer, kind: EntryKind, verb: &str) -> Html {
    let mut h = Html::default();
    html!(h, "/servers/" {url_component(&rs.id)} "/" {kind.plural()} "/" {verb});
    h
}

/// Renders a Prompts or Resources tab into `page`.
pub fn render_entries_page<M: Shown>(
    page: &mut Page<'_>,
    rs: &ResourceServer,
    entries: &[Entry<M>],
    scopes: &[Scope],
    now: i64,
) {
    let kind = M::KIND;
    let (noun, plural) = (kind.as_str(), kind.plural());
    let csrf = page.csrf.unwrap_or("");
    let o = &mut page.main;
    let map_action = tab_action(rs, kind, "map");
    let clear_action = tab_action(rs, kind, "clear");
    // Unmapped first: they are what needs an admin.
    let mut shown: Vec<&Entry<M>> = entries.iter().collect();
    shown.sort_by_key(|e| e.state != ToolState::Unmapped);
    let unmapped = entries
        .iter()
        .filter(|e| e.state == ToolState::Unmapped)
        .count();
    html!(*o, "<p class=\"summary\">" {entries.len()} " " {plural} ". ");
    if unmapped > 0 {
        html!(*o, "<strong class=\"warn-text\">" {unmapped} " unmapped: denied to everyone until mapped.</strong>");
    }
    o.raw("</p>");
    if kind == EntryKind::Resource {
        o.raw("<p class=\"help\">A resource is an exact URI (compared byte for byte) or a URI template \
               such as <code>notes://note/{id}</code>, whose <code>{name}</code> matches one path segment \
               or part of one. A URI no entry covers is denied to everyone.</p>");
    }
    if scopes.is_empty() {
        html!(*o, "<p class=\"notice error\">No scope is defined yet, so no " {noun} " can be mapped. <a href=\""
            [tab_href(rs, Tab::Scopes)] "\">Define a scope</a> first (or make " {plural} " public).</p>");
    }
    html!(*o, "<table class=\"list tools\"><caption class=\"sr\">" {plural} "</caption><thead><tr>"
        "<th scope=\"col\">" {if kind == EntryKind::Resource { "Resource" } else { "Prompt" }} "</th>"
        "<th scope=\"col\">Description</th><th scope=\"col\">Rule</th>"
        "<th scope=\"col\">Suggested scopes</th><th scope=\"col\">Last seen</th><th scope=\"col\">Action</th></tr></thead><tbody>");
    for (i, e) in shown.iter().enumerate() {
        let m = &e.manifest;
        let unmapped = e.state == ToolState::Unmapped;
        html!(*o, "<tr class=\"" {if unmapped { "unmapped" } else { e.state.as_str() }} "\">"
            "<th scope=\"row\"><code class=\"tool-name\">" {e.key()} "</code>");
        if let Some(title) = m.title() {
            html!(*o, "<div class=\"title\">" {title} "</div>");
        }
        html!(*o, "</th><td class=\"desc\">" {m.description().unwrap_or("")} "</td><td>");
        rule_cell(o, e.mapping.as_ref());
        o.raw("</td><td>");
        scope_list(o, m.suggested_scopes());
        o.raw("</td><td>");
        last_seen_cell(o, e.last_seen, e.in_latest_manifest, now);
        o.raw("</td><td>");
        if unmapped && !scopes.is_empty() {
            let preselect = m
                .suggested_scopes()
                .iter()
                .find(|s| scopes.iter().any(|d| &d.name == *s));
            html!(*o, "<form method=\"post\" action=\"" [map_action] "\" class=\"map-one\">" [csrf_field(csrf)]
                "<input type=\"hidden\" name=\"key\" value=\"" {e.key()} "\"><input type=\"hidden\" name=\"state\" value=\"mapped\">"
                "<label for=\"map-" {i} "\" class=\"sr\">Scope for " {e.key()} "</label><select id=\"map-" {i} "\" name=\"scopes\">");
            for s in scopes {
                html!(*o, "<option value=\"" {s.name} "\"");
                if preselect == Some(&s.name) {
                    o.raw(" selected");
                }
                html!(*o, ">" {s.name} "</option>");
            }
            html!(*o, "</select> <button type=\"submit\" aria-label=\"Map " {e.key()} "\">Map</button></form>");
        }
        if e.mapping.as_ref().is_some_and(|m| m.updated_at.is_some()) {
            html!(*o, "<form method=\"post\" action=\"" [clear_action] "\" class=\"inline\">" [csrf_field(csrf)]
                "<input type=\"hidden\" name=\"key\" value=\"" {e.key()} "\">"
                "<button type=\"submit\" aria-label=\"Remove decision for " {e.key()} "\">Remove decision</button></form>");
        }
        o.raw("</td></tr>");
    }
    o.raw("</tbody></table>");
    if shown.is_empty() {
        html!(*o, "<p>No " {noun} " yet. They appear when the MCP server publishes its manifest (<code>AUTHSEC_PUBLISH_MANIFEST=true</code>), or when you map one below.</p>");
    }

    // Any key, published or not, with any rule.
    html!(*o, "<form method=\"post\" action=\"" [map_action] "\" class=\"card\">" [csrf_field(csrf)]
        "<fieldset><legend>Set the rule of a " {noun} "</legend>"
        "<p><label for=\"entry-key\">" {M::KEY_LABEL} "</label><input id=\"entry-key\" name=\"key\" required></p>"
        "<p><label for=\"entry-state\">Rule</label><select id=\"entry-state\" name=\"state\">"
        "<option value=\"mapped\">require scopes</option><option value=\"public\">public (any valid token)</option>"
        "<option value=\"unmapped\">unmapped (deny everyone)</option></select></p>"
        "<p><label for=\"entry-match\">Scopes needed</label><select id=\"entry-match\" name=\"scope_match\">"
        "<option value=\"any\">any one of</option><option value=\"all\">all of</option></select></p>"
        "<fieldset class=\"scopes\"><legend>Scopes</legend>");
    for (i, s) in scopes.iter().enumerate() {
        html!(*o, "<span class=\"check\"><input type=\"checkbox\" id=\"entry-scope-" {i} "\" name=\"scopes\" value=\"" {s.name} "\">"
            "<label for=\"entry-scope-" {i} "\">" {s.name} "</label></span>");
    }
    o.raw("</fieldset><p><button type=\"submit\">Save rule</button></p></fieldset></form>");
}

#[derive(Deserialize)]
pub(crate) struct EntriesQuery {
    done: Option<String>,
}

/// The tab's handlers for one kind (`M`: [`ManifestPrompt`] or [`ManifestResource`]).
pub(crate) struct Handlers<M>(PhantomData<M>);

impl<M: Shown + Send + Sync + 'static> Handlers<M> {
    async fn render(
        state: &AppState,
        session: &SignedIn,
        id: &str,
        notice: Option<Notice>,
        status: StatusCode,
    ) -> WebResult {
        let (rs, entries, scopes) = state.store().resource_server_entries::<M>(id).await?;
        let title = if M::KIND == EntryKind::Prompt {
            "Prompts"
        } else {
            "Resources"
        };
        let mut page = Page::new(title, Some(&session.csrf));
        page.server = Some((&rs, M::TAB));
        page.notice = notice;
        render_entries_page(&mut page, &rs, &entries, &scopes, state.store().now());
        Ok(page.render_status(status))
    }

    fn back(id: &str, done: &str) -> WebResult {
        see_other(format!(
            "/servers/{}/{}?done={done}",
            url_component(id),
            M::KIND.plural()
        ))
    }

    /// `GET /servers/{id}/prompts` and `…/resources`.
    pub(crate) async fn page(
        State(state): State<AppState>,
        session: SignedIn,
        Path(id): Path<String>,
        Query(q): Query<EntriesQuery>,
    ) -> WebResult {
        let notice = done_notice(q.done.as_deref());
        Self::render(&state, &session, &id, notice, StatusCode::OK).await
    }

    /// `POST /servers/{id}/prompts/map` and `…/resources/map`: sets the rule of one entry.
    pub(crate) async fn map(
        State(state): State<AppState>,
        Path(id): Path<String>,
        post: Post,
    ) -> WebResult {
        let f = &post.form;
        let outcome = async {
            let key = f.text("key");
            let new_state = f
                .one("state")
                .and_then(ToolState::parse)
                .ok_or_else(|| Error::invalid("state", "choose mapped, public or unmapped"))?;
            let scope_match = match f.one("scope_match") {
                None => ScopeMatch::Any,
                Some(m) => ScopeMatch::parse(m)
                    .ok_or_else(|| Error::invalid("scope_match", "any or all"))?,
            };
            let scopes = if new_state == ToolState::Mapped {
                f.all("scopes")
            } else {
                Vec::new()
            };
            state
                .store()
                .set_entry_mapping::<M>(&Actor::Admin, &id, &key, new_state, scopes, scope_match)
                .await
        }
        .await;
        match outcome {
            Ok(_) => Self::back(&id, "mapped"),
            Err(e @ (Error::InvalidInput { .. } | Error::UnknownScopes { .. })) => {
                let notice = Some(Notice::Error(format!("Not saved: {e}")));
                Self::render(&state, &post.session, &id, notice, StatusCode::BAD_REQUEST).await
            }
            Err(e) => Err(WebError::Console(e)),
        }
    }

    /// `POST /servers/{id}/prompts/clear` and `…/resources/clear`: removes the admin decision.
    pub(crate) async fn clear(
        State(state): State<AppState>,
        Path(id): Path<String>,
        post: Post,
    ) -> WebResult {
        let key = post.form.text("key");
        state
            .store()
            .clear_entry_mapping::<M>(&Actor::Admin, &id, &key)
            .await?;
        Self::back(&id, "cleared")
    }
}
