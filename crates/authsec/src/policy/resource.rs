//! Resource → scope policy: rules keyed by exact URI or by URI template.
//!
//! A key without `{` is an exact URI, compared byte for byte (never decoded, case-folded or
//! normalised: `notes://all` and `notes://%61ll` are two resources). A key with `{` is a URI
//! template in the RFC 6570 level-1 style, `notes://note/{id}`, where each `{name}` matches a
//! non-empty run of characters other than `/`, `?` and `#` — one path segment, or part of one.
//! At most one variable per segment, so a match is unambiguous and found in one pass
//! (`notes://{a}-{b}` is refused; `notes://{a}/{b}` and `files://{name}.txt` are fine).
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

use super::{RuleRepr, ToolRule};
use crate::policy::TargetKind;

/// One parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable,
}

/// Characters a template variable never matches: they delimit URI segments.
const DELIMITERS: [char; 3] = ['/', '?', '#'];

impl UriTemplate {
    /// Parses `text`: literals and simple `{name}` expressions, at most one per segment.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
                Some(i) if rest.as_bytes()[i] == b'}' => {
                    return Err(format!("template {text:?}: `}}` without `{{`"));
                }
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_owned()));
                    }
                    let after = &rest[i + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("template {text:?}: `{{` without `}}`"))?;
                    let name = &after[..end];
                    let simple = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                        && !name.starts_with('.');
                    if !simple {
                        return Err(format!(
                            "template {text:?}: {{{name}}} is not a simple {{name}} expression \
                             (only RFC 6570 level 1: letters, digits and _; no operators or modifiers)"
                        ));
                    }
                    if let Some(Part::Variable) = parts.last() {
                        return Err(format!(
                            "template {text:?}: two variables side by side cannot be told apart"
                        ));
                    }
                    parts.push(Part::Variable);
                    rest = &after[end + 1..];
                }
            }
        }
        // Between two variables there must be a delimiter, so each variable's extent is fixed.
        for w in parts.windows(3) {
            if let [Part::Variable, Part::Literal(l), Part::Variable] = w {
                if !l.contains(DELIMITERS) {
                    return Err(format!(
                        "template {text:?}: at most one variable per segment (separate them with /)"
                    ));
                }
            }
        }
        Ok(UriTemplate {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The template with variable names dropped (`notes://note/{}`): two templates with the
    /// same shape describe the same resources.
    pub fn shape(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.as_str(),
                Part::Variable => "{}",
            })
            .collect()
    }

    /// Does `uri` match, byte for byte outside the variables?
    pub fn matches(&self, uri: &str) -> bool {
        let mut rest = uri;
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(l) => match rest.strip_prefix(l.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                },
                Part::Variable => {
                    let segment_end = rest.find(DELIMITERS).unwrap_or(rest.len());
                    let take = match self.parts.get(i + 1) {
                        None => rest.len(),
                        // The literal after the variable reaches the segment's end: the
                        // variable ends that many bytes before it.
                        Some(Part::Literal(l)) => match l.find(DELIMITERS) {
                            Some(j) => match segment_end.checked_sub(j) {
                                Some(t) => t,
                                None => return false,
                            },
                            // No delimiter after: the literal ends the template.
                            None => match rest.len().checked_sub(l.len()) {
                                Some(t) => t,
                                None => return false,
                            },
                        },
                        Some(Part::Variable) => return false,
                    };
                    if take == 0 || take > segment_end || !rest.is_char_boundary(take) {
                        return false;
                    }
                    rest = &rest[take..];
                }
            }
        }
        rest.is_empty()
    }
}

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
    pub fn insert(&mut self, key: &str, rule: ToolRule) -> Result<&mut Self, String> {
        if key.is_empty() {
            return Err("a resource entry has an empty URI".into());
        }
        if key.contains(['{', '}']) {
            let template = UriTemplate::parse(key)?;
            let shape = template.shape();
            self.templates.retain(|(t, _)| t.shape() != shape);
            self.templates.push((template, rule));
            self.templates
                .sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        } else {
            self.exact.insert(key.to_owned(), rule);
        }
        Ok(self)
    }

    /// Builder form of [`ResourcePolicy::insert`].
    pub fn with(mut self, key: &str, rule: ToolRule) -> Result<Self, String> {
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
    pub fn from_json(json: &str) -> Result<Self, String> {
        let raw: BTreeMap<String, RuleRepr> = serde_json::from_str(json).map_err(|e| {
            format!("not a JSON object of resource URI or URI template → scope list ({e}); example: {{\"notes://all\":[\"notes:read\"],\"notes://note/{{id}}\":[\"notes:read\"]}}")
        })?;
        Self::from_repr(raw)
    }

    pub(crate) fn from_repr(raw: BTreeMap<String, RuleRepr>) -> Result<Self, String> {
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

    fn t(s: &str) -> UriTemplate {
        UriTemplate::parse(s).unwrap()
    }

    #[test]
    fn a_variable_matches_one_non_empty_segment_or_part_of_one() {
        let note = t("notes://note/{id}");
        assert!(note.matches("notes://note/7"));
        assert!(note.matches("notes://note/%2F"));
        assert!(!note.matches("notes://note/"));
        assert!(!note.matches("notes://note/7/edit"));
        assert!(!note.matches("notes://note/7?x=1"));
        assert!(!note.matches("notes://note/7#top"));
        assert!(!note.matches("NOTES://note/7"));
        let file = t("files://{dir}/{name}.txt");
        assert!(file.matches("files://a/b.txt"));
        assert!(file.matches("files://a/b.c.txt"));
        assert!(!file.matches("files://a/.txt"));
        assert!(!file.matches("files://a/b/c.txt"));
        assert!(!file.matches("files://a/b.md"));
        let mid = t("db://{table}/rows");
        assert!(mid.matches("db://users/rows"));
        assert!(!mid.matches("db://users/cols"));
        assert!(!mid.matches("db:///rows"));
    }

    #[test]
    fn templates_beyond_level_one_or_ambiguous_are_refused() {
        for bad in [
            "x://{+path}",
            "x://{#f}",
            "x://{a,b}",
            "x://{a*}",
            "x://{a:3}",
            "x://{}",
            "x://{a}{b}",
            "x://{a}-{b}",
            "x://{a",
            "x://a}",
        ] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }

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
        let err = ResourcePolicy::from_json(r#"{"x://{+p}":["a"]}"#).unwrap_err();
        assert!(err.contains("level 1"), "{err}");
        let err = ResourcePolicy::from_json(r#"{"x://y":["has space"]}"#).unwrap_err();
        assert!(err.starts_with("resource \"x://y\""), "{err}");
    }
}
