//! The Clients tab: machine clients of the token service — create (with a secret, shown once,
//! or with public keys for `private_key_jwt`), allowed scopes, rotate the secret, disable or
//! enable, delete.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::html::{datetime, html, url_component, Html};
use super::layout::{csrf_field, tab_href, Notice, Page, Tab};
use super::servers::{done_notice, DoneQuery};
use super::{see_other, Post, SignedIn, WebResult};
use crate::auth::Actor;
use crate::error::Error;
use crate::model::{Client, ClientAuthMethod, ClientKeys, ResourceServer, Scope};
use crate::state::AppState;
use crate::store::ClientPatch;

fn scope_checkboxes(o: &mut Html, prefix: &str, scopes: &[Scope], checked: &[String]) {
    for (i, s) in scopes.iter().enumerate() {
        html!(*o, "<span class=\"check\"><input type=\"checkbox\" id=\"" {prefix} "-" {i} "\" name=\"allowed_scopes\" value=\"" {s.name} "\"");
        if checked.contains(&s.name) {
            o.raw(" checked");
        }
        html!(*o, "><label for=\"" {prefix} "-" {i} "\">" {s.name} "</label></span>");
    }
}

fn client_action(rs: &ResourceServer, c: &Client, what: &'static str) -> Html {
    let mut h = Html::default();
    html!(h, "/servers/" {url_component(&rs.id)} "/clients/" {url_component(&c.client_id)} "/");
    h.raw(what);
    h
}

struct Typed<'a> {
    name: &'a str,
    scopes: &'a [String],
    /// `secret`, `jwks` or `jwks_uri`.
    auth: &'a str,
    jwks: &'a str,
    jwks_uri: &'a str,
}

impl Typed<'_> {
    const EMPTY: Typed<'static> = Typed {
        name: "",
        scopes: &[],
        auth: "secret",
        jwks: "",
        jwks_uri: "",
    };
}

/// How a client authenticates, in a few words.
fn auth_summary(o: &mut Html, c: &Client) {
    match (c.auth_method, &c.jwks_uri) {
        (ClientAuthMethod::ClientSecret, _) => {
            o.raw("secret");
        }
        (ClientAuthMethod::PrivateKeyJwt, Some(uri)) => {
            html!(*o, "private key (<code>private_key_jwt</code>), keys at <code>" {uri} "</code>")
        }
        (ClientAuthMethod::PrivateKeyJwt, None) => {
            let n = c
                .jwks
                .as_ref()
                .and_then(|j| j["keys"].as_array())
                .map_or(0, Vec::len);
            html!(*o, "private key (<code>private_key_jwt</code>), " {n.to_string()} " registered key(s)")
        }
    }
}

