//! Property tests for the token parser: the one-pass JWT path (`parse_jws`) types claims
//! exactly like the map path (`parse_object` + `Claims::from_map`, used for introspection
//! responses), keeps every claim as sent, and never panics on hostile input.

use authsec_proto::jws::{parse_jws, parse_object, Claims, Malformed, Part};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

const HEADER: &str = r#"{"alg":"ES256","kid":"k1"}"#;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Claim names: the registered ones authsec types, and others.
fn claim_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "iss",
            "sub",
            "aud",
            "exp",
            "nbf",
            "iat",
            "scope",
            "scp",
            "client_id",
            "azp",
            "jti",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

/// Values that are often well-typed for the registered claims, and often not.
fn claim_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..4_000_000_000).prop_map(Value::from),
        "[a-z:/. ]{0,20}".prop_map(Value::from),
        prop::collection::vec("[a-z:]{0,8}".prop_map(Value::from), 0..3).prop_map(Value::Array),
        json_value(),
    ]
}

fn claims_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(claim_name(), claim_value(), 0..10)
        .prop_map(|m| m.into_iter().collect())
}

fn token(payload: &[u8]) -> String {
    format!("{}.{}.{}", b64(HEADER), b64(payload), b64([7u8; 64]))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn one_pass_typing_equals_map_typing(obj in claims_object()) {
        let payload = Value::Object(obj.clone()).to_string();
        let token = token(payload.as_bytes());
        let one_pass = parse_jws(&token).map(|jws| jws.claims);
        let via_map = parse_object(payload.as_bytes(), Part::Payload).and_then(Claims::from_map);
        prop_assert_eq!(&one_pass, &via_map);
        if let Ok(claims) = one_pass {
            // Every claim is kept as sent, registered or not (as serde_json reads the text:
            // its float parsing is not exact for every value, on either path).
            let sent: Map<String, Value> = serde_json::from_str(&payload).unwrap();
            prop_assert_eq!(sent.len(), obj.len());
            prop_assert_eq!(claims.raw.as_map(), &sent);
            prop_assert_eq!(claims.raw.into_map(), sent);
        }
    }

    #[test]
    fn a_repeated_claim_is_always_a_duplicate(obj in claims_object(), extra in claim_value()) {
        prop_assume!(!obj.is_empty());
        let name = obj.keys().next().unwrap().clone();
        let text = Value::Object(obj).to_string();
        let payload = format!(
            "{},{}:{}}}",
            &text[..text.len() - 1],
            Value::from(name.clone()),
            extra
        );
        let expected = Err(Malformed::Duplicate {
            part: Part::Payload,
            name,
        });
        prop_assert_eq!(parse_jws(&token(payload.as_bytes())).map(|j| j.claims), expected.clone());
        prop_assert_eq!(
            parse_object(payload.as_bytes(), Part::Payload).and_then(Claims::from_map),
            expected
        );
    }

    #[test]
    fn arbitrary_payload_bytes_never_panic_and_agree(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let one_pass = parse_jws(&token(&bytes)).map(|jws| jws.claims);
        let via_map = parse_object(&bytes, Part::Payload).and_then(Claims::from_map);
        prop_assert_eq!(one_pass.is_ok(), via_map.is_ok());
    }

    #[test]
    fn arbitrary_token_text_never_panics(text in "[A-Za-z0-9_\\-.={}\" ]{0,300}") {
        let _ = parse_jws(&text);
    }

    #[test]
    fn arbitrary_header_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        let _ = parse_jws(&format!("{}.{}.", b64(&bytes), b64("{}")));
    }
}
