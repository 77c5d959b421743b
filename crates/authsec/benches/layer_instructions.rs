//! The layer's cost per request in CPU instructions: deterministic where wall-clock timings on
//! a shared machine are not. `scripts/instructions.sh` runs this binary under valgrind
//! (callgrind) with and without the layer and divides the difference by the request count.
//!
//! `layer_instructions bare N` calls the trivial inner service N times; `layer_instructions
//! protected N` calls it N times through `AuthSecLayer` (a `tools/call` with a repeated, cached
//! RS256 token, as `benches/layer.rs` measures in time). Both first send one request through
//! the layer, so that start-up work is the same in both runs and cancels out.

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
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower_layer::Layer;
use tower_service::Service;

const ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;
const REPLY: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}"#;

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

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(which), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok()))
    else {
        // `cargo bench` runs every bench target with `--bench`: nothing to do here.
        eprintln!("usage: layer_instructions bare|protected N (see scripts/instructions.sh)");
        return;
    };
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
    let mut bare = Echo;
    // One request through the layer in both runs: the first verification fills the cache.
    let first = rt
        .block_on(protected.call(request(&token)))
        .expect("infallible");
    assert_eq!(first.status(), 200, "the measured request must be allowed");
    for _ in 0..n {
        // The response body is read in both cases, as a server would.
        let len = match which.as_str() {
            "bare" => rt.block_on(async {
                let resp = bare.call(request(&token)).await.expect("infallible");
                resp.into_body()
                    .collect()
                    .await
                    .ok()
                    .map(|b| b.to_bytes().len())
            }),
            "protected" => rt.block_on(async {
                let resp = protected.call(request(&token)).await.expect("infallible");
                resp.into_body()
                    .collect()
                    .await
                    .ok()
                    .map(|b| b.to_bytes().len())
            }),
            other => panic!("unknown variant {other:?}"),
        };
        assert_eq!(black_box(len), Some(REPLY.len()));
    }
}
