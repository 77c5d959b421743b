//! MCP JSON-RPC inspection: what a request asks for, and what a response may show.
//!
//! * [`inspect`] parses a request body — one message or a batch — strictly: anything that is
//!   not JSON-RPC 2.0 (wrong JSON, duplicate members, a `tools/call` or `prompts/get` without
//!   a string `params.name`, a `resources/read` without a string `params.uri`, a
//!   `subscriptions/listen` whose `resourceSubscriptions` is not a list of strings, an empty
//!   batch) is [`InvalidRequest::MalformedBody`], so the layer fails closed instead of
//!   guessing what is being used. [`Inspection::targets`] lists every tool, prompt and
//!   resource the body asks to use.
//! * [`check_mcp_name`] compares the `Mcp-Name` routing header with the body: intermediaries
//!   route on the header, the server acts on the body, so they must agree.
//! * [`in_band_denial`] renders a denial as JSON-RPC (an `isError` tool result for
//!   `tools/call`, a JSON-RPC error otherwise) with the structured denial under
//!   `_meta["authsec/denial"]`.
//!
//! ```
//! use authsec::internal::mcp;
//!
//! let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add_note","arguments":{}}}"#;
//! let inspection = mcp::inspect(body).unwrap();
//! assert_eq!(inspection.tool_calls().collect::<Vec<_>>(), ["add_note"]);
//! assert!(mcp::inspect(b"{not json").is_err());
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderName;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::challenge::Denial;
use crate::error::{AuthError, InvalidRequest};
use crate::policy::TargetKind;

/// The `_meta` key under which in-band denials carry their structured detail.
pub const DENIAL_META_KEY: &str = "authsec/denial";

/// The JSON-RPC error code of in-band denials of requests other than `tools/call`
/// (implementation-defined server error range of JSON-RPC 2.0).
pub const DENIAL_ERROR_CODE: i64 = -32001;

/// True for MCP revision `protocol` (`YYYY-MM-DD`) 2026-07-28 or later: stateless requests,
/// routing headers, clients that accumulate scopes on step-up (SEP-2350).
pub fn is_2026_07_28_or_later(protocol: Option<&str>) -> bool {
    protocol.is_some_and(|p| p.len() == 10 && p >= crate::config::ACCUMULATING_PROTOCOL)
}

/// The JSON-RPC error code MCP 2026-07-28 gives a request whose routing headers (`Mcp-Method`,
/// `Mcp-Name`) are missing, malformed or disagree with its body (`HeaderMismatch`; the HTTP
/// status is 400).
pub const HEADER_MISMATCH_ERROR_CODE: i64 = -32020;

/// The routing header naming the tool, prompt or resource a request targets (SEP-2243).
pub const MCP_NAME_HEADER: &str = "mcp-name";

/// The routing header naming a request's JSON-RPC method (MCP 2026-07-28).
pub const MCP_METHOD_HEADER: &str = "mcp-method";

/// The session header of the Streamable HTTP transport.
pub const SESSION_HEADER: &str = "mcp-session-id";

// The headers above as `HeaderName`s: a lookup by `&str` parses the name first, on every
// request.
pub(crate) const MCP_NAME: HeaderName = HeaderName::from_static(MCP_NAME_HEADER);
pub(crate) const MCP_METHOD: HeaderName = HeaderName::from_static(MCP_METHOD_HEADER);
pub(crate) const SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
pub(crate) const PROTOCOL_VERSION: HeaderName = HeaderName::from_static(PROTOCOL_VERSION_HEADER);

/// Methods that need no authorization decision of their own: the lifecycle handshake and
/// liveness. In in-band mode they pass even without a token.
pub const LIFECYCLE_METHODS: [&str; 3] = ["initialize", "notifications/initialized", "ping"];

/// What kind of JSON-RPC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Has `method` and `id`: expects a response.
    Request,
    /// Has `method`, no `id`.
    Notification,
    /// Has `id` and no `method`: a client's answer to a server request.
    Response,
}

