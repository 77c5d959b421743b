//! List filtering of MCP responses, failing closed.
//!
//! Every list result in every response of the MCP endpoint is filtered to what the caller may
//! use — whatever the request ids look like, and whether the response is one JSON message, a
//! batch, or a `text/event-stream`. Responses are not matched to requests: a list result is
//! recognised by its shape, a JSON-RPC message whose `result` has one of these members, so no
//! spelling of an id (`2`, `2.0`, `2e0`, `-0`) can switch filtering off:
//!
//! | member | list | an item is kept when the caller may use its | as |
//! |---|---|---|---|
//! | `tools` | `tools/list` | `name` | [`Listed::Tool`] |
//! | `prompts` | `prompts/list` | `name` | [`Listed::Prompt`] |
//! | `resources` | `resources/list` | `uri` | [`Listed::Resource`] |
//! | `resourceTemplates` | `resources/templates/list` | `uriTemplate` | [`Listed::ResourceTemplate`] |
//!
//! An item without that string member is removed.
//!
//! A body that could carry a list result but cannot be read — invalid JSON, a list member
//! that is not an array, a duplicated `result` or list member (parsers disagree about which
//! one counts) — is [`Unreadable`]: the layer withholds it (502 with a JSON-RPC error, or, in
//! an event stream already under way, a final error event), never passes it through.
//!
//! A filtered list depends on its caller, so it is marked `"cacheScope": "private"` (an
//! upstream's `"public"` is overwritten): no shared cache may serve it to another caller. So
//! is a `resources/read` result (a `result` with `contents`): what it holds was authorized for
//! this caller only.
//!
//! Bodies that cannot hold a list or read result are forwarded byte for byte: a body can only
//! name such a member if the bytes `tools`, `prompts`, `resource` or `contents` appear in it,
//! it uses `\u` escapes
//! (which could spell them) or it holds NUL bytes (JSON in UTF-16 or UTF-32, which some
//! parsers decode).
//! Only bodies that pass that cheap test are parsed, and only bodies that hold a list are
//! re-serialised, so tool results are never rewritten.
//!
//! ```
//! use authsec::internal::filter::{filter_json, Listed, Unreadable};
//!
//! let allow = |item: Listed<'_>| item == Listed::Tool("list_notes");
//! let body = br#"{"jsonrpc":"2.0","id":2.0,"result":{"tools":[{"name":"list_notes"},{"name":"delete_note"}]}}"#;
//! let out = filter_json(body, &allow).unwrap().unwrap();
//! assert_eq!(
//!     out,
//!     br#"{"id":2.0,"jsonrpc":"2.0","result":{"cacheScope":"private","tools":[{"name":"list_notes"}]}}"#
//! );
//! assert_eq!(filter_json(br#"{"result":{"tools":"#, &allow), Err(Unreadable));
//! assert_eq!(filter_json(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#, &allow), Ok(None));
//! ```

use std::fmt;
use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The members of a result that hold listed items, each with the member naming an item.
const LISTS: [(&str, &str); 4] = [
    ("tools", "name"),
    ("prompts", "name"),
    ("resources", "uri"),
    ("resourceTemplates", "uriTemplate"),
];

/// One listed item, as the caller's policy is asked about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed<'a> {
    /// A `tools/list` item, by `name`.
    Tool(&'a str),
    /// A `prompts/list` item, by `name`.
    Prompt(&'a str),
    /// A `resources/list` item, by `uri`.
    Resource(&'a str),
    /// A `resources/templates/list` item, by `uriTemplate`.
    ResourceTemplate(&'a str),
}

impl<'a> Listed<'a> {
    fn new(member: &str, key: &'a str) -> Self {
        match member {
            "tools" => Listed::Tool(key),
            "prompts" => Listed::Prompt(key),
            "resources" => Listed::Resource(key),
            _ => Listed::ResourceTemplate(key),
        }
    }
}

/// The member of a `resources/read` result: its content was authorized for the caller alone.
const READ_CONTENTS: &str = "contents";

/// Does a result with `member` depend on its caller (a list, or read contents)?
fn is_private_member(member: &str) -> bool {
    member == READ_CONTENTS || LISTS.iter().any(|(m, _)| *m == member)
}
/// The caching hint of list results (MCP 2026-07-28): `"public"` or `"private"`.
const CACHE_SCOPE: &str = "cacheScope";

/// A response that may carry a list result but cannot be read; it must be withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response may carry a list result but cannot be read")]
pub struct Unreadable;

/// The JSON-RPC error a withheld response is replaced with (id `null`: the id is unreadable).
pub fn withheld_error() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32603,
            "message": "the MCP server's response could not be read for filtering and was withheld",
        },
    })
}

