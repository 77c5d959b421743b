//! The frame of every page: header with the console's navigation and sign-out, the resource
//! server's tabs, a notice, the page's content.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::html::{html, url_component, Html};
use crate::model::{PolicyState, ResourceServer};

/// The tabs of a resource server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Details, launch checklist, SDK status.
    Overview,
    /// Tools and their rules.
    Tools,
    /// Prompts and their rules.
    Prompts,
    /// Resources (URIs and URI templates) and their rules.
    Resources,
    /// Scopes.
    Scopes,
    /// Machine clients.
    Clients,
    /// The access simulator.
    Simulator,
    /// The audit log of this resource server.
    Audit,
}

impl Tab {
    const ALL: [Tab; 8] = [
        Tab::Overview,
        Tab::Tools,
        Tab::Prompts,
        Tab::Resources,
        Tab::Scopes,
        Tab::Clients,
        Tab::Simulator,
        Tab::Audit,
    ];

    fn label(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Tools => "Tools",
            Tab::Prompts => "Prompts",
            Tab::Resources => "Resources",
            Tab::Scopes => "Scopes",
            Tab::Clients => "Clients",
            Tab::Simulator => "Access simulator",
            Tab::Audit => "Audit log",
        }
    }
}

/// A message at the top of the page.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Something succeeded.
    Done(String),
    /// Something was refused or failed (with the reason).
    Error(String),
}

/// One page.
#[derive(Debug)]
pub struct Page<'a> {
    /// The `<h1>` and `<title>`.
    pub title: String,
    /// The session's CSRF token (none on the sign-in and error pages: no sign-out button).
    pub csrf: Option<&'a str>,
    /// The resource server whose tabs are shown, and the current tab.
    pub server: Option<(&'a ResourceServer, Tab)>,
    /// A notice above the content.
    pub notice: Option<Notice>,
    /// The content.
    pub main: Html,
}

impl<'a> Page<'a> {
    /// An empty page.
    pub fn new(title: impl Into<String>, csrf: Option<&'a str>) -> Self {
        Page {
            title: title.into(),
            csrf,
            server: None,
            notice: None,
            main: Html::with_capacity(16 * 1024),
        }
    }

    /// The whole document.
    pub fn to_html(&self) -> Html {
        let mut o = Html::with_capacity(self.main.as_str().len() + 4096);
        html!(o,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>" {self.title});
        if let Some((rs, _)) = self.server {
            html!(o, " · " {rs.name});
        }
        html!(o, " · authsec console</title>"
            "<link rel=\"stylesheet\" href=\"/assets/console.css\">"
            "<script src=\"/assets/console.js\" defer></script></head><body>"
            "<a class=\"skip\" href=\"#main\">Skip to content</a>"
            "<header class=\"top\"><a class=\"brand\" href=\"/\">authsec console</a>");
        if let Some(csrf) = self.csrf {
            html!(o, "<nav aria-label=\"Console\"><ul>"
                "<li><a href=\"/\">Resource servers</a></li>"
                "<li><a href=\"/audit\">Audit log</a></li>"
                "<li><a href=\"/console\">Console</a></li></ul></nav>"
                "<form method=\"post\" action=\"/sign-out\" class=\"sign-out\">"
                "<input type=\"hidden\" name=\"csrf\" value=\"" {csrf} "\">"
                "<button type=\"submit\">Sign out</button></form>");
        }
        html!(o, "</header>");
        if let Some((rs, current)) = self.server {
            html!(o, "<div class=\"server-head\"><p class=\"crumbs\"><a href=\"/\">Resource servers</a> › "
                "<span>" {rs.name} "</span> <code>" {rs.id} "</code> "
                [state_badge(rs)] "</p>"
                "<nav aria-label=\"Resource server\" class=\"tabs\"><ul>");
            for tab in Tab::ALL {
                html!(o, "<li><a href=\"" [tab_href(rs, tab)] "\"");
                if tab == current {
                    o.raw(" aria-current=\"page\"");
                }
                html!(o, ">" {tab.label()});
                let unmapped = match tab {
                    Tab::Tools => Some((rs.tool_counts.unmapped, "unmapped tools")),
                    Tab::Prompts => Some((rs.prompt_counts.unmapped, "unmapped prompts")),
                    Tab::Resources => Some((rs.resource_counts.unmapped, "unmapped resources")),
                    _ => None,
                };
                if let Some((n, title)) = unmapped.filter(|(n, _)| *n > 0) {
                    html!(o, " <span class=\"count warn\" title=\"" {title} "\">"
                        {n} "<span class=\"sr\"> unmapped</span></span>");
                }
                o.raw("</a></li>");
            }
            o.raw("</ul></nav></div>");
        }
        html!(o, "<main id=\"main\"><h1>" {self.title} "</h1>");
        match &self.notice {
            Some(Notice::Done(t)) => {
                html!(o, "<div class=\"notice ok\" role=\"status\">" {t} "</div>")
            }
            Some(Notice::Error(t)) => {
                html!(o, "<div class=\"notice error\" role=\"alert\">" {t} "</div>")
            }
            None => {}
        }
        html!(o, [self.main] "</main></body></html>");
        o
    }

    /// The page as a 200 response.
    pub fn render(&self) -> Response {
        self.render_status(StatusCode::OK)
    }

    /// The page with another status (a refused form is shown again with the reason).
    pub fn render_status(&self, status: StatusCode) -> Response {
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            self.to_html().into_string(),
        )
            .into_response()
    }
}

/// The URL of a resource server's tab.
pub fn tab_href(rs: &ResourceServer, tab: Tab) -> Html {
    let mut h = Html::default();
    html!(h, "/servers/" {url_component(&rs.id)});
    h.raw(match tab {
        Tab::Overview => "",
        Tab::Tools => "/tools",
        Tab::Prompts => "/prompts",
        Tab::Resources => "/resources",
        Tab::Scopes => "/scopes",
        Tab::Clients => "/clients",
        Tab::Simulator => "/simulator",
        Tab::Audit => "",
    });
    if tab == Tab::Audit {
        let mut a = Html::default();
        html!(a, "/audit?resource_server_id=" {url_component(&rs.id)});
        return a;
    }
    h
}

/// `ready` / `needs setup` / `disabled`, as a badge.
pub fn state_badge(rs: &ResourceServer) -> Html {
    let mut h = Html::default();
    match rs.readiness.state {
        PolicyState::Ready => h.raw("<span class=\"badge ok\">ready</span>"),
        PolicyState::NeedsSetup => h.raw("<span class=\"badge warn\">needs setup</span>"),
        PolicyState::Disabled => h.raw("<span class=\"badge off\">disabled</span>"),
    };
    h
}

/// The hidden CSRF field of a form.
pub fn csrf_field(csrf: &str) -> Html {
    let mut h = Html::default();
    html!(h, "<input type=\"hidden\" name=\"csrf\" value=\"" {csrf} "\">");
    h
}
