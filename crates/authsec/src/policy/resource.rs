//! Resource → scope policy: rules keyed by exact URI or by URI template.
//!
//! A key without `{` is an exact URI, compared byte for byte (never decoded, case-folded or
//! normalised: `notes://all` and `notes://%61ll` are two resources). A key with `{` is a URI
//! template in the RFC 6570 level-1 style, `notes://note/{id}`, where each `{name}` matches a
//! non-empty run of characters other than `/`, `?` and `#` — one path segment, or part of one.
//! At most one variable per segment, so a match is unambiguous and found in one pass
//! (`notes://{a}-{b}` is refused; `notes://{a}/{b}` and `files://{name}.txt` are fine). The
//! parser and matcher live in [`authsec_proto::uri_template`], so the console validates keys
//! with exactly these rules.
//!
//! Which rule decides a URI:
//!
//! | the URI | rule |
//! |---|---|
//! | has an exact entry | that entry alone |
//! | matches one or more templates | every matching template's rule must hold (fail closed: overlapping templates never loosen each other) |
//! | matches nothing | unmapped: denied to everyone |
//!
//! A `resources/templates/list` item (`uriTemplate`) is shown when the policy has an entry for
//! the same template, compared with variable names ignored (`notes://note/{id}` and
//! `notes://note/{noteId}` are one template), and that entry's rule holds.

use std::collections::BTreeMap;

pub use authsec_proto::uri_template::UriTemplate;
use authsec_proto::uri_template::{ResourceKey, ResourceKeyError};

use super::{PolicyError, RuleRepr, ToolRule};
use crate::policy::TargetKind;

/// The resource → rule map: exact URIs and URI templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcePolicy {
    exact: BTreeMap<String, ToolRule>,
    /// In key order (the order of the JSON/TOML object's keys, sorted).
    templates: Vec<(UriTemplate, ToolRule)>,
}

impl ResourcePolicy {
    /// An empty policy: every resource is unmapped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the rule for `key`, an exact URI or (with `{`) a URI template.
    pub fn insert(&mut self, key: &str, rule: ToolRule) -> Result<&mut Self, ResourceKeyError> {
        match ResourceKey::parse(key)? {
            ResourceKey::Template(template) => {
                let shape = template.shape();
                self.templates.retain(|(t, _)| t.shape() != shape);
                self.templates.push((template, rule));
                self.templates
                    .sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            }
            ResourceKey::Exact(uri) => {
                self.exact.insert(uri, rule);
            }
        }
        Ok(self)
    }

    /// Builder form of [`ResourcePolicy::insert`].
    pub fn with(mut self, key: &str, rule: ToolRule) -> Result<Self, ResourceKeyError> {
        self.insert(key, rule)?;
        Ok(self)
    }

    /// The entries that decide `uri` (see the module table): its exact entry, else every
    /// matching template. Empty when it is unmapped. Each comes with its key.
    pub fn rules_for(&self, uri: &str) -> Vec<(&str, &ToolRule)> {
        if let Some((k, r)) = self.exact.get_key_value(uri) {
            return vec![(k.as_str(), r)];
        }
        self.templates
            .iter()
            .filter(|(t, _)| t.matches(uri))
            .map(|(t, r)| (t.as_str(), r))
            .collect()
    }

    /// The rule of the entry for `template` (compared by shape), for `resources/templates/list`.
    pub fn template_rule(&self, template: &str) -> Option<&ToolRule> {
        let shape = UriTemplate::parse(template).ok()?.shape();
        self.templates
            .iter()
            .find(|(t, _)| t.shape() == shape)
            .map(|(_, r)| r)
    }

    /// Every entry: exact URIs, then templates, each in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ToolRule)> {
        self.exact
            .iter()
            .map(|(k, r)| (k.as_str(), r))
            .chain(self.templates.iter().map(|(t, r)| (t.as_str(), r)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.exact.len() + self.templates.len()
    }

    /// True when no resource is mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every scope named by any rule, sorted and deduplicated.
    pub fn all_scopes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .iter()
            .flat_map(|(_, r)| r.scopes().iter().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Parses `AUTHSEC_RESOURCE_SCOPES_JSON`: `{"uri or template": ["scope", …]}`, `[]` =
    /// public, `{"all": [...]}` for all-of.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        Self::from_repr(super::parse_map(json, TargetKind::Resource)?)
    }

    pub(crate) fn from_repr(raw: BTreeMap<String, RuleRepr>) -> Result<Self, PolicyError> {
        let mut policy = ResourcePolicy::new();
        for (key, repr) in raw {
            let rule = repr.into_rule(TargetKind::Resource, &key)?;
            policy.insert(&key, rule)?;
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScopeMatch;

    fn scoped(s: &str) -> ToolRule {
        ToolRule::Scoped {
            scopes: vec![s.to_owned()],
            scope_match: ScopeMatch::Any,
        }
    }

    #[test]
    fn an_exact_entry_wins_else_every_matching_template_decides() {
        let p = ResourcePolicy::new()
            .with("notes://note/{id}", scoped("notes:read"))
            .unwrap()
            .with("notes://{kind}/1", scoped("notes:admin"))
            .unwrap()
            .with("notes://note/1", ToolRule::Public)
            .unwrap();
        assert_eq!(
            p.rules_for("notes://note/1"),
            [("notes://note/1", &ToolRule::Public)]
        );
        assert_eq!(
            p.rules_for("notes://note/2"),
            [("notes://note/{id}", &scoped("notes:read"))]
        );
        assert_eq!(
            p.rules_for("notes://other/1"),
            [("notes://{kind}/1", &scoped("notes:admin"))]
        );
        assert!(p.rules_for("notes://all").is_empty());
        assert_eq!(
            p.template_rule("notes://note/{noteId}"),
            Some(&scoped("notes:read"))
        );
        assert_eq!(p.template_rule("notes://note/{id}/x"), None);
    }

    #[test]
    fn json_keys_are_uris_or_templates_with_the_tool_rule_shapes() {
        let p = ResourcePolicy::from_json(
            r#"{"notes://all":["notes:read"],"notes://note/{id}":{"all":["a","b"]},"pub://x":[]}"#,
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.rules_for("pub://x"), [("pub://x", &ToolRule::Public)]);
        assert_eq!(p.all_scopes(), ["a", "b", "notes:read"]);
        assert_eq!(
            ResourcePolicy::from_json(r#"{"x://{+p}":["a"]}"#),
            Err(PolicyError::ResourceKey(ResourceKeyError::NotSimple {
                template: "x://{+p}".into(),
                expression: "+p".into()
            }))
        );
        let err = ResourcePolicy::from_json(r#"{"x://y":["has space"]}"#).unwrap_err();
        assert_eq!(
            err,
            PolicyError::InvalidScope {
                target: crate::policy::Target::resource("x://y"),
                scope: "has space".into()
            }
        );
        assert!(err.to_string().starts_with("resource \"x://y\""), "{err}");
        assert_eq!(
            ResourcePolicy::new().with("", ToolRule::Public),
            Err(ResourceKeyError::Empty)
        );
    }
}
