//! The web console: server-rendered HTML at `/`, for an operator in a browser.
//!
//! Every page is rendered from typed Rust ([`html`]: markup is `&'static str`, every value is
//! escaped) and every form works without JavaScript; `assets/console.js` only adds
//! filter-as-you-type, select-all and copy buttons. Every change goes through the same store
//! operations as the admin API (same validation, same audit entries, same generation bumps); the
//! access simulator decides with the SDK's own policy and challenge code.
//!
//! **Sign-in.** The admin token, typed into the sign-in form, or a one-time sign-in link that
//! `authsec console` and `authsec demo` print, becomes a session: a random 256-bit cookie value
//! (`HttpOnly`, `SameSite=Strict`, `Secure` and `__Host-` prefixed when the public URL is https),
//! stored only as its SHA-256, with an absolute lifetime (8 h by default) and a sign-out that
//! deletes it. Every state-changing request is a POST whose form carries the session's CSRF
//! token ([`Post`] checks it before any handler runs; the sign-in form has its own, bound to a
//! cookie).
//!
//! **Headers.** `Content-Security-Policy: default-src 'self'` with no inline script or style,
//! `X-Frame-Options: DENY` (and `frame-ancestors 'none'`), `nosniff`, `Referrer-Policy:
//! no-referrer` (a sign-in link never leaks through a Referer), `Cache-Control: no-store`
//! (pages can show a secret once).

pub mod html;

mod audit;
mod clients;
mod console_page;
mod entries;
mod layout;
mod scopes;
mod servers;
mod sign_in;
mod simulator;
mod tools;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::auth;
use crate::error::Error;
use crate::state::AppState;

pub use entries::{render_entries_page, Shown};
pub use layout::{Notice, Page, Tab};
pub(crate) use sign_in::create_sign_in_link;
pub use sign_in::SIGN_IN_LINK_LIFETIME_SECS;
pub use simulator::{simulate, Verdict};
pub use tools::{render_tools_page, ToolsQuery};

/// The Content-Security-Policy of every console page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// The largest form body accepted (a bulk mapping of every tool of a big server fits).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

type Prompts = entries::Handlers<crate::model::ManifestPrompt>;
type Resources = entries::Handlers<crate::model::ManifestResource>;

/// The web console's routes (merged into the console's router).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(servers::list))
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/sign-in/link", get(sign_in::link))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/servers", post(servers::create))
        .route("/servers/{id}", get(servers::overview))
        .route("/servers/{id}/enabled", post(servers::set_enabled))
        .route("/servers/{id}/secret", post(servers::rotate_secret))
        .route("/servers/{id}/settings", post(servers::settings))
        .route("/servers/{id}/delete", post(servers::delete))
        .route("/servers/{id}/tools", get(tools::page))
        .route("/servers/{id}/tools/map", post(tools::map))
        .route("/servers/{id}/tool", get(tools::detail))
        .route("/servers/{id}/tool/clear", post(tools::clear))
        .route("/servers/{id}/tool/forget", post(tools::forget))
        .route("/servers/{id}/prompts", get(Prompts::page))
        .route("/servers/{id}/prompts/map", post(Prompts::map))
        .route("/servers/{id}/prompts/clear", post(Prompts::clear))
        .route("/servers/{id}/resources", get(Resources::page))
        .route("/servers/{id}/resources/map", post(Resources::map))
        .route("/servers/{id}/resources/clear", post(Resources::clear))
        .route(
            "/servers/{id}/scopes",
            get(scopes::page).post(scopes::create),
        )
        .route("/servers/{id}/scopes/update", post(scopes::update))
        .route("/servers/{id}/scopes/delete", post(scopes::delete))
        .route(
            "/servers/{id}/clients",
            get(clients::page).post(clients::create),
        )
        .route(
            "/servers/{id}/clients/{client}/scopes",
            post(clients::scopes),
        )
        .route(
            "/servers/{id}/clients/{client}/secret",
            post(clients::rotate),
        )
        .route(
            "/servers/{id}/clients/{client}/enabled",
            post(clients::set_enabled),
        )
        .route(
            "/servers/{id}/clients/{client}/delete",
            post(clients::delete),
        )
        .route("/servers/{id}/simulator", get(simulator::page))
        .route("/audit", get(audit::page))
        .route("/console", get(console_page::page))
        .route("/console/signing-keys", post(console_page::rotate_key))
        .route(
            "/console/signing-keys/{kid}/retire",
            post(console_page::retire_key),
        )
        .route(
            "/console/admin-token",
            post(console_page::rotate_admin_token),
        )
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("assets/console.js"),
    )
        .into_response()
}

