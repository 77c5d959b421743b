//! Denials as a client reads them (`authsec explain`): the `WWW-Authenticate` value and the
//! JSON body.
//!
//! The input is three lines, any of them missing: `<status>\n<WWW-Authenticate>\n<body>`.
//! For every input:
//! * reading the denial, its next step, summary and JSON never panics;
//! * every challenge the parser reads renders back (`challenge::bearer_challenge`) to a
//!   `Bearer` challenge that parses to the same parameters, minus the characters RFC 6750
//!   does not allow in values;
//! * a denial rendered by `challenge::render` from an error carrying the input's text (one of
//!   each challenge shape, picked by the input) reads back with the same status, error code,
//!   reason, tool, scopes and resource metadata.
#![no_main]

use authsec::challenge::{self, ChallengeContext};
use authsec::config::ChallengeScope;
use authsec::{AuthError, InvalidRequest, ScopeMatch};
use authsec::explain::{self, Challenge, ErrorCode};
use authsec::policy::{is_valid_scope_token, Target, TargetKind};
use libfuzzer_sys::fuzz_target;

const RESOURCE_METADATA: &str = "https://mcp.example/.well-known/oauth-protected-resource/mcp";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.trim().parse::<u16>().ok();
    let header = lines.next();
    let body = lines.next();

    if let Ok(denial) = explain::parse(status, header, body) {
        let _ = (
            denial.next_step().to_string(),
            denial.summary(),
            denial.to_json(),
            denial.meaning(),
        );
    }
    if let Some(Ok(challenges)) = header.map(explain::parse_www_authenticate) {
        assert!(!challenges.is_empty());
        for c in challenges.iter().filter(|c| c.token68.is_none()) {
            check_round_trip(c);
        }
    }

    // One error shape and challenge-scope setting per input, picked by a hash of it.
    let pick = data
        .iter()
        .fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(b.into()));
    let a = header.unwrap_or(status_line);
    let b = body.unwrap_or_default();
    let errors = errors_carrying(a, b, status.unwrap_or_default());
    let ctx = ChallengeContext {
        resource_metadata: RESOURCE_METADATA.into(),
        scope: words(b),
        challenge_scope: [
            ChallengeScope::RequiredOnly,
            ChallengeScope::RequiredAndGranted,
            ChallengeScope::ByProtocol,
        ][pick / errors.len() % 3],
    };
    check_rendered(&errors[pick % errors.len()], &ctx);
});

fn check_round_trip(c: &Challenge) {
    let params: Vec<(&str, String)> = c
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let rendered = challenge::bearer_challenge(&params);
    let reparsed = explain::parse_www_authenticate(&rendered)
        .unwrap_or_else(|e| panic!("rendered challenge {rendered:?} does not parse: {e}"));
    let allowed = |v: &str| -> String {
        v.chars()
            .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
            .collect()
    };
    let expected = Challenge {
        scheme: "Bearer".into(),
        params: c
            .params
            .iter()
            .map(|(k, v)| (k.clone(), allowed(v)))
            .collect(),
        token68: None,
    };
    assert_eq!(reparsed, [expected], "round trip through {rendered:?}");
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// An error of each challenge shape, with the input's text in every free-form field.
fn errors_carrying(a: &str, b: &str, n: u16) -> Vec<AuthError> {
    let mut required = words(a);
    if required.is_empty() {
        required.push("notes:read".into());
    }
    vec![
        AuthError::NoToken,
        AuthError::InvalidRequest(InvalidRequest::McpNameMismatch),
        AuthError::AlgorithmNotAllowed { alg: a.into() },
        AuthError::IssuerMismatch {
            expected: a.into(),
            actual: Some(b.into()),
        },
        AuthError::AudienceMismatch {
            expected: words(a),
            actual: words(b),
        },
        AuthError::Expired {
            exp: n.into(),
            now: i64::from(n) + 1,
            leeway: 0,
        },
        AuthError::InsufficientScope {
            target: Target::tool(b),
            required,
            scope_match: if n.is_multiple_of(2) {
                ScopeMatch::All
            } else {
                ScopeMatch::Any
            },
            granted: words(b),
        },
        AuthError::Unmapped {
            target: Target::resource(a),
        },
        AuthError::Unmapped {
            target: Target::prompt(b),
        },
        AuthError::PolicyIncomplete {
            target: Target::tool(a),
            reason: b.into(),
        },
        AuthError::ValidationUnavailable { detail: a.into() },
    ]
}

fn check_rendered(err: &AuthError, ctx: &ChallengeContext) {
    let denial = challenge::render(err, ctx);
    let body = denial.body.to_string();
    let read = explain::parse(
        Some(denial.status.as_u16()),
        denial.www_authenticate.as_deref(),
        Some(&body),
    )
    .unwrap_or_else(|e| panic!("{denial:?} does not read back: {e}"));
    assert_eq!(read.status, Some(denial.status.as_u16()));
    assert_eq!(
        read.error.as_ref().map(ErrorCode::as_str),
        denial.body["error"].as_str()
    );
    assert_eq!(read.reason.as_deref(), Some(err.reason()));
    assert_eq!(read.bearer_challenge, denial.www_authenticate.is_some());
    if denial.www_authenticate.is_some() {
        assert_eq!(read.resource_metadata.as_deref(), Some(RESOURCE_METADATA));
    }
    let (scope, target) = match err {
        AuthError::InsufficientScope {
            target,
            required,
            granted,
            ..
        } => {
            assert_eq!(&read.required_scopes, required);
            assert_eq!(&read.granted_scopes, granted);
            let mut scope = required.clone();
            // `ByProtocol` not resolved for a request counts as required plus granted.
            if ctx.challenge_scope != ChallengeScope::RequiredOnly {
                for g in granted {
                    if !scope.contains(g) {
                        scope.push(g.clone());
                    }
                }
            }
            (scope, Some(target))
        }
        AuthError::Unmapped { target } | AuthError::PolicyIncomplete { target, .. } => {
            (Vec::new(), Some(target))
        }
        _ if denial.status == http::StatusCode::UNAUTHORIZED => (ctx.scope.clone(), None),
        _ => (Vec::new(), None),
    };
    if let Some(target) = target {
        let named = match target.kind {
            TargetKind::Tool => &read.tool,
            TargetKind::Prompt => &read.prompt,
            TargetKind::Resource => &read.resource,
        };
        assert_eq!(named.as_ref(), Some(&target.name));
    }
    // The challenge drops characters a scope token cannot hold; compare only intact scopes.
    if scope.iter().all(|s| is_valid_scope_token(s)) {
        assert_eq!(read.scope, scope, "scope of {:?}", denial.www_authenticate);
    }
}