/// One inspected JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Request, notification or response.
    pub kind: MessageKind,
    /// The `id`, for requests and responses.
    pub id: Option<Value>,
    /// The `method`, for requests and notifications.
    pub method: Option<String>,
    /// For `tools/call`: `params.name`.
    pub tool: Option<String>,
    /// The MCP revision the message says it speaks (`params._meta` key
    /// `io.modelcontextprotocol/protocolVersion`, MCP 2026-07-28).
    pub protocol_version: Option<String>,
    /// The W3C trace context the message carries (`params._meta.traceparent`), when it is
    /// well-formed (`00-<32 hex>-<16 hex>-<2 hex>`; anything else is not logged).
    pub traceparent: Option<String>,
    /// What the `Mcp-Name` header must say for this message, if its method carries a name:
    /// `params.name` (`tools/call`, `prompts/get`), `params.uri` (`resources/read`,
    /// `resources/subscribe`, `resources/unsubscribe`) or `params.taskId` (`tasks/*`).
    pub routing_name: Option<String>,
    /// For `subscriptions/listen`: the URIs of `params.notifications.resourceSubscriptions`.
    pub resource_subscriptions: Vec<String>,
}

impl Message {
    /// What this message asks to use: the tool of a `tools/call`, the prompt of a
    /// `prompts/get`, the resource of a `resources/read` or `resources/subscribe`, every
    /// resource a `subscriptions/listen` subscribes to. Its list-changed opt-ins use nothing.
    pub fn targets(&self) -> impl Iterator<Item = (TargetKind, &str)> {
        let named = match self.method.as_deref() {
            Some("tools/call") => self.tool.as_deref().map(|t| (TargetKind::Tool, t)),
            Some("prompts/get") => self
                .routing_name
                .as_deref()
                .map(|n| (TargetKind::Prompt, n)),
            Some("resources/read" | "resources/subscribe") => self
                .routing_name
                .as_deref()
                .map(|u| (TargetKind::Resource, u)),
            _ => None,
        };
        named.into_iter().chain(
            self.resource_subscriptions
                .iter()
                .map(|u| (TargetKind::Resource, u.as_str())),
        )
    }

    /// True for `initialize`, `notifications/initialized` and `ping`.
    pub fn is_lifecycle(&self) -> bool {
        self.method
            .as_deref()
            .is_some_and(|m| LIFECYCLE_METHODS.contains(&m))
    }
}

/// A parsed request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The messages, in body order (one unless `batch`).
    pub messages: Vec<Message>,
    /// True when the body was a JSON array.
    pub batch: bool,
}

impl Inspection {
    /// The tool names of every `tools/call` in the body, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = &str> {
        self.messages.iter().filter_map(|m| m.tool.as_deref())
    }

    /// Every tool, prompt and resource the body asks to use, in order (see
    /// [`Message::targets`]).
    pub fn targets(&self) -> impl Iterator<Item = (TargetKind, &str)> {
        self.messages.iter().flat_map(Message::targets)
    }

    /// The protocol revision the body names (the first message that names one).
    pub fn protocol_version(&self) -> Option<&str> {
        self.messages
            .iter()
            .find_map(|m| m.protocol_version.as_deref())
    }

    /// The trace context of the first message that carries one.
    pub fn traceparent(&self) -> Option<&str> {
        self.messages.iter().find_map(|m| m.traceparent.as_deref())
    }

    /// True when every message is a lifecycle message (see [`LIFECYCLE_METHODS`]).
    pub fn is_lifecycle_only(&self) -> bool {
        self.messages.iter().all(Message::is_lifecycle)
    }

    /// The method for logs: the single message's method, or `batch` for an array.
    pub fn method_label(&self) -> &str {
        match (self.batch, self.messages.first()) {
            (false, Some(m)) => m.method.as_deref().unwrap_or("response"),
            _ => "batch",
        }
    }
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    jsonrpc: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    id: Option<Value>,
    method: Option<String>,
    params: Option<Object<RawParams>>,
    #[serde(default)]
    #[allow(dead_code)]
    result: Option<IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawParams {
    name: Option<Value>,
    uri: Option<Value>,
    #[serde(rename = "taskId")]
    task_id: Option<Value>,
    #[serde(rename = "_meta")]
    meta: Option<Object<RawMeta>>,
    notifications: Option<RawNotifications>,
}

