//! `authsec explain`: a denial (raw HTTP response, WWW-Authenticate value and/or JSON body)
//! in words, with what the client should do next.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use authsec::explain::{self, McpAuthError};

use crate::cli::ExplainArgs;
use crate::output::{cell, table, wrap, Style};

/// What the input held.
#[derive(Debug, Default, PartialEq)]
pub struct Parts {
    pub status: Option<u16>,
    pub www_authenticate: Option<String>,
    pub body: Option<String>,
}

/// Splits pasted text: a raw response (`HTTP/1.1 403 …`, headers, blank line, body), header
/// lines, a bare `WWW-Authenticate` value, or a JSON body.
pub fn split(input: &str) -> Parts {
    let text = input.replace("\r\n", "\n");
    let text = text.trim();
    let mut parts = Parts::default();
    if text.starts_with('{') {
        parts.body = Some(text.to_owned());
        return parts;
    }
    let mut lines = text.lines();
    let mut challenges = Vec::new();
    let mut body = Vec::new();
    let mut in_body = false;
    while let Some(line) = lines.next() {
        if in_body {
            body.push(line);
            continue;
        }
        let l = line.trim();
        if l.is_empty() {
            in_body = true;
            continue;
        }
        if l.starts_with('{') {
            body.push(l);
            body.extend(lines.by_ref());
            break;
        }
        if let Some(rest) = l.strip_prefix("HTTP/") {
            parts.status = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            continue;
        }
        match l.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("www-authenticate") => {
                challenges.push(value.trim().to_owned());
            }
            // Another header line of a raw response.
            Some((name, _)) if !name.contains(' ') && parts.status.is_some() => {}
            _ => challenges.push(l.to_owned()),
        }
    }
    if !challenges.is_empty() {
        parts.www_authenticate = Some(challenges.join(", "));
    }
    let body = body.join("\n");
    if !body.trim().is_empty() {
        parts.body = Some(body.trim().to_owned());
    }
    parts
}

pub fn run(args: &ExplainArgs, style: &Style) -> Result<ExitCode, String> {
    let mut parts = Parts::default();
    let flags_given = args.www_authenticate.is_some() || args.body.is_some();
    let input = match args.input.as_deref() {
        Some("-") => Some(read_stdin()?),
        Some(text) => Some(text.to_owned()),
        None if !flags_given && !std::io::stdin().is_terminal() => Some(read_stdin()?),
        None => None,
    };
    if let Some(text) = input {
        parts = split(&text);
    }
    if args.www_authenticate.is_some() {
        parts.www_authenticate = args.www_authenticate.clone();
    }
    if args.body.is_some() {
        parts.body = args.body.clone();
    }
    if args.status.is_some() {
        parts.status = args.status;
    }
    let denial = explain::parse(
        parts.status,
        parts.www_authenticate.as_deref(),
        parts.body.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&denial.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", render(&denial, style));
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> Result<String, String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(s)
}

fn render(d: &McpAuthError, style: &Style) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} {}\n",
        style.bold("what happened:"),
        d.summary()
    ));
    out.push_str(&wrap(d.meaning(), "  ", 100));
    let mut rows = Vec::new();
    let mut row = |k: &str, v: String| {
        if !v.is_empty() {
            rows.push(vec![cell(format!("  {k}")), cell(v)]);
        }
    };
    row("tool", d.tool.clone().unwrap_or_default());
    row("required scopes", d.required_scopes.join(" "));
    row("granted scopes", d.granted_scopes.join(" "));
    row("challenge scope", d.scope.join(" "));
    row(
        "resource metadata",
        d.resource_metadata.clone().unwrap_or_default(),
    );
    if !rows.is_empty() {
        out.push_str(&table(&rows));
    }
    let step = d.next_step();
    out.push_str(&format!(
        "{} {}\n",
        style.bold("what to do next:"),
        step.action()
    ));
    out.push_str(&wrap(&step.to_string(), "  ", 100));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_curl_response_is_split_into_status_header_and_body() {
        let p = split(
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nWWW-Authenticate: Bearer error=\"insufficient_scope\"\r\n\r\n{\"error\":\"insufficient_scope\"}\r\n",
        );
        assert_eq!(
            p,
            Parts {
                status: Some(403),
                www_authenticate: Some("Bearer error=\"insufficient_scope\"".into()),
                body: Some("{\"error\":\"insufficient_scope\"}".into()),
            }
        );
    }

    #[test]
    fn a_bare_header_value_or_body_is_recognised() {
        assert_eq!(
            split("Bearer error=\"invalid_token\"")
                .www_authenticate
                .as_deref(),
            Some("Bearer error=\"invalid_token\"")
        );
        assert_eq!(
            split(" {\"error\":\"x\"} ").body.as_deref(),
            Some("{\"error\":\"x\"}")
        );
        let p = split("WWW-Authenticate: Bearer scope=\"a\"\n{\"reason\":\"no_token\"}");
        assert_eq!(p.www_authenticate.as_deref(), Some("Bearer scope=\"a\""));
        assert_eq!(p.body.as_deref(), Some("{\"reason\":\"no_token\"}"));
    }
}
