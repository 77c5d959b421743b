//! Wycheproof test vectors through authsec's own JWK → key → verify path.
//!
//! The vectors are not part of this repository: the tests read them from the directory named
//! by `AUTHSEC_WYCHEPROOF_DIR` (`.ci/run` sets it when the folder exists) and skip, saying so,
//! when it is unset. Run with `--nocapture` to see how many vectors each file contributed.
//!
//! * JWS vectors (`json_web_signature_test.json`): every compact token goes through
//!   `token::parse_compact` → `validate::check_header` → `KeySet::find` →
//!   `validate::check_signature_over`, with the group's public JWK as the only key. Groups whose
//!   key authsec does not support (HMAC, P-521, encryption keys) must reject every token.
//! * JWK vectors (`json_web_key_test.json`): key sets with private or symmetric members never
//!   yield a usable key; public key sets are held to the vector's result.
//! * Signature vectors (RSA PKCS#1, RSA-PSS, ECDSA P-256/P-384 P1363, Ed25519): the group's JWK
//!   → `VerifyKey::from_jwk` → `VerifyKey::verify` over the raw message.
//!
//! "valid" must verify, "invalid" must not, "acceptable" may go either way. The only
//! deliberate departures are listed in [`JWS_BY_DESIGN`], each with the reason.

use std::collections::BTreeMap;
use std::path::PathBuf;

use authsec::config::TypPolicy;
use authsec::internal::token::parse_compact;
use authsec::internal::validate::{check_header, check_signature_over};
use authsec::keys::{Algorithm, Jwk, JwkError, KeySet, VerifyKey};
use authsec::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

/// JWS vectors whose expected result authsec deliberately does not give, and why.
const JWS_BY_DESIGN: &[(u64, &str)] = &[
    // RFC 7520 figure 20 is a PS384 signature; the vector's JWK says "alg": "PS256".
    // A key is pinned to its JWK alg, so a PS384 token naming it is refused.
    (346, "key pinned to PS256, token alg PS384"),
    (350, "key pinned to PS256, token alg PS384"),
];

/// The vectors' folder; the tests that read it are `#[ignore]`d with the reason, and fail when
/// run without it.
fn vectors_dir() -> PathBuf {
    match std::env::var_os("AUTHSEC_WYCHEPROOF_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => panic!(
            "AUTHSEC_WYCHEPROOF_DIR is not set: point it at the Wycheproof testvectors_v1 folder"
        ),
    }
}

