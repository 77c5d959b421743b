//! Property: for any token and configuration, `diagnose` predicts exactly the denial the
//! validator returns (plus the tool-policy check the HTTP layer makes), and renders the same
//! response.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use authsec::challenge::{self, ChallengeContext};
use authsec::clock::Clock;
use authsec::config::{Config, TypPolicy};
use authsec::diagnose::{diagnose, Evidence, KeyEvidence, Outcome, Verdict};
use authsec::error::AuthError;
use authsec::keys::KeySet;
use authsec::policy::ToolRule;
use authsec::validate::Validator;
use authsec_testkit::{jwks, TestKey};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://auth.example.com";
const RES: &str = "https://mcp.example.com/mcp";
const POLICY: &str = r#"{"add":["a:write"],"both":{"all":["a:read","a:write"]},"either":["a:read","a:admin"],"pub":[]}"#;

struct Keys {
    trusted: TestKey,
    untrusted: TestKey,
    jwks: Value,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let trusted = TestKey::es256("k1");
        let jwks = jwks(&[&trusted]);
        Keys {
            trusted,
            untrusted: TestKey::es256("k9"),
            jwks,
        }
    })
}

#[derive(Debug, Clone)]
enum Signing {
    Trusted,
    TrustedWithoutKid,
    UnknownKid,
    Tampered,
    Hmac,
    WrongCaseAlg,
}

#[derive(Debug, Clone)]
struct Case {
    iss: Option<&'static str>,
    aud: Option<Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    sub: bool,
    scopes: Vec<&'static str>,
    typ: Option<&'static str>,
    signing: Signing,
    leeway: i64,
    typ_policy: TypPolicy,
    legacy: bool,
    tool: Option<&'static str>,
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(-3600i64),
        Just(-61),
        Just(-60),
        Just(-59),
        Just(-1),
        Just(0),
        Just(1),
        Just(59),
        Just(60),
        Just(61),
        Just(3600)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let iss = prop_oneof![
        Just(Some(ISS)),
        Just(Some("https://auth.example.com/")),
        Just(Some("https://auth-dev.example.com")),
        Just(None)
    ];
    let aud = prop_oneof![
        Just(Some(json!(RES))),
        Just(Some(json!(format!("{RES}/")))),
        Just(Some(json!(["https://other.example", RES]))),
        Just(Some(json!(["https://other.example"]))),
        Just(Some(json!("client-1"))),
        Just(Some(json!([]))),
        Just(None)
    ];
    let signing = prop_oneof![
        4 => Just(Signing::Trusted),
        1 => Just(Signing::TrustedWithoutKid),
        1 => Just(Signing::UnknownKid),
        1 => Just(Signing::Tampered),
        1 => Just(Signing::Hmac),
        1 => Just(Signing::WrongCaseAlg),
    ];
    let typ = prop_oneof![
        Just(Some("at+jwt")),
        Just(Some("JWT")),
        Just(Some("id+jwt")),
        Just(None)
    ];
    let scopes =
        proptest::sample::subsequence(vec!["a:read", "a:write", "a:Write", "a:admin"], 0..=4);
    let tool = prop_oneof![
        Just(None),
        Just(Some("add")),
        Just(Some("both")),
        Just(Some("either")),
        Just(Some("pub")),
        Just(Some("ad"))
    ];
    (
        (
            iss,
            aud,
            proptest::option::weighted(0.9, offset()),
            proptest::option::of(offset()),
            proptest::option::of(offset()),
        ),
        (any::<bool>(), scopes, typ, signing),
        (
            prop_oneof![Just(0i64), Just(60)],
            any::<bool>(),
            any::<bool>(),
            tool,
        ),
    )
        .prop_map(
            |(
                (iss, aud, exp, nbf, iat),
                (sub, scopes, typ, signing),
                (leeway, rfc, legacy, tool),
            )| Case {
                iss,
                aud,
                exp: exp.map(|o| NOW + o),
                nbf: nbf.map(|o| NOW + o),
                iat: iat.map(|o| NOW + o),
                sub,
                scopes,
                typ,
                signing,
                leeway,
                typ_policy: if rfc {
                    TypPolicy::Rfc9068
                } else {
                    TypPolicy::Lenient
                },
                legacy,
                tool,
            },
        )
}

