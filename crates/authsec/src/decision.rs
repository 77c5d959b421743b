//! Decision events: one `tracing` event per decision on target `authsec::decision`.
//!
//! Fields: decision, status, reason, subject, client_id, issuer, the target (`target_kind` —
//! `tool`, `prompt` or `resource` — and the member of that name: `tool`, `prompt`, or
//! `resource` with the URI), method, required and granted scopes, token fingerprint, latency,
//! and — when the request names them — its MCP protocol revision and W3C `traceparent`. Never the token. Each decision is also counted
//! and timed through [`crate::telemetry`].

use std::time::Duration;

use crate::error::AuthError;
use crate::policy::TargetKind;
use crate::principal::Principal;
use crate::token::Fingerprint;

/// What one decision was about.
#[derive(Debug, Clone, Default)]
pub struct DecisionRecord<'a> {
    /// The principal, when the token validated.
    pub principal: Option<&'a Principal>,
    /// Fingerprint of the presented token, when there was one.
    pub fingerprint: Option<Fingerprint>,
    /// JSON-RPC method (`tools/call`, …) or the HTTP method for non-RPC requests.
    pub method: Option<&'a str>,
    /// What the request uses (the tool of a `tools/call`, the prompt of a `prompts/get`, the
    /// resource of a `resources/read`), or the target a denial names.
    pub target: Option<(TargetKind, &'a str)>,
    /// Scopes the target requires.
    pub required_scopes: &'a [String],
    /// Time spent deciding.
    pub latency: Duration,
    /// The request's MCP protocol revision (header or `_meta`), when it names one.
    pub protocol_version: Option<&'a str>,
    /// The W3C trace context of the request (`_meta.traceparent`), when well-formed.
    pub traceparent: Option<&'a str>,
}

/// Emits the event for an allow (`Ok`) or a deny (`Err`).
pub fn emit(record: &DecisionRecord<'_>, outcome: Result<(), &AuthError>) {
    let (decision, status, reason) = match outcome {
        Ok(()) => ("allow", 200u16, "allowed"),
        Err(e) => ("deny", e.status().as_u16(), e.reason()),
    };
    crate::telemetry::decision(decision, reason, record.latency);
    // The fields below are formatted only for a subscriber that keeps the event.
    if !tracing::enabled!(target: "authsec::decision", tracing::Level::INFO) {
        return;
    }
    let p = record.principal;
    let fingerprint = record
        .fingerprint
        .or(p.map(Principal::fingerprint))
        .map(|f| f.to_string());
    let granted = p.map(|p| p.scopes().join(" "));
    let named = |kind: TargetKind| {
        record
            .target
            .filter(|(k, _)| *k == kind)
            .map(|(_, name)| name)
    };
    tracing::info!(
        target: "authsec::decision",
        decision,
        status,
        reason,
        subject = p.and_then(Principal::subject),
        client_id = p.and_then(Principal::client_id),
        issuer = p.map(Principal::issuer),
        target_kind = record.target.map(|(k, _)| k.as_str()),
        tool = named(TargetKind::Tool),
        prompt = named(TargetKind::Prompt),
        resource = named(TargetKind::Resource),
        method = record.method,
        required_scopes = %record.required_scopes.join(" "),
        granted_scopes = granted.as_deref(),
        token_fingerprint = fingerprint.as_deref(),
        protocol_version = record.protocol_version,
        traceparent = record.traceparent,
        latency_us = record.latency.as_micros() as u64,
        "authsec decision"
    );
}
