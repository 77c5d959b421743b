//! The console ⇄ SDK wire format: the documents both sides exchange, and their JSON Schemas
//! (the console's OpenAPI document is held to them).
//!
//! * `GET {console}/authsec/resource-servers/{id}/sdk-policy` → [`SdkPolicyDocument`];
//! * `PUT {console}/authsec/resource-servers/{id}/sdk-manifest` with `[`[`ManifestTool`]`]`
//!   → [`ManifestOutcome`].
//!
//! Growing the format: a new kind of policy entry is a new entry type and a new list beside
//! `tool_policy`, `#[serde(default)]` so that documents from an older console still parse,
//! with its schema added to [`openapi_schemas`]. Readers ignore members they do not know, so
//! an older SDK keeps reading a newer console's documents. `prompt_policy` (prompts by name)
//! and `resource_policy` (resources by URI or URI template) grew this way: a console that
//! sends neither leaves every prompt and resource unmapped (denied), and an SDK that knows
//! only tools ignores them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::scope::ScopeMatch;

/// The `GET …/sdk-policy` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkPolicyDocument {
    /// `ready`, `needs_setup` or `disabled` (a string, so a newer console's states still parse).
    #[serde(default)]
    pub state: Option<String>,
    /// False denies every tool.
    pub policy_complete: bool,
    /// Why the policy is incomplete (`null` when complete), e.g. `rs_needs_setup`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Bumped on every change; a reader never installs a lower one than it holds.
    pub generation: i64,
    /// The resource server's scopes.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Mapped and public tools; a tool absent here is unmapped (denied to everyone).
    pub tool_policy: Vec<ToolPolicyEntry>,
    /// Mapped and public prompts; a prompt absent here is unmapped. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_policy: Vec<PromptPolicyEntry>,
    /// Mapped and public resources, by URI or URI template; a resource no entry covers is
    /// unmapped. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_policy: Vec<ResourcePolicyEntry>,
}

/// One entry of [`SdkPolicyDocument::prompt_policy`]: a prompt by name, with the members of a
/// [`ToolPolicyEntry`].
pub type PromptPolicyEntry = ToolPolicyEntry;

/// One entry of [`SdkPolicyDocument::resource_policy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePolicyEntry {
    /// An exact resource URI (compared byte for byte), or a URI template such as
    /// `notes://note/{id}` (`{name}` matches a non-empty run of characters other than `/`,
    /// `?` and `#`).
    pub uri: String,
    /// Any valid token may read a public resource.
    pub is_public: bool,
    /// Required scopes (empty exactly when public).
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// `any` (the default) or `all`.
    #[serde(default)]
    pub scope_match: ScopeMatch,
}

/// One entry of [`SdkPolicyDocument::tool_policy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPolicyEntry {
    /// The tool name (compared byte for byte).
    pub name: String,
    /// Any valid token may call a public tool.
    pub is_public: bool,
    /// Required scopes (empty exactly when public).
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// `any` (the default) or `all`.
    #[serde(default)]
    pub scope_match: ScopeMatch,
}

/// One tool of a manifest (`PUT …/sdk-manifest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestTool {
    /// The MCP tool name (compared byte for byte).
    pub name: String,
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments (MCP's `inputSchema` spelling is accepted too).
    #[serde(
        default,
        alias = "inputSchema",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_schema: Option<Value>,
    /// MCP tool annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    /// Scopes the developer suggests (an admin decides; a suggestion never overrides one).
    #[serde(default)]
    pub suggested_scopes: Vec<String>,
}