fn mint(c: &Case) -> String {
    let mut claims = Map::new();
    if let Some(i) = c.iss {
        claims.insert("iss".into(), json!(i));
    }
    if let Some(a) = &c.aud {
        claims.insert("aud".into(), a.clone());
    }
    for (k, v) in [("exp", c.exp), ("nbf", c.nbf), ("iat", c.iat)] {
        if let Some(v) = v {
            claims.insert(k.into(), json!(v));
        }
    }
    if c.sub {
        claims.insert("sub".into(), json!("user-1"));
    }
    claims.insert("client_id".into(), json!("client-1"));
    claims.insert("scope".into(), json!(c.scopes.join(" ")));
    let claims = Value::Object(claims);
    let k = keys();
    let header = |alg: &str, kid: Option<&str>| {
        let mut h = json!({"alg": alg});
        if let Some(kid) = kid {
            h["kid"] = json!(kid);
        }
        if let Some(t) = c.typ {
            h["typ"] = json!(t);
        }
        h
    };
    match c.signing {
        Signing::Trusted => k.trusted.sign(&header("ES256", Some("k1")), &claims),
        Signing::TrustedWithoutKid => k.trusted.sign(&header("ES256", None), &claims),
        Signing::UnknownKid => k.untrusted.sign(&header("ES256", Some("k9")), &claims),
        Signing::Hmac => k.trusted.sign(&header("HS256", Some("k1")), &claims),
        Signing::WrongCaseAlg => k.trusted.sign(&header("es256", Some("k1")), &claims),
        Signing::Tampered => {
            let good = k.trusted.sign(&header("ES256", Some("k1")), &claims);
            let other = k
                .trusted
                .sign(&header("ES256", Some("k1")), &json!({"scope": "a:admin"}));
            let mut parts: Vec<&str> = good.split('.').collect();
            parts[1] = other.split('.').nth(1).unwrap_or_default();
            parts.join(".")
        }
    }
}

fn config(c: &Case) -> Config {
    let mut b = Config::builder(ISS, RES)
        .tool_scopes_json(POLICY)
        .clock_skew_secs(c.leeway)
        .typ_policy(c.typ_policy)
        .clock(Clock::fixed(NOW))
        // Every case validates from scratch, as a first request would.
        .token_cache_entries(0);
    if c.legacy {
        b = b.legacy_client_id_audiences(["client-1"]);
    }
    b.build().expect("valid config")
}

fn key_set() -> KeySet {
    KeySet::from_json(keys().jwks.to_string().as_bytes()).expect("jwks")
}

/// What the SDK decides: the validator, then the tool policy for a `tools/call`.
fn sdk_decision(token: &str, c: &Case, config: &Config) -> Result<(), AuthError> {
    thread_local! {
        // One validator per configuration shape (building one builds an HTTP client).
        static VALIDATORS: RefCell<HashMap<(i64, bool, bool), Validator>> = RefCell::new(HashMap::new());
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
    }
    let shape = (c.leeway, c.typ_policy == TypPolicy::Rfc9068, c.legacy);
    let validator = VALIDATORS.with(|v| {
        v.borrow_mut()
            .entry(shape)
            .or_insert_with(|| Validator::with_keys(config.clone(), key_set()))
            .clone()
    });
    let principal = RUNTIME.with(|rt| rt.block_on(validator.validate(token)))?;
    let tool = c.tool;
    let Some(tool) = tool else { return Ok(()) };
    match config.tool_policy.get(tool) {
        None => Err(AuthError::ToolUnmapped { tool: tool.into() }),
        Some(rule) if rule.is_satisfied_by(principal.scopes()) => Ok(()),
        Some(ToolRule::Scoped {
            scopes,
            scope_match,
        }) => Err(AuthError::InsufficientScope {
            tool: tool.into(),
            required: scopes.clone(),
            scope_match: *scope_match,
            granted: principal.scopes().to_vec(),
        }),
        Some(ToolRule::Public) => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn diagnose_predicts_exactly_what_the_validator_decides(c in case()) {
        let token = mint(&c);
        let config = config(&c);
        let expected = sdk_decision(&token, &c, &config);
        let evidence = Evidence {
            keys: KeyEvidence::Keys { set: Arc::new(key_set()), source: "test".into() },
            ..Evidence::default()
        };
        let d = diagnose(&token, &config, c.tool, &evidence);

        prop_assert_eq!(&d.error, &expected.clone().err(), "case {:?}\nfindings {:#?}", c, d.findings);
        prop_assert_eq!(d.verdict == Verdict::Allow, expected.is_ok());
        let rule = c.tool.and_then(|t| config.tool_policy.get(t));
        match &expected {
            Ok(()) => {
                prop_assert_eq!(d.status(), 200);
                prop_assert_eq!(d.reason(), "allowed");
            }
            Err(e) => {
                prop_assert_eq!(d.status(), e.status().as_u16());
                prop_assert_eq!(d.reason(), e.reason());
                let rendered = challenge::render(e, &ChallengeContext::for_request(&config, rule));
                prop_assert_eq!(d.response.as_ref(), Some(&rendered));
            }
        }
        // A deny always comes with at least one failed finding; an allow with none.
        let failed = d.findings.iter().any(|f| f.outcome == Outcome::Fail);
        prop_assert_eq!(failed, expected.is_err());
    }
}
