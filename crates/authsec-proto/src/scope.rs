//! The scope grammar and how a list of required scopes is matched.
//!
//! Scopes are compared byte for byte, never case-folded or normalised.

use serde::{Deserialize, Serialize};

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`: no spaces, quotes or
/// backslashes.
///
/// ```
/// assert!(authsec_proto::is_scope_token("rs-525da3b4:tools:write"));
/// assert!(!authsec_proto::is_scope_token("a b"));
/// ```
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// How a list of required scopes is matched against granted scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeMatch {
    /// Any one of the required scopes suffices (the default, and the existing product's meaning).
    #[default]
    Any,
    /// Every required scope must be granted.
    All,
}

impl ScopeMatch {
    /// Every variant, in wire order.
    pub const ALL: [ScopeMatch; 2] = [ScopeMatch::Any, ScopeMatch::All];

    /// The wire name (`any` / `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeMatch::Any => "any",
            ScopeMatch::All => "all",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_grammar_is_rfc_6749() {
        let allowed: Vec<u8> = (0..=255u8)
            .filter(|&b| is_scope_token(std::str::from_utf8(&[b]).unwrap_or(" ")))
            .collect();
        let expected: Vec<u8> = (0x21..=0x7E).filter(|&b| b != b'"' && b != b'\\').collect();
        assert_eq!(allowed, expected);
        assert!(!is_scope_token(""));
    }

    #[test]
    fn scope_match_names_round_trip_and_are_case_sensitive() {
        for m in ScopeMatch::ALL {
            assert_eq!(ScopeMatch::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(ScopeMatch::parse("ANY"), None);
    }
}
