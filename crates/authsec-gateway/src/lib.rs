//! # authsec-gateway
//!
//! `authsec gateway`: the same protection as the SDK's tower layer, in front of an MCP server
//! written in any language. The gateway validates the bearer token, enforces per-tool policy,
//! filters `tools/list`, then forwards the request with the caller's identity in
//! `X-Authsec-*` headers — never the token itself.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod upstream;
