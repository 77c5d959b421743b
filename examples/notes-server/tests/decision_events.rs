//! Every request to the protected endpoint emits exactly one `authsec::decision` event with the
//! documented fields, and no event or span anywhere carries the token.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use authsec::Fingerprint;
use common::*;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

type Fields = BTreeMap<String, String>;

#[derive(Clone, Default)]
struct Captured {
    events: Arc<Mutex<Vec<(String, Fields)>>>,
    everything: Arc<Mutex<Vec<String>>>,
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Captured {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Visitor(&mut fields));
        self.everything.lock().unwrap().push(format!("{fields:?}"));
        self.events
            .lock()
            .unwrap()
            .push((event.metadata().target().to_owned(), fields));
    }
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Visitor(&mut fields));
        self.everything.lock().unwrap().push(format!("{fields:?}"));
    }
    fn on_record(&self, _id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        values.record(&mut Visitor(&mut fields));
        self.everything.lock().unwrap().push(format!("{fields:?}"));
    }
}

impl Captured {
    fn decisions(&self) -> Vec<Fields> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, _)| target == "authsec::decision")
            .map(|(_, f)| f.clone())
            .collect()
    }
}

#[tokio::test]
async fn one_decision_event_per_request_with_its_fields_and_never_the_token() {
    let captured = Captured::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(captured.clone()))
        .unwrap();

    let h = Harness::start().await;
    let token = h.token("notes:read");
    let session = h.initialize(Some(&token)).await;
    assert_eq!(
        captured.decisions().len(),
        2,
        "initialize + notifications/initialized"
    );

    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(1, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    let d = captured.decisions();
    assert_eq!(d.len(), 3);
    assert_eq!(d[2]["decision"], "allow");
    assert_eq!(d[2]["tool"], "list_notes");
    assert_eq!(d[2]["method"], "tools/call");

    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(2, "add_note", json!({"text": "x"})),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let d = captured.decisions();
    assert_eq!(d.len(), 4);
    let deny = &d[3];
    for (field, value) in [
        ("decision", "deny".to_owned()),
        ("status", "403".to_owned()),
        ("reason", "insufficient_scope".to_owned()),
        ("tool", "add_note".to_owned()),
        ("method", "tools/call".to_owned()),
        ("subject", "user-1".to_owned()),
        ("client_id", "client-1".to_owned()),
        ("issuer", h.auth.issuer()),
        ("required_scopes", "notes:write".to_owned()),
        ("granted_scopes", "notes:read".to_owned()),
        ("token_fingerprint", Fingerprint::of(&token).to_string()),
    ] {
        assert_eq!(deny.get(field), Some(&value), "{field} in {deny:?}");
    }
    assert!(deny.contains_key("latency_us"));

    let resp = h.send(None, None, &list(3)).await;
    assert_eq!(resp.status(), 401);
    let d = captured.decisions();
    assert_eq!(d.len(), 5);
    assert_eq!(d[4]["reason"], "no_token");
    assert_eq!(d[4]["method"], "tools/list");
    assert!(!d[4].contains_key("token_fingerprint"));

    let garbage = "abc.def.ghi";
    let resp = h.send(Some(garbage), None, &list(4)).await;
    assert_eq!(resp.status(), 401);
    let d = captured.decisions();
    assert_eq!(d.len(), 6);
    assert_eq!(d[5]["reason"], "malformed_token");
    assert_eq!(
        d[5]["token_fingerprint"],
        Fingerprint::of(garbage).to_string()
    );

    // A 2026-07-28 request: its revision and trace context are in the event.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut body = call(5, "add_note", json!({"text": "y"}));
    body["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                     "traceparent": traceparent});
    let resp = h
        .post(Some(&token), Some(&session))
        .header("mcp-protocol-version", "2026-07-28")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let d = captured.decisions();
    assert_eq!(d.len(), 7);
    assert_eq!(d[6]["protocol_version"], "2026-07-28");
    assert_eq!(d[6]["traceparent"], traceparent);
    assert!(!d[2].contains_key("protocol_version") && !d[2].contains_key("traceparent"));

    // Prompts and resources: the event names the target's kind and the target.
    let prompt =
        json!({"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"summarize_notes"}});
    let resp = h.send(Some(&token), Some(&session), &prompt).await;
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    let read =
        json!({"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"notes://secret"}});
    let resp = h.send(Some(&token), Some(&session), &read).await;
    assert_eq!(resp.status(), 403);
    let d = captured.decisions();
    assert_eq!(d.len(), 9);
    for (event, expected) in [
        (
            &d[7],
            [
                ("decision", "allow"),
                ("target_kind", "prompt"),
                ("prompt", "summarize_notes"),
                ("method", "prompts/get"),
                ("required_scopes", "notes:read"),
            ],
        ),
        (
            &d[8],
            [
                ("decision", "deny"),
                ("target_kind", "resource"),
                ("resource", "notes://secret"),
                ("method", "resources/read"),
                ("reason", "resource_unmapped"),
            ],
        ),
    ] {
        for (field, value) in expected {
            assert_eq!(
                event.get(field).map(String::as_str),
                Some(value),
                "{field} in {event:?}"
            );
        }
        assert!(!event.contains_key("tool"), "{event:?}");
    }
    assert_eq!(deny.get("target_kind").map(String::as_str), Some("tool"));

    let everything = captured.everything.lock().unwrap().join("\n");
    assert!(!everything.contains(&token), "the token was logged");
    assert!(!everything.contains(garbage), "the token was logged");
}
