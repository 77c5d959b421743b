//! `jws::verify`: each check refuses exactly its condition, in order, with its error variant.

use authsec_proto::jws::{self, Algorithm, Expect, JwsError, KeySet, Malformed, Part, SigningKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const ES256: Expect<'static> = Expect {
    algorithms: &[Algorithm::ES256],
    typ: Some("JWT"),
};

fn key(kid: &str) -> SigningKey {
    let (_, pkcs8) = SigningKey::generate().unwrap();
    SigningKey::from_pkcs8(&pkcs8, Some(kid.to_owned())).unwrap()
}

fn keys(signers: &[&SigningKey]) -> KeySet {
    let jwks = json!({ "keys": signers.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() });
    KeySet::from_json(jwks.to_string().as_bytes()).unwrap()
}

fn claims() -> Value {
    json!({ "iss": "cl-1", "sub": "cl-1", "aud": "https://as.example/token", "exp": 2_000_000_000, "jti": "j1" })
}

thread_local! {
    /// One private key for the tests that hand-write a header and sign it themselves.
    static PKCS8: Vec<u8> = SigningKey::generate().unwrap().1;
}

/// A token with a hand-written header, signed by the [`PKCS8`] key (so only the header can
/// be what fails).
fn with_header(header: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header));
    let pair = PKCS8.with(|der| {
        aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
        )
        .unwrap()
    });
    let sig = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn fixed_key(kid: &str) -> SigningKey {
    SigningKey::from_pkcs8(&PKCS8.with(|p| p.clone()), Some(kid.to_owned())).unwrap()
}

#[test]
fn a_token_signed_by_a_known_key_verifies_and_its_claims_are_typed() {
    let k = key("k1");
    let token = k.sign("JWT", &claims()).unwrap();
    let jws = jws::verify(&token, &keys(&[&k]), ES256).unwrap();
    assert_eq!(jws.header.kid.as_deref(), Some("k1"));
    assert_eq!(jws.claims.iss.as_deref(), Some("cl-1"));
    assert_eq!(
        jws.claims.aud,
        Some(vec!["https://as.example/token".to_owned()])
    );
    assert_eq!(jws.claims.exp, Some(2_000_000_000));
    assert_eq!(jws.claims.jti.as_deref(), Some("j1"));
}

#[test]
fn a_duplicate_header_member_is_refused_even_when_signed() {
    let k = fixed_key("k1");
    let token = with_header(r#"{"alg":"ES256","typ":"JWT","kid":"k1","kid":"k2"}"#);
    assert_eq!(
        jws::verify(&token, &keys(&[&k]), ES256).unwrap_err(),
        JwsError::Malformed(Malformed::Duplicate {
            part: Part::Header,
            name: "kid".into()
        })
    );
}

#[test]
fn a_crit_header_is_refused_even_when_signed() {
    let k = fixed_key("k1");
    let token = with_header(r#"{"alg":"ES256","typ":"JWT","kid":"k1","crit":["exp"],"exp":1}"#);
    assert_eq!(
        jws::verify(&token, &keys(&[&k]), ES256).unwrap_err(),
        JwsError::UnsupportedCritical {
            names: vec!["exp".into()]
        }
    );
}

#[test]
fn an_algorithm_outside_the_allow_list_is_refused() {
    let k = fixed_key("k1");
    for alg in ["none", "HS256", "es256"] {
        let token = with_header(&format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#));
        assert_eq!(
            jws::verify(&token, &keys(&[&k]), ES256).unwrap_err(),
            JwsError::AlgorithmNotAllowed { alg: alg.into() },
            "{alg}"
        );
    }
    let token = k.sign("JWT", &claims()).unwrap();
    let rsa_only = Expect {
        algorithms: &[Algorithm::RS256],
        typ: None,
    };
    assert_eq!(
        jws::verify(&token, &keys(&[&k]), rsa_only).unwrap_err(),
        JwsError::AlgorithmNotAllowed {
            alg: "ES256".into()
        }
    );
}

#[test]
fn another_typ_is_refused() {
    let k = key("k1");
    let token = k.sign("at+jwt", &claims()).unwrap();
    assert_eq!(
        jws::verify(&token, &keys(&[&k]), ES256).unwrap_err(),
        JwsError::TypNotAllowed {
            expected: vec!["JWT".into()],
            actual: Some("at+jwt".into())
        }
    );
}

#[test]
fn an_unknown_kid_is_refused() {
    let k = key("k1");
    let token = k.sign("JWT", &claims()).unwrap();
    let other = key("k2");
    assert_eq!(
        jws::verify(&token, &keys(&[&other]), ES256).unwrap_err(),
        JwsError::UnknownKey {
            kid: Some("k1".into())
        }
    );
}

#[test]
fn a_signature_by_another_key_with_the_same_kid_is_refused() {
    let signer = key("k1");
    let published = key("k1");
    let token = signer.sign("JWT", &claims()).unwrap();
    assert_eq!(
        jws::verify(&token, &keys(&[&published]), ES256).unwrap_err(),
        JwsError::BadSignature
    );
}

#[test]
fn a_tampered_payload_is_refused() {
    let k = key("k1");
    let token = k.sign("JWT", &claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims();
    forged["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert_eq!(
        jws::verify(&forged, &keys(&[&k]), ES256).unwrap_err(),
        JwsError::BadSignature
    );
}

#[test]
fn the_signing_key_publishes_only_public_members_and_its_thumbprint_kid() {
    let (k, _) = SigningKey::generate().unwrap();
    let jwk = k.public_jwk();
    assert_eq!(jwk["kid"], k.kid());
    assert_eq!(k.kid().len(), 43);
    assert_eq!(jwk["alg"], "ES256");
    assert!(jwk.get("d").is_none());
}
