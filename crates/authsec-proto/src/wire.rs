//! The console ⇄ SDK wire format: the documents both sides exchange, and their JSON Schemas
//! (the console's OpenAPI document is held to them).
//!
//! * `GET {console}/authsec/resource-servers/{id}/sdk-policy` → [`SdkPolicyDocument`];
//! * `PUT {console}/authsec/resource-servers/{id}/sdk-manifest` with a [`Manifest`] — the
//!   object `{"tools":[…],"prompts":[…],"resources":[…]}`, or the bare array of
//!   [`ManifestTool`]s older SDKs send — → [`ManifestOutcome`].
//!
//! Growing the format: a new kind of policy entry is a new entry type and a new list beside
//! `tool_policy`, `#[serde(default)]` so that documents from an older console still parse,
//! with its schema added to [`openapi_schemas`]. Readers ignore members they do not know, so
//! an older SDK keeps reading a newer console's documents. `prompt_policy` (prompts by name)
//! and `resource_policy` (resources by URI or URI template) grew this way: a console that
//! sends neither leaves every prompt and resource unmapped (denied), and an SDK that knows
//! only tools ignores them.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
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

/// One prompt of a manifest: an entry of an MCP `prompts/list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestPrompt {
    /// The MCP prompt name (compared byte for byte).
    pub name: String,
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MCP prompt arguments (`[{"name","description","required"}]`), kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// Scopes the developer suggests (an admin decides; a suggestion never overrides one).
    #[serde(default)]
    pub suggested_scopes: Vec<String>,
}

impl ManifestPrompt {
    /// A manifest entry from one prompt of an MCP `prompts/list` result; `None` without a
    /// string `name`. It suggests no scopes.
    pub fn from_mcp_prompt(prompt: &Value) -> Option<Self> {
        let text = |k: &str| prompt.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(ManifestPrompt {
            name: text("name")?,
            title: text("title"),
            description: text("description"),
            arguments: prompt.get("arguments").cloned(),
            suggested_scopes: Vec::new(),
        })
    }
}

/// One resource of a manifest: an entry of an MCP `resources/list` result (`uri`) or of a
/// `resources/templates/list` result (`uriTemplate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestResource {
    /// An exact resource URI, or a URI template (see [`crate::uri_template`]).
    pub uri: String,
    /// The MCP resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Media type (MCP's `mimeType` spelling is accepted too).
    #[serde(default, alias = "mimeType", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Scopes the developer suggests (an admin decides; a suggestion never overrides one).
    #[serde(default)]
    pub suggested_scopes: Vec<String>,
}

impl ManifestResource {
    /// A manifest entry from one item of an MCP `resources/list` (`uri`) or
    /// `resources/templates/list` (`uriTemplate`) result; `None` without a string URI. It
    /// suggests no scopes.
    pub fn from_mcp_resource(resource: &Value) -> Option<Self> {
        let text = |k: &str| resource.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(ManifestResource {
            uri: text("uri").or_else(|| text("uriTemplate"))?,
            name: text("name"),
            title: text("title"),
            description: text("description"),
            mime_type: text("mimeType"),
            suggested_scopes: Vec::new(),
        })
    }
}

/// A manifest (`PUT …/sdk-manifest`): the server's tools, prompts and resources. It is the
/// object `{"tools":[…],"prompts":[…],"resources":[…]}` (each list optional), or the bare
/// array of tools that older SDKs send, read as a manifest of tools alone. A manifest of tools
/// alone is written as that array, so a console that predates prompts and resources still
/// reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// Tools.
    pub tools: Vec<ManifestTool>,
    /// Prompts.
    pub prompts: Vec<ManifestPrompt>,
    /// Resources and resource templates.
    pub resources: Vec<ManifestResource>,
}

impl Manifest {
    /// True when it lists nothing.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.prompts.is_empty() && self.resources.is_empty()
    }
}

impl From<Vec<ManifestTool>> for Manifest {
    fn from(tools: Vec<ManifestTool>) -> Self {
        Manifest {
            tools,
            ..Manifest::default()
        }
    }
}