/// Whether `bytes` could name a list member or read contents under any JSON parser: a name
/// appears literally (`resource` covers `resources` and `resourceTemplates`), `\u` escapes
/// appear (they could spell one), or NUL bytes appear (UTF-8 JSON never holds one, but JSON in
/// UTF-16 or UTF-32, which some parsers detect and decode, spells every ASCII character with
/// them).
pub fn may_carry_list(bytes: &[u8]) -> bool {
    // Built once: constructing a searcher costs more than searching a short body.
    static FINDERS: LazyLock<[memmem::Finder<'static>; 5]> = LazyLock::new(|| {
        [
            memmem::Finder::new(b"tools"),
            memmem::Finder::new(b"prompts"),
            memmem::Finder::new(b"resource"),
            memmem::Finder::new(READ_CONTENTS.as_bytes()),
            memmem::Finder::new(b"\\u"),
        ]
    });
    FINDERS.iter().any(|f| f.find(bytes).is_some()) || memchr::memchr(0, bytes).is_some()
}

/// Filters one JSON body (a message or a batch).
///
/// `Ok(None)`: it holds no list result; forward it unchanged. `Ok(Some(bytes))`: the body with
/// every list result filtered to the items `allow` accepts (items without their naming member
/// are removed). `Err(Unreadable)`: it may hold one but cannot be read.
pub fn filter_json(
    body: &[u8],
    allow: &dyn Fn(Listed<'_>) -> bool,
) -> Result<Option<Vec<u8>>, Unreadable> {
    if !may_carry_list(body) {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let shape = BodyShape::deserialize(&mut de).map_err(|_| Unreadable)?;
    de.end().map_err(|_| Unreadable)?;
    if shape.lists == 0 {
        return Ok(None);
    }
    let mut value: Value = serde_json::from_slice(body).map_err(|_| Unreadable)?;
    filter_value(&mut value, allow)?;
    serde_json::to_vec(&value).map(Some).map_err(|_| Unreadable)
}

/// Filters every list result in a parsed message or batch.
fn filter_value(value: &mut Value, allow: &dyn Fn(Listed<'_>) -> bool) -> Result<(), Unreadable> {
    let filter_one = |message: &mut Value| -> Result<(), Unreadable> {
        let Some(result) = message.get_mut("result").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let mut filtered = false;
        for (member, key) in LISTS {
            let Some(list) = result.get_mut(member) else {
                continue;
            };
            let Value::Array(items) = list else {
                return Err(Unreadable);
            };
            items.retain(|t| {
                t.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|k| allow(Listed::new(member, k)))
            });
            filtered = true;
        }
        if filtered || result.contains_key(READ_CONTENTS) {
            // The list (or the read resource) depends on the caller: no shared cache may serve
            // it to another (MCP 2026-07-28 caching; older clients ignore the member).
            result.insert(CACHE_SCOPE.into(), Value::from("private"));
        }
        Ok(())
    };
    match value {
        Value::Array(messages) => messages.iter_mut().try_for_each(filter_one),
        message => filter_one(message),
    }
}

/// Visitor methods for the JSON scalars, which hold no list.
macro_rules! scalars_hold_no_list {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// How many list results a body (a message or a batch of messages) holds, read strictly: a
/// duplicated `result` member of a message or list member of a result is an error (one
/// parser would see the first, another the last, a third a merge of both), and so is an
/// array inside a batch.
struct BodyShape {
    lists: usize,
}

impl<'de> Deserialize<'de> for BodyShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BodyShape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message or batch")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BodyShape, A::Error> {
                Ok(BodyShape {
                    lists: message_lists(map)?,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BodyShape, A::Error> {
                let mut lists = 0;
                while let Some(MessageShape(n)) = seq.next_element()? {
                    lists += n;
                }
                Ok(BodyShape { lists })
            }
            scalars_hold_no_list!(BodyShape { lists: 0 });
        }
        d.deserialize_any(V)
    }
}

/// A batch element: a message object (a scalar holds no list; an array is refused).
struct MessageShape(usize);

impl<'de> Deserialize<'de> for MessageShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MessageShape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MessageShape, A::Error> {
                message_lists(map).map(MessageShape)
            }
            scalars_hold_no_list!(MessageShape(0));
        }
        d.deserialize_any(V)
    }
}

