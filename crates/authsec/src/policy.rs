//! Tool → scope policy.
//!
//! Every tool is in one of three states: absent from the map (denied: `tool_unmapped`),
//! public (`[]`), or scoped (any one of, or all of, a list of scopes). Scopes are compared
//! byte for byte — never case-folded or normalised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::PolicyMode;
use crate::error::{AuthError, ScopeMatch};
use crate::principal::Principal;

/// What one tool requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolRule {
    /// Anyone with a valid token may call it.
    Public,
    /// The caller needs `scopes`, matched per `scope_match`.
    Scoped {
        /// Required scopes (never empty).
        scopes: Vec<String>,
        /// Any one of them, or all of them.
        scope_match: ScopeMatch,
    },
}

impl ToolRule {
    /// Scopes this rule names (empty for public tools).
    pub fn scopes(&self) -> &[String] {
        match self {
            ToolRule::Public => &[],
            ToolRule::Scoped { scopes, .. } => scopes,
        }
    }

    /// Does a principal holding `granted` satisfy this rule?
    pub fn is_satisfied_by(&self, granted: &[String]) -> bool {
        match self {
            ToolRule::Public => true,
            ToolRule::Scoped {
                scopes,
                scope_match: ScopeMatch::Any,
            } => scopes.iter().any(|s| granted.contains(s)),
            ToolRule::Scoped {
                scopes,
                scope_match: ScopeMatch::All,
            } => scopes.iter().all(|s| granted.contains(s)),
        }
    }
}

/// The tool → rule map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    tools: BTreeMap<String, ToolRule>,
}

/// The JSON/TOML shape of one entry: `["a","b"]` (any of), `[]` (public),
/// `{"any": [...]}` or `{"all": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum RuleRepr {
    AnyOf(Vec<String>),
    Explicit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        any: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        all: Option<Vec<String>>,
    },
}

impl RuleRepr {
    fn into_rule(self, tool: &str) -> Result<ToolRule, String> {
        let (scopes, scope_match) = match self {
            RuleRepr::AnyOf(s) => (s, ScopeMatch::Any),
            RuleRepr::Explicit {
                any: Some(s),
                all: None,
            } => (s, ScopeMatch::Any),
            RuleRepr::Explicit {
                any: None,
                all: Some(s),
            } => (s, ScopeMatch::All),
            RuleRepr::Explicit { .. } => {
                return Err(format!(
                    "tool {tool:?}: give exactly one of \"any\" or \"all\", e.g. {{\"all\": [\"notes:read\", \"notes:write\"]}}"
                ))
            }
        };
        if let Some(bad) = scopes.iter().find(|s| !is_valid_scope_token(s)) {
            return Err(format!(
                "tool {tool:?}: scope {bad:?} is not a valid OAuth scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"
            ));
        }
        Ok(if scopes.is_empty() {
            ToolRule::Public
        } else {
            ToolRule::Scoped {
                scopes,
                scope_match,
            }
        })
    }
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl ToolPolicy {
    /// An empty policy: every tool is unmapped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a tool's rule.
    pub fn insert(&mut self, tool: impl Into<String>, rule: ToolRule) -> &mut Self {
        self.tools.insert(tool.into(), rule);
        self
    }

    /// Builder form of [`ToolPolicy::insert`].
    pub fn with(mut self, tool: impl Into<String>, rule: ToolRule) -> Self {
        self.insert(tool, rule);
        self
    }

    /// The rule for `tool`, or `None` when it is unmapped.
    pub fn get(&self, tool: &str) -> Option<&ToolRule> {
        self.tools.get(tool)
    }

    /// All mapped tools in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ToolRule)> {
        self.tools.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of mapped tools.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// True when no tool is mapped.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Every scope named by any rule, sorted and deduplicated.
    pub fn all_scopes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tools
            .values()
            .flat_map(|r| r.scopes().iter().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Parses `AUTHSEC_TOOL_SCOPES_JSON`: `{"tool": ["scope", …]}`, `[]` = public,
    /// `{"tool": {"all": [...]}}` for all-of.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let raw: BTreeMap<String, RuleRepr> = serde_json::from_str(json).map_err(|e| {
            format!("not a JSON object of tool name → scope list ({e}); example: {{\"add_note\":[\"notes:write\"],\"server_time\":[]}}")
        })?;
        Self::from_repr(raw)
    }

    pub(crate) fn from_repr(raw: BTreeMap<String, RuleRepr>) -> Result<Self, String> {
        let mut policy = ToolPolicy::new();
        for (tool, repr) in raw {
            let rule = repr.into_rule(&tool)?;
            policy.tools.insert(tool, rule);
        }
        Ok(policy)
    }
}