/// `params.notifications`, read only for `subscriptions/listen` (other methods may use the
/// name for anything): an object whose `resourceSubscriptions` is a list of strings, else
/// `Other`, which makes a `subscriptions/listen` malformed.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawNotifications {
    Filter(Object<SubscriptionFilter>),
    Other(#[allow(dead_code)] IgnoredAny),
}

#[derive(Deserialize)]
struct SubscriptionFilter {
    #[serde(rename = "resourceSubscriptions")]
    resource_subscriptions: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion")]
    protocol_version: Option<Value>,
    traceparent: Option<Value>,
}

/// A JSON object read as `T`. serde's derived structs also accept an array of their fields in
/// order (`"params": ["add_note", …]`), which would let two readers see two different calls:
/// only objects are accepted.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(Object)
    }
}

/// A W3C `traceparent` (version 00): `00-` 32 hex `-` 16 hex `-` 2 hex, lowercase.
fn is_traceparent(v: &str) -> bool {
    let b = v.as_bytes();
    let hex = |r: std::ops::Range<usize>| {
        b[r].iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    b.len() == 55
        && b.starts_with(b"00-")
        && b[35] == b'-'
        && b[52] == b'-'
        && hex(3..35)
        && hex(36..52)
        && hex(53..55)
}

/// The `_meta` key of a request's protocol revision (MCP 2026-07-28).
pub const PROTOCOL_VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";

/// The header naming a request's protocol revision.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

fn malformed() -> AuthError {
    AuthError::InvalidRequest(InvalidRequest::MalformedBody)
}

/// Parses a request body: one JSON-RPC 2.0 message or a non-empty batch of them.
///
/// Fails closed with [`InvalidRequest::MalformedBody`] on anything else, including duplicate
/// members (`{"name":"a","name":"b"}` would let two parsers see two different tools) and a
/// `tools/call` whose `params.name` is missing or not a string.
pub fn inspect(body: &[u8]) -> Result<Inspection, AuthError> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(malformed)?;
    let (raw, batch) = match body[start] {
        b'{' => (
            vec![serde_json::from_slice::<RawMessage<'_>>(body).map_err(|_| malformed())?],
            false,
        ),
        b'[' => (
            serde_json::from_slice::<Vec<RawMessage<'_>>>(body).map_err(|_| malformed())?,
            true,
        ),
        _ => return Err(malformed()),
    };
    if raw.is_empty() {
        return Err(malformed());
    }
    let messages = raw
        .into_iter()
        .map(classify)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Inspection { messages, batch })
}

