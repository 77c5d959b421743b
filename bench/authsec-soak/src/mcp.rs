//! A minimal MCP Streamable HTTP client (2025 sessions): `initialize`, the `initialized`
//! notification, `tools/list`, `tools/call` and the session `DELETE`, with answers read from
//! plain JSON or SSE (`data:` lines), and each answer turned into an [`Outcome`].

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::oracle::{Op, Outcome};

/// The protocol revision the client speaks.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

const SESSION_HEADER: &str = "mcp-session-id";

/// The MCP endpoint.
#[derive(Clone)]
pub struct Endpoint {
    http: reqwest::Client,
    url: String,
}

/// An answer as received.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Mcp-Session-Id`, when the server issued one.
    pub session: Option<String>,
    /// `Content-Type`.
    pub content_type: String,
    /// The whole body.
    pub body: String,
}

/// What a request sends.
pub struct Call<'a> {
    /// The bearer token, if any.
    pub token: Option<&'a str>,
    /// The session, if any.
    pub session: Option<&'a str>,
    /// The operation.
    pub op: Op,
    /// The JSON-RPC id.
    pub id: u64,
    /// The `tools/call` arguments.
    pub arguments: Value,
}

impl Endpoint {
    /// The endpoint at `url`.
    pub fn new(http: reqwest::Client, url: String) -> Endpoint {
        Endpoint { http, url }
    }

    /// Sends `call`; an error is a transport failure (connection refused, reset, timeout).
    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, reqwest::Error> {
        let mut rb = match call.op {
            Op::Delete => self.http.delete(&self.url),
            _ => self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body(call).to_string()),
        };
        rb = rb.header("accept", "application/json, text/event-stream");
        if call.op != Op::Initialize {
            rb = rb.header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        if let Some(t) = call.token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        if let Some(s) = call.session {
            rb = rb.header(SESSION_HEADER, s);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let session = header(SESSION_HEADER);
        let content_type = header("content-type").unwrap_or_default();
        let body = resp.text().await?;
        Ok(Reply {
            status,
            session,
            content_type,
            body,
        })
    }
}

fn body(call: &Call<'_>) -> Value {
    match call.op {
        Op::Initialize => json!({
            "jsonrpc": "2.0", "id": call.id, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "authsec-soak", "version": env!("CARGO_PKG_VERSION")},
            },
        }),
        Op::Initialized => json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Op::List => json!({"jsonrpc": "2.0", "id": call.id, "method": "tools/list", "params": {}}),
        Op::Call(tool) => json!({
            "jsonrpc": "2.0", "id": call.id, "method": "tools/call",
            "params": {"name": tool, "arguments": call.arguments},
        }),
        Op::Delete => Value::Null,
    }
}

/// What a reply means.
pub struct Reading {
    /// The outcome, to judge.
    pub outcome: Outcome,
    /// The id of the note an `add_note` created.
    pub note: Option<u64>,
}