impl Serialize for Manifest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Object<'a> {
            tools: &'a [ManifestTool],
            prompts: &'a [ManifestPrompt],
            resources: &'a [ManifestResource],
        }
        if self.prompts.is_empty() && self.resources.is_empty() {
            return self.tools.serialize(s);
        }
        Object {
            tools: &self.tools,
            prompts: &self.prompts,
            resources: &self.resources,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Members it does not know are ignored (a newer SDK's), but an object without any of
        // these is not a manifest (a single tool sent without its array, say).
        #[derive(Deserialize)]
        struct Object {
            tools: Option<Vec<ManifestTool>>,
            prompts: Option<Vec<ManifestPrompt>>,
            resources: Option<Vec<ManifestResource>>,
        }
        match Value::deserialize(d)? {
            tools @ Value::Array(_) => Ok(Manifest::from(
                Vec::<ManifestTool>::deserialize(tools).map_err(D::Error::custom)?,
            )),
            object @ Value::Object(_) => {
                let o = Object::deserialize(object).map_err(D::Error::custom)?;
                if o.tools.is_none() && o.prompts.is_none() && o.resources.is_none() {
                    return Err(D::Error::custom(
                        "a manifest object has a \"tools\", \"prompts\" or \"resources\" list",
                    ));
                }
                Ok(Manifest {
                    tools: o.tools.unwrap_or_default(),
                    prompts: o.prompts.unwrap_or_default(),
                    resources: o.resources.unwrap_or_default(),
                })
            }
            _ => Err(D::Error::custom(
                "a manifest is an object {\"tools\",\"prompts\",\"resources\"} or an array of tools",
            )),
        }
    }
}

/// The console's answer to a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Prompts the console had not seen (they start unmapped).
    #[serde(default)]
    pub prompts_added: Vec<String>,
    /// Prompts whose title, description, arguments or suggestions changed.
    #[serde(default)]
    pub prompts_updated: Vec<String>,
    /// Resources (URIs or URI templates) the console had not seen (they start unmapped).
    #[serde(default)]
    pub resources_added: Vec<String>,
    /// Resources whose name, title, description, media type or suggestions changed.
    #[serde(default)]
    pub resources_updated: Vec<String>,
}

