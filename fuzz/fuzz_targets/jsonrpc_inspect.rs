//! MCP request inspection: the JSON-RPC body and the `Mcp-Name` routing header.
//!
//! The input is a request body, optionally preceded by one line of `Mcp-Name` values:
//! `mcp-name:<value>[\0<value>…]\n<body>` (each value with one leading space trimmed, as an
//! HTTP parser would). For every input:
//! * nothing panics; `inspect` fails only with `InvalidRequest::MalformedBody` and
//!   `check_mcp_name` only with `InvalidRequest::McpNameMismatch`;
//! * an accepted body says what a plain JSON parser reads in it: batch or not, each message's
//!   kind, `id`, `method`, protocol revision (`params._meta`), and for `tools/call` the
//!   string `params.name` as the tool;
//! * an `Mcp-Name` header is accepted only when it names what every name-carrying message
//!   targets, and a single plain header that does so is always accepted;
//! * an in-band denial answers exactly the requests of the body.
#![no_main]

use std::sync::OnceLock;

use authsec::challenge::{self, ChallengeContext, Denial};
use authsec::{AuthError, InvalidRequest};
use authsec::internal::mcp::{self, Inspection, MessageKind};
use authsec::Config;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (header_values, body) = split_input(data);
    let inspection = match mcp::inspect(body) {
        Ok(inspection) => inspection,
        Err(e) => {
            assert_eq!(e, AuthError::InvalidRequest(InvalidRequest::MalformedBody));
            return;
        }
    };
    check_against_plain_json(&inspection, body);
    check_mcp_name(&inspection, &header_values);
    check_in_band_denial(&inspection);
});

fn split_input(data: &[u8]) -> (Option<Vec<&[u8]>>, &[u8]) {
    let Some(rest) = data.strip_prefix(b"mcp-name:") else {
        return (None, data);
    };
    let (line, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let values = line
        .split(|&b| b == 0)
        .map(|v| v.strip_prefix(b" ").unwrap_or(v))
        .collect();
    (Some(values), body)
}

fn check_against_plain_json(inspection: &Inspection, body: &[u8]) {
    // `inspect` checks only the syntax of members it does not read; a plain parser also
    // converts them (and refuses, e.g., a number beyond `f64`). Nothing to compare then.
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let messages = match &value {
        Value::Array(items) => {
            assert!(inspection.batch);
            items.clone()
        }
        other => {
            assert!(!inspection.batch);
            vec![other.clone()]
        }
    };
    assert!(!messages.is_empty());
    assert_eq!(messages.len(), inspection.messages.len());
    for (json, message) in messages.iter().zip(&inspection.messages) {
        assert_eq!(json["jsonrpc"], "2.0");
        let id = json.get("id").filter(|id| !id.is_null());
        assert_eq!(message.id.as_ref(), id);
        if let Some(id) = id {
            assert!(id.is_string() || id.is_number(), "accepted id {id}");
        }
        assert_eq!(
            message.method.as_deref(),
            json.get("method").and_then(Value::as_str)
        );
        let expected_kind = match (&message.method, id) {
            (Some(_), Some(_)) => MessageKind::Request,
            (Some(_), None) => MessageKind::Notification,
            (None, Some(_)) => MessageKind::Response,
            (None, None) => panic!("accepted a message with neither method nor id"),
        };
        assert_eq!(message.kind, expected_kind);
        if message.method.as_deref() == Some("tools/call") {
            let name = json["params"]["name"].as_str();
            assert!(
                name.is_some(),
                "accepted a tools/call without a string name"
            );
            assert_eq!(message.tool.as_deref(), name);
            assert_eq!(message.routing_name.as_deref(), name);
        } else {
            assert_eq!(message.tool, None);
        }
        let revision = json["params"]["_meta"][mcp::PROTOCOL_VERSION_META_KEY].as_str();
        assert_eq!(message.protocol_version.as_deref(), revision);
    }
    assert_eq!(
        inspection.protocol_version(),
        inspection
            .messages
            .iter()
            .find_map(|m| m.protocol_version.as_deref())
    );
    assert_eq!(
        inspection.tool_calls().count(),
        inspection
            .messages
            .iter()
            .filter(|m| m.tool.is_some())
            .count()
    );
}

fn check_mcp_name(inspection: &Inspection, values: &Option<Vec<&[u8]>>) {
    let mut headers = http::HeaderMap::new();
    for value in values.iter().flatten() {
        let Ok(value) = http::HeaderValue::from_bytes(value) else {
            return;
        };
        headers.append(mcp::MCP_NAME_HEADER, value);
    }
    let result = mcp::check_mcp_name(&headers, inspection);
    if let Err(e) = &result {
        assert_eq!(
            e,
            &AuthError::InvalidRequest(InvalidRequest::McpNameMismatch)
        );
    }
    let names: Vec<&str> = inspection
        .messages
        .iter()
        .filter_map(|m| m.routing_name.as_deref())
        .collect();
    let sent: Vec<&http::HeaderValue> = headers.get_all(mcp::MCP_NAME_HEADER).iter().collect();
    match sent.as_slice() {
        [] => assert!(result.is_ok(), "no header, yet refused"),
        [one] => {
            let plain = one.to_str().ok();
            let target = names.first().copied();
            let all_same = target.is_some() && names.iter().all(|n| Some(*n) == target);
            if result.is_ok() {
                assert!(all_same, "accepted {plain:?} for names {names:?}");
                let raw = plain.expect("accepted a header that is not visible ASCII");
                assert!(raw == target.unwrap_or_default() || raw.starts_with("=?base64?"));
            } else if all_same
                && plain == target
                && !plain.is_some_and(|p| p.starts_with("=?base64?"))
            {
                panic!("refused {plain:?} although every message targets it");
            }
        }
        _ => assert!(result.is_err(), "accepted a repeated Mcp-Name header"),
    }
}

fn denial() -> &'static Denial {
    static DENIAL: OnceLock<Denial> = OnceLock::new();
    DENIAL.get_or_init(|| {
        let config = Config::builder("https://as.example", "https://mcp.example/mcp")
            .build()
            .expect("fixed config");
        challenge::render(
            &AuthError::Unmapped {
                target: authsec::policy::Target::tool("fuzz"),
            },
            &ChallengeContext::for_request(&config, None),
        )
    })
}

fn check_in_band_denial(inspection: &Inspection) {
    let requests: Vec<_> = inspection
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Request)
        .collect();
    match mcp::in_band_denial(inspection, denial()) {
        None => assert!(requests.is_empty()),
        Some(Value::Array(replies)) => {
            assert!(inspection.batch);
            assert_eq!(replies.len(), requests.len());
            for (reply, request) in replies.iter().zip(requests) {
                assert_eq!(Some(&reply["id"]), request.id.as_ref());
            }
        }
        Some(reply) => {
            assert!(!inspection.batch);
            assert_eq!(requests.len(), 1);
            assert_eq!(Some(&reply["id"]), requests[0].id.as_ref());
        }
    }
}