/// Reads `reply` to `call`. `subject` is the caller's `sub`, which `whoami` must return and
/// `add_note` must record as the author.
pub fn read(call: &Call<'_>, reply: &Reply, subject: &str) -> Reading {
    let outcome = |outcome| Reading {
        outcome,
        note: None,
    };
    let unexpected = |what: String| outcome(Outcome::Unexpected(reply.status, what));
    let success = (200..300).contains(&reply.status);
    if !success {
        return outcome(denial(reply));
    }
    match call.op {
        Op::Initialized | Op::Delete => return outcome(Outcome::Accepted),
        Op::Initialize if reply.session.is_none() => {
            return unexpected("initialize without Mcp-Session-Id".into())
        }
        _ => {}
    }
    let Some(message) = message(reply, call.id) else {
        return unexpected(format!(
            "no JSON-RPC answer to id {} in {}",
            call.id,
            snippet(&reply.body)
        ));
    };
    if let Some(e) = message.get("error") {
        return unexpected(format!("JSON-RPC error {e}"));
    }
    let Some(result) = message.get("result") else {
        return unexpected(format!("no result in {}", snippet(&reply.body)));
    };
    match call.op {
        Op::List => {
            let Some(tools) = result.get("tools").and_then(Value::as_array) else {
                return unexpected(format!("tools/list without tools: {result}"));
            };
            let names: BTreeSet<String> = tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
            outcome(Outcome::Tools(names))
        }
        Op::Call(tool) => {
            let text = result
                .pointer("/content/0/text")
                .and_then(Value::as_str)
                .unwrap_or("");
            let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
            match tool {
                // Deleting a note someone else deleted first is a tool error, not a denial.
                "delete_note" => outcome(Outcome::Result),
                _ if is_error => unexpected(format!("{tool} failed: {text}")),
                "whoami" if text != subject => {
                    unexpected(format!("whoami answered {text:?}, expected {subject:?}"))
                }
                "add_note" => {
                    let note: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                    let author = note.get("author").and_then(Value::as_str);
                    match note.get("id").and_then(Value::as_u64) {
                        Some(id) if author == Some(subject) => Reading {
                            outcome: Outcome::Result,
                            note: Some(id),
                        },
                        _ => unexpected(format!("add_note answered {text:?} for {subject:?}")),
                    }
                }
                _ => outcome(Outcome::Result),
            }
        }
        _ => outcome(Outcome::Result),
    }
}

/// A denial's status and `reason`, or what was wrong with it.
fn denial(reply: &Reply) -> Outcome {
    let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    match body.get("reason").and_then(Value::as_str) {
        Some(reason) => Outcome::Denied(reply.status, reason.to_owned()),
        None => Outcome::Unexpected(
            reply.status,
            format!("no JSON reason in {}", snippet(&reply.body)),
        ),
    }
}

/// The JSON-RPC message answering `id`: the body itself (JSON), or one of its SSE events.
fn message(reply: &Reply, id: u64) -> Option<Value> {
    let answers = |v: &Value| v.get("id").and_then(Value::as_u64) == Some(id);
    if reply.content_type.starts_with("text/event-stream") {
        let mut data = String::new();
        // Events are separated by blank lines; an event's data lines are joined with '\n'.
        for line in reply.body.lines().chain(std::iter::once("")) {
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            } else if line.trim().is_empty() && !data.is_empty() {
                if let Ok(v) = serde_json::from_str::<Value>(&data) {
                    if answers(&v) {
                        return Some(v);
                    }
                }
                data.clear();
            }
        }
        None
    } else {
        serde_json::from_str::<Value>(&reply.body)
            .ok()
            .filter(answers)
    }
}

/// The first 300 characters of a body, for reports.
pub fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(300).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s.replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(content_type: &str, body: &str) -> Reply {
        Reply {
            status: 200,
            session: Some("s".into()),
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    fn call(op: Op) -> Call<'static> {
        Call {
            token: None,
            session: None,
            op,
            id: 7,
            arguments: json!({}),
        }
    }

    #[test]
    fn an_sse_answer_is_found_after_a_priming_event() {
        let r = reply(
            "text/event-stream",
            "data: \nid: 0\nretry: 3000\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"whoami\"}]}}\nid: 1\n\n",
        );
        let o = read(&call(Op::List), &r, "me").outcome;
        assert_eq!(o, Outcome::Tools(BTreeSet::from(["whoami".to_owned()])));
    }

    #[test]
    fn whoami_must_name_the_caller() {
        let r = reply(
            "application/json",
            r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"cl-1"}],"isError":false}}"#,
        );
        assert_eq!(
            read(&call(Op::Call("whoami")), &r, "cl-1").outcome,
            Outcome::Result
        );
        assert!(matches!(
            read(&call(Op::Call("whoami")), &r, "cl-2").outcome,
            Outcome::Unexpected(200, _)
        ));
    }

    #[test]
    fn a_denial_is_its_status_and_reason() {
        let r = Reply {
            status: 403,
            session: None,
            content_type: "application/json".into(),
            body: r#"{"error":"insufficient_scope","reason":"tool_unmapped"}"#.into(),
        };
        assert_eq!(
            read(&call(Op::Call("x")), &r, "me").outcome,
            Outcome::denied(403, "tool_unmapped")
        );
    }
}
