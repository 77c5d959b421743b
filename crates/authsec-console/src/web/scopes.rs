//! The Scopes tab: define, describe, delete (refused, with the reason, while a tool or a client
//! uses the scope).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::html::{html, url_component};
use super::layout::{csrf_field, tab_href, Notice, Page, Tab};
use super::servers::{done_notice, DoneQuery};
use super::{see_other, Post, SignedIn, WebResult};
use crate::auth::Actor;
use crate::error::Error;
use crate::model::{MappingSource, ToolState};
use crate::state::AppState;
use crate::store::NewScope;

async fn scopes_page(
    state: &AppState,
    session: &SignedIn,
    id: &str,
    notice: Option<Notice>,
    status: StatusCode,
    typed: (&str, &str),
) -> WebResult {
    let rs = state.store().resource_server(id).await?;
    let scopes = state.store().list_scopes(id).await?;
    let tools = state.store().list_tools(id).await?;
    let clients = state.store().list_clients(id).await?;
    let csrf = session.csrf.as_str();
    let mut page = Page::new("Scopes", Some(csrf));
    page.server = Some((&rs, Tab::Scopes));
    page.notice = notice;
    let o = &mut page.main;
    let action = |suffix: &'static str| {
        let mut h = super::html::Html::default();
        html!(h, "/servers/" {url_component(&rs.id)} "/scopes");
        h.raw(suffix);
        h
    };
    if scopes.is_empty() {
        o.raw("<p>No scope yet. A resource server needs at least one before its policy is complete.</p>");
    } else {
        o.raw("<table class=\"list\"><caption class=\"sr\">Scopes</caption><thead><tr><th scope=\"col\">Scope</th>\
               <th scope=\"col\">Description</th><th scope=\"col\">Required by tools</th><th scope=\"col\">Allowed to clients</th>\
               <th scope=\"col\">Delete</th></tr></thead><tbody>");
        for (i, s) in scopes.iter().enumerate() {
            html!(*o, "<tr><th scope=\"row\"><code class=\"scope\">" {s.name} "</code></th><td>"
                "<form method=\"post\" action=\"" [action("/update")] "\" class=\"inline-form\">" [csrf_field(csrf)]
                "<input type=\"hidden\" name=\"scope\" value=\"" {s.name} "\">"
                "<label for=\"desc-" {i} "\" class=\"sr\">Description of " {s.name} "</label>"
                "<input id=\"desc-" {i} "\" name=\"description\" maxlength=\"2000\" value=\"" {s.description} "\"> "
                "<button type=\"submit\" aria-label=\"Save the description of " {s.name} "\">Save</button></form></td><td>");
            let users: Vec<&str> = tools
                .iter()
                .filter(|t| {
                    t.mapping
                        .as_ref()
                        .is_some_and(|m| m.state == ToolState::Mapped && m.scopes.contains(&s.name))
                })
                .map(|t| t.name.as_str())
                .collect();
            for (j, t) in users.iter().enumerate() {
                if j > 0 {
                    o.raw(", ");
                }
                html!(*o, "<code>" {t} "</code>");
            }
            if users.is_empty() {
                o.raw("<span class=\"muted\">none</span>");
            }
            o.raw("</td><td>");
            let allowed: Vec<&str> = clients
                .iter()
                .filter(|c| c.allowed_scopes.contains(&s.name))
                .map(|c| c.name.as_str())
                .collect();
            for (j, c) in allowed.iter().enumerate() {
                if j > 0 {
                    o.raw(", ");
                }
                html!(*o, { c });
            }
            if allowed.is_empty() {
                o.raw("<span class=\"muted\">none</span>");
            }
            html!(*o, "</td><td><form method=\"post\" action=\"" [action("/delete")] "\">" [csrf_field(csrf)]
                "<input type=\"hidden\" name=\"scope\" value=\"" {s.name} "\">"
                "<button type=\"submit\" class=\"danger\" aria-label=\"Delete " {s.name} "\">Delete</button></form></td></tr>");
        }
        o.raw("</tbody></table>");
        let suggested_only = tools.iter().any(|t| {
            t.mapping
                .as_ref()
                .is_some_and(|m| m.source == MappingSource::Suggested)
        });
        if suggested_only {
            o.raw("<p class=\"help\">Tools listed here by an applied suggestion do not block deleting the scope; admin decisions and clients do.</p>");
        }
    }
    html!(*o, "<section class=\"card\" aria-labelledby=\"new-scope\"><h2 id=\"new-scope\">Define a scope</h2>"
        "<form method=\"post\" action=\"" [action("")] "\">" [csrf_field(csrf)]
        "<p><label for=\"scope-name\">Scope</label><input id=\"scope-name\" name=\"name\" required maxlength=\"200\" "
        "placeholder=\"" {rs.id} ":tools:read\" aria-describedby=\"scope-help\" value=\"" {typed.0} "\">"
        "<span id=\"scope-help\" class=\"help\">Printable ASCII without spaces, quotes or backslashes (RFC 6749). Compared byte for byte.</span></p>"
        "<p><label for=\"scope-desc\">Description</label><input id=\"scope-desc\" name=\"description\" maxlength=\"2000\" value=\"" {typed.1} "\"></p>"
        "<p><button type=\"submit\">Define scope</button></p></form></section>"
        "<p><a href=\"" [tab_href(&rs, Tab::Tools)] "\">Map tools to scopes</a> · <a href=\"" [tab_href(&rs, Tab::Clients)] "\">Allow scopes to clients</a></p>");
    Ok(page.render_status(status))
}

