//! What the verified-token cache saves: validating a repeated RS256 token, against the raw
//! signature verification it skips, measured in the same run.
//!
//! * `raw_rs256_verify` — aws-lc-rs RSA PKCS#1 v1.5 SHA-256 verify with a pre-parsed key
//!   (the baseline: the least any uncached validation must do);
//! * `uncached_rs256_validate` — `Validator::validate` with the cache disabled
//!   (`token_cache_entries(0)`): parse, header checks, key lookup, verify, claim checks;
//! * `cached_validate` — the same token repeated (`jwt_only`): the token's cache key, a cache
//!   lookup and the `exp`/`nbf`/`iat` re-check;
//! * `cached_jwt_and_introspect` / `cached_introspection_only` — repeats served by the verified
//!   cache and the introspection cache together, and by the introspection cache alone;
//! * `cache_key_of_token`, `block_on_ready_future` — the two fixed costs inside every cached
//!   validation (the cache key, and the runtime round trip), to show where the time goes.
//!
//! Every `validate` runs inside `block_on` on a current-thread runtime, so the async machinery
//! is counted against the cache, not hidden.
//!
//! Run: `cargo bench -p authsec --bench cache`

use std::hint::black_box;

use authsec::config::{Config, ValidationMode};
use authsec::keys::KeySet;
use authsec::Validator;
use authsec_testkit::{claims, jwks, FakeIntrospection, TestKey};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};

const ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";

fn validator(key: &TestKey, builder: authsec::config::ConfigBuilder) -> Validator {
    let keys = KeySet::from_json(jwks(&[key]).to_string().as_bytes()).expect("jwks");
    Validator::with_keys(builder.build().expect("config"), keys)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = TestKey::rsa("k1", "RS256");
    let claims = claims(ISSUER, RESOURCE, "notes:read notes:write");
    let token = key.token(&claims);

    let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    let public_key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_bytes())
        .expect("public key");

    let uncached = validator(
        &key,
        Config::builder(ISSUER, RESOURCE).token_cache_entries(0),
    );
    let cached = validator(&key, Config::builder(ISSUER, RESOURCE));
    rt.block_on(cached.validate(&token)).expect("valid token");

    let fake = rt.block_on(FakeIntrospection::start("rs", "secret"));
    fake.set_active(&token, &claims);
    let with_introspection = |mode| {
        Config::builder(ISSUER, RESOURCE)
            .jwks_url(format!("{ISSUER}/jwks"))
            .introspection(fake.url(), "rs", "secret")
            .validation_mode(mode)
            // Long enough that no entry expires during the run.
            .introspection_cache_ttl(std::time::Duration::from_secs(3600))
    };
    let both = validator(&key, with_introspection(ValidationMode::JwtAndIntrospect));
    let introspected = validator(&key, with_introspection(ValidationMode::IntrospectionOnly));
    rt.block_on(both.validate(&token)).expect("active");
    rt.block_on(introspected.validate(&token)).expect("active");

    let mut group = c.benchmark_group("verified_token_cache");
    group.bench_function("raw_rs256_verify", |b| {
        b.iter(|| {
            public_key
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .expect("verifies")
        })
    });
    group.bench_function("uncached_rs256_validate", |b| {
        b.iter(|| {
            rt.block_on(uncached.validate(black_box(&token)))
                .expect("valid")
        })
    });
    group.bench_function("cached_validate", |b| {
        b.iter(|| {
            rt.block_on(cached.validate(black_box(&token)))
                .expect("valid")
        })
    });
    group.bench_function("cached_jwt_and_introspect", |b| {
        b.iter(|| {
            rt.block_on(both.validate(black_box(&token)))
                .expect("valid")
        })
    });
    group.bench_function("cached_introspection_only", |b| {
        b.iter(|| {
            rt.block_on(introspected.validate(black_box(&token)))
                .expect("valid")
        })
    });
    group.bench_function("cache_key_of_token", |b| {
        b.iter(|| authsec::internal::token::cache_key(black_box(&token)))
    });
    group.bench_function("block_on_ready_future", |b| {
        b.iter(|| rt.block_on(async { black_box(1) }))
    });
    group.finish();
    // Every repeat above was served from the caches.
    assert_eq!(fake.calls(), 2);
}

criterion_group!(benches, bench);
criterion_main!(benches);
