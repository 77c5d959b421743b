//! What `AuthSecLayer` adds to one MCP request, in process: a `tools/call` with a repeated
//! (cached) RS256 token through the layer around a trivial inner service, against the same
//! inner service called directly with the same request. Everything the layer does per request
//! is inside the difference — body collection, JSON-RPC inspection, token extraction, the
//! verified-token cache, the tool policy, the decision event (filtered out, as in production
//! at the default `warn` level) — and nothing else.
//!
//! Run: `cargo bench -p authsec --bench layer`

mod common;

use authsec_testkit::TestKey;
use common::{protected_echo, request, Echo};
use criterion::{criterion_group, criterion_main, Criterion};
use tower_service::Service;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut protected, token) = protected_echo(TestKey::rsa("k1", "RS256"));
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
