//! Response filtering, differentially: what a client reads in a filtered response, checked
//! with a JSON reader and an event-stream reader of our own (not the filter's).
//!
//! The input is three parts: `<allowed names, space-separated>\n<chunk sizes, decimal,
//! space-separated>\n<body>`. The policy allows exactly the listed names, whatever the list:
//! tool and prompt names, resource URIs and resource templates alike. The body is
//! filtered three ways: as a JSON response (`filter_json`); as a `text/event-stream`
//! (`SseFilter`), fed in the chunk sizes (cycled) and in one piece; and wrapped as the data of
//! one event. For every input:
//! * a JSON body is either `Unreadable`, or forwarded as bytes a client may read: JSON in
//!   which no `result.tools`, `result.prompts`, `result.resources` or
//!   `result.resourceTemplates` list, of a single message or of any message of a batch, holds
//!   an item the policy denies — under every reading of duplicated members — or bytes in which
//!   no JSON reader can find such a member; a filtered body is valid JSON, and filtering it
//!   again changes nothing;
//! * every event a client reads in a filtered stream has data of that kind too; a stream that
//!   could not be read ends with the withheld event and nothing after it;
//! * the stream output does not depend on how the stream was chunked;
//! * a body wrapped as one event is filtered exactly as the same body sent as JSON.
#![no_main]

use std::collections::BTreeSet;

use authsec::internal::filter::{filter_json, withheld_event, Listed, SseFilter, Unreadable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let policy = Policy::new(parts.next().unwrap_or_default());
    let chunks = chunk_sizes(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    let json = filter_json(body, &|item: Listed<'_>| policy.allows(key(item)));
    match &json {
        Ok(Some(out)) => {
            let read = Json::read(out).expect("a filtered body is valid JSON");
            policy.check(&read, out);
            assert_eq!(
                filter_json(out, &|item: Listed<'_>| policy.allows(key(item))),
                Ok(Some(out.clone())),
                "filtering twice changes the body"
            );
        }
        Ok(None) => policy.check_forwarded(body),
        Err(Unreadable) => {}
    }

    check_stream(&policy, body, &chunks);
    let wrapped = as_one_event(body);
    let (stream, ended) = check_stream(&policy, &wrapped, &chunks);
    let expected = match &json {
        Ok(Some(out)) => ([b"data: ", &out[..], b"\n\n"].concat(), false),
        Ok(None) => (wrapped, false),
        Err(Unreadable) => (withheld_event().to_vec(), true),
    };
    assert_eq!(
        (show(&stream), ended),
        (show(&expected.0), expected.1),
        "the body as one event is filtered unlike the body as JSON ({json:?})"
    );
});

/// The name, URI or template a listed item is decided by.
fn key(item: Listed<'_>) -> &str {
    match item {
        Listed::Tool(k) | Listed::Prompt(k) | Listed::Resource(k) | Listed::ResourceTemplate(k) => {
            k
        }
    }
}

/// Each list member of a result and the member naming its items.
const LISTS: [(&str, &str); 4] = [
    ("tools", "name"),
    ("prompts", "name"),
    ("resources", "uri"),
    ("resourceTemplates", "uriTemplate"),
];

/// The allowed names.
struct Policy(BTreeSet<String>);

impl Policy {
    fn new(line: &[u8]) -> Self {
        Policy(
            String::from_utf8_lossy(line)
                .split(' ')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    fn allows(&self, tool: &str) -> bool {
        self.0.contains(tool)
    }

    /// No list result in `read` holds a denied tool, under any reading of duplicate members.
    fn check(&self, read: &Json, bytes: &[u8]) {
        let messages = match read {
            Json::Arr(items) => items.as_slice(),
            message => std::slice::from_ref(message),
        };
        for result in messages.iter().flat_map(|m| m.members("result")) {
            for (member, key) in LISTS {
                for list in result.members(member) {
                    let Json::Arr(items) = list else {
                        panic!(
                            "a `{member}` list that is not an array was let through: {}",
                            show(bytes)
                        );
                    };
                    for name in items.iter().flat_map(|t| t.members(key)) {
                        if let Json::Str(name) = name {
                            assert!(
                                self.allows(name),
                                "denied {member} item {name:?} let through: {}",
                                show(bytes)
                            );
                        }
                    }
                }
            }
        }
    }

    /// Bytes passed on unchanged: JSON that holds no denied tool, or bytes in which no JSON
    /// reader can find a `tools` member (neither the name nor a `\u` escape that could spell it).
    /// Readers that accept UTF-16 and UTF-32 JSON (RFC 4627 encoding detection, as Python's
    /// `json.loads` on bytes) must not find a denied tool either.
    fn check_forwarded(&self, bytes: &[u8]) {
        match Json::read(bytes) {
            Some(read) => self.check(&read, bytes),
            None => assert!(
                !contains(bytes, b"tools")
                    && !contains(bytes, b"prompts")
                    && !contains(bytes, b"resource")
                    && !contains(bytes, b"\\u"),
                "unreadable bytes that may name a list member were let through: {}",
                show(bytes)
            ),
        }
        for text in wide_decodings(bytes) {
            if let Some(read) = Json::read(text.trim_start_matches('\u{feff}').as_bytes()) {
                self.check(&read, bytes);
            }
        }
    }
}

fn chunk_sizes(line: &[u8]) -> Vec<usize> {
    String::from_utf8_lossy(line)
        .split(' ')
        .filter_map(|n| n.parse::<usize>().ok())
        .map(|n| n.clamp(1, 1 << 16))
        .collect()
}

/// Runs the event-stream filter over `stream` in one piece and in `chunks`; checks that both
/// send the same, and that every event a client reads in it is safe. Returns what was sent and
/// whether the stream was ended as unreadable.
fn check_stream(policy: &Policy, stream: &[u8], chunks: &[usize]) -> (Vec<u8>, bool) {
    let whole = run_sse(policy, stream, &[]);
    let chunked = run_sse(policy, stream, chunks);
    assert_eq!(
        (show(&chunked.0), chunked.1),
        (show(&whole.0), whole.1),
        "the output depends on the chunking {chunks:?}"
    );
    let (sent, ended) = whole;
    if ended {
        assert!(
            sent.ends_with(&withheld_event()),
            "an ended stream lacks the withheld event"
        );
    }
    for data in client_events(&sent) {
        policy.check_forwarded(&data);
    }
    (sent, ended)
}

/// What the filter sends for `stream` fed in `chunks` (cycled; empty: one piece), and whether
/// it ended the stream; once ended, it must send nothing more.
fn run_sse(policy: &Policy, stream: &[u8], chunks: &[usize]) -> (Vec<u8>, bool) {
    let allowed = policy.0.clone();
    let mut filter = SseFilter::new(Box::new(move |item: Listed<'_>| {
        allowed.contains(key(item))
    }));
    let mut sent = Vec::new();
    let mut ended = false;
    let mut take = |out: authsec::internal::filter::SseOutput| {
        assert!(
            !ended || (out.ended && out.bytes.is_empty()),
            "output after the end"
        );
        ended = out.ended;
        sent.extend_from_slice(&out.bytes);
    };
    let mut rest = stream;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().map_or(rest.len(), |&n| n.min(rest.len()));
        take(filter.push(&rest[..n]));
        rest = &rest[n..];
    }
    take(filter.finish());
    (sent, ended)
}

/// `body` as the data of one event: each of its lines a `data:` line.
fn as_one_event(body: &[u8]) -> Vec<u8> {
    let mut out = b"data: ".to_vec();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\ndata: ");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\ndata: "),
            b => out.push(b),
        }
        i += 1;
    }
    out.extend_from_slice(b"\n\n");
    out
}