/// The OpenAPI 3.1 component schemas of the wire types, by name (`SdkPolicy`,
/// `ToolPolicyEntry`, `ResourcePolicyEntry`, `Manifest`, `ManifestTool`, `ManifestPrompt`,
/// `ManifestResource`, `ManifestOutcome`). They describe what the console sends
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
        "ManifestPrompt": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": { "type": "string" },
                "title": { "type": ["string", "null"] },
                "description": { "type": ["string", "null"] },
                "arguments": { "description": "The MCP prompt arguments, kept as given." },
                "suggested_scopes": strings
            }
        },
        "ManifestResource": {
            "type": "object",
            "required": ["uri"],
            "properties": {
                "uri": { "type": "string", "description": "An exact URI, or a URI template whose {name} matches one segment or part of one." },
                "name": { "type": ["string", "null"] },
                "title": { "type": ["string", "null"] },
                "description": { "type": ["string", "null"] },
                "mime_type": { "type": ["string", "null"], "description": "Media type (mimeType is accepted too)." },
                "suggested_scopes": strings
            }
        },
        "Manifest": {
            "description": "The server's inventory: an object whose lists are each optional, or (older SDKs) the bare array of tools.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "tools": { "type": "array", "items": { "$ref": "#/components/schemas/ManifestTool" } },
                        "prompts": { "type": "array", "items": { "$ref": "#/components/schemas/ManifestPrompt" } },
                        "resources": { "type": "array", "items": { "$ref": "#/components/schemas/ManifestResource" } }
                    }
                },
                { "type": "array", "items": { "$ref": "#/components/schemas/ManifestTool" } }
            ]
        },
        "ManifestOutcome": {
            "type": "object",
            "required": ["generation", "added", "updated", "unchanged", "prompts_added",
                         "prompts_updated", "resources_added", "resources_updated"],
            "properties": {
                "generation": { "type": "integer" },
                "added": strings,
                "updated": strings,
                "unchanged": { "type": "integer", "minimum": 0 },
                "prompts_added": strings,
                "prompts_updated": strings,
                "resources_added": strings,
                "resources_updated": strings
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
        let prompt = serde_json::to_value(full_prompt()).unwrap();
        assert_eq!(keys(&prompt), schema_keys("ManifestPrompt", "properties"));
        let resource = serde_json::to_value(full_resource()).unwrap();
        assert_eq!(
            keys(&resource),
            schema_keys("ManifestResource", "properties")
        );
        let manifest = serde_json::to_value(Manifest {
            tools: vec![],
            prompts: vec![full_prompt()],
            resources: vec![],
        })
        .unwrap();
        assert_eq!(
            keys(&manifest),
            keys(&openapi_schemas()["Manifest"]["oneOf"][0]["properties"])
        );
        let outcome = serde_json::to_value(ManifestOutcome {
            generation: 1,
            added: vec![],
            updated: vec![],
            unchanged: 0,
            prompts_added: vec![],
            prompts_updated: vec![],
            resources_added: vec![],
            resources_updated: vec![],
        })
        .unwrap();
        assert_eq!(keys(&outcome), schema_keys("ManifestOutcome", "properties"));
        assert_eq!(keys(&outcome), schema_keys("ManifestOutcome", "required"));
    }

    fn full_prompt() -> ManifestPrompt {
        ManifestPrompt {
            name: "p".into(),
            title: Some("P".into()),
            description: Some("d".into()),
            arguments: Some(json!([{"name": "topic", "required": true}])),
            suggested_scopes: vec!["s".into()],
        }
    }

    fn full_resource() -> ManifestResource {
        ManifestResource {
            uri: "notes://note/{id}".into(),
            name: Some("note".into()),
            title: Some("Note".into()),
            description: Some("d".into()),
            mime_type: Some("text/plain".into()),
            suggested_scopes: vec!["s".into()],
        }
    }

    #[test]
    fn a_bare_array_manifest_is_a_manifest_of_tools() {
        let m: Manifest = serde_json::from_value(json!([{"name": "t"}])).unwrap();
        assert_eq!(m.tools.len(), 1);
        assert_eq!(m.tools[0].name, "t");
        assert!(m.prompts.is_empty() && m.resources.is_empty());
    }

    #[test]
    fn an_object_manifest_has_optional_lists_and_round_trips() {
        let m: Manifest = serde_json::from_value(json!({
            "prompts": [{"name": "p"}],
            "resources": [{"uri": "notes://all", "mimeType": "text/plain"}]
        }))
        .unwrap();
        assert!(m.tools.is_empty());
        assert_eq!(m.prompts[0].name, "p");
        assert_eq!(m.resources[0].mime_type.as_deref(), Some("text/plain"));
        let full = Manifest {
            tools: vec![full_tool()],
            prompts: vec![full_prompt()],
            resources: vec![full_resource()],
        };
        let v = serde_json::to_value(&full).unwrap();
        assert_eq!(serde_json::from_value::<Manifest>(v).unwrap(), full);
        let tools_only = Manifest::from(vec![full_tool()]);
        assert_eq!(
            serde_json::to_value(&tools_only).unwrap(),
            json!([serde_json::to_value(full_tool()).unwrap()]),
            "a manifest of tools alone is the array every console reads"
        );
        let err = serde_json::from_value::<Manifest>(json!("tools")).unwrap_err();
        assert!(
            err.to_string().starts_with("a manifest is an object"),
            "{err}"
        );
        assert!(serde_json::from_value::<Manifest>(json!({"prompts": [{"title": "x"}]})).is_err());
        let err = serde_json::from_value::<Manifest>(json!({"name": "t"})).unwrap_err();
        assert!(
            err.to_string().starts_with("a manifest object has"),
            "{err}"
        );
    }

    #[test]
    fn mcp_prompts_and_resources_become_manifest_entries() {
        let p = ManifestPrompt::from_mcp_prompt(&json!({
            "name": "summarize_notes", "description": "Sum", "arguments": [{"name": "style"}]
        }))
        .unwrap();
        assert_eq!(p.name, "summarize_notes");
        assert_eq!(p.arguments, Some(json!([{"name": "style"}])));
        assert_eq!(
            ManifestPrompt::from_mcp_prompt(&json!({"title": "x"})),
            None
        );
        let r = ManifestResource::from_mcp_resource(&json!({
            "uri": "notes://all", "name": "all", "mimeType": "application/json"
        }))
        .unwrap();
        assert_eq!(r.uri, "notes://all");
        assert_eq!(r.mime_type.as_deref(), Some("application/json"));
        let t = ManifestResource::from_mcp_resource(&json!({
            "uriTemplate": "notes://note/{id}", "name": "note"
        }))
        .unwrap();
        assert_eq!(t.uri, "notes://note/{id}");
        assert_eq!(
            ManifestResource::from_mcp_resource(&json!({"name": "x"})),
            None
        );
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