/// Decides whether `principal` may call `tool`.
///
/// * `open`: any valid token may call any tool (the mode is loudly logged at start-up).
/// * `local_only`: the tool's rule in `policy`; a tool absent from the map is denied
///   ([`AuthError::ToolUnmapped`]), a scoped tool without a matching scope is
///   [`AuthError::InsufficientScope`] naming the tool, its required and granted scopes.
/// * `remote_with_local_fallback`: until a console policy is loaded, the local map decides.
/// * `remote_required`: without a loaded console policy every call is denied
///   ([`AuthError::PolicyUnavailable`]): fail closed.
///
/// ```
/// use authsec::{config::PolicyMode, error::AuthError, policy::{decide_scopes, ToolPolicy}};
///
/// let policy = ToolPolicy::from_json(r#"{"add_note":["notes:write"],"server_time":[]}"#).unwrap();
/// let granted = vec!["notes:read".to_string()];
/// let mode = PolicyMode::LocalOnly;
/// assert_eq!(decide_scopes(&policy, mode, &granted, "server_time"), Ok(()));
/// assert!(matches!(
///     decide_scopes(&policy, mode, &granted, "add_note"),
///     Err(AuthError::InsufficientScope { .. })
/// ));
/// assert!(matches!(
///     decide_scopes(&policy, mode, &granted, "drop_tables"),
///     Err(AuthError::ToolUnmapped { .. })
/// ));
/// ```
pub fn decide(
    policy: &ToolPolicy,
    mode: PolicyMode,
    principal: &Principal,
    tool: &str,
) -> Result<(), AuthError> {
    decide_scopes(policy, mode, principal.scopes(), tool)
}

/// [`decide`] for a bare list of granted scopes.
pub fn decide_scopes(
    policy: &ToolPolicy,
    mode: PolicyMode,
    granted: &[String],
    tool: &str,
) -> Result<(), AuthError> {
    match mode {
        PolicyMode::Open => return Ok(()),
        PolicyMode::RemoteRequired => {
            return Err(AuthError::PolicyUnavailable {
                detail: "remote_required: no console policy is loaded".into(),
            })
        }
        PolicyMode::LocalOnly | PolicyMode::RemoteWithLocalFallback => {}
    }
    match policy.get(tool) {
        None => Err(AuthError::ToolUnmapped { tool: tool.into() }),
        Some(rule) if rule.is_satisfied_by(granted) => Ok(()),
        Some(ToolRule::Scoped {
            scopes,
            scope_match,
        }) => Err(AuthError::InsufficientScope {
            tool: tool.into(),
            required: scopes.clone(),
            scope_match: *scope_match,
            granted: granted.to_vec(),
        }),
        // A public rule is satisfied by any grant; kept for exhaustiveness.
        Some(ToolRule::Public) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn json_list_means_any_of_and_empty_list_means_public() {
        let p = ToolPolicy::from_json(
            r#"{"add":["n:write","n:admin"],"time":[],"del":{"all":["n:write","n:admin"]}}"#,
        )
        .unwrap();
        assert_eq!(p.get("time"), Some(&ToolRule::Public));
        assert!(p.get("add").unwrap().is_satisfied_by(&s(&["n:admin"])));
        assert!(!p.get("del").unwrap().is_satisfied_by(&s(&["n:admin"])));
        assert!(p
            .get("del")
            .unwrap()
            .is_satisfied_by(&s(&["n:admin", "n:write"])));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn scope_comparison_is_case_sensitive() {
        let rule = ToolRule::Scoped {
            scopes: s(&["rs-525da3b4:tools:write"]),
            scope_match: ScopeMatch::Any,
        };
        assert!(!rule.is_satisfied_by(&s(&["rs-525da3b4:tools:Write"])));
    }

    #[test]
    fn invalid_scope_token_is_rejected_with_the_tool_name() {
        let err = ToolPolicy::from_json(r#"{"add":["has space"]}"#).unwrap_err();
        assert!(
            err.contains("\"add\"") && err.contains("has space"),
            "{err}"
        );
    }

    #[test]
    fn both_any_and_all_is_rejected() {
        let err = ToolPolicy::from_json(r#"{"x":{"any":["a"],"all":["b"]}}"#).unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
    }

    #[test]
    fn decide_denies_unmapped_and_names_tool_required_and_granted() {
        let p = ToolPolicy::from_json(r#"{"add":["n:write","n:admin"],"time":[]}"#).unwrap();
        let granted = s(&["n:read"]);
        assert_eq!(
            decide_scopes(&p, PolicyMode::LocalOnly, &granted, "nope"),
            Err(AuthError::ToolUnmapped {
                tool: "nope".into()
            })
        );
        assert_eq!(
            decide_scopes(&p, PolicyMode::LocalOnly, &granted, "add"),
            Err(AuthError::InsufficientScope {
                tool: "add".into(),
                required: s(&["n:write", "n:admin"]),
                scope_match: ScopeMatch::Any,
                granted: s(&["n:read"]),
            })
        );
        assert_eq!(
            decide_scopes(&p, PolicyMode::LocalOnly, &[], "time"),
            Ok(())
        );
        assert_eq!(
            decide_scopes(&p, PolicyMode::LocalOnly, &s(&["n:admin"]), "add"),
            Ok(())
        );
    }

    #[test]
    fn open_mode_allows_everything_and_remote_required_fails_closed() {
        let p = ToolPolicy::new();
        assert_eq!(decide_scopes(&p, PolicyMode::Open, &[], "anything"), Ok(()));
        assert!(matches!(
            decide_scopes(&p, PolicyMode::RemoteRequired, &s(&["x"]), "t"),
            Err(AuthError::PolicyUnavailable { .. })
        ));
        assert_eq!(
            decide_scopes(&p, PolicyMode::RemoteWithLocalFallback, &[], "t"),
            Err(AuthError::ToolUnmapped { tool: "t".into() })
        );
    }
}