/// How many list members the message's `result` has.
fn message_lists<'de, A: MapAccess<'de>>(mut map: A) -> Result<usize, A::Error> {
    let mut result: Option<usize> = None;
    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
        if key == "result" {
            if result.is_some() {
                return Err(de::Error::duplicate_field("result"));
            }
            result = Some(map.next_value::<ResultShape>()?.0);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(result.unwrap_or(0))
}

/// A `result`: how many list members it has.
struct ResultShape(usize);

impl<'de> Deserialize<'de> for ResultShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResultShape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResultShape, A::Error> {
                let mut seen: Vec<std::borrow::Cow<'de, str>> = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if is_private_member(&key) {
                        if seen.contains(&key) {
                            return Err(de::Error::custom("duplicate list member"));
                        }
                        seen.push(key);
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(ResultShape(seen.len()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultShape, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ResultShape(0))
            }
            scalars_hold_no_list!(ResultShape(0));
        }
        d.deserialize_any(V)
    }
}

/// Incremental `text/event-stream` filter: feed it chunks as they arrive, forward what it
/// returns. Complete events are forwarded as soon as they end; an event whose data cannot hold
/// a list passes byte for byte, one that holds a list is rewritten filtered, and one that may
/// hold a list but cannot be read ends the stream: it is replaced by [`withheld_event`] and
/// nothing after it is forwarded.
pub struct SseFilter {
    buf: BytesMut,
    /// True until the first bytes were seen (a UTF-8 BOM may open the stream).
    at_start: bool,
    /// True once an event could not be read: the stream is over.
    ended: bool,
    /// How far the buffered event has been searched for its end.
    scan: Scan,
    allow: Box<dyn Fn(Listed<'_>) -> bool + Send + Sync>,
}

/// What one chunk (or the end of the stream) yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseOutput {
    /// The bytes to forward.
    pub bytes: Bytes,
    /// True when an event could not be read: `bytes` ends with [`withheld_event`] and the
    /// stream must end now.
    pub ended: bool,
}

impl fmt::Debug for SseFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseFilter")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseFilter {
    /// A filter keeping the listed items `allow` accepts.
    pub fn new(allow: Box<dyn Fn(Listed<'_>) -> bool + Send + Sync>) -> Self {
        SseFilter {
            buf: BytesMut::new(),
            at_start: true,
            ended: false,
            scan: Scan::START,
            allow,
        }
    }

    /// Feeds a chunk; returns the bytes of every event completed by it (possibly none).
    pub fn push(&mut self, chunk: &[u8]) -> SseOutput {
        if self.ended {
            return self.output(BytesMut::new());
        }
        self.buf.extend_from_slice(chunk);
        if self.at_start {
            // The stream may open with a BOM, which clients drop before parsing. Drop every
            // leading one: had a second one been forwarded, a client would drop it as the
            // stream's BOM and read the first field name as `data` where the filter read
            // `\u{feff}data` (and passed the event unfiltered).
            loop {
                if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                    return self.output(BytesMut::new());
                }
                if !self.buf.starts_with(BOM) {
                    break;
                }
                let _ = self.buf.split_to(BOM.len());
            }
            self.at_start = false;
        }
        let mut out = BytesMut::new();
        while let Some(end) = self.scan.event_end(&self.buf) {
            let event = self.buf.split_to(end);
            self.emit_or_end(&event, &mut out);
            if self.ended {
                break;
            }
        }
        self.output(out)
    }

    /// The end of the stream: an unterminated last event is filtered like any other.
    pub fn finish(&mut self) -> SseOutput {
        let mut out = BytesMut::new();
        if !self.ended {
            let event = self.buf.split();
            self.emit_or_end(&event, &mut out);
        }
        self.output(out)
    }

    fn output(&self, bytes: BytesMut) -> SseOutput {
        SseOutput {
            bytes: bytes.freeze(),
            ended: self.ended,
        }
    }

    fn emit_or_end(&mut self, event: &[u8], out: &mut BytesMut) {
        if self.emit(event, out).is_err() {
            self.ended = true;
            self.buf.clear();
            out.extend_from_slice(&withheld_event());
        }
    }

    fn emit(&self, event: &[u8], out: &mut BytesMut) -> Result<(), Unreadable> {
        if !may_carry_list(event) {
            out.extend_from_slice(event);
            return Ok(());
        }
        let mut data: Vec<u8> = Vec::new();
        let mut data_lines = 0usize;
        let mut other_lines: Vec<&[u8]> = Vec::new();
        for line in lines(event) {
            if line.is_empty() || line.starts_with(b":") {
                continue;
            }
            let (field, value) = match memchr::memchr(b':', line) {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (line, &b""[..]),
            };
            if field == b"data" {
                if data_lines > 0 {
                    data.push(b'\n');
                }
                data.extend_from_slice(value);
                data_lines += 1;
            } else {
                other_lines.push(line);
            }
        }
        // Data without a list passes unchanged; data that may hold one must be read.
        let filtered = if data.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            filter_json(&data, &*self.allow)?
        };
        match filtered {
            None => out.extend_from_slice(event),
            Some(json) => {
                for line in other_lines {
                    out.extend_from_slice(line);
                    out.extend_from_slice(b"\n");
                }
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\n\n");
            }
        }
        Ok(())
    }
}

