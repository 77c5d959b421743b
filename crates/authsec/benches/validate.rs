//! Full token validation against a raw signature verify of the same signing input, measured in
//! the same run, for RS256, ES256 and EdDSA.
//!
//! Per algorithm:
//! * `raw_verify` — the baseline: aws-lc-rs `ParsedPublicKey::verify_sig` over the token's
//!   signing input with the already-decoded signature (the least any verifier must do);
//! * `full_no_cache` — `Validator::validate` with the verified-token cache disabled: size cap,
//!   SHA-256 of the token, parse (base64url, JSON with duplicate detection, typed claims),
//!   header checks, key lookup, signature, claim checks, `Principal`;
//! * `cached` — `Validator::validate` of a token seen before (hash, cache hit, time checks);
//! * `jsonwebtoken` — `jsonwebtoken::decode` of the same token, for comparison.
//!
//! After the measurements two tables are printed: criterion's means from this run, and the
//! ratios `full_no_cache / raw_verify` and `raw_verify / cached` measured interleaved (see
//! [`interleaved`]), which stay meaningful on a loaded machine.
//!
//! ```sh
//! cargo bench -p authsec --bench validate -- --warm-up-time 1 --measurement-time 3
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use authsec::config::Config;
use authsec::keys::KeySet;
use authsec::Validator;
use authsec_testkit::{claims, jwks, TestKey};
use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::Criterion;
use serde_json::{Map, Value};
use std::hint::black_box;

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const CASES: [&str; 3] = ["RS256", "ES256", "EdDSA"];
const BENCHES: [&str; 4] = ["raw_verify", "full_no_cache", "cached", "jsonwebtoken"];

/// Polls a future that never waits (validation against a fixed key set) to completion.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("validation against fixed keys must not wait"),
    }
}

fn key_for(alg: &str) -> TestKey {
    match alg {
        "RS256" => TestKey::rsa("k1", "RS256"),
        "ES256" => TestKey::es256("k1"),
        _ => TestKey::ed25519("k1"),
    }
}

fn raw_key(alg: &str, key: &TestKey) -> ParsedPublicKey {
    let a: &'static dyn sig::VerificationAlgorithm = match alg {
        "RS256" => &sig::RSA_PKCS1_2048_8192_SHA256,
        "ES256" => &sig::ECDSA_P256_SHA256_FIXED,
        _ => &sig::ED25519,
    };
    ParsedPublicKey::new(a, key.public_key_bytes()).expect("raw public key")
}

fn jsonwebtoken_key(
    alg: &str,
    key: &TestKey,
) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let jwk = key.jwk();
    let s = |name: &str| jwk[name].as_str().expect("jwk member").to_owned();
    let (decoding, algorithm) = match alg {
        "RS256" => (
            jsonwebtoken::DecodingKey::from_rsa_components(&s("n"), &s("e")).expect("rsa"),
            jsonwebtoken::Algorithm::RS256,
        ),
        "ES256" => (
            jsonwebtoken::DecodingKey::from_ec_components(&s("x"), &s("y")).expect("ec"),
            jsonwebtoken::Algorithm::ES256,
        ),
        _ => (
            jsonwebtoken::DecodingKey::from_ed_components(&s("x")).expect("ed"),
            jsonwebtoken::Algorithm::EdDSA,
        ),
    };
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[RESOURCE]);
    (decoding, validation)
}

fn validator(key: &TestKey, cache_entries: usize) -> Validator {
    let config = Config::builder(ISSUER, RESOURCE)
        .token_cache_entries(cache_entries)
        .build()
        .expect("config");
    let keys = KeySet::from_json(jwks(&[key]).to_string().as_bytes()).expect("jwks");
    Validator::with_keys(config, keys)
}

/// One algorithm's token and the four ways of checking it.
struct Case {
    alg: &'static str,
    token: String,
    signature: Vec<u8>,
    raw: ParsedPublicKey,
    full: Validator,
    cached: Validator,
    jwt_key: jsonwebtoken::DecodingKey,
    jwt_validation: jsonwebtoken::Validation,
}

impl Case {
    fn new(alg: &'static str) -> Self {
        let key = key_for(alg);
        let token = key.token(&claims(ISSUER, RESOURCE, "notes:read notes:write"));
        let signature = token.rsplit_once('.').expect("compact JWS").1;
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature");
        let (jwt_key, jwt_validation) = jsonwebtoken_key(alg, &key);
        let case = Case {
            alg,
            raw: raw_key(alg, &key),
            full: validator(&key, 0),
            cached: validator(&key, 10_000),
            token,
            signature,
            jwt_key,
            jwt_validation,
        };
        // Every path accepts the token before it is timed.
        assert!(case.raw_verify() && case.full() && case.cached() && case.jsonwebtoken());
        case
    }

    fn signing_input(&self) -> &str {
        self.token.rsplit_once('.').map_or("", |(input, _)| input)
    }

    fn raw_verify(&self) -> bool {
        self.raw
            .verify_sig(
                black_box(self.signing_input().as_bytes()),
                black_box(&self.signature),
            )
            .is_ok()
    }

    fn full(&self) -> bool {
        ready(self.full.validate(black_box(&self.token))).is_ok()
    }

    fn cached(&self) -> bool {
        ready(self.cached.validate(black_box(&self.token))).is_ok()
    }

    fn jsonwebtoken(&self) -> bool {
        jsonwebtoken::decode::<Map<String, Value>>(
            black_box(&self.token),
            &self.jwt_key,
            &self.jwt_validation,
        )
        .is_ok()
    }

