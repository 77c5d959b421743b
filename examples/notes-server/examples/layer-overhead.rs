//! The layer's own per-request cost, in process: `AuthSecLayer` around a trivial inner service
//! versus the inner service alone, on the same requests (a `tools/call` of `list_notes` with a
//! repeated valid token and a session header), measured in the same run.
//!
//! ```text
//! cargo run --release -p notes-server --example layer-overhead
//! ```

use std::convert::Infallible;
use std::time::Instant;

use authsec::http::AuthSecLayer;
use authsec::{Config, Validator};
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let key = TestKey::es256("k");
    let auth = FakeAuthServer::start(jwks(&[&key])).await;
    let resource = "http://127.0.0.1:1/mcp";
    let config = Config::builder(auth.issuer(), resource)
        .jwks_url(auth.jwks_url())
        .tool_scopes_json(notes_server::EXAMPLE_TOOL_SCOPES_JSON)
        .build()
        .unwrap();
    let validator = Validator::new(config).await.unwrap();
    let token = key.token(&claims(&auth.issuer(), resource, "notes:read"));
    let inner = tower::service_fn(|_req: http::Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"{}"))))
    });
    let mut svc = AuthSecLayer::new(validator).layer(inner);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_notes","arguments":{}}}"#;
    let req = || {
        http::Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("mcp-session-id", "0b0e6f2c-9d6a-4f39-9a51-1b7f3c2d4e5f")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    for _ in 0..1000 {
        let r = ServiceExt::<http::Request<Full<Bytes>>>::ready(&mut svc)
            .await
            .unwrap()
            .call(req())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.into_body().collect().await;
    }
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        let r = ServiceExt::<http::Request<Full<Bytes>>>::ready(&mut svc)
            .await
            .unwrap()
            .call(req())
            .await
            .unwrap();
        let _ = r.into_body().collect().await;
    }
    let protected = t.elapsed().as_nanos() as f64 / n as f64;
    let mut raw = inner;
    let t = Instant::now();
    for _ in 0..n {
        let r = ServiceExt::<http::Request<Full<Bytes>>>::ready(&mut raw)
            .await
            .unwrap()
            .call(req())
            .await
            .unwrap();
        let _ = r.into_body().collect().await;
    }
    let base = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "layer: {protected:.0} ns/request, inner alone: {base:.0} ns/request, overhead {:.0} ns",
        protected - base
    );
}
