//! # authsec
//!
//! OAuth 2.1 protection for MCP (Model Context Protocol) servers: bearer-token validation
//! (JWT via JWKS), per-tool scope policy, RFC 9728 protected resource metadata, precise
//! RFC 6750 challenges and structured decision logs.
//!
//! Data flows one way: request → [`token`] → [`validate`] (uses [`keys`], [`introspect`], [`clock`]) →
//! [`Principal`] → [`policy`] decides → [`challenge`] renders a denial.
//!
//! ```
//! use authsec::{challenge, config::Config, error::AuthError};
//!
//! let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
//!     .build()
//!     .unwrap();
//! let ctx = challenge::ChallengeContext::for_request(&config, None);
//! let denial = challenge::render(
//!     &AuthError::AudienceMismatch { expected: vec![config.resource_uri.clone()], actual: vec![] },
//!     &ctx,
//! );
//! assert_eq!(denial.status, 401);
//! assert_eq!(
//!     denial.www_authenticate.unwrap(),
//!     "Bearer error=\"invalid_token\", error_description=\"audience mismatch\", \
//!      resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
//! );
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod challenge;
pub mod clock;
pub mod config;
pub mod decision;
pub mod diagnose;
pub mod error;
pub mod explain;
pub mod filter;
pub mod http;
pub mod introspect;
pub mod keys;
pub mod mcp;
pub mod metadata;
pub mod policy;
pub mod principal;
mod session;
pub mod telemetry;
#[cfg(feature = "test-issuer")]
pub mod testing;
pub mod token;
pub mod validate;

pub use config::Config;
pub use error::AuthError;
pub use principal::Principal;
pub use validate::Validator;