impl ManifestTool {
    /// A manifest entry from one tool of an MCP `tools/list` result (`name`, `title` — else
    /// `annotations.title` —, `description`, `inputSchema`, `annotations`); `None` without a
    /// string `name`. It suggests no scopes.
    pub fn from_mcp_tool(tool: &Value) -> Option<Self> {
        let name = tool.get("name")?.as_str()?.to_owned();
        let text = |k: &str| tool.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(ManifestTool {
            title: text("title").or_else(|| {
                tool.pointer("/annotations/title")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            description: text("description"),
            input_schema: tool.get("inputSchema").cloned(),
            annotations: tool.get("annotations").cloned(),
            suggested_scopes: Vec::new(),
            name,
        })
    }
}

/// The console's answer to a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOutcome {
    /// The policy generation afterwards (unchanged if nothing changed).
    pub generation: i64,
    /// Tools the console had not seen (they start unmapped: denied until an admin maps them).
    #[serde(default)]
    pub added: Vec<String>,
    /// Tools whose title, description, schema, annotations or suggestions changed.
    #[serde(default)]
    pub updated: Vec<String>,
    /// Tools listed again without change.
    #[serde(default)]
    pub unchanged: usize,
}

/// The OpenAPI 3.1 component schemas of the wire types, by name (`SdkPolicy`,
/// `ToolPolicyEntry`, `ResourcePolicyEntry`, `ManifestTool`, `ManifestOutcome`). They describe what the console sends
/// and accepts; this crate's tests hold them to the serde form of the types.
pub fn openapi_schemas() -> Map<String, Value> {
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let schemas = json!({
        "ToolPolicyEntry": {
            "type": "object",
            "required": ["name", "is_public", "required_scopes", "scope_match"],
            "properties": {
                "name": { "type": "string" },
                "is_public": { "type": "boolean" },
                "required_scopes": strings,
                "scope_match": {
                    "type": "string",
                    "enum": ScopeMatch::ALL.map(ScopeMatch::as_str),
                    "default": ScopeMatch::default().as_str()
                }
            }
        },
        "ResourcePolicyEntry": {
            "type": "object",
            "required": ["uri", "is_public", "required_scopes", "scope_match"],
            "properties": {
                "uri": { "type": "string", "description": "An exact URI, or a URI template whose {name} matches one segment or part of one." },
                "is_public": { "type": "boolean" },
                "required_scopes": strings,
                "scope_match": {
                    "type": "string",
                    "enum": ScopeMatch::ALL.map(ScopeMatch::as_str),
                    "default": ScopeMatch::default().as_str()
                }
            }
        },
        "SdkPolicy": {
            "type": "object",
            "description": "The console ⇄ SDK wire format. Unmapped tools, prompts and resources are absent (absent = denied); prompt_policy and resource_policy are omitted when empty.",
            "required": ["state", "policy_complete", "reason", "generation", "scopes_supported", "tool_policy"],
            "properties": {
                "state": { "type": "string", "enum": ["ready", "needs_setup", "disabled"] },
                "policy_complete": { "type": "boolean" },
                "reason": {
                    "type": ["string", "null"],
                    "enum": ["rs_disabled", "rs_needs_setup", "no_tools_mapped", null]
                },
                "generation": { "type": "integer" },
                "scopes_supported": strings,
                "tool_policy": {
                    "type": "array",
                    "items": { "$ref": "#/components/schemas/ToolPolicyEntry" }
                },
                "prompt_policy": {
                    "type": "array",
                    "description": "Prompts by name; entries have the members of a ToolPolicyEntry.",
                    "items": { "$ref": "#/components/schemas/ToolPolicyEntry" }
                },
                "resource_policy": {
                    "type": "array",
                    "items": { "$ref": "#/components/schemas/ResourcePolicyEntry" }
                }
            }
        },
        "ManifestTool": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": { "type": "string" },
                "title": { "type": ["string", "null"] },
                "description": { "type": ["string", "null"] },
                "input_schema": { "description": "JSON Schema of the arguments (inputSchema is accepted too)." },
                "annotations": { "description": "MCP tool annotations." },
                "suggested_scopes": strings
            }
        },
        "ManifestOutcome": {
            "type": "object",
            "required": ["generation", "added", "updated", "unchanged"],
            "properties": {
                "generation": { "type": "integer" },
                "added": strings,
                "updated": strings,
                "unchanged": { "type": "integer", "minimum": 0 }
            }
        }
    });
    match schemas {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn schema_keys(name: &str, member: &str) -> Vec<String> {
        let schemas = openapi_schemas();
        let s = &schemas[name][member];
        let mut k: Vec<String> = match s {
            Value::Object(m) => m.keys().cloned().collect(),
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            _ => Vec::new(),
        };
        k.sort();
        k
    }

    fn full_policy() -> SdkPolicyDocument {
        SdkPolicyDocument {
            state: Some("ready".into()),
            policy_complete: true,
            reason: None,
            generation: 3,
            scopes_supported: vec!["s".into()],
            tool_policy: vec![ToolPolicyEntry {
                name: "t".into(),
                is_public: false,
                required_scopes: vec!["s".into()],
                scope_match: ScopeMatch::All,
            }],
            prompt_policy: vec![ToolPolicyEntry {
                name: "p".into(),
                is_public: true,
                required_scopes: vec![],
                scope_match: ScopeMatch::Any,
            }],
            resource_policy: vec![ResourcePolicyEntry {
                uri: "notes://note/{id}".into(),
                is_public: false,
                required_scopes: vec!["s".into()],
                scope_match: ScopeMatch::Any,
            }],
        }
    }

    fn full_tool() -> ManifestTool {
        ManifestTool {
            name: "t".into(),
            title: Some("T".into()),
            description: Some("d".into()),
            input_schema: Some(json!({"type": "object"})),
            annotations: Some(json!({"readOnlyHint": true})),
            suggested_scopes: vec!["s".into()],
        }
    }

    #[test]
    fn each_schema_names_exactly_the_members_its_type_serialises() {
        let policy = serde_json::to_value(full_policy()).unwrap();
        assert_eq!(keys(&policy), schema_keys("SdkPolicy", "properties"));
        let mut required = keys(&policy);
        required.retain(|k| k != "prompt_policy" && k != "resource_policy");
        assert_eq!(required, schema_keys("SdkPolicy", "required"));
        for (list, schema) in [
            ("tool_policy", "ToolPolicyEntry"),
            ("prompt_policy", "ToolPolicyEntry"),
            ("resource_policy", "ResourcePolicyEntry"),
        ] {
            let entry = &policy[list][0];
            assert_eq!(keys(entry), schema_keys(schema, "properties"), "{list}");
            assert_eq!(keys(entry), schema_keys(schema, "required"), "{list}");
        }
        let tool = serde_json::to_value(full_tool()).unwrap();
        assert_eq!(keys(&tool), schema_keys("ManifestTool", "properties"));
        let outcome = serde_json::to_value(ManifestOutcome {
            generation: 1,
            added: vec![],
            updated: vec![],
            unchanged: 0,
        })
        .unwrap();
        assert_eq!(keys(&outcome), schema_keys("ManifestOutcome", "properties"));
        assert_eq!(keys(&outcome), schema_keys("ManifestOutcome", "required"));
    }

    #[test]
    fn a_manifest_tool_needs_only_its_name_and_omits_what_it_lacks() {
        let minimal: ManifestTool = serde_json::from_value(json!({"name": "t"})).unwrap();
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"name": "t", "suggested_scopes": []})
        );
        assert_eq!(schema_keys("ManifestTool", "required"), ["name"]);
        assert!(serde_json::from_value::<ManifestTool>(json!({"title": "T"})).is_err());
    }

    #[test]
    fn a_manifest_tool_accepts_the_mcp_spelling_of_input_schema() {
        let t: ManifestTool =
            serde_json::from_value(json!({"name": "t", "inputSchema": {"type": "object"}}))
                .unwrap();
        assert_eq!(t.input_schema, Some(json!({"type": "object"})));
        assert_eq!(
            serde_json::to_value(&t).unwrap()["input_schema"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn a_policy_without_the_optional_members_parses_with_their_defaults() {
        let doc: SdkPolicyDocument = serde_json::from_value(json!({
            "policy_complete": true, "generation": 1,
            "tool_policy": [{"name": "t", "is_public": true}],
            "workflow_policy": [{"name": "p"}]
        }))
        .unwrap();
        assert_eq!(doc.prompt_policy, Vec::new());
        assert_eq!(doc.resource_policy, Vec::new());
        assert_eq!(doc.state, None);
        assert_eq!(doc.scopes_supported, Vec::<String>::new());
        assert_eq!(doc.tool_policy[0].scope_match, ScopeMatch::Any);
        assert_eq!(doc.tool_policy[0].required_scopes, Vec::<String>::new());
        for required in ["policy_complete", "generation", "tool_policy"] {
            let mut v = serde_json::to_value(full_policy()).unwrap();
            v.as_object_mut().unwrap().remove(required);
            assert!(
                serde_json::from_value::<SdkPolicyDocument>(v).is_err(),
                "{required}"
            );
        }
    }

    #[test]
    fn empty_prompt_and_resource_lists_are_omitted_so_older_documents_are_unchanged() {
        let mut doc = full_policy();
        doc.prompt_policy.clear();
        doc.resource_policy.clear();
        let v = serde_json::to_value(&doc).unwrap();
        assert_eq!(v.get("prompt_policy"), None);
        assert_eq!(v.get("resource_policy"), None);
        let resource: ResourcePolicyEntry =
            serde_json::from_value(json!({"uri": "notes://all", "is_public": false,
                                          "required_scopes": ["notes:read"]}))
            .unwrap();
        assert_eq!(resource.scope_match, ScopeMatch::Any);
    }

    #[test]
    fn scope_match_values_in_the_schema_are_the_variants() {
        assert_eq!(
            openapi_schemas()["ToolPolicyEntry"]["properties"]["scope_match"]["enum"],
            json!(["any", "all"])
        );
    }

    #[test]
    fn mcp_tools_become_manifest_entries() {
        let t = ManifestTool::from_mcp_tool(&json!({
            "name": "add", "annotations": {"title": "Add"}, "inputSchema": {"type": "object"}
        }))
        .unwrap();
        assert_eq!(t.title.as_deref(), Some("Add"));
        assert_eq!(t.input_schema, Some(json!({"type": "object"})));
        assert_eq!(ManifestTool::from_mcp_tool(&json!({"name": 1})), None);
    }
}
