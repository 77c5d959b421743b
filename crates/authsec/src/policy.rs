//! Tool → scope policy.
//!
//! Every tool is in one of three states: absent from the map (denied: `tool_unmapped`),
//! public (`[]`), or scoped (any one of, or all of, a list of scopes). Scopes are compared
//! byte for byte — never case-folded or normalised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ScopeMatch;

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
}
