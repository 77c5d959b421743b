//! The Console page: the console's endpoints and settings, the token service's signing keys
//! (rotate, retire) and the admin token (rotate).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::html::{datetime, html, url_component};
use super::layout::{csrf_field, Notice, Page};
use super::servers::{done_notice, DoneQuery};
use super::{see_other, Post, SignedIn, WebResult};
use crate::admin_api::endpoints;
use crate::auth::{self, Actor};
use crate::error::Error;
use crate::state::{secs, AppState, KeyState};

async fn console_page(
    state: &AppState,
    csrf: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> WebResult {
    let keys = state.signing_keys().await?;
    let s = state.settings();
    let mut page = Page::new("Console", Some(csrf));
    page.notice = notice;
    let o = &mut page.main;
    html!(*o, "<section class=\"card\" aria-labelledby=\"about\"><h2 id=\"about\">This console</h2><dl class=\"pairs\">"
        "<dt>Issuer (public URL)</dt><dd><code>" {state.issuer()} "</code></dd>"
        "<dt>Database</dt><dd>" {state.store().backend().as_str()} "</dd>"
        "<dt>Access token lifetime</dt><dd>" {secs(s.token_lifetime)} " s</dd>"
        "<dt>Sign-in lifetime</dt><dd>" {secs(s.session_lifetime)} " s</dd>"
        "<dt>Signing-key activation delay</dt><dd>" {secs(s.key_activation_delay)} " s</dd>");
    for (name, url) in endpoints(state.issuer()) {
        html!(*o, "<dt>" {name} "</dt><dd><code>" {url} "</code></dd>");
    }
    html!(*o, "</dl></section><section class=\"card\" aria-labelledby=\"keys\"><h2 id=\"keys\">Signing keys</h2>"
        "<p>A new key is in the JWKS at once and signs after the activation delay, so that resource servers know it before "
        "its first token arrives; older keys stay in the JWKS for the tokens they signed. Retiring a key removes it from the "
        "JWKS and makes its tokens inactive; retiring the signing key makes the oldest newer one sign at once.</p>"
        "<table class=\"list\"><caption class=\"sr\">Signing keys, newest first</caption><thead><tr><th scope=\"col\">Key id</th>"
        "<th scope=\"col\">Algorithm</th><th scope=\"col\">Created</th><th scope=\"col\">State</th><th scope=\"col\">Retire</th></tr></thead><tbody>");
    for k in &keys {
        html!(*o, "<tr><th scope=\"row\"><code>" {k.key.kid} "</code></th><td>" {k.key.alg} "</td><td>" {datetime(k.key.created_at)} "</td><td>");
        match (k.state, k.key.retired_at, k.signs_from) {
            (KeyState::Retired, Some(at), _) => {
                html!(*o, "<span class=\"badge off\">retired " {datetime(at)} "</span></td><td></td></tr>");
                continue;
            }
            (KeyState::Signing, ..) => {
                o.raw("<span class=\"badge ok\">signs</span>");
            }
            (KeyState::Published, _, Some(from)) => {
                html!(*o, "<span class=\"badge\">in the JWKS, signs from " {datetime(from)} "</span>")
            }
            _ => {
                o.raw("<span class=\"badge\">in the JWKS</span>");
            }
        }
        html!(*o, "</td><td><form method=\"post\" action=\"/console/signing-keys/" {url_component(&k.key.kid)} "/retire\">" [csrf_field(csrf)]
            "<button type=\"submit\" class=\"danger\" aria-label=\"Retire " {k.key.kid} "\">Retire</button></form></td></tr>");
    }
    html!(*o, "</tbody></table><form method=\"post\" action=\"/console/signing-keys\">" [csrf_field(csrf)]
        "<button type=\"submit\">Rotate: new signing key</button></form></section>"
        "<section class=\"card\" aria-labelledby=\"admin-token\"><h2 id=\"admin-token\">Admin token</h2>");
    if s.admin_token.is_some() {
        o.raw("<p>The admin token comes from <code>AUTHSEC_CONSOLE_ADMIN_TOKEN</code>: change the variable to rotate it.</p>");
    } else {
        html!(*o, "<p>Rotating replaces the admin token (shown once) and signs every browser out, this one included.</p>"
            "<form method=\"post\" action=\"/console/admin-token\">" [csrf_field(csrf)]
            "<button type=\"submit\" class=\"danger\">Rotate the admin token</button></form>");
    }
    o.raw("</section>");
    Ok(page.render_status(status))
}

/// `GET /console`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Query(q): Query<DoneQuery>,
) -> WebResult {
    let notice = done_notice(q.done.as_deref());
    console_page(&state, &session.csrf, notice, StatusCode::OK).await
}

/// `POST /console/signing-keys`: a new key, published now, signs after the activation delay.
pub(crate) async fn rotate_key(State(state): State<AppState>, _post: Post) -> WebResult {
    state.rotate_signing_key(&Actor::Admin).await?;
    see_other("/console?done=key_rotated".to_owned())
}

/// `POST /console/signing-keys/{kid}/retire`: refused for the last active key.
pub(crate) async fn retire_key(
    State(state): State<AppState>,
    Path(kid): Path<String>,
    post: Post,
) -> WebResult {
    match state.store().retire_signing_key(&Actor::Admin, &kid).await {
        Ok(_) => see_other("/console?done=key_retired".to_owned()),
        Err(e @ Error::LastSigningKey { .. }) => {
            let notice = Some(Notice::Error(format!("Not retired: {e}")));
            console_page(&state, &post.session.csrf, notice, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /console/admin-token`: the new token, once; every session ends.
pub(crate) async fn rotate_admin_token(State(state): State<AppState>, post: Post) -> WebResult {
    if state.settings().admin_token.is_some() {
        let notice = Some(Notice::Error(Error::AdminTokenFromEnv.to_string()));
        return console_page(&state, &post.session.csrf, notice, StatusCode::CONFLICT).await;
    }
    let token = auth::generate_secret("asa_")?;
    state
        .store()
        .replace_admin_token(&Actor::Admin, &auth::hash_secret(&token)?)
        .await?;
    let mut page = Page::new("New admin token", None);
    page.notice = Some(Notice::Done(
        "The old admin token no longer works and every browser was signed out. Copy the new one now: it is shown only this once.".into(),
    ));
    html!(page.main, "<section class=\"card secret\"><p><code id=\"admin-token-value\">" {token} "</code> "
        "<button type=\"button\" class=\"copy\" data-copy=\"admin-token-value\">Copy</button></p></section>"
        "<p><a class=\"button\" href=\"/sign-in\">Sign in with it</a></p>");
    Ok(page.render())
}
