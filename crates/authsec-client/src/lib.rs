//! The agent side of authsec: get a token for an MCP server protected by OAuth 2.1, keep it
//! fresh, and react to denials the way the MCP authorization spec says.
//!
//! - **Discovery**: RFC 9728 protected resource metadata (from a 401's `resource_metadata`,
//!   else the well-known URLs), then RFC 8414 / OpenID Connect authorization server metadata.
//! - **Grants**: `client_credentials` for machines; `authorization_code` with PKCE and a loopback
//!   redirect for people, identified by a client ID metadata document or dynamic registration.
//!   Every request carries `resource` (RFC 8707). Enterprise-managed authorization (SEP-990): an
//!   identity provider's ID token exchanged for an ID-JAG, presented with the `jwt-bearer` grant.
//! - **Client authentication**: `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//!   (RFC 7523, [`PrivateKey`]). Credentials are bound to one issuer and never sent to another.
//! - **Cache**: per (issuer, resource, scopes), refreshed ahead of expiry, one request for many
//!   concurrent callers ([`TokenCache`]).
//! - **Denials**: parsed by the server SDK's own parser ([`authsec::explain`]); a 403
//!   `insufficient_scope` steps up with the union of held and challenged scopes, a few times at
//!   most ([`Error::StepUpLimit`]).
//! - **rmcp**: with the `rmcp` feature, [`rmcp::AuthsecHttpClient`] gives an rmcp client all of
//!   the above.
//!
//! Tokens and secrets are never logged, printed by `Debug`, or written anywhere.
//!
//! The entry point is [`Access::for_resource`].

pub mod access;
pub mod assertion;
pub mod authorize;
pub mod cache;
pub mod credentials;
pub mod discovery;
pub mod enterprise;
pub mod error;
#[cfg(feature = "rmcp")]
pub mod rmcp;
pub mod token;

pub use access::{Access, AccessBuilder, Attempt, RunError};
pub use assertion::PrivateKey;
pub use authorize::Interactive;
pub use cache::TokenCache;
pub use credentials::{AssertionAudience, ClientAuth, ClientCredentials, Secret};
pub use enterprise::IdentityAssertion;
pub use error::Error;
pub use token::{AccessToken, Token};