    fn bench(&self, c: &mut Criterion) {
        let mut group = c.benchmark_group(format!("validate_{}", self.alg));
        group.bench_function("raw_verify", |b| b.iter(|| self.raw_verify()));
        group.bench_function("full_no_cache", |b| b.iter(|| self.full()));
        group.bench_function("cached", |b| b.iter(|| self.cached()));
        group.bench_function("jsonwebtoken", |b| b.iter(|| self.jsonwebtoken()));
        group.finish();
    }
}

/// `a` against `b`, alternating in many short rounds: on a shared machine, load drifts between
/// criterion's sequential measurements; interleaving puts both sides under the same load.
/// Returns the medians of `a`'s and `b`'s time per call (ns) and of the per-round `b / a`.
fn interleaved(a: impl Fn() -> bool, b: impl Fn() -> bool, per_round: u32) -> (f64, f64, f64) {
    let time = |f: &dyn Fn() -> bool| {
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(f());
        }
        start.elapsed().as_secs_f64() * 1e9 / f64::from(per_round)
    };
    let rounds: Vec<(f64, f64)> = (0..301)
        .map(|round| {
            if round % 2 == 0 {
                let ta = time(&a);
                (ta, time(&b))
            } else {
                let tb = time(&b);
                (time(&a), tb)
            }
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        median(rounds.iter().map(|r| r.0).collect()),
        median(rounds.iter().map(|r| r.1).collect()),
        median(rounds.iter().map(|r| r.1 / r.0).collect()),
    )
}

/// Where criterion writes its estimates (its own lookup order, minus `cargo metadata`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    // target/release/deps/validate-… → target/criterion
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// Mean time in nanoseconds of `group/bench`, if it was measured by this run.
fn mean_ns(dir: &std::path::Path, group: &str, bench: &str, since: SystemTime) -> Option<f64> {
    let path = dir
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let estimates: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn print_summary(cases: &[Case], since: SystemTime) {
    let Some(dir) = criterion_dir() else { return };
    let mut means = Vec::new();
    let mut paired = Vec::new();
    for case in cases {
        let group = format!("validate_{}", case.alg);
        let m: Vec<Option<f64>> = BENCHES
            .iter()
            .map(|b| mean_ns(&dir, &group, b, since))
            .collect();
        let [Some(raw), Some(full), Some(cached), Some(jwt)] = m[..] else {
            continue;
        };
        means.push(format!(
            "| {} | {:.1} µs | {:.1} µs | {:.2} µs | {:.1} µs | {:.3}× |",
            case.alg,
            raw / 1e3,
            full / 1e3,
            cached / 1e3,
            jwt / 1e3,
            full / raw
        ));
        let (raw_ns, full_ns, full_vs_raw) = interleaved(|| case.raw_verify(), || case.full(), 20);
        let (cached_ns, _, raw_vs_cached) = interleaved(|| case.cached(), || case.raw_verify(), 20);
        let (_, jwt_ns, jwt_vs_raw) = interleaved(|| case.raw_verify(), || case.jsonwebtoken(), 20);
        paired.push(format!(
            "| {} | {:.1} µs | {:.1} µs | {:.3}× | {:.2} µs | {:.0}× | {:.1} µs | {:.3}× |",
            case.alg,
            raw_ns / 1e3,
            full_ns / 1e3,
            full_vs_raw,
            cached_ns / 1e3,
            raw_vs_cached,
            jwt_ns / 1e3,
            jwt_vs_raw
        ));
    }
    if means.is_empty() {
        return;
    }
    println!("\ncriterion means (this run):\n");
    println!("| alg | raw verify | full (no cache) | cached | jsonwebtoken | full / raw |");
    println!("|---|---|---|---|---|---|");
    for r in means {
        println!("{r}");
    }
    println!("\ninterleaved medians (301 rounds of 20 calls each side):\n");
    println!(
        "| alg | raw verify | full (no cache) | full / raw | cached | raw / cached \
         | jsonwebtoken | jsonwebtoken / raw |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in paired {
        println!("{r}");
    }
}

/// `AUTHSEC_BENCH_LOOP=RS256/full_no_cache:100000` runs exactly that many iterations of one
/// function and exits: a fixed workload for `perf stat` (instruction counts do not depend on
/// the machine's load).
fn fixed_loop(cases: &[Case], spec: &str) {
    let (name, n) = spec.split_once(':').expect("ALG/FUNCTION:ITERATIONS");
    let (alg, function) = name.split_once('/').expect("ALG/FUNCTION");
    let n: u64 = n.parse().expect("iterations");
    let case = cases.iter().find(|c| c.alg == alg).expect("known alg");
    let f: &dyn Fn() -> bool = match function {
        "raw_verify" => &|| case.raw_verify(),
        "full_no_cache" => &|| case.full(),
        "cached" => &|| case.cached(),
        "jsonwebtoken" => &|| case.jsonwebtoken(),
        "none" => &|| true,
        other => panic!("unknown function {other}"),
    };
    for _ in 0..n {
        black_box(f());
    }
}

fn main() {
    let started = SystemTime::now();
    let cases: Vec<Case> = CASES.into_iter().map(Case::new).collect();
    if let Ok(spec) = std::env::var("AUTHSEC_BENCH_LOOP") {
        fixed_loop(&cases, &spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for case in &cases {
        case.bench(&mut c);
    }
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    if !args
        .iter()
        .any(|a| a == "--test" || a == "--list" || a == "--profile-time")
    {
        print_summary(&cases, started);
    }
}