async fn clients_page(
    state: &AppState,
    session: &SignedIn,
    id: &str,
    notice: Option<Notice>,
    status: StatusCode,
    typed: Typed<'_>,
) -> WebResult {
    let rs = state.store().resource_server(id).await?;
    let scopes = state.store().list_scopes(id).await?;
    let clients = state.store().list_clients(id).await?;
    let csrf = session.csrf.as_str();
    let mut page = Page::new("Clients", Some(csrf));
    page.server = Some((&rs, Tab::Clients));
    page.notice = notice;
    let o = &mut page.main;
    o.raw("<p>Machine clients get tokens for this resource server from the console's token service \
           (<code>client_credentials</code>); a token carries the scopes it asks for that the client is allowed, \
           or all of them. A client authenticates with a secret, or with a private key: it signs a short-lived \
           assertion (<code>private_key_jwt</code>, RFC 7523) that the console verifies with the public keys \
           registered here.</p>");
    if clients.is_empty() {
        o.raw("<p>No client yet.</p>");
    } else {
        o.raw("<table class=\"list\"><caption class=\"sr\">Clients</caption><thead><tr><th scope=\"col\">Client</th>\
               <th scope=\"col\">Allowed scopes</th><th scope=\"col\">Authentication</th><th scope=\"col\">State</th><th scope=\"col\">Created</th>\
               <th scope=\"col\">Actions</th></tr></thead><tbody>");
        for (i, c) in clients.iter().enumerate() {
            html!(*o, "<tr><th scope=\"row\">" {c.name} "<div><code>" {c.client_id} "</code></div></th><td>"
                "<form method=\"post\" action=\"" [client_action(&rs, c, "scopes")] "\">" [csrf_field(csrf)]
                "<fieldset class=\"scopes\"><legend class=\"sr\">Allowed scopes of " {c.name} "</legend>");
            scope_checkboxes(o, &format!("cs{i}"), &scopes, &c.allowed_scopes);
            html!(*o, "</fieldset><button type=\"submit\" aria-label=\"Save scopes of " {c.name} "\">Save scopes</button></form></td><td>");
            auth_summary(o, c);
            o.raw("</td><td>");
            if c.enabled {
                o.raw("<span class=\"badge ok\">enabled</span>");
            } else {
                o.raw("<span class=\"badge off\">disabled</span>");
            }
            html!(*o, "</td><td>" {datetime(c.created_at)} "</td><td class=\"actions\">");
            if c.auth_method == ClientAuthMethod::ClientSecret {
                html!(*o, "<form method=\"post\" action=\"" [client_action(&rs, c, "secret")] "\">" [csrf_field(csrf)]
                    "<button type=\"submit\" aria-label=\"Rotate secret of " {c.name} "\">Rotate secret</button></form>");
            }
            html!(*o, "<form method=\"post\" action=\"" [client_action(&rs, c, "enabled")] "\">" [csrf_field(csrf)]);
            if c.enabled {
                html!(*o, "<input type=\"hidden\" name=\"enabled\" value=\"false\"><button type=\"submit\" aria-label=\"Disable " {c.name} "\">Disable</button>");
            } else {
                html!(*o, "<input type=\"hidden\" name=\"enabled\" value=\"true\"><button type=\"submit\" aria-label=\"Enable " {c.name} "\">Enable</button>");
            }
            html!(*o, "</form><form method=\"post\" action=\"" [client_action(&rs, c, "delete")] "\">" [csrf_field(csrf)]
                "<button type=\"submit\" class=\"danger\" aria-label=\"Delete " {c.name} "\">Delete</button></form>"
                "<a href=\"/servers/" {url_component(&rs.id)} "/simulator?client=" {url_component(&c.client_id)} "\">Simulate</a></td></tr>");
        }
        o.raw("</tbody></table>");
    }
    html!(*o, "<section class=\"card\" aria-labelledby=\"new-client\"><h2 id=\"new-client\">New client</h2>");
    if scopes.is_empty() {
        html!(*o, "<p>A client needs at least one allowed scope: <a href=\"" [tab_href(&rs, Tab::Scopes)] "\">define a scope</a> first.</p>");
    } else {
        html!(*o, "<form method=\"post\" action=\"/servers/" {url_component(&rs.id)} "/clients\">" [csrf_field(csrf)]
            "<p><label for=\"client-name\">Name</label><input id=\"client-name\" name=\"name\" required maxlength=\"200\" value=\"" {typed.name} "\"></p>"
            "<fieldset class=\"scopes\"><legend>Allowed scopes</legend>");
        scope_checkboxes(o, "new-scope", &scopes, typed.scopes);
        o.raw("</fieldset><fieldset><legend>Authentication</legend>");
        for (value, label) in [
            ("secret", "A secret (shown once)"),
            ("jwks", "Private key: public keys (JWKS) pasted below"),
            (
                "jwks_uri",
                "Private key: public keys (JWKS) published at a URL",
            ),
        ] {
            html!(*o, "<span class=\"check\"><input type=\"radio\" id=\"auth-" {value} "\" name=\"auth\" value=\"" {value} "\"");
            if typed.auth == value {
                o.raw(" checked");
            }
            html!(*o, "><label for=\"auth-" {value} "\">" {label} "</label></span>");
        }
        html!(*o, "<p><label for=\"client-jwks\">JWKS</label><textarea id=\"client-jwks\" name=\"jwks\" rows=\"6\" spellcheck=\"false\" \
            placeholder=\"{&quot;keys&quot;: [{&quot;kty&quot;: &quot;EC&quot;, …}]}\">" {typed.jwks} "</textarea></p>"
            "<p><label for=\"client-jwks-uri\">JWKS URL</label><input id=\"client-jwks-uri\" name=\"jwks_uri\" type=\"url\" value=\"" {typed.jwks_uri} "\"></p>"
            "<p class=\"help\">Public keys only; the client signs assertions with the private key, which never leaves it.</p>"
            "</fieldset><p><button type=\"submit\">Create client</button></p></form>");
    }
    o.raw("</section>");
    Ok(page.render_status(status))
}

/// `GET /servers/{id}/clients`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> WebResult {
    let notice = done_notice(q.done.as_deref());
    clients_page(&state, &session, &id, notice, StatusCode::OK, Typed::EMPTY).await
}

