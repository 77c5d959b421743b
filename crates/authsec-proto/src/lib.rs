//! The protocol authsec's SDK and console share: the wire documents they exchange, the OAuth
//! scope grammar, the injectable clock, and strict compact-JWS handling.
//!
//! It exists so that each of these is written once. The SDK validates access tokens and reads
//! the console's policy with it; the console serves that policy, signs its tokens and verifies
//! client assertions with it.
//!
//! * [`wire`] — `sdk-policy` and `sdk-manifest` documents, and their JSON Schemas;
//! * [`is_scope_token`], [`ScopeMatch`] — RFC 6749 §3.3 scopes and any-of / all-of matching;
//! * [`uri_template`] — resource policy keys: exact URIs and level-1 URI templates;
//! * [`Clock`] — "now" in Unix seconds, movable in tests;
//! * [`jws`] — compact JWS parsing that refuses duplicate members, `crit`, and algorithms
//!   outside an allow-list; verification against a JWKS; ES256 signing (aws-lc-rs).
//!
//! ```
//! use authsec_proto::jws::{self, Algorithm, Expect, KeySet, SigningKey};
//!
//! let (key, _pkcs8) = SigningKey::generate()?;
//! let token = key.sign("JWT", &serde_json::json!({ "iss": "cl-1", "exp": 2_000_000_000 }))?;
//! let jwks = serde_json::json!({ "keys": [key.public_jwk()] });
//! let keys = KeySet::from_json(jwks.to_string().as_bytes())?;
//! let verified = jws::verify(&token, &keys, Expect { algorithms: &[Algorithm::ES256], typ: None })?;
//! assert_eq!(verified.claims.iss.as_deref(), Some("cl-1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
pub mod jws;
mod scope;
pub mod uri_template;
pub mod wire;

pub use clock::{system_now, Clock, ManualClock};
pub use scope::{is_scope_token, ScopeMatch};
