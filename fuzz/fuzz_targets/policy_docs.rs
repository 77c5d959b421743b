//! Policy documents: the console's `sdk-policy` JSON, the `AUTHSEC_TOOL_SCOPES_JSON` map and
//! `authsec.toml`.
//!
//! The input goes to all three parsers. For every input nothing panics, and:
//! * a parsed policy never allows a tool the document does not map, even to a caller holding
//!   every scope the document names; a mapped tool is allowed exactly as its entry says
//!   (public, any of, all of), and an incomplete console policy allows nothing;
//! * an `sdk-policy` document survives serialization unchanged;
//! * a configuration's tool map holds only the tools of its `[tool_scopes]` table, and only
//!   `policy_mode = "open"` lets an unmapped tool through.
#![no_main]

use std::collections::BTreeMap;

use authsec::config::{PolicyMode, RawConfig};
use authsec::{AuthError, ScopeMatch};
use authsec::policy::remote::SdkPolicyDocument;
use authsec::policy::{decide_scopes, ConsolePolicy, PolicyView, ToolPolicy, ToolRule};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    check_sdk_policy(data);
    if let Ok(text) = std::str::from_utf8(data) {
        check_tool_scopes_json(text);
        check_toml(text);
    }
});

fn check_sdk_policy(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<SdkPolicyDocument>(data) else {
        return;
    };
    let again: SdkPolicyDocument =
        serde_json::from_slice(&serde_json::to_vec(&doc).expect("serializes")).expect("reparses");
    assert_eq!(again, doc);
    let Ok(policy) = ConsolePolicy::try_from(doc.clone()) else {
        return;
    };
    let mapped: BTreeMap<&str, _> = doc
        .tool_policy
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    assert_eq!(
        mapped.len(),
        doc.tool_policy.len(),
        "a tool listed twice was accepted"
    );
    assert_eq!(policy.tools.len(), mapped.len());
    let mut every_scope: Vec<String> = doc.scopes_supported.clone();
    every_scope.extend(
        doc.tool_policy
            .iter()
            .flat_map(|e| e.required_scopes.iter().cloned()),
    );
    let view = PolicyView::Console(&policy);
    for tool in probes(mapped.keys().copied()) {
        let decision = view.decide(&every_scope, &tool);
        let Some(entry) = mapped.get(tool.as_str()) else {
            assert!(decision.is_err(), "unmapped tool {tool:?} allowed");
            continue;
        };
        if !doc.policy_complete {
            assert!(matches!(decision, Err(AuthError::PolicyIncomplete { .. })));
            continue;
        }
        let rule = policy.tools.get(&tool).expect("a mapped tool has a rule");
        if entry.is_public {
            assert_eq!(rule, &ToolRule::Public);
        } else {
            assert_eq!(rule.scopes(), entry.required_scopes.as_slice());
            assert_eq!(
                rule,
                &ToolRule::Scoped {
                    scopes: entry.required_scopes.clone(),
                    scope_match: entry.scope_match,
                }
            );
        }
        check_rule_decisions(&policy.tools, &tool, rule, |granted| {
            view.decide(granted, &tool)
        });
    }
}

fn check_tool_scopes_json(text: &str) {
    let Ok(policy) = ToolPolicy::from_json(text) else {
        return;
    };
    let object: BTreeMap<String, Value> =
        serde_json::from_str(text).expect("a parsed tool map is a JSON object");
    check_tool_map(&policy, object.keys().map(String::as_str));
}

fn check_toml(text: &str) {
    let Ok(raw) = RawConfig::from_toml_str(text) else {
        return;
    };
    let table: Vec<String> = raw
        .tool_scopes
        .iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    let config = match raw.into_config() {
        Ok(config) => config,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    check_tool_map(&config.tool_policy, table.iter().map(String::as_str));
    let every_scope = config.tool_policy.all_scopes();
    let view = PolicyView::select(&config, None);
    for tool in probes(table.iter().map(String::as_str)) {
        if config.tool_policy.get(&tool).is_none() && view.decide(&every_scope, &tool).is_ok() {
            assert_eq!(
                config.policy_mode,
                PolicyMode::Open,
                "unmapped {tool:?} allowed"
            );
        }
    }
}

/// A local tool map holds exactly `names`, and decides by its rules.
fn check_tool_map<'a>(policy: &ToolPolicy, names: impl Iterator<Item = &'a str> + Clone) {
    assert_eq!(policy.iter().map(|(t, _)| t).collect::<Vec<_>>(), {
        let mut v: Vec<&str> = names.clone().collect();
        v.sort();
        v.dedup();
        v
    });
    let every_scope = policy.all_scopes();
    for tool in probes(names) {
        let decide =
            |granted: &[String]| decide_scopes(policy, PolicyMode::LocalOnly, granted, &tool);
        match policy.get(&tool) {
            None => assert_eq!(
                decide(&every_scope),
                Err(AuthError::Unmapped { target: authsec::policy::Target::tool(tool.clone()) })
            ),
            Some(rule) => check_rule_decisions(policy, &tool, rule, decide),
        }
    }
}

/// A mapped tool: public allows anyone; `any` needs one listed scope; `all` needs every one.
fn check_rule_decisions(
    policy: &ToolPolicy,
    tool: &str,
    rule: &ToolRule,
    decide: impl Fn(&[String]) -> Result<(), AuthError>,
) {
    assert_eq!(policy.get(tool), Some(rule));
    match rule {
        ToolRule::Public => assert_eq!(decide(&[]), Ok(())),
        ToolRule::Scoped {
            scopes,
            scope_match,
        } => {
            assert!(!scopes.is_empty(), "a scoped rule without scopes");
            assert!(
                matches!(decide(&[]), Err(AuthError::InsufficientScope { .. })),
                "{tool:?} allowed without scopes"
            );
            assert_eq!(decide(scopes), Ok(()));
            let first = &scopes[..1];
            let one_is_enough =
                *scope_match == ScopeMatch::Any || scopes.iter().all(|s| *s == scopes[0]);
            assert_eq!(
                decide(first).is_ok(),
                one_is_enough,
                "{tool:?} with {first:?}"
            );
        }
    }
}

/// The mapped names, plus near misses of each (never mapped unless the document maps them too).
fn probes<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = vec![String::new(), "tool".to_owned()];
    for name in names {
        out.push(name.to_owned());
        out.push(format!("{name}x"));
        out.push(format!(" {name}"));
        out.push(name.to_ascii_uppercase());
        out.push(name.chars().skip(1).collect());
    }
    out
}
