//! JWKS documents, as fetched from the authorization server.
//!
//! The input is a JWKS body. For every input nothing panics, and for a parsed key set:
//! * a `kid` published more than once selects no key at all (which key was meant is
//!   ambiguous), and a `kid` that selects a key selects the key with that `kid`;
//! * every usable key verifies with at least one algorithm, and verifying arbitrary bytes
//!   with it does not panic.
#![no_main]

use std::collections::HashMap;

use authsec::keys::{Algorithm, Jwk, KeySet};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(set) = KeySet::from_json(data) else {
        return;
    };
    let published = published_kids(data);
    for (kid, count) in &published {
        for alg in Algorithm::ALL {
            let found = set.find(Some(kid), alg);
            if *count > 1 {
                assert!(found.is_none(), "duplicate kid {kid:?} selects a key");
            }
            if let Some(key) = found {
                assert_eq!(key.kid.as_deref(), Some(kid.as_str()));
            }
        }
    }
    for kid in set.kids() {
        assert_eq!(
            published.get(&kid),
            Some(&1),
            "kid {kid:?} was not published once"
        );
    }
    for alg in Algorithm::ALL {
        if let Some(key) = set.find(None, alg) {
            assert!(
                key.allows(alg),
                "a kid-less lookup for {alg:?} found a key pinned elsewhere"
            );
        }
    }
    for kid in set.kids() {
        // A lookup by `kid` ignores `alg`: the signature check refuses a mismatch.
        let key = set
            .find(Some(&kid), Algorithm::EdDSA)
            .expect("a listed kid selects its key");
        assert!(!key.algorithms().is_empty(), "key {kid:?} verifies nothing");
        for alg in key.algorithms() {
            let _ = key.verify(alg, data, data);
        }
    }
});

/// How many parsable JWKs name each `kid`, counted independently of `KeySet`.
fn published_kids(data: &[u8]) -> HashMap<String, usize> {
    let mut kids = HashMap::new();
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return kids;
    };
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for key in keys {
        if let Ok(Jwk { kid: Some(kid), .. }) = serde_json::from_value::<Jwk>(key) {
            *kids.entry(kid).or_default() += 1;
        }
    }
    kids
}
