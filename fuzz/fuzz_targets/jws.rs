//! Bearer tokens: compact JWS and JWT claims, as a request's `Authorization` header brings them.
//!
//! The input is a token. For every input:
//! * nothing panics, and the bearer extraction hands back the token it was given;
//! * `parse_jws` succeeds only where `parse_compact` does, with the same header, signing input
//!   and signature;
//! * the JWT payload and an introspection answer with the same members are typed alike
//!   (`parse_jws` vs `parse_object` + `Claims::from_map`);
//! * the validator (fixed keys, fixed clock) decides exactly as the checks it is made of,
//!   run one by one, with the same reason.
//!
//! Then the input's header and payload are signed with the fixed Ed25519 key and checked
//! again, so the verified path is reached too: a token signed that way verifies whenever it
//! selects that key, and stops verifying when one bit of its signature flips.
#![no_main]

use std::sync::OnceLock;

use authsec::Clock;
use authsec::{AuthError, Part};
use authsec::keys::{Algorithm, KeySet};
use authsec::internal::token::{self, Claims};
use authsec::internal::{introspect, validate};
use authsec::{Config, Validator};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://as.example";
const RESOURCE: &str = "https://mcp.example/mcp";
const NOW: i64 = 1_700_000_000;
const SIGNING_KID: &str = "fuzz-ed25519";

/// Public keys the fuzzer can aim at but not sign for (fixed, so runs are reproducible).
const RSA_N: &str = "7UCiZWHwDF8oSmgIVskQHjNZuGWDQKAh-wtb_2ZrgrDobTQ2SVMnRL3wKgbE1JTtwjJB22aS2Q8dx-xrVp7mm7AolQsja9E245stew9voZl8xcipSDbhckedm2ssjmcjQFoTqebRzdrSpXe5DGZIAQerqO0aJQiW6YTIEjaVqfC3lsbt5X9bVcDTds9YiWpgeD5ybEA2FMT7Ob3jPQZEBYwvn3GdKxgAkiKyLb3VR7bkYuz4v0YCBe54rGxCH15MMZDtQAlGlcyp56wUZXPavfihIPgGt0tQYbH-cgkliSF--VULC1wk-HU1xuUSViuTfOQrL76VE2GDKGWQsdepcQ";
const EC_X: &str = "0myA8cLtHrhRtLfOUCcYvgqs5Y1nLJB_WEerANyXTGc";
const EC_Y: &str = "qfZzrjt5nLB9jxuNvlkzodO6zmsPzDXtwEts9FNsRzs";

struct Fixture {
    signer: Ed25519KeyPair,
    config: Config,
    keys: KeySet,
    validator: Validator,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let signer = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("ed25519 seed");
        let jwks = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": SIGNING_KID, "alg": "EdDSA", "use": "sig",
             "x": URL_SAFE_NO_PAD.encode(signer.public_key().as_ref())},
            {"kty": "RSA", "kid": "fuzz-rsa", "use": "sig", "n": RSA_N, "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "fuzz-p256", "alg": "ES256", "x": EC_X, "y": EC_Y},
        ]})
        .to_string();
        let key_set = || KeySet::from_json(jwks.as_bytes()).expect("fixed JWKS");
        assert_eq!(key_set().len(), 3, "every fixed key is usable");
        let config = Config::builder(ISSUER, RESOURCE)
            .clock(Clock::fixed(NOW))
            .build()
            .expect("fixed config");
        Fixture {
            signer,
            keys: key_set(),
            validator: Validator::with_keys(config.clone(), key_set()),
            config,
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    check(&token);
    if let Some(signed) = resign(&token) {
        check(&signed);
        check_signed(&signed, data.len());
    }
});

