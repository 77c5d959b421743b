//! Tokens and client secrets never reach the logs, on any introspection path — including the
//! ones that log warnings (failures, non-boolean `active`, the `jwt_or_introspect` start-up
//! warning).

mod introspection_support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsec::config::ValidationMode;
use introspection_support::*;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every event and span field, formatted, whatever its level.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = format!("{} {}", event.metadata().level(), event.metadata().target());
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn tokens_and_secrets_never_appear_in_the_logs() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let now = authsec_testkit::now();

    let fake = fake().await;
    let config = builder(&fake.url(), ValidationMode::JwtOrIntrospect)
        .introspection_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let v = validator(config);
    let mut tokens = Vec::new();

    // Accepted opaque token and JWT.
    let active = opaque_token();
    fake.set_active(&active, &token_claims(now));
    v.validate(&active).await.unwrap();
    let jwt = valid_jwt(now);
    v.validate(&jwt).await.unwrap();
    tokens.extend([active, jwt, tampered_jwt(now)]);
    v.validate(&tokens[2]).await.unwrap_err();

    // `active` as a string: logged as an authorization-server defect.
    let stringly = opaque_token();
    let mut answer = token_claims(now);
    answer["active"] = json!("true");
    fake.set_response(&stringly, answer);
    v.validate(&stringly).await.unwrap_err();
    tokens.push(stringly);

    // Failures: 500, malformed body, timeout.
    fake.set_status(500);
    let failing = opaque_token();
    v.validate(&failing).await.unwrap_err();
    tokens.push(failing);
    fake.set_status(200);
    fake.set_raw_body(Some("{\"active\":true,\"exp\":\"x\"}"));
    let garbled = opaque_token();
    v.validate(&garbled).await.unwrap_err();
    tokens.push(garbled);
    fake.set_raw_body(None);
    fake.set_delay(Duration::from_secs(3));
    let slow = opaque_token();
    v.validate(&slow).await.unwrap_err();
    tokens.push(slow);

    let lines = capture.0.lock().unwrap().clone();
    let all = lines.join("\n");
    assert!(
        all.contains("JWT revocation") || all.contains("revoked JWT is accepted"),
        "start-up warning for jwt_or_introspect missing:\n{all}"
    );
    assert!(
        all.contains("no boolean `active`"),
        "non-boolean active warning missing:\n{all}"
    );
    assert!(
        all.contains("HTTP 500") && all.contains("did not answer within"),
        "failure warnings missing:\n{all}"
    );
    // A failure names the token by fingerprint, never by value.
    let fingerprint = authsec::Fingerprint::of(&tokens[4]).to_string();
    assert!(all.contains(&fingerprint), "fingerprint missing:\n{all}");
    for token in &tokens {
        assert!(!all.contains(token.as_str()), "token logged:\n{all}");
        // Nor any recognisable part of a JWT (its signature segment).
        if let Some(sig) = token.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(!all.contains(sig), "token signature logged:\n{all}");
        }
    }
    assert!(!all.contains(CLIENT_SECRET), "client secret logged:\n{all}");
    assert!(!format!("{v:?}").contains(CLIENT_SECRET));
    assert!(!format!("{:?}", v.introspector().unwrap()).contains(CLIENT_SECRET));
}
