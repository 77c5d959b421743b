//! `authsec decode`: header and claims, marked NOT VERIFIED, the token never echoed.

mod common;
// The binary's own formatter, compiled into the test: the expectation is not a second copy.
#[path = "../src/time.rs"]
mod time;

use authsec::Fingerprint;
use authsec_testkit::{now, TestKey};
use common::{authsec, json};
use serde_json::json;

fn token(claims: serde_json::Value) -> String {
    TestKey::es256("k1").token(&claims)
}

#[test]
fn decode_marks_output_not_verified_and_prints_only_the_fingerprint() {
    let t = token(json!({"iss": "https://auth.example.com", "sub": "user-1", "exp": now() + 3600}));
    let run = authsec(&["decode", "-"], &t, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("NOT VERIFIED"), "{}", run.stdout);
    assert!(run.stdout.contains(&Fingerprint::of(&t).to_string()));
    assert!(!run.stdout.contains(&t) && !run.stderr.contains(&t));
    let signature = t.rsplit('.').next().unwrap();
    assert!(!run.stdout.contains(signature));
    assert!(
        run.stdout.contains("  iss  https://auth.example.com\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  alg  ES256\n"), "{}", run.stdout);
}

#[test]
fn decode_shows_expiry_in_utc_and_relative() {
    let exp = now() - 3 * 3600;
    let t = token(json!({"exp": exp, "iat": now() + 600}));
    let run = authsec(&["decode"], &t, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("exp"))
        .unwrap();
    assert!(line.contains(&time::format_utc(exp)), "{line}");
    assert!(line.ends_with("(expired 3h ago)"), "{line}");
    let iat = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("iat"))
        .unwrap();
    assert!(
        iat.contains("(in 10m: in the future)") || iat.contains("(in 9m59s: in the future)"),
        "{iat}"
    );
}

#[test]
fn decode_json_gives_utc_times_across_epoch_and_leap_days() {
    for (t, utc) in [
        (0, "1970-01-01 00:00:00 UTC"),
        (951_782_400, "2000-02-29 00:00:00 UTC"),
        (1_730_000_000, "2024-10-27 03:33:20 UTC"),
    ] {
        let v = json(&authsec(
            &["decode", "--json"],
            &token(json!({"exp": t})),
            &[],
        ));
        assert_eq!(v["times"]["exp"]["utc"], json!(utc), "{t}");
    }
}

#[test]
fn decode_accepts_a_bearer_prefix_on_stdin() {
    let t = token(json!({"sub": "u"}));
    let run = authsec(
        &["decode", "--json", "-"],
        &format!("Authorization: Bearer {t}\n"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["verified"], json!(false));
    assert_eq!(v["claims"], json!({"sub": "u"}));
    assert_eq!(
        v["header"],
        json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt"})
    );
    assert_eq!(v["fingerprint"], json!(Fingerprint::of(&t).to_string()));
}

#[test]
fn decode_json_gives_each_time_as_unix_utc_and_relative() {
    let exp = now() + 3540;
    let v = json(&authsec(
        &["decode", "--json"],
        &token(json!({"exp": exp})),
        &[],
    ));
    assert_eq!(v["times"]["exp"]["unix"], json!(exp));
    assert_eq!(v["times"]["exp"]["utc"], json!(time::format_utc(exp)));
    let rel = v["times"]["exp"]["relative"].as_str().unwrap();
    assert!(rel == "in 59m" || rel == "in 58m59s", "{rel}");
}

#[test]
fn decode_of_an_opaque_token_fails_with_the_reason() {
    let run = authsec(&["decode", "-"], "opaque-token-value", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("expected 3 segments, found 1"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("opaque-token-value"));
}

#[test]
fn a_token_argument_works_but_warns_about_shell_history() {
    let t = token(json!({"sub": "u"}));
    let run = authsec(&["decode", &t], "", &[]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("visible in shell history"),
        "{}",
        run.stderr
    );
}