fn load(dir: &std::path::Path, file: &str) -> Value {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (AUTHSEC_WYCHEPROOF_DIR is set)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn groups(doc: &Value) -> &Vec<Value> {
    doc["testGroups"].as_array().expect("testGroups")
}

fn tests(group: &Value) -> &Vec<Value> {
    group["tests"].as_array().expect("tests")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The token text of a JWS vector (JSON-serialized vectors are objects).
fn jws_text(test: &Value) -> String {
    match &test["jws"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The crate's JWS path, short of claims: header checks, key lookup, signature.
fn verify_jws(token: &str, keys: &KeySet) -> Result<(), AuthError> {
    let jws = parse_compact(token)?;
    let alg = check_header(&jws.header, TypPolicy::Lenient)?;
    let key = keys
        .find(jws.header.kid.as_deref(), alg)
        .ok_or_else(|| AuthError::UnknownKey {
            kid: jws.header.kid.clone(),
        })?;
    check_signature_over(jws.signing_input, &jws.signature, alg, &key)
}

/// Counts per outcome, printed per file.
#[derive(Default, Debug)]
struct Tally {
    /// Vectors run through a supported key and matching the expected result.
    ran: usize,
    /// Of those, "valid" vectors accepted.
    accepted: usize,
    /// Of those, "invalid" vectors rejected.
    rejected: usize,
    /// "acceptable" vectors (either outcome allowed), by outcome.
    acceptable: BTreeMap<&'static str, usize>,
    /// Vectors whose key authsec does not support: all rejected.
    unsupported_rejected: usize,
    /// Vectors with a private or symmetric key set: refused, no key usable.
    private_refused: usize,
    /// Deliberate departures from the expected result (see [`JWS_BY_DESIGN`]).
    by_design: usize,
    /// Mismatches (the test fails if any).
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, id: String, expected: &str, outcome: Result<(), String>) {
        self.ran += 1;
        match (expected, &outcome) {
            ("valid", Ok(())) => self.accepted += 1,
            ("invalid", Err(_)) => self.rejected += 1,
            ("acceptable", Ok(())) => *self.acceptable.entry("accepted").or_default() += 1,
            ("acceptable", Err(_)) => *self.acceptable.entry("rejected").or_default() += 1,
            _ => self
                .failures
                .push(format!("{id}: expected {expected}, got {outcome:?}")),
        }
    }

    fn report(&self, file: &str) {
        println!(
            "{file}: {} vectors run ({} valid accepted, {} invalid rejected, acceptable {:?}); \
             {} with unsupported keys rejected; {} with private key sets refused; {} by design",
            self.ran,
            self.accepted,
            self.rejected,
            self.acceptable,
            self.unsupported_rejected,
            self.private_refused,
            self.by_design
        );
        assert!(
            self.failures.is_empty(),
            "{file}: {} mismatches:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_json_web_signature_vectors() {
    let dir = vectors_dir();
    let doc = load(&dir, "json_web_signature_test.json");
    let mut tally = Tally::default();
    let mut total = 0;
    for group in groups(&doc) {
        let jwk = group.get("public").unwrap_or(&group["private"]);
        let keys = KeySet::from_json(json!({ "keys": [jwk] }).to_string().as_bytes())
            .expect("a single public or symmetric JWK is a well-formed JWKS");
        for test in tests(group) {
            total += 1;
            let id = test["tcId"].as_u64().unwrap();
            let token = jws_text(test);
            let outcome = verify_jws(&token, &keys);
            if keys.is_empty() {
                // HS256 (oct), ES521 (P-521) and encryption keys: no usable key, no token passes.
                assert!(
                    outcome.is_err(),
                    "tcId {id}: accepted with an unsupported key"
                );
                tally.unsupported_rejected += 1;
            } else if let Some((_, why)) = JWS_BY_DESIGN.iter().find(|(t, _)| *t == id) {
                assert!(
                    matches!(outcome, Err(AuthError::KeyAlgorithmMismatch { .. })),
                    "tcId {id} ({why}): {outcome:?}"
                );
                tally.by_design += 1;
            } else {
                tally.check(
                    format!("tcId {id} ({})", test["comment"]),
                    test["result"].as_str().unwrap(),
                    outcome.map_err(|e| format!("{e:?}")),
                );
            }
        }
    }
    tally.report("json_web_signature_test.json");
    assert_eq!(
        total,
        doc["numberOfTests"].as_u64().unwrap() as usize,
        "every vector was looked at"
    );
    assert!(tally.ran > 300, "{tally:?}");
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_json_web_key_vectors() {
    let dir = vectors_dir();
    let doc = load(&dir, "json_web_key_test.json");
    let mut tally = Tally::default();
    for group in groups(&doc) {
        let name = group["comment"].as_str().unwrap_or("");
        // The private key set (every group has one): no secret key is ever usable.
        let private = KeySet::from_json(group["private"].to_string().as_bytes());
        if let Ok(set) = &private {
            assert_secret_keys_unusable(name, &group["private"], set);
        }
        for test in tests(group) {
            let token = jws_text(test);
            if let Ok(set) = &private {
                assert!(verify_jws(&token, set).is_err(), "{name}");
            }
            tally.private_refused += 1;
        }
        // The public key set, where the group has one, is held to the expected result.
        if let Some(public) = group.get("public") {
            let set = KeySet::from_json(public.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{name}: public key set refused as a whole: {e}"));
            for test in tests(group) {
                let id = test["tcId"].as_u64().unwrap();
                let outcome = verify_jws(&jws_text(test), &set);
                tally.check(
                    format!("tcId {id} ({name}, {})", test["comment"]),
                    test["result"].as_str().unwrap(),
                    outcome.map_err(|e| format!("{e:?} (key set rejected: {:?})", set.rejected)),
                );
            }
        }
    }
    tally.report("json_web_key_test.json");
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn json_web_key_sets_with_private_mixed_or_duplicate_keys_yield_no_key_for_their_tokens() {
    let dir = vectors_dir();
    let doc = load(&dir, "json_web_key_test.json");
    let mut seen = 0;
    for group in groups(&doc) {
        let name = group["comment"].as_str().unwrap_or("");
        if !matches!(
            name,
            "jws_mixedSymmetryKeyset" | "jws_keyset" | "jws_duplicate_kid"
        ) {
            continue;
        }
        let set = KeySet::from_json(group["private"].to_string().as_bytes()).unwrap();
        assert_secret_keys_unusable(name, &group["private"], &set);
        for test in tests(group) {
            assert!(verify_jws(&jws_text(test), &set).is_err(), "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
    // And with public keys: a kid listed twice is ambiguous, so neither key is used.
    let a = authsec_testkit::TestKey::es256("dup");
    let b = authsec_testkit::TestKey::es256("dup");
    let set = KeySet::from_json(authsec_testkit::jwks(&[&a, &b]).to_string().as_bytes()).unwrap();
    assert!(set.is_empty());
    assert_eq!(
        set.rejected
            .iter()
            .filter(|(kid, why)| kid.as_deref() == Some("dup") && *why == JwkError::DuplicateKid)
            .count(),
        2
    );
}

/// Every JWK of `doc` with secret members (`k`, `d`) was skipped; only public keys remain.
#[track_caller]
fn assert_secret_keys_unusable(name: &str, doc: &Value, set: &KeySet) {
    let keys = doc["keys"].as_array().unwrap();
    let secret: Vec<&Value> = keys
        .iter()
        .filter(|k| k.get("k").is_some() || k.get("d").is_some())
        .collect();
    assert!(
        !secret.is_empty(),
        "{name}: no secret key in the private set"
    );
    for k in &secret {
        let kid = k["kid"].as_str().map(str::to_owned);
        assert!(
            set.rejected.iter().any(|(r, _)| *r == kid),
            "{name}: secret key {kid:?} was not rejected: {set:?}"
        );
    }
    assert!(
        set.len() <= keys.len() - secret.len(),
        "{name}: {set:?} has more keys than the set's public keys"
    );
}

/// Runs a signature-verification file: JWK → `VerifyKey` → `verify(alg, msg, sig)`.
fn run_signature_file(file: &str, alg: Algorithm) {
    let dir = vectors_dir();
    let doc = load(&dir, file);
    let mut tally = Tally::default();
    for group in groups(&doc) {
        let jwk_value = group
            .get("keyJwk")
            .or_else(|| group.get("publicKeyJwk"))
            .cloned()
            .unwrap_or_else(|| ec_jwk_from_point(group));
        let jwk: Jwk = serde_json::from_value(jwk_value.clone()).expect("JWK shape");
        let key = match VerifyKey::from_jwk(&jwk) {
            Ok(k) => k,
            Err(why) => {
                // Only keys authsec refuses by design may fail here (e.g. RSA < 2048 bits);
                // none of their vectors may then be "valid"-only evidence of a bug.
                for test in tests(group) {
                    tally
                        .failures
                        .push(format!("tcId {}: key refused: {why}", test["tcId"]));
                }
                continue;
            }
        };
        assert!(
            key.allows(alg),
            "{file}: key {jwk_value} does not allow {alg:?}"
        );
        for test in tests(group) {
            let id = test["tcId"].as_u64().unwrap();
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = hex(test["sig"].as_str().unwrap());
            let ok = key.verify(alg, &msg, &sig);
            tally.check(
                format!("tcId {id} ({})", test["comment"]),
                test["result"].as_str().unwrap(),
                if ok { Ok(()) } else { Err("rejected".into()) },
            );
        }
    }
    tally.report(file);
    assert_eq!(
        tally.ran,
        doc["numberOfTests"].as_u64().unwrap() as usize,
        "{file}: every vector ran"
    );
}

/// A JWK for groups that give the EC key only as an uncompressed point.
fn ec_jwk_from_point(group: &Value) -> Value {
    let pk = &group["publicKey"];
    let point = hex(pk["uncompressed"].as_str().expect("uncompressed point"));
    assert_eq!(point[0], 4);
    let len = (point.len() - 1) / 2;
    let crv = match pk["curve"].as_str() {
        Some("secp256r1") => "P-256",
        Some("secp384r1") => "P-384",
        other => panic!("curve {other:?}"),
    };
    json!({
        "kty": "EC", "crv": crv,
        "x": URL_SAFE_NO_PAD.encode(&point[1..1 + len]),
        "y": URL_SAFE_NO_PAD.encode(&point[1 + len..]),
    })
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_rsa_pkcs1_2048_sha256_vectors() {
    run_signature_file("rsa_signature_2048_sha256_test.json", Algorithm::RS256);
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_rsa_pss_2048_sha256_vectors() {
    run_signature_file("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::PS256);
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_ecdsa_p256_p1363_vectors() {
    run_signature_file("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256);
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_ecdsa_p384_p1363_vectors() {
    run_signature_file("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384);
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_ed25519_vectors() {
    run_signature_file("ed25519_test.json", Algorithm::EdDSA);
}

#[ignore = "needs the Wycheproof vectors in AUTHSEC_WYCHEPROOF_DIR: cargo nextest run --run-ignored all"]
#[test]
fn wycheproof_roca_key_is_refused_for_its_fingerprint() {
    let dir = vectors_dir();
    let doc = load(&dir, "json_web_key_test.json");
    let group = groups(&doc)
        .iter()
        .find(|g| g["comment"] == "jws_rsa_roca_key")
        .expect("the ROCA group");
    let set = KeySet::from_json(group["public"].to_string().as_bytes()).unwrap();
    assert!(set.is_empty());
    assert_eq!(set.rejected.len(), 1);
    assert_eq!(
        set.rejected[0].1,
        JwkError::RocaModulus,
        "{:?}",
        set.rejected
    );
    assert!(set.rejected[0]
        .1
        .to_string()
        .contains("ROCA fingerprint (CVE-2017-15361)"));
}