fn check(token: &str) {
    check_bearer_extraction(token);
    let compact = token::parse_compact(token);
    let jws = token::parse_jws(token);
    if compact.is_ok() {
        assert!(
            validate::is_compact_jws(token),
            "parsed but not JWS-shaped: {token:?}"
        );
    }
    if let Ok(jws) = &jws {
        let compact = compact
            .as_ref()
            .expect("parse_jws accepted what parse_compact refused");
        assert_eq!(jws.header, compact.header);
        assert_eq!(jws.signing_input, compact.signing_input);
        assert_eq!(jws.signature, compact.signature);
    }
    if let Ok(compact) = &compact {
        // An introspection answer is typed with the same rules as a JWT payload.
        let via_map =
            token::parse_object(&compact.payload, Part::Payload).and_then(Claims::from_map);
        match (&jws, &via_map) {
            (Ok(jws), Ok(claims)) => assert_eq!(&jws.claims, claims),
            (Err(_), Err(_)) => {}
            (jws, via_map) => panic!("the claim parsers disagree: {jws:?} vs {via_map:?}"),
        }
        let _ = introspect::parse_response(&compact.payload);
    }
    let f = fixture();
    let actual = f.runtime.block_on(f.validator.validate(token));
    if token.len() <= f.config.max_token_bytes {
        let expected = checks_one_by_one(token);
        assert_eq!(
            actual.as_ref().map(|_| ()).map_err(AuthError::reason),
            expected.as_ref().map(|_| ()).map_err(AuthError::reason),
            "the validator and its checks disagree on {token:?}: {actual:?} vs {expected:?}"
        );
        if let (Ok(principal), Ok(claims)) = (&actual, &expected) {
            assert_eq!(principal.subject(), claims.sub.as_deref());
            assert_eq!(principal.scopes(), claims.scopes.as_slice());
        }
    }
}

/// What the validator must decide, from the public checks it is documented to run in order.
fn checks_one_by_one(token: &str) -> Result<Claims, AuthError> {
    let f = fixture();
    let jws = token::parse_jws(token)?;
    let alg = validate::check_header(&jws.header, f.config.typ_policy)?;
    let Some(key) = f.keys.find(jws.header.kid.as_deref(), alg) else {
        validate::check_issuer(&jws.claims, ISSUER)?;
        return Err(AuthError::UnknownKey {
            kid: jws.header.kid.clone(),
        });
    };
    validate::check_signature(&jws, alg, &key)?;
    validate::check_claims(&jws.claims, &f.config, NOW)?;
    Ok(jws.claims)
}

/// `Authorization: Bearer <token>` yields the token itself, or a denial.
fn check_bearer_extraction(token: &str) {
    let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}")) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value);
    if let Ok(extracted) = token::extract_bearer(&headers, None, 16 * 1024) {
        assert_eq!(extracted, token.trim_start_matches(' '));
    }
}

/// The input's header and payload, signed with the fixed Ed25519 key.
fn resign(token: &str) -> Option<String> {
    let (signing_input, _) = token.rsplit_once('.')?;
    let signature = fixture().signer.sign(signing_input.as_bytes());
    Some(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

fn check_signed(token: &str, flip: usize) {
    let Ok(jws) = token::parse_jws(token) else {
        return;
    };
    if jws.header.alg != "EdDSA" {
        return;
    }
    let Some(key) = fixture()
        .keys
        .find(jws.header.kid.as_deref(), Algorithm::EdDSA)
    else {
        return;
    };
    if key.kid.as_deref() != Some(SIGNING_KID) {
        return;
    }
    assert_eq!(
        validate::check_signature(&jws, Algorithm::EdDSA, &key),
        Ok(()),
        "a token signed with the fixed key does not verify: {token:?}"
    );
    let mut tampered = jws.signature.clone();
    let bit = flip % (tampered.len() * 8);
    tampered[bit / 8] ^= 1 << (bit % 8);
    assert_eq!(
        validate::check_signature_over(jws.signing_input, &tampered, Algorithm::EdDSA, &key),
        Err(AuthError::BadSignature),
        "a token verifies with a flipped signature bit: {token:?}"
    );
}
