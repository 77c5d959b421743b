//! Property: for any token and configuration, `diagnose` predicts exactly what the SDK
//! answers. The oracle is production code: the real [`AuthSecLayer`] around a trivial MCP
//! service, called in-process with an `http::Request` — token validation, the tool, prompt or
//! resource decision and the rendered denial all as served — and, for a token the validator
//! refuses, the validator's own error, field for field.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use authsec::config::{Config, TypPolicy};
use authsec::diagnose::{diagnose, Evidence, KeyEvidence, Outcome, Verdict};
use authsec::http::{AuthSecLayer, RequestBody};
use authsec::keys::KeySet;
use authsec::policy::{Target, TargetKind};
use authsec::Clock;
use authsec::Validator;
use authsec_testkit::{jwks, TestKey};
use http::{header, Request, Response};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tower_layer::Layer;
use tower_service::Service;

const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://auth.example.com";
const RES: &str = "https://mcp.example.com/mcp";
const POLICY: &str = r#"{"add":["a:write"],"both":{"all":["a:read","a:write"]},"either":["a:read","a:admin"],"pub":[]}"#;
const PROMPTS: &str = r#"{"brief":["a:read"],"open":[]}"#;
const RESOURCES: &str = r#"{"n://all":["a:read"],"n://note/{id}":{"all":["a:read","a:admin"]}}"#;

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
    target: Option<(TargetKind, &'static str)>,
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
    let tool = |name| Just(Some((TargetKind::Tool, name)));
    let prompt = |name| Just(Some((TargetKind::Prompt, name)));
    let resource = |uri| Just(Some((TargetKind::Resource, uri)));
    let target = prop_oneof![
        Just(None),
        tool("add"),
        tool("both"),
        tool("either"),
        tool("pub"),
        tool("ad"),
        prompt("brief"),
        prompt("open"),
        prompt("Brief"),
        resource("n://all"),
        resource("n://note/7"),
        resource("n://note/7/raw"),
        resource("N://all"),
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
            target,
        ),
    )
        .prop_map(
            |(
                (iss, aud, exp, nbf, iat),
                (sub, scopes, typ, signing),
                (leeway, rfc, legacy, target),
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
                target,
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
        .prompt_scopes_json(PROMPTS)
        .resource_scopes_json(RESOURCES)
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

/// The protected MCP server: answers every request it is let through with a JSON-RPC result.
#[derive(Clone)]
struct McpServer;

impl Service<Request<RequestBody>> for McpServer {
    type Response = Response<RequestBody>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<RequestBody>) -> Self::Future {
        let mut response = Response::new(RequestBody::from(
            r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#,
        ));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        std::future::ready(Ok(response))
    }
}

/// What the SDK answered.
struct Served {
    status: u16,
    www_authenticate: Option<String>,
    body: Value,
}

/// Sends the request `diagnose` is asked about through the real layer: a `tools/call`,
/// `prompts/get` or `resources/read` of the case's target, or a `ping` when there is none. Returns the answer and the layer's validator.
fn serve(token: &str, c: &Case, config: &Config) -> (Served, Validator) {
    thread_local! {
        // One layer per configuration shape (building a validator builds an HTTP client).
        static LAYERS: RefCell<HashMap<(i64, bool, bool), AuthSecLayer>> = RefCell::new(HashMap::new());
    }
    let shape = (c.leeway, c.typ_policy == TypPolicy::Rfc9068, c.legacy);
    let layer = LAYERS.with(|l| {
        l.borrow_mut()
            .entry(shape)
            .or_insert_with(|| {
                AuthSecLayer::new(Validator::with_keys(config.clone(), key_set()))
                    .expect("a local policy mode")
            })
            .clone()
    });
    let message = match c.target {
        Some((TargetKind::Tool, tool)) => json!({"jsonrpc": "2.0", "id": 1,
            "method": "tools/call", "params": {"name": tool, "arguments": {}}}),
        Some((TargetKind::Prompt, prompt)) => json!({"jsonrpc": "2.0", "id": 1,
            "method": "prompts/get", "params": {"name": prompt}}),
        Some((TargetKind::Resource, uri)) => json!({"jsonrpc": "2.0", "id": 1,
            "method": "resources/read", "params": {"uri": uri}}),
        None => json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    };
    let request = Request::post("/mcp")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .body(RequestBody::from(message.to_string()))
        .expect("request");
    let mut service = layer.layer(McpServer);
    let served = block_on(async {
        std::future::poll_fn(|cx| Service::<Request<RequestBody>>::poll_ready(&mut service, cx))
            .await
            .expect("ready");
        let response = service.call(request).await.expect("response");
        let status = response.status().as_u16();
        let www_authenticate = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ASCII challenge").to_owned());
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|_| "body")
            .expect("body")
            .to_bytes();
        Served {
            status,
            www_authenticate,
            body: serde_json::from_slice(&bytes).expect("JSON body"),
        }
    });
    (served, layer.validator().clone())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
    }
    RUNTIME.with(|rt| rt.block_on(f))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn diagnose_predicts_exactly_what_the_layer_answers(c in case()) {
        let token = mint(&c);
        let config = config(&c);
        let (served, validator) = serve(&token, &c, &config);
        let evidence = Evidence {
            keys: KeyEvidence::Keys { set: Arc::new(key_set()), source: "test".into() },
            ..Evidence::default()
        };
        let target = c.target.map(|(kind, name)| Target::new(kind, name));
        let d = diagnose(&token, &config, target.as_ref(), &evidence);

        let allowed = served.status == 200 && served.body.get("result").is_some();
        prop_assert_eq!(
            d.verdict == Verdict::Allow, allowed,
            "case {:?}\nserved {} {}\nfindings {:#?}", c, served.status, served.body, d.findings
        );
        prop_assert_eq!(d.status(), served.status);
        if !allowed {
            let predicted = d.response.as_ref().expect("a denial predicts a response");
            prop_assert_eq!(&predicted.www_authenticate, &served.www_authenticate);
            prop_assert_eq!(&predicted.body, &served.body);
            prop_assert_eq!(d.reason(), served.body["reason"].as_str().unwrap_or_default());
        }
        // A token the validator refuses: diagnose names the validator's error, field for field.
        if let Err(e) = block_on(validator.validate(&token)) {
            prop_assert_eq!(d.error.as_ref(), Some(&e), "case {:?}", c);
        }
        // A deny always comes with at least one failed finding; an allow with none.
        let failed = d.findings.iter().any(|f| f.outcome == Outcome::Fail);
        prop_assert_eq!(failed, !allowed);
    }
}
