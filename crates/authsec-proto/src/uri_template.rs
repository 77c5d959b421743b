//! Resource keys of the policy: an exact resource URI, or a URI template in the RFC 6570
//! level-1 style. The SDK matches requests with these and the console validates what admins
//! and manifests send with them, so both sides accept exactly the same keys.
//!
//! A key without `{` or `}` is an exact URI, compared byte for byte (never decoded,
//! case-folded or normalised). A key with `{` is a template, `notes://note/{id}`, where each
//! `{name}` matches a non-empty run of characters other than `/`, `?` and `#` — one path
//! segment, or part of one. At most one variable per segment, so a match is unambiguous and
//! found in one pass (`notes://{a}-{b}` is refused; `notes://{a}/{b}` and
//! `files://{name}.txt` are fine).
//!
//! ```
//! use authsec_proto::uri_template::{ResourceKey, UriTemplate};
//!
//! let t = UriTemplate::parse("notes://note/{id}")?;
//! assert!(t.matches("notes://note/7"));
//! assert!(!t.matches("notes://note/7/edit"));
//! assert!(matches!(ResourceKey::parse("notes://all")?, ResourceKey::Exact(_)));
//! assert!(ResourceKey::parse("x://{a}{b}").is_err());
//! # Ok::<(), authsec_proto::uri_template::ResourceKeyError>(())
//! ```

/// Why a resource policy key or URI template is refused. Each template variant carries the
/// template as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceKeyError {
    /// The key is empty.
    #[error("a resource entry has an empty URI")]
    Empty,
    /// A `}` with no `{` before it.
    #[error("template {template:?}: `}}` without `{{`")]
    UnopenedBrace {
        /// The template.
        template: String,
    },
    /// A `{` with no `}` after it.
    #[error("template {template:?}: `{{` without `}}`")]
    UnclosedBrace {
        /// The template.
        template: String,
    },
    /// An expression other than a simple `{name}` (operators, modifiers, lists, empty).
    #[error(
        "template {template:?}: {{{expression}}} is not a simple {{name}} expression \
         (only RFC 6570 level 1: letters, digits and _; no operators or modifiers)"
    )]
    NotSimple {
        /// The template.
        template: String,
        /// The text between the braces.
        expression: String,
    },
    /// Two variables with nothing between them.
    #[error("template {template:?}: two variables side by side cannot be told apart")]
    AdjacentVariables {
        /// The template.
        template: String,
    },
    /// Two variables in one segment (no `/`, `?` or `#` between them).
    #[error("template {template:?}: at most one variable per segment (separate them with /)")]
    VariablesShareSegment {
        /// The template.
        template: String,
    },
}

/// A resource policy key, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKey {
    /// An exact URI (no `{` or `}`).
    Exact(String),
    /// A URI template.
    Template(UriTemplate),
}

impl ResourceKey {
    /// Parses `key`: empty is refused, a key with `{` or `}` must be a valid template.
    pub fn parse(key: &str) -> Result<Self, ResourceKeyError> {
        if key.is_empty() {
            return Err(ResourceKeyError::Empty);
        }
        if key.contains(['{', '}']) {
            UriTemplate::parse(key).map(ResourceKey::Template)
        } else {
            Ok(ResourceKey::Exact(key.to_owned()))
        }
    }
}

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
    pub fn parse(text: &str) -> Result<Self, ResourceKeyError> {
        let template = || text.to_owned();
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
                Some(i) if rest.as_bytes()[i] == b'}' => {
                    return Err(ResourceKeyError::UnopenedBrace {
                        template: template(),
                    });
                }
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_owned()));
                    }
                    let after = &rest[i + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| ResourceKeyError::UnclosedBrace {
                            template: template(),
                        })?;
                    let name = &after[..end];
                    let simple = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                        && !name.starts_with('.');
                    if !simple {
                        return Err(ResourceKeyError::NotSimple {
                            template: template(),
                            expression: name.to_owned(),
                        });
                    }
                    if let Some(Part::Variable) = parts.last() {
                        return Err(ResourceKeyError::AdjacentVariables {
                            template: template(),
                        });
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
                    return Err(ResourceKeyError::VariablesShareSegment {
                        template: template(),
                    });
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let template = |t: &str| t.to_owned();
        for (bad, expression) in [
            ("x://{+path}", "+path"),
            ("x://{#f}", "#f"),
            ("x://{a,b}", "a,b"),
            ("x://{a*}", "a*"),
            ("x://{a:3}", "a:3"),
            ("x://{}", ""),
        ] {
            assert_eq!(
                UriTemplate::parse(bad),
                Err(ResourceKeyError::NotSimple {
                    template: template(bad),
                    expression: expression.into()
                }),
                "{bad}"
            );
        }
        assert_eq!(
            UriTemplate::parse("x://{a}{b}"),
            Err(ResourceKeyError::AdjacentVariables {
                template: template("x://{a}{b}")
            })
        );
        assert_eq!(
            UriTemplate::parse("x://{a}-{b}"),
            Err(ResourceKeyError::VariablesShareSegment {
                template: template("x://{a}-{b}")
            })
        );
        assert_eq!(
            UriTemplate::parse("x://{a"),
            Err(ResourceKeyError::UnclosedBrace {
                template: template("x://{a")
            })
        );
        assert_eq!(
            UriTemplate::parse("x://a}"),
            Err(ResourceKeyError::UnopenedBrace {
                template: template("x://a}")
            })
        );
        assert_eq!(
            UriTemplate::parse("x://{+p}").unwrap_err().to_string(),
            "template \"x://{+p}\": {+p} is not a simple {name} expression (only RFC 6570 \
             level 1: letters, digits and _; no operators or modifiers)"
        );
    }

    #[test]
    fn a_resource_key_is_exact_without_braces_and_a_template_with_them() {
        assert_eq!(
            ResourceKey::parse("notes://all"),
            Ok(ResourceKey::Exact("notes://all".into()))
        );
        assert!(matches!(
            ResourceKey::parse("notes://note/{id}"),
            Ok(ResourceKey::Template(_))
        ));
        assert_eq!(ResourceKey::parse(""), Err(ResourceKeyError::Empty));
        assert_eq!(
            ResourceKey::parse("notes://a}"),
            Err(ResourceKeyError::UnopenedBrace {
                template: "notes://a}".into()
            })
        );
    }
}
