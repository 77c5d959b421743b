//! Compact JWS: strict parsing, verification with a JWKS, and ES256 signing.

mod error;
mod keys;
mod parse;
mod sign;
mod verify;

pub use error::{JwkError, JwksError, JwsError, Malformed, Part};
pub use keys::{Algorithm, Jwk, KeySet, VerifyKey};
pub use parse::{
    parse_compact, parse_jws, parse_object, Claims, CompactJws, Header, Jws, RawClaims,
};
pub use sign::{SignError, SigningKey};
pub use verify::{check_alg, check_crit, check_signature, verify, Expect};