/// The secret, once, with how to get a token.
fn secret_page(
    state: &AppState,
    post: &Post,
    rs: &ResourceServer,
    client: &Client,
    secret: &str,
    title: &str,
) -> WebResult {
    let mut page = Page::new(title, Some(&post.session.csrf));
    page.server = Some((rs, Tab::Clients));
    page.notice = Some(Notice::Done(
        "Copy the secret now: it is shown only this once.".into(),
    ));
    html!(page.main, "<section class=\"card secret\" aria-labelledby=\"creds\"><h2 id=\"creds\">" {client.name} "</h2><dl class=\"pairs\">"
        "<dt>Client id</dt><dd><code id=\"client-id\">" {client.client_id} "</code></dd>"
        "<dt>Client secret</dt><dd><code id=\"client-secret\">" {secret} "</code> "
        "<button type=\"button\" class=\"copy\" data-copy=\"client-secret\">Copy</button></dd>"
        "<dt>Allowed scopes</dt><dd>" {client.allowed_scopes.join(" ")} "</dd></dl>"
        "<p>A token for it:</p><pre id=\"token-cmd\">curl -s -u '" {client.client_id} ":" {secret} "' -d grant_type=client_credentials -d resource='"
        {rs.resource_uri} "' " {state.issuer()} "/oauth/token</pre>"
        "<button type=\"button\" class=\"copy\" data-copy=\"token-cmd\">Copy</button></section>"
        "<p><a class=\"button\" href=\"" [tab_href(rs, Tab::Clients)] "\">Back to the clients</a></p>");
    let mut resp = page.render();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn refused(state: &AppState, post: &Post, id: &str, e: Error, typed: Typed<'_>) -> WebResult {
    match e {
        Error::InvalidInput { .. } | Error::UnknownScopes { .. } => {
            let notice = Some(Notice::Error(format!("Not saved: {e}")));
            clients_page(
                state,
                &post.session,
                id,
                notice,
                StatusCode::BAD_REQUEST,
                typed,
            )
            .await
        }
        e => Err(e.into()),
    }
}

/// `POST /servers/{id}/clients`: the new client's secret, once.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> WebResult {
    let name = post.form.text("name");
    let scopes = post.form.all("allowed_scopes");
    let auth = match post.form.text("auth") {
        a if a.is_empty() => "secret".to_owned(),
        a => a,
    };
    let jwks = post.form.text("jwks");
    let jwks_uri = post.form.text("jwks_uri");
    let typed = Typed {
        name: &name,
        scopes: &scopes,
        auth: &auth,
        jwks: &jwks,
        jwks_uri: &jwks_uri,
    };
    let keys = match auth.as_str() {
        "jwks" => match serde_json::from_str(&jwks) {
            Ok(v) => Some(ClientKeys::Jwks(v)),
            Err(e) => {
                let e = Error::invalid("jwks", format!("is not JSON ({e})"));
                return refused(&state, &post, &id, e, typed).await;
            }
        },
        "jwks_uri" => Some(ClientKeys::JwksUri(jwks_uri.trim().to_owned())),
        _ => None,
    };
    let Some(keys) = keys else {
        return match state
            .store()
            .create_client(&Actor::Admin, &id, name.clone(), scopes.clone())
            .await
        {
            Ok((client, secret)) => {
                let rs = state.store().resource_server(&id).await?;
                secret_page(&state, &post, &rs, &client, &secret, "Client created")
            }
            Err(e) => refused(&state, &post, &id, e, typed).await,
        };
    };
    match state
        .store()
        .create_key_client(&Actor::Admin, &id, name.clone(), scopes.clone(), keys)
        .await
    {
        Ok(_) => see_other(format!(
            "/servers/{}/clients?done=key_client_created",
            url_component(&id)
        )),
        Err(e) => refused(&state, &post, &id, e, typed).await,
    }
}

async fn patch(
    state: &AppState,
    post: &Post,
    id: &str,
    client: &str,
    patch: ClientPatch,
) -> WebResult {
    match state
        .store()
        .update_client(&Actor::Admin, id, client, patch)
        .await
    {
        Ok(_) => see_other(format!(
            "/servers/{}/clients?done=client_updated",
            url_component(id)
        )),
        Err(e) => refused(state, post, id, e, Typed::EMPTY).await,
    }
}

/// `POST /servers/{id}/clients/{client}/scopes`.
pub(crate) async fn scopes(
    State(state): State<AppState>,
    Path((id, client)): Path<(String, String)>,
    post: Post,
) -> WebResult {
    let p = ClientPatch {
        allowed_scopes: Some(post.form.all("allowed_scopes")),
        ..ClientPatch::default()
    };
    patch(&state, &post, &id, &client, p).await
}

/// `POST /servers/{id}/clients/{client}/enabled`.
pub(crate) async fn set_enabled(
    State(state): State<AppState>,
    Path((id, client)): Path<(String, String)>,
    post: Post,
) -> WebResult {
    let p = ClientPatch {
        enabled: Some(post.form.one("enabled") == Some("true")),
        ..ClientPatch::default()
    };
    patch(&state, &post, &id, &client, p).await
}

/// `POST /servers/{id}/clients/{client}/secret`: the new secret, once.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    Path((id, client)): Path<(String, String)>,
    post: Post,
) -> WebResult {
    let secret = state
        .store()
        .rotate_client_secret(&Actor::Admin, &id, &client)
        .await?;
    let rs = state.store().resource_server(&id).await?;
    let c = state.store().client(&id, &client).await?;
    secret_page(&state, &post, &rs, &c, &secret, "New client secret")
}

/// `POST /servers/{id}/clients/{client}/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((id, client)): Path<(String, String)>,
    _post: Post,
) -> WebResult {
    state
        .store()
        .delete_client(&Actor::Admin, &id, &client)
        .await?;
    see_other(format!(
        "/servers/{}/clients?done=client_deleted",
        url_component(&id)
    ))
}