// ---- sessions ------------------------------------------------------------------------------

/// The session cookie's name: `__Host-` prefixed (browsers then insist on `Secure`, `Path=/`
/// and no `Domain`) when the console is served over https.
pub(crate) fn session_cookie_name(state: &AppState) -> &'static str {
    if is_https(state) {
        "__Host-authsec_console"
    } else {
        "authsec_console"
    }
}

fn is_https(state: &AppState) -> bool {
    state.settings().issuer.starts_with("https://")
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` over https.
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if is_https(state) { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The value of cookie `name`, if the request carries exactly one.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = None;
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if k == name {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(val);
                }
            }
        }
    }
    found.filter(|v| !v.is_empty())
}

/// A signed-in browser: the session's cookie value and its CSRF token.
pub struct SignedIn {
    cookie: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let next = (parts.method == axum::http::Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        let Some(value) = cookie(&parts.headers, session_cookie_name(state)) else {
            return Err(WebError::SignIn { next });
        };
        match state.store().session_csrf(value).await? {
            Some(csrf) => Ok(SignedIn {
                cookie: value.to_owned(),
                csrf,
            }),
            None => Err(WebError::SignIn { next }),
        }
    }
}

/// Form fields, in order; a name may repeat (checkboxes, multiple selects).
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    fn parse(body: &[u8]) -> Self {
        FormData(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.one(name).unwrap_or("").trim().to_owned()
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A state-changing request: a signed-in session and a form carrying its CSRF token. Every
/// POST handler but the sign-in form takes one, so none can skip the check.
pub struct Post {
    /// The session.
    pub session: SignedIn,
    /// The form fields.
    pub form: FormData,
}

/// Reads an `application/x-www-form-urlencoded` body.
async fn read_form(req: Request) -> Result<FormData, WebError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(WebError::BadRequest(
            "expected a form (application/x-www-form-urlencoded)".into(),
        ));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|_| WebError::BadRequest("the form is too large".into()))?;
    Ok(FormData::parse(&body))
}

impl FromRequest<AppState> for Post {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let session = SignedIn::from_request_parts(&mut parts, state).await?;
        let form = read_form(Request::from_parts(parts, body)).await?;
        let valid = form
            .one("csrf")
            .is_some_and(|t| auth::secrets_equal(t, &session.csrf));
        if !valid {
            return Err(WebError::Csrf);
        }
        Ok(Post { session, form })
    }
}

// ---- errors --------------------------------------------------------------------------------

/// A request the console refuses, as a page.
#[derive(Debug)]
pub enum WebError {
    /// No valid session: to the sign-in page (then back to `next`).
    SignIn {
        /// The page asked for (GET only).
        next: Option<String>,
    },
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The request is malformed.
    BadRequest(String),
    /// A store error.
    Console(Error),
}

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError::Console(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            WebError::SignIn { next } => {
                let target = match next.filter(|n| n.starts_with('/') && !n.starts_with("//")) {
                    Some(n) if n != "/" => {
                        format!("/sign-in?next={}", html::url_component(&n))
                    }
                    _ => "/sign-in".to_owned(),
                };
                return Redirect::to(&target).into_response();
            }
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "The form did not carry this session's CSRF token (it may come from another \
                 site, or from a page older than your sign-in). Reload the page and try again."
                    .to_owned(),
            ),
            WebError::BadRequest(why) => (StatusCode::BAD_REQUEST, "Bad request", why),
            WebError::Console(Error::NotFound { kind, id }) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("There is no {} {id:?}.", kind.replace('_', " ")),
            ),
            WebError::Console(e) => {
                tracing::error!(target: "authsec::console", error = %e, "web console failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "Something failed inside the console; its log says what.".to_owned(),
                )
            }
        };
        let mut page = Page::new(title, None);
        page.notice = Some(Notice::Error(text));
        html::html!(page.main, "<p><a href=\"/\">Back to the console</a></p>");
        page.render_status(status)
    }
}

/// The result of a page handler.
pub type WebResult = Result<Response, WebError>;

/// A 303 to `location` (after a successful POST: reloading the page does not repeat it).
pub(crate) fn see_other(location: String) -> WebResult {
    Ok(Redirect::to(&location).into_response())
}