/// The data of every event a client reads in `stream` (the WHATWG event-stream parser), plus
/// an unterminated last event, which some clients still dispatch.
fn client_events(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    // Each `data` line appends its value and a LF; an event drops the last LF.
    let mut data = Vec::new();
    let mut dispatch = |data: &mut Vec<u8>| {
        if data.pop().is_some() {
            events.push(std::mem::take(data));
        }
    };
    let mut rest = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => {
                (&rest[..i], &rest[i + 2..])
            }
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        rest = next;
        if line.is_empty() {
            dispatch(&mut data);
        } else if let Some(value) = line.strip_prefix(b"data") {
            match value.first() {
                None => data.push(b'\n'),
                Some(b':') => {
                    let value = &value[1..];
                    data.extend_from_slice(value.strip_prefix(b" ").unwrap_or(value));
                    data.push(b'\n');
                }
                // Another field whose name starts with `data`.
                Some(_) => {}
            }
        }
    }
    dispatch(&mut data);
    events
}

/// `bytes` as UTF-16 and UTF-32 text, in either byte order, where they decode.
fn wide_decodings(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if bytes.len().is_multiple_of(2) && bytes.contains(&0) {
        for unit in [u16::from_le_bytes, u16::from_be_bytes] {
            let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
            out.extend(char::decode_utf16(units).collect::<Result<String, _>>());
        }
    }
    if bytes.len().is_multiple_of(4) && bytes.contains(&0) {
        for unit in [u32::from_le_bytes, u32::from_be_bytes] {
            let chars = bytes
                .chunks_exact(4)
                .map(|c| char::from_u32(unit([c[0], c[1], c[2], c[3]])));
            out.extend(chars.collect::<Option<String>>());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// JSON as a lenient client reads it: every duplicate member kept, numbers checked for syntax
/// only (no range), escapes decoded (a lone surrogate becomes U+FFFD).
#[derive(Debug)]
enum Json {
    Scalar,
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn read(bytes: &[u8]) -> Option<Json> {
        let mut r = Reader { s: bytes, i: 0 };
        let value = r.value(0)?;
        r.ws();
        (r.i == bytes.len()).then_some(value)
    }

    /// Every member named `name` (all of them when it is duplicated).
    fn members<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Json> {
        let members = match self {
            Json::Obj(members) => members.as_slice(),
            _ => &[],
        };
        members
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > 512 {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                if self.eat(b'}') {
                    return Some(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let name = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    members.push((name, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Some(Json::Obj(members));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Some(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Some(Json::Arr(items));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'"' => self.string().map(Json::Str),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<Json> {
        let hit = self.s[self.i..].starts_with(word);
        self.i += word.len();
        hit.then_some(Json::Scalar)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<Json> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(Json::Scalar)
    }

    fn hex4(&mut self) -> Option<u32> {
        let hex = self.s.get(self.i..self.i + 4)?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    let escape = self.peek()?;
                    self.i += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let unit = self.hex4()?;
                            let low = (0xD800..0xDC00).contains(&unit)
                                && self.s[self.i..].starts_with(b"\\u");
                            let code = if low {
                                let save = self.i;
                                self.i += 2;
                                match self.hex4()? {
                                    l @ 0xDC00..0xE000 => {
                                        0x10000 + ((unit - 0xD800) << 10) + (l - 0xDC00)
                                    }
                                    _ => {
                                        self.i = save;
                                        unit
                                    }
                                }
                            } else {
                                unit
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return None,
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                b if b < 0x20 => return None,
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}
