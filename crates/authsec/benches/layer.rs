//! What `AuthSecLayer` adds to one MCP request, in process: a `tools/call` with a repeated
//! (cached) RS256 token through the layer around a trivial inner service, against the same
//! inner service called directly with the same request. Everything the layer does per request
//! is inside the difference — body collection, JSON-RPC inspection, token extraction, the
//! verified-token cache, the tool policy, the decision event (filtered out, as in production
//! at the default `warn` level) — and nothing else.
//!
//! Run: `cargo bench -p authsec --bench layer`

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use authsec::config::Config;
use authsec::http::{AuthSecLayer, RequestBody};
use authsec::keys::KeySet;
use authsec::validate::Validator;
use authsec_testkit::{claims, jwks, TestKey};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use http_body_util::Full;
use tower_layer::Layer;
use tower_service::Service;

const ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;
const REPLY: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}"#;

/// The inner MCP service: answers every request with the same reply.
#[derive(Clone)]
struct Echo;

impl<B> Service<Request<B>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        black_box(&req);
        ready(Ok(Response::new(Full::new(Bytes::from_static(
            REPLY.as_bytes(),
        )))))
    }
}

fn request(token: &str) -> Request<RequestBody> {
    Request::post(RESOURCE)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("content-length", CALL.len())
        .body(Full::new(Bytes::from_static(CALL.as_bytes())))
        .expect("request")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = TestKey::rsa("k1", "RS256");
    let token = key.token(&claims(ISSUER, RESOURCE, "demo:read"));
    let config = Config::builder(ISSUER, RESOURCE)
        .tool_scopes_json(r#"{"echo":["demo:read"]}"#)
        .build()
        .expect("config");
    let keys = KeySet::from_json(jwks(&[&key]).to_string().as_bytes()).expect("jwks");
    let validator = Validator::with_keys(config, keys);
    let mut protected = AuthSecLayer::new(validator).layer(Echo);
    let resp = rt
        .block_on(protected.call(request(&token)))
        .expect("infallible");
    assert_eq!(resp.status(), 200, "the benchmark request must be allowed");

    let mut group = c.benchmark_group("layer");
    group.bench_function("inner_service_alone", |b| {
        let mut bare = Echo;
        b.iter(|| rt.block_on(bare.call(request(&token))).expect("infallible"))
    });
    group.bench_function("through_authsec_layer", |b| {
        b.iter(|| {
            rt.block_on(protected.call(request(&token)))
                .expect("infallible")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