/// The final event sent in place of an unreadable one, after which the stream ends.
pub fn withheld_event() -> Bytes {
    Bytes::from(format!("event: message\ndata: {}\n\n", withheld_error()))
}

/// Lines of an event, split on CRLF, LF or CR (the three SSE line endings).
fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = event;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => {
                let line = rest;
                rest = &[];
                Some(line)
            }
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
                Some(line)
            }
        }
    })
}

/// The index just past the blank line that ends the first complete event, if any.
/// The search for the end of the buffered event (a blank line), resumable: an event arriving
/// in many small chunks is scanned once, not again from its start at every chunk.
#[derive(Debug, Clone, Copy)]
struct Scan {
    /// Bytes of the buffer already searched.
    pos: usize,
    /// True when `pos` is at the start of a line.
    at_line_start: bool,
}

impl Scan {
    const START: Scan = Scan {
        pos: 0,
        at_line_start: true,
    };

    /// The length of the first event in `buf`, if it is complete, counting from `self.pos`
    /// (what was searched before). After a match the search starts again at the buffer's
    /// start: the caller splits the event off.
    fn event_end(&mut self, buf: &[u8]) -> Option<usize> {
        let Scan {
            pos: mut i,
            mut at_line_start,
        } = *self;
        while i < buf.len() {
            let eol = match buf[i] {
                b'\r' if buf.get(i + 1) == Some(&b'\n') => 2,
                // A lone CR at the end of the buffer may be the first half of CRLF: wait.
                b'\r' if i + 1 == buf.len() => break,
                b'\r' | b'\n' => 1,
                _ => {
                    at_line_start = false;
                    i += 1;
                    continue;
                }
            };
            if at_line_start {
                *self = Scan::START;
                return Some(i + eol);
            }
            at_line_start = true;
            i += eol;
        }
        *self = Scan {
            pos: i,
            at_line_start,
        };
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allow_read(item: Listed<'_>) -> bool {
        matches!(
            item,
            Listed::Tool("list_notes" | "server_time")
                | Listed::Prompt("summarize_notes")
                | Listed::Resource("notes://all")
                | Listed::ResourceTemplate("notes://note/{id}")
        )
    }

    fn tools(out: &[u8]) -> Value {
        serde_json::from_slice::<Value>(out).unwrap()["result"]["tools"].clone()
    }

    const LIST: &str = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"list_notes"},{"name":"add_note"},{"name":"server_time"},{"title":"nameless"}]}}"#;

    #[test]
    fn every_list_result_is_filtered_whatever_its_id() {
        for id in ["2", "2.0", "2e0", "20E-1", "-0", "\"2\"", "null", "{}"] {
            let body = LIST.replace("\"id\":2", &format!("\"id\":{id}"));
            let out = filter_json(body.as_bytes(), &allow_read).unwrap().unwrap();
            assert_eq!(
                tools(&out),
                json!([{"name":"list_notes"},{"name":"server_time"}]),
                "{id}"
            );
        }
        let body = format!("[{LIST},{{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{{}}}},{LIST}]");
        let out: Value =
            serde_json::from_slice(&filter_json(body.as_bytes(), &allow_read).unwrap().unwrap())
                .unwrap();
        assert_eq!(out[0]["result"]["tools"].as_array().unwrap().len(), 2);
        assert_eq!(out[2]["result"]["tools"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn prompt_resource_and_template_lists_are_filtered_by_their_naming_member() {
        let body = br#"[
            {"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"summarize_notes"},{"name":"leak"},{"uri":"summarize_notes"}]}},
            {"jsonrpc":"2.0","id":2,"result":{"resources":[{"uri":"notes://all","name":"x"},{"uri":"notes://secret"},{"name":"notes://all"}]}},
            {"jsonrpc":"2.0","id":3,"result":{"resourceTemplates":[{"uriTemplate":"notes://note/{id}"},{"uriTemplate":"notes://{x}"},{"uri":"notes://note/{id}"}]}},
            {"jsonrpc":"2.0","id":4,"result":{"contents":[{"uri":"notes://secret","text":"resource"}]}}
        ]"#;
        let out: Value =
            serde_json::from_slice(&filter_json(body, &allow_read).unwrap().unwrap()).unwrap();
        assert_eq!(
            out,
            json!([
                {"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"summarize_notes"}],"cacheScope":"private"}},
                {"jsonrpc":"2.0","id":2,"result":{"resources":[{"uri":"notes://all","name":"x"}],"cacheScope":"private"}},
                {"jsonrpc":"2.0","id":3,"result":{"resourceTemplates":[{"uriTemplate":"notes://note/{id}"}],"cacheScope":"private"}},
                // Read contents are not a list: kept whole, but private to the caller.
                {"jsonrpc":"2.0","id":4,"result":{"contents":[{"uri":"notes://secret","text":"resource"}],"cacheScope":"private"}}
            ])
        );
    }

    #[test]
    fn every_list_member_of_one_result_is_filtered_and_none_may_repeat() {
        let body =
            br#"{"id":1,"result":{"tools":[{"name":"add_note"}],"prompts":[{"name":"leak"}]}}"#;
        let out: Value =
            serde_json::from_slice(&filter_json(body, &allow_read).unwrap().unwrap()).unwrap();
        assert_eq!(
            out["result"],
            json!({"tools": [], "prompts": [], "cacheScope": "private"})
        );
        for body in [
            br#"{"id":1,"result":{"prompts":[],"prompts":[{"name":"leak"}]}}"#.as_slice(),
            br#"{"id":1,"result":{"resources":{"uri":"notes://secret"}}}"#,
            br#"{"id":1,"result":{"resourceTemplates":[],"resourceTemplates":[]}}"#,
        ] {
            assert_eq!(
                filter_json(body, &allow_read),
                Err(Unreadable),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_filtered_list_is_marked_private() {
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"cacheScope":"public","ttlMs":60000}}"#;
        let out: Value =
            serde_json::from_slice(&filter_json(body, &allow_read).unwrap().unwrap()).unwrap();
        assert_eq!(
            out["result"],
            json!({"tools": [], "cacheScope": "private", "ttlMs": 60000})
        );
    }

    #[test]
    fn a_read_result_is_marked_private_and_its_contents_kept() {
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{"contents":[{"uri":"notes://all","text":"x"}],"cacheScope":"public","ttlMs":5}}"#;
        let out: Value =
            serde_json::from_slice(&filter_json(body, &allow_read).unwrap().unwrap()).unwrap();
        assert_eq!(
            out["result"],
            json!({"contents": [{"uri": "notes://all", "text": "x"}], "cacheScope": "private", "ttlMs": 5})
        );
        // Read contents in a batch, and a duplicated `contents` (parsers disagree): withheld.
        let twice = br#"{"id":1,"result":{"contents":[],"contents":[]}}"#;
        assert_eq!(filter_json(twice, &allow_read), Err(Unreadable));
    }

    #[test]
    fn bodies_without_a_list_pass_unchanged() {
        for body in [
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"12345678901234567890123"}]}}"#.as_slice(),
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"my tools"}]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{"x":"\u00e9"}}"#,
            br#""tools""#,
            b"not json at all",
        ] {
            assert_eq!(filter_json(body, &allow_read), Ok(None), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn lists_that_cannot_be_read_are_unreadable() {
        for body in [
            r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add_note"}]"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":2,"result":{"tools":{"name":"add_note"}}}"#.to_owned(),
            r#"{"id":2,"result":{"tools":[{"name":"list_notes"}],"tools":[{"name":"add_note"}]}}"#
                .to_owned(),
            r#"{"id":2,"result":{"tools":[{"name":"list_notes"}]},"result":{"x":1}}"#.to_owned(),
            r#"{"id":2,"result":{"\u0074ools":[{"name":"add_note"}],"tools":[]}}"#.to_owned(),
            format!("{LIST} trailing tools"),
        ] {
            assert_eq!(
                filter_json(body.as_bytes(), &allow_read),
                Err(Unreadable),
                "{body}"
            );
        }
        // An escaped member name is still the member.
        let out = filter_json(
            br#"{"id":2,"result":{"\u0074ools":[{"name":"add_note"},{"name":"list_notes"}]}}"#,
            &allow_read,
        )
        .unwrap()
        .unwrap();
        assert_eq!(tools(&out), json!([{"name":"list_notes"}]));
    }

    #[test]
    fn a_list_in_utf16_or_utf32_is_unreadable_not_forwarded() {
        // Some parsers (Python's `json.loads` on bytes, RFC 4627 detection) decode these and
        // would read every tool; `tools` never appears in them as UTF-8 bytes.
        let utf16le: Vec<u8> = LIST.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = LIST.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf32le: Vec<u8> = LIST
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        for body in [utf16le, utf16be, utf32le] {
            assert_eq!(filter_json(&body, &allow_read), Err(Unreadable));
        }
    }

    /// The filtered stream, and whether it ended on an unreadable event.
    fn run_sse(stream: &[u8], split: usize) -> (Vec<u8>, bool) {
        let mut f = SseFilter::new(Box::new(allow_read));
        let mut out = Vec::new();
        for chunk in stream.chunks(split.max(1)) {
            let o = f.push(chunk);
            out.extend_from_slice(&o.bytes);
            if o.ended {
                return (out, true);
            }
        }
        let o = f.finish();
        out.extend_from_slice(&o.bytes);
        (out, o.ended)
    }

    #[test]
    fn sse_filter_rewrites_only_list_events_across_chunk_boundaries() {
        let stream = format!(
            "id: 0\nretry: 3000\ndata:\n\n: keep-alive\n\nid: 1\r\ndata: {LIST}\r\n\r\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"x\"}}\n\n"
        );
        for split in [1, 7, 40, stream.len()] {
            let text = String::from_utf8(run_sse(stream.as_bytes(), split).0).unwrap();
            assert!(
                text.starts_with("id: 0\nretry: 3000\ndata:\n\n: keep-alive\n\n"),
                "{text}"
            );
            assert!(text.contains("id: 1\ndata: {"), "{text}");
            assert!(!text.contains("add_note"), "{text}");
            assert!(text.contains("list_notes"), "{text}");
            assert!(
                text.ends_with("data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"),
                "{text}"
            );
        }
    }

    #[test]
    fn sse_data_is_read_as_clients_read_it() {
        // A BOM before the first field, a bare `data` line, data split over lines, and an
        // unterminated last event: each still filtered.
        let split_list = LIST.replacen(",", ",\ndata: ", 1);
        for stream in [
            format!("\u{feff}data: {LIST}\n\n"),
            format!("data\ndata: {LIST}\n\n"),
            format!("data: {split_list}\n\n"),
            format!("data: {LIST}"),
            format!("data:{LIST}\n\n"),
        ] {
            for split in [1, 2, 5, stream.len()] {
                let out = String::from_utf8(run_sse(stream.as_bytes(), split).0).unwrap();
                assert!(!out.contains("add_note"), "{stream:?} -> {out:?}");
                assert!(out.contains("list_notes"), "{stream:?} -> {out:?}");
            }
        }
    }

    #[test]
    fn a_stream_opening_with_several_boms_is_filtered_after_all_of_them() {
        let stream = format!("\u{feff}\u{feff}\u{feff}data: {LIST}\n\n");
        for split in [1, 2, 3, 4, 7, stream.len()] {
            let (out, ended) = run_sse(stream.as_bytes(), split);
            let text = String::from_utf8(out).unwrap();
            assert!(!ended, "{split}");
            assert!(text.starts_with("data: {"), "{split}: {text:?}");
            assert!(!text.contains("add_note"), "{split}: {text:?}");
            assert!(text.contains("list_notes"), "{split}: {text:?}");
        }
    }

    #[test]
    fn an_unreadable_sse_event_that_may_hold_a_list_is_an_error() {
        let stream = b"data: {\"ok\":1}\n\ndata: {\"result\":{\"tools\":[\n\ndata: {\"ok\":2}\n\n";
        for split in [1, 3, stream.len()] {
            let (out, ended) = run_sse(stream, split);
            let mut expected = b"data: {\"ok\":1}\n\n".to_vec();
            expected.extend_from_slice(&withheld_event());
            assert_eq!(
                (String::from_utf8(out).unwrap(), ended),
                (String::from_utf8(expected).unwrap(), true)
            );
        }
        // Not JSON, but no list either: passes.
        let stream = b"data: hello\n\n";
        assert_eq!(run_sse(stream, 3), (stream.to_vec(), false));
    }

    fn event_end(buf: &[u8]) -> Option<usize> {
        let mut scan = Scan::START;
        scan.event_end(buf)
    }

    #[test]
    fn sse_event_split_inside_crlf_waits_for_the_lf() {
        assert_eq!(event_end(b"data: x\r\n\r"), None);
        assert_eq!(event_end(b"data: x\r\n\r\n"), Some(11));
        assert_eq!(event_end(b"data: x\n\ndata: y"), Some(9));
        assert_eq!(event_end(b"data: x\r\rmore"), Some(9));
    }

    #[test]
    fn the_search_for_an_events_end_resumes_where_it_stopped() {
        let mut scan = Scan::START;
        let mut buf = b"data: x\r".to_vec();
        assert_eq!(scan.event_end(&buf), None);
        assert_eq!(
            scan.pos, 7,
            "the lone CR is searched again with what follows"
        );
        buf.extend_from_slice(b"\n\r");
        assert_eq!(scan.event_end(&buf), None);
        assert_eq!((scan.pos, scan.at_line_start), (9, true));
        buf.extend_from_slice(b"\ndata: y");
        assert_eq!(scan.event_end(&buf), Some(11));
        assert_eq!(scan.pos, 0, "the next event is searched from its start");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn sse_output_does_not_depend_on_chunking(splits in proptest::collection::vec(1usize..64, 1..20)) {
                let stream = format!(
                    "id: 0\nretry: 3000\ndata:\n\n: ping\r\n\r\nid: 1\r\ndata: {LIST}\r\n\r\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"tools\"}}\n\ntail"
                );
                let run = |sizes: &[usize]| {
                    let mut f = SseFilter::new(Box::new(allow_read));
                    let mut out = Vec::new();
                    let mut rest = stream.as_bytes();
                    let mut k = 0;
                    while !rest.is_empty() {
                        let n = sizes[k % sizes.len()].min(rest.len());
                        out.extend_from_slice(&f.push(&rest[..n]).bytes);
                        rest = &rest[n..];
                        k += 1;
                    }
                    out.extend_from_slice(&f.finish().bytes);
                    out
                };
                let whole = run(&[stream.len()]);
                prop_assert_eq!(run(&splits), whole.clone());
                prop_assert!(!String::from_utf8_lossy(&whole).contains("add_note"));
            }

            #[test]
            fn no_denied_tool_survives_any_id(id in any::<f64>(), names in proptest::collection::vec("[a-z_]{1,8}", 0..6)) {
                let tools: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
                let body = json!({"jsonrpc":"2.0","id": id,"result":{"tools": tools}}).to_string();
                let allow = |i: Listed<'_>| matches!(i, Listed::Tool(n) if n.starts_with('a'));
                match filter_json(body.as_bytes(), &allow) {
                    Ok(Some(out)) => {
                        let v: Value = serde_json::from_slice(&out).unwrap();
                        for t in v["result"]["tools"].as_array().unwrap() {
                            prop_assert!(t["name"].as_str().unwrap().starts_with('a'));
                        }
                    }
                    other => prop_assert!(false, "{:?}", other),
                }
            }
        }
    }
}
