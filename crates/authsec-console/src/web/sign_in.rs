//! Sign-in (admin token or one-time link), sign-out.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::html;
use super::layout::{Notice, Page};
use super::{cookie, read_form, session_cookie_name, set_cookie, Post, WebError, WebResult};
use crate::admin_api::is_admin_token;
use crate::auth;
use crate::error::Error;
use crate::state::{secs, AppState};
use crate::store::SessionKind;

/// The cookie that binds the sign-in form's CSRF token to the browser that loaded it.
const SIGN_IN_CSRF_COOKIE: &str = "authsec_console_sign_in";

/// How long a printed sign-in link works.
pub const SIGN_IN_LINK_LIFETIME_SECS: i64 = 15 * 60;

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    done: Option<String>,
}

/// Only local paths, never `//host`, a scheme, a backslash, or whitespace and control
/// characters (browsers drop a tab from `/\t/host`, which would make it `//host`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_local_path_or_home() {
        assert_eq!(
            safe_next(Some("/servers/rs-1/tools?q=a")),
            "/servers/rs-1/tools?q=a"
        );
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "x",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}

fn sign_in_page(
    state: &AppState,
    next: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> WebResult {
    let csrf = auth::generate_secret("")?;
    let mut page = Page::new("Sign in", None);
    page.notice = notice;
    html!(page.main,
        "<form method=\"post\" action=\"/sign-in\" class=\"card narrow\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"" {csrf} "\">"
        "<input type=\"hidden\" name=\"next\" value=\"" {next} "\">"
        "<p><label for=\"admin_token\">Admin token</label>"
        "<input id=\"admin_token\" name=\"admin_token\" type=\"password\" autocomplete=\"current-password\" required autofocus "
        "aria-describedby=\"admin_token_help\"></p>"
        "<p id=\"admin_token_help\" class=\"help\">The token <code>authsec console</code> printed at its first start "
        "(or <code>AUTHSEC_CONSOLE_ADMIN_TOKEN</code>). A sign-in link printed by <code>authsec console</code> or "
        "<code>authsec demo</code> works without it. Lost it? <code>authsec console --reset-admin-token</code>.</p>"
        "<p><button type=\"submit\">Sign in</button></p></form>");
    let mut resp = page.render_status(status);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_CSRF_COOKIE, &csrf, 3600),
    );
    Ok(resp)
}

/// `GET /sign-in`.
pub(crate) async fn page(State(state): State<AppState>, Query(q): Query<SignInQuery>) -> WebResult {
    let notice = match q.done.as_deref() {
        Some("signed_out") => Some(Notice::Done("Signed out.".into())),
        Some("expired") => Some(Notice::Error(
            "This sign-in link was already used or has expired. Sign in with the admin token, \
             or restart the console for a new link."
                .into(),
        )),
        _ => None,
    };
    sign_in_page(
        &state,
        &safe_next(q.next.as_deref()),
        notice,
        StatusCode::OK,
    )
}

/// A new session for this browser: the cookie, then to `next`.
async fn start_session(state: &AppState, next: &str) -> WebResult {
    let value = auth::generate_secret("")?;
    let csrf = auth::generate_secret("")?;
    let lifetime = secs(state.settings().session_lifetime);
    let expires_at = state.store().now() + lifetime;
    state
        .store()
        .create_session(SessionKind::Session, &value, &csrf, expires_at)
        .await?;
    let mut resp = Redirect::to(next).into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(state, session_cookie_name(state), &value, lifetime),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_CSRF_COOKIE, "", 0),
    );
    Ok(resp)
}

/// `POST /sign-in`: the admin token.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> WebResult {
    let form = read_form(req).await?;
    let next = safe_next(form.one("next"));
    let bound = cookie(&headers, SIGN_IN_CSRF_COOKIE);
    let csrf_ok =
        matches!((bound, form.one("csrf")), (Some(c), Some(f)) if auth::secrets_equal(c, f));
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    let token = form.one("admin_token").unwrap_or("").trim();
    if token.is_empty() || !is_admin_token(&state, token).await? {
        return sign_in_page(
            &state,
            &next,
            Some(Notice::Error("That is not the admin token.".into())),
            StatusCode::UNAUTHORIZED,
        );
    }
    start_session(&state, &next).await
}

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    token: Option<String>,
}

/// `GET /sign-in/link?token=…`: a one-time sign-in link.
pub(crate) async fn link(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> WebResult {
    let token = q.token.unwrap_or_default();
    if token.is_empty() || !state.store().take_sign_in_link(&token).await? {
        return Ok(Redirect::to("/sign-in?done=expired").into_response());
    }
    start_session(&state, "/").await
}

/// `POST /sign-out`.
pub(crate) async fn sign_out(State(state): State<AppState>, post: Post) -> WebResult {
    state.store().delete_session(&post.session.cookie).await?;
    let mut resp: Response = Redirect::to("/sign-in?done=signed_out").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie_name(&state), "", 0),
    );
    Ok(resp)
}

/// Creates a one-time sign-in link (valid [`SIGN_IN_LINK_LIFETIME_SECS`]) and returns its URL.
pub(crate) async fn create_sign_in_link(state: &AppState) -> Result<String, Error> {
    let token = auth::generate_secret("")?;
    let expires_at = state.store().now() + SIGN_IN_LINK_LIFETIME_SECS;
    state
        .store()
        .create_session(SessionKind::SignInLink, &token, "", expires_at)
        .await?;
    Ok(format!("{}/sign-in/link?token={token}", state.issuer()))
}