fn classify(raw: RawMessage<'_>) -> Result<Message, AuthError> {
    if raw.jsonrpc.as_deref() != Some("2.0") {
        return Err(malformed());
    }
    // `"id": null` is treated as absent: no response can be addressed to it.
    let id = raw.id.filter(|v| !v.is_null());
    if let Some(id) = &id {
        if !(id.is_string() || id.is_number()) {
            return Err(malformed());
        }
    }
    let kind = match (&raw.method, &id) {
        (Some(_), Some(_)) => MessageKind::Request,
        (Some(_), None) => MessageKind::Notification,
        (None, Some(_)) => MessageKind::Response,
        (None, None) => return Err(malformed()),
    };
    let method = raw.method;
    let mut params = raw.params;
    let meta = params.as_mut().and_then(|p| p.0.meta.take()).map(|m| m.0);
    let (protocol_version, traceparent) = match meta {
        Some(m) => (
            m.protocol_version
                .and_then(|v| v.as_str().map(str::to_owned)),
            m.traceparent
                .and_then(|v| v.as_str().filter(|t| is_traceparent(t)).map(str::to_owned)),
        ),
        None => (None, None),
    };
    let mut params = params.map(|p| p.0);
    let resource_subscriptions = if method.as_deref() == Some("subscriptions/listen") {
        // What is subscribed to is decided: a filter that cannot be read is refused.
        match params.as_mut().and_then(|p| p.notifications.take()) {
            None => Vec::new(),
            Some(RawNotifications::Filter(Object(f))) => {
                f.resource_subscriptions.unwrap_or_default()
            }
            Some(RawNotifications::Other(_)) => return Err(malformed()),
        }
    } else {
        Vec::new()
    };
    let routing_value = params.and_then(|p| match method.as_deref() {
        Some("tools/call" | "prompts/get") => p.name,
        Some("resources/read" | "resources/subscribe" | "resources/unsubscribe") => p.uri,
        Some("tasks/get" | "tasks/update" | "tasks/cancel") => p.task_id,
        _ => None,
    });
    let routing_name = match routing_value {
        Some(Value::String(name)) => Some(name),
        _ => None,
    };
    // What is used decides everything: no string name or URI, no call.
    if matches!(
        method.as_deref(),
        Some("tools/call" | "prompts/get" | "resources/read" | "resources/subscribe")
    ) && routing_name.is_none()
    {
        return Err(malformed());
    }
    let tool = if method.as_deref() == Some("tools/call") {
        routing_name.clone()
    } else {
        None
    };
    Ok(Message {
        kind,
        id,
        method,
        tool,
        protocol_version,
        traceparent,
        routing_name,
        resource_subscriptions,
    })
}

/// Checks the `Mcp-Name` header against the body: when present it must be a single value
/// (plain, or `=?base64?…?=` wrapped) equal to the name every name-carrying message targets,
/// and the body must carry at least one such message.
pub fn check_mcp_name(headers: &http::HeaderMap, inspection: &Inspection) -> Result<(), AuthError> {
    check_mcp_method(headers, inspection)?;
    let mismatch = || AuthError::InvalidRequest(InvalidRequest::McpNameMismatch);
    let mut values = headers.get_all(MCP_NAME).iter();
    let Some(value) = values.next() else {
        return Ok(());
    };
    if values.next().is_some() {
        return Err(mismatch());
    }
    let raw = value.to_str().map_err(|_| mismatch())?;
    let header = decode_header_value(raw).ok_or_else(mismatch)?;
    let mut named = inspection
        .messages
        .iter()
        .filter_map(|m| m.routing_name.as_deref())
        .peekable();
    if named.peek().is_none() {
        return Err(mismatch());
    }
    if named.all(|n| n == header) {
        Ok(())
    } else {
        Err(mismatch())
    }
}

/// The `Mcp-Method` routing header (MCP 2026-07-28), when present, must be a single value equal
/// to the method of every message that has one: an intermediary routing on the header must see
/// what the server acts on.
fn check_mcp_method(headers: &http::HeaderMap, inspection: &Inspection) -> Result<(), AuthError> {
    let mismatch = || AuthError::InvalidRequest(InvalidRequest::McpMethodMismatch);
    let mut values = headers.get_all(MCP_METHOD).iter();
    let Some(value) = values.next() else {
        return Ok(());
    };
    if values.next().is_some() {
        return Err(mismatch());
    }
    let header = value.to_str().map_err(|_| mismatch())?;
    let mut methods = inspection
        .messages
        .iter()
        .filter_map(|m| m.method.as_deref())
        .peekable();
    if methods.peek().is_some() && methods.all(|m| m == header) {
        Ok(())
    } else {
        Err(mismatch())
    }
}

fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(inner) => String::from_utf8(STANDARD.decode(inner).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

/// The structured detail of a denial as carried in band: the JSON body of the HTTP denial
/// plus `status` and, when there is one, the `www_authenticate` challenge.
pub fn denial_meta(denial: &Denial) -> Value {
    let mut meta = denial.body.clone();
    meta["status"] = json!(denial.status.as_u16());
    if let Some(h) = &denial.www_authenticate {
        meta["www_authenticate"] = json!(h);
    }
    meta
}

/// A 2026-07-28 `HeaderMismatch` answer to a request refused for its routing headers: a
/// JSON-RPC error (code [`HEADER_MISMATCH_ERROR_CODE`]) with the request's id (`null` when
/// there is no single request to answer), `_meta["authsec/denial"]` in its `data`.
pub fn header_mismatch_reply(inspection: Option<&Inspection>, denial: &Denial) -> Value {
    let mut requests = inspection
        .into_iter()
        .flat_map(|i| &i.messages)
        .filter(|m| m.kind == MessageKind::Request);
    let id = match (requests.next(), requests.next()) {
        (Some(only), None) => only.id.clone().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    json!({"jsonrpc": "2.0", "id": id, "error": {
        "code": HEADER_MISMATCH_ERROR_CODE,
        "message": denial.body.get("error_description").and_then(Value::as_str).unwrap_or("header mismatch"),
        "data": {"_meta": {DENIAL_META_KEY: denial_meta(denial)}},
    }})
}

/// Renders `denial` in band for every request of the body: an `isError` tool result for
/// `tools/call`, a JSON-RPC error (code [`DENIAL_ERROR_CODE`]) for anything else, each with
/// `_meta["authsec/denial"]`. `None` when the body holds no request to answer (only
/// notifications and responses).
pub fn in_band_denial(inspection: &Inspection, denial: &Denial) -> Option<Value> {
    let meta = denial_meta(denial);
    let text = denial_text(denial);
    let replies: Vec<Value> = inspection
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Request)
        .map(|m| {
            let id = m.id.clone().unwrap_or(Value::Null);
            if m.method.as_deref() == Some("tools/call") {
                json!({"jsonrpc": "2.0", "id": id, "result": {
                    "content": [{"type": "text", "text": text}],
                    "isError": true,
                    "_meta": {DENIAL_META_KEY: meta},
                }})
            } else {
                json!({"jsonrpc": "2.0", "id": id, "error": {
                    "code": DENIAL_ERROR_CODE,
                    "message": text,
                    "data": {"_meta": {DENIAL_META_KEY: meta}},
                }})
            }
        })
        .collect();
    match (inspection.batch, replies.len()) {
        (_, 0) => None,
        (false, _) => replies.into_iter().next(),
        (true, _) => Some(Value::Array(replies)),
    }
}

/// One human sentence for an in-band denial: what failed and what would fix it.
fn denial_text(denial: &Denial) -> String {
    let b = &denial.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default();
    let list = |k: &str| {
        b.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let mut text = format!("denied ({}): {}", s("reason"), s("error_description"));
    if b.get("required_scopes").is_some() {
        text.push_str(&format!(
            "; required scopes: [{}], granted: [{}]",
            list("required_scopes"),
            list("granted_scopes")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(i: &Inspection) -> Vec<&str> {
        i.tool_calls().collect()
    }

    #[test]
    fn single_request_notification_and_response_are_classified() {
        let i = inspect(br#" {"jsonrpc":"2.0","id":"a","method":"tools/list"}"#).unwrap();
        assert!(!i.batch);
        assert_eq!(i.messages[0].kind, MessageKind::Request);
        assert_eq!(i.messages[0].id, Some(json!("a")));
        let n = inspect(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(n.messages[0].kind, MessageKind::Notification);
        assert!(n.is_lifecycle_only());
        let r = inspect(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#).unwrap();
        assert_eq!(r.messages[0].kind, MessageKind::Response);
        assert_eq!(r.method_label(), "response");
    }

    #[test]
    fn batch_lists_every_tool_call_in_order() {
        let i = inspect(
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},
                 {"jsonrpc":"2.0","method":"notifications/progress","params":{}},
                 {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b","arguments":{"name":"x"}}}]"#,
        )
        .unwrap();
        assert!(i.batch);
        assert_eq!(names(&i), ["a", "b"]);
        assert_eq!(i.method_label(), "batch");
    }

    #[test]
    fn malformed_bodies_fail_closed() {
        let bad: &[&[u8]] = &[
            b"",
            b"   ",
            b"{",
            b"[]",
            b"42",
            b"\"tools/call\"",
            br#"{"id":1,"method":"ping"}"#,
            br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            br#"{"jsonrpc":"2.0"}"#,
            br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"a"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"} trailing"#,
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5]"#,
            // Positional params: a derived struct would read the array as its fields in order.
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["add_note",null,null,null]}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":["2026-07-28",null]}}"#,
        ];
        for body in bad {
            assert_eq!(
                inspect(body),
                Err(AuthError::InvalidRequest(InvalidRequest::MalformedBody)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(MCP_NAME_HEADER, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn mcp_name_must_match_every_named_message() {
        let call = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"}}"#,
        )
        .unwrap();
        let mismatch = Err(AuthError::InvalidRequest(InvalidRequest::McpNameMismatch));
        assert_eq!(check_mcp_name(&headers(&[]), &call), Ok(()));
        assert_eq!(check_mcp_name(&headers(&["add_note"]), &call), Ok(()));
        assert_eq!(
            check_mcp_name(&headers(&["=?base64?YWRkX25vdGU=?="]), &call),
            Ok(())
        );
        assert_eq!(check_mcp_name(&headers(&["server_time"]), &call), mismatch);
        assert_eq!(
            check_mcp_name(&headers(&["add_note", "add_note"]), &call),
            mismatch
        );
        assert_eq!(
            check_mcp_name(&headers(&["=?base64?!!?="]), &call),
            mismatch
        );
        let list = inspect(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert_eq!(check_mcp_name(&headers(&["add_note"]), &list), mismatch);
        let read = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"notes://1"}}"#,
        )
        .unwrap();
        assert_eq!(check_mcp_name(&headers(&["notes://1"]), &read), Ok(()));
    }

    fn targets(body: &[u8]) -> Vec<(TargetKind, String)> {
        inspect(body)
            .unwrap()
            .targets()
            .map(|(k, n)| (k, n.to_owned()))
            .collect()
    }

    #[test]
    fn prompts_resources_and_subscriptions_are_targets() {
        assert_eq!(
            targets(
                br#"[{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"sum"}},
                     {"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"n://all"}},
                     {"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"n://1"}},
                     {"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"n://2"}},
                     {"jsonrpc":"2.0","id":5,"method":"subscriptions/listen","params":{"notifications":
                        {"toolsListChanged":true,"resourceSubscriptions":["n://3","n://4"]}}},
                     {"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"add"}}]"#
            ),
            [
                (TargetKind::Prompt, "sum".to_owned()),
                (TargetKind::Resource, "n://all".to_owned()),
                (TargetKind::Resource, "n://1".to_owned()),
                (TargetKind::Resource, "n://3".to_owned()),
                (TargetKind::Resource, "n://4".to_owned()),
                (TargetKind::Tool, "add".to_owned()),
            ]
        );
        // List-changed opt-ins only, or no filter: nothing to decide.
        assert!(targets(
            br#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"promptsListChanged":true}}}"#
        )
        .is_empty());
        // Another method may use `notifications` for anything.
        assert!(targets(
            br#"{"jsonrpc":"2.0","id":1,"method":"x/y","params":{"notifications":[1]}}"#
        )
        .is_empty());
    }

    #[test]
    fn a_prompt_resource_or_subscription_that_cannot_be_read_is_malformed() {
        for body in [
            br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{}}"#.as_slice(),
            br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":["a"]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":1}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a","uri":"b"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":[]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":"n://1"}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[null]}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["a"],"resourceSubscriptions":[]}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{},"notifications":{}}}"#,
        ] {
            assert_eq!(
                inspect(body),
                Err(AuthError::InvalidRequest(InvalidRequest::MalformedBody)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn protocol_revision_and_trace_context_come_from_meta() {
        let i = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{
                "io.modelcontextprotocol/protocolVersion":"2026-07-28",
                "traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}"#,
        )
        .unwrap();
        assert_eq!(i.protocol_version(), Some("2026-07-28"));
        assert_eq!(
            i.traceparent(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        // A malformed trace context is not kept (it would go into logs as is).
        let i = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"00-x\nforged log line"}}}"#,
        )
        .unwrap();
        assert_eq!(i.traceparent(), None);
    }

    #[test]
    fn mcp_method_must_match_the_body() {
        let call = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"}}"#,
        )
        .unwrap();
        let with = |values: &[&str]| {
            let mut h = http::HeaderMap::new();
            for v in values {
                h.append(MCP_METHOD_HEADER, v.parse().unwrap());
            }
            h
        };
        let mismatch = Err(AuthError::InvalidRequest(InvalidRequest::McpMethodMismatch));
        assert_eq!(check_mcp_name(&with(&["tools/call"]), &call), Ok(()));
        assert_eq!(check_mcp_name(&with(&["tools/list"]), &call), mismatch);
        assert_eq!(
            check_mcp_name(&with(&["tools/call", "tools/call"]), &call),
            mismatch
        );
        let response = inspect(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap();
        assert_eq!(check_mcp_name(&with(&["tools/call"]), &response), mismatch);
    }

    fn denial(status: u16, body: Value) -> Denial {
        Denial {
            status: http::StatusCode::from_u16(status).unwrap(),
            www_authenticate: Some("Bearer error=\"insufficient_scope\"".into()),
            body,
        }
    }

    #[test]
    fn in_band_tools_call_is_an_is_error_result_with_meta() {
        let i = inspect(
            br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"add_note"}}"#,
        )
        .unwrap();
        let d = denial(
            403,
            json!({"error":"insufficient_scope","error_description":"tool add_note requires more scope",
                   "reason":"insufficient_scope","tool":"add_note","required_scopes":["notes:write"],
                   "granted_scopes":["notes:read"]}),
        );
        let v = in_band_denial(&i, &d).unwrap();
        assert_eq!(v["id"], 9);
        assert_eq!(v["result"]["isError"], true);
        assert_eq!(
            v["result"]["content"][0]["text"],
            "denied (insufficient_scope): tool add_note requires more scope; required scopes: [notes:write], granted: [notes:read]"
        );
        let meta = &v["result"]["_meta"][DENIAL_META_KEY];
        assert_eq!(meta["status"], 403);
        assert_eq!(meta["tool"], "add_note");
        assert_eq!(
            meta["www_authenticate"],
            "Bearer error=\"insufficient_scope\""
        );
    }

    #[test]
    fn in_band_other_requests_get_errors_and_notifications_get_nothing() {
        let d = denial(
            401,
            json!({"error_description":"no bearer token","reason":"no_token"}),
        );
        let i = inspect(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/x"}]"#)
            .unwrap();
        let v = in_band_denial(&i, &d).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(v[0]["error"]["code"], DENIAL_ERROR_CODE);
        assert_eq!(
            v[0]["error"]["data"]["_meta"][DENIAL_META_KEY]["reason"],
            "no_token"
        );
        let n = inspect(br#"{"jsonrpc":"2.0","method":"notifications/x"}"#).unwrap();
        assert_eq!(in_band_denial(&n, &d), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn inspect_never_panics_and_fails_only_as_malformed_body(body in proptest::collection::vec(any::<u8>(), 0..256)) {
                if let Err(e) = inspect(&body) {
                    prop_assert_eq!(e, AuthError::InvalidRequest(InvalidRequest::MalformedBody));
                }
            }

            #[test]
            fn any_tool_name_is_found_exactly(name in "\\PC{0,40}", id in any::<i64>()) {
                let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                  "params": {"name": name, "arguments": {"name": "decoy"}}});
                let i = inspect(body.to_string().as_bytes()).unwrap();
                prop_assert_eq!(i.tool_calls().collect::<Vec<_>>(), vec![name.as_str()]);
            }
        }
    }
}