/// `GET /servers/{id}/scopes`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> WebResult {
    let notice = done_notice(q.done.as_deref());
    scopes_page(&state, &session, &id, notice, StatusCode::OK, ("", "")).await
}

/// The page again with the refusal, or an error page for anything unexpected.
async fn refused(
    state: &AppState,
    post: &Post,
    id: &str,
    e: Error,
    what: &str,
    typed: (&str, &str),
) -> WebResult {
    let status = match e {
        Error::ScopeInUse { .. } | Error::ScopeExists { .. } => StatusCode::CONFLICT,
        Error::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        e => return Err(e.into()),
    };
    let notice = Some(Notice::Error(format!("{what}: {e}")));
    scopes_page(state, &post.session, id, notice, status, typed).await
}

/// `POST /servers/{id}/scopes`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let name = post.form.text("name");
    let description = post.form.text("description");
    let new = NewScope {
        name: name.clone(),
        description: description.clone(),
    };
    match state.store().create_scope(&Actor::Admin, &id, new).await {
        Ok(_) => see_other(format!(
            "/servers/{}/scopes?done=scope_created",
            url_component(&id)
        )),
        Err(e) => refused(&state, &post, &id, e, "Not defined", (&name, &description)).await,
    }
}

/// `POST /servers/{id}/scopes/update`.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let scope = post.form.one("scope").unwrap_or("").to_owned();
    let description = post.form.text("description");
    match state
        .store()
        .update_scope(&Actor::Admin, &id, &scope, description)
        .await
    {
        Ok(_) => see_other(format!(
            "/servers/{}/scopes?done=scope_updated",
            url_component(&id)
        )),
        Err(e) => refused(&state, &post, &id, e, "Not saved", ("", "")).await,
    }
}

/// `POST /servers/{id}/scopes/delete`: refused while an admin decision or a client uses it.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let scope = post.form.one("scope").unwrap_or("").to_owned();
    match state.store().delete_scope(&Actor::Admin, &id, &scope).await {
        Ok(()) => see_other(format!(
            "/servers/{}/scopes?done=scope_deleted",
            url_component(&id)
        )),
        Err(e) => refused(&state, &post, &id, e, "Not deleted", ("", "")).await,
    }
}
