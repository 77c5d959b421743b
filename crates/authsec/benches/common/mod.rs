//! The fixture both layer benchmarks measure: a trivial inner MCP service, and the same
//! service behind `AuthSecLayer` deciding a `tools/call` with a repeated RS256 token.

// Each benchmark uses part of it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use authsec::config::Config;
use authsec::http::{AuthSec, AuthSecLayer, RequestBody};
use authsec::keys::KeySet;
use authsec::Validator;
use authsec_testkit::{claims, jwks, TestKey};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower_layer::Layer;

const ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;
/// What the inner service answers.
pub const REPLY: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}"#;

/// The inner MCP service: answers every request with [`REPLY`].
#[derive(Clone)]
pub struct Echo;

impl<B> tower_service::Service<Request<B>> for Echo {
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

/// The measured request: a `tools/call` of `echo` with `token`.
pub fn request(token: &str) -> Request<RequestBody> {
    Request::post(RESOURCE)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("content-length", CALL.len())
        .body(Full::new(Bytes::from_static(CALL.as_bytes())))
        .expect("request")
}

/// `Echo` behind the layer (`echo` needs `demo:read`), and a token signed by `key` that may
/// call it.
pub fn protected_echo(key: TestKey) -> (AuthSec<Echo>, String) {
    let token = key.token(&claims(ISSUER, RESOURCE, "demo:read"));
    let config = Config::builder(ISSUER, RESOURCE)
        .tool_scopes_json(r#"{"echo":["demo:read"]}"#)
        .build()
        .expect("config");
    let keys = KeySet::from_json(jwks(&[&key]).to_string().as_bytes()).expect("jwks");
    let validator = Validator::with_keys(config, keys);
    let layer = AuthSecLayer::new(validator).expect("a local policy mode");
    (layer.layer(Echo), token)
}
