//! The layer's cost per request in CPU instructions: deterministic where wall-clock timings on
//! a shared machine are not. `scripts/instructions.sh` runs this binary under valgrind
//! (callgrind) with and without the layer and divides the difference by the request count.
//!
//! `layer_instructions bare N` calls the trivial inner service N times; `layer_instructions
//! protected N` calls it N times through `AuthSecLayer` (a `tools/call` with a repeated, cached
//! ES256 token; `benches/layer.rs` measures the same with RS256 in time — on the cached path
//! the algorithm makes no difference). Both first send one request through
//! the layer, so that start-up work is the same in both runs and cancels out.

mod common;

use std::hint::black_box;

use authsec_testkit::TestKey;
use common::{protected_echo, request, Echo, REPLY};
use http_body_util::BodyExt;
use tower_service::Service;

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
    // ES256: its key generation costs the same instructions in every run (RSA's does not).
    let (mut protected, token) = protected_echo(TestKey::es256("k1"));
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
