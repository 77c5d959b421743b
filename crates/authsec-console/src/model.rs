//! The console's data model and the rules computed from it: tool, prompt and resource states,
//! effective mappings, readiness, and the SDK policy document.
//!
//! Tools (by name), prompts (by name) and resources (by exact URI or URI template) follow the
//! same rules: an inventory from the manifests, admin decisions beside it, and one
//! [`effective_mapping`] per entry ([`entries`] computes them for any kind).
//!
//! Everything here is pure: the store loads rows, these functions decide. A reader finds a
//! rule by its name ([`effective_mapping`], [`readiness`], [`sdk_policy`]).
//!
//! # Readiness rules
//!
//! A resource server's policy is *complete* (`policy_complete = true`, state `ready`) unless one
//! of these holds, checked in this order; the first that holds is the `reason`:
//!
//! | reason | state | when |
//! |---|---|---|
//! | `rs_disabled` | `disabled` | an admin disabled the resource server (a kill switch) |
//! | `rs_needs_setup` | `needs_setup` | the resource server has no scopes defined |
//! | `no_tools_mapped` | `needs_setup` | no tool, prompt or resource is mapped or public (everything would be denied) |
//!
//! An incomplete policy denies every tool, prompt and resource in the SDK. Individual unmapped
//! entries in an otherwise complete policy are denied one by one (`tool_unmapped`,
//! `prompt_unmapped`, `resource_unmapped`); they do not make the policy incomplete.
//!
//! # Effective mapping
//!
//! An admin decision (mapped, public or unmapped) always wins. Without one, a tool's suggested
//! scopes apply only when the resource server has `auto_apply_suggestions` on, and then only the
//! suggested scopes that are defined on the resource server (any-of); otherwise the tool is
//! unmapped. Manifests only ever write the inventory, never a decision, so a manifest cannot
//! overwrite an admin decision.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use authsec_proto::wire::{
    ManifestPrompt, ManifestResource, ManifestTool, PromptPolicyEntry, ResourcePolicyEntry,
    SdkPolicyDocument, ToolPolicyEntry,
};
pub use authsec_proto::{is_scope_token, ScopeMatch};

/// What kind of MCP feature a policy entry protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A tool, by name (`tools/call`).
    Tool,
    /// A prompt, by name (`prompts/get`).
    Prompt,
    /// A resource, by exact URI or URI template (`resources/read`).
    Resource,
}

impl EntryKind {
    /// The singular noun (`tool`, `prompt`, `resource`): error kinds and audit actions.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Tool => "tool",
            EntryKind::Prompt => "prompt",
            EntryKind::Resource => "resource",
        }
    }

    /// The plural (`tools`, `prompts`, `resources`): list members and paths.
    pub fn plural(self) -> &'static str {
        match self {
            EntryKind::Tool => "tools",
            EntryKind::Prompt => "prompts",
            EntryKind::Resource => "resources",
        }
    }
}

/// A manifest entry of any kind: what the rules need to know about it.
pub trait ManifestEntry: Clone + PartialEq + Serialize + serde::de::DeserializeOwned {
    /// The kind.
    const KIND: EntryKind;
    /// The policy key: the tool or prompt name, or the resource URI / URI template.
    fn key(&self) -> &str;
    /// Scopes the developer suggests.
    fn suggested_scopes(&self) -> &[String];
    /// An entry known only by its key (no manifest lists it).
    fn named(key: &str) -> Self;
    /// Every entry of this kind of a resource server (see [`entries`]).
    fn entries(inputs: &PolicyInputs) -> Vec<Entry<Self>>;
}

impl ManifestEntry for ManifestTool {
    const KIND: EntryKind = EntryKind::Tool;
    fn key(&self) -> &str {
        &self.name
    }
    fn suggested_scopes(&self) -> &[String] {
        &self.suggested_scopes
    }
    fn named(key: &str) -> Self {
        ManifestTool {
            name: key.to_owned(),
            title: None,
            description: None,
            input_schema: None,
            annotations: None,
            suggested_scopes: Vec::new(),
        }
    }
    fn entries(inputs: &PolicyInputs) -> Vec<Entry<Self>> {
        entries(
            &inputs.server,
            &inputs.scopes,
            &inputs.inventory,
            &inputs.decisions,
        )
    }
}

impl ManifestEntry for ManifestPrompt {
    const KIND: EntryKind = EntryKind::Prompt;
    fn key(&self) -> &str {
        &self.name
    }
    fn suggested_scopes(&self) -> &[String] {
        &self.suggested_scopes
    }
    fn named(key: &str) -> Self {
        ManifestPrompt {
            name: key.to_owned(),
            title: None,
            description: None,
            arguments: None,
            suggested_scopes: Vec::new(),
        }
    }
    fn entries(inputs: &PolicyInputs) -> Vec<Entry<Self>> {
        let c = &inputs.prompts;
        entries(&inputs.server, &inputs.scopes, &c.inventory, &c.decisions)
    }
}

impl ManifestEntry for ManifestResource {
    const KIND: EntryKind = EntryKind::Resource;
    fn key(&self) -> &str {
        &self.uri
    }
    fn suggested_scopes(&self) -> &[String] {
        &self.suggested_scopes
    }
    fn named(key: &str) -> Self {
        ManifestResource {
            uri: key.to_owned(),
            name: None,
            title: None,
            description: None,
            mime_type: None,
            suggested_scopes: Vec::new(),
        }
    }
    fn entries(inputs: &PolicyInputs) -> Vec<Entry<Self>> {
        let c = &inputs.resources;
        entries(&inputs.server, &inputs.scopes, &c.inventory, &c.decisions)
    }
}

/// The state of one tool, prompt or resource, as the SDK will enforce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolState {
    /// Callers need the mapped scopes.
    Mapped,
    /// Any caller with a valid token may call it.
    Public,
    /// Denied to everyone (`tool_unmapped`).
    Unmapped,
}

impl ToolState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolState::Mapped => "mapped",
            ToolState::Public => "public",
            ToolState::Unmapped => "unmapped",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mapped" => Some(ToolState::Mapped),
            "public" => Some(ToolState::Public),
            "unmapped" => Some(ToolState::Unmapped),
            _ => None,
        }
    }
}

/// Where a tool's effective mapping comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingSource {
    /// An admin decided it (never overwritten by a manifest).
    Admin,
    /// The resource server's manifest suggested it (applied only with `auto_apply_suggestions`).
    Suggested,
}

/// An admin decision for one tool, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `mapped`, `public` or `unmapped`.
    pub state: ToolState,
    /// Required scopes (non-empty exactly when `state` is `mapped`).
    pub scopes: Vec<String>,
    /// How `scopes` are matched.
    pub scope_match: ScopeMatch,
    /// When the decision was last changed (Unix seconds).
    pub updated_at: i64,
}

/// A tool's effective mapping: what the SDK enforces and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Admin decision or applied suggestion.
    pub source: MappingSource,
    /// The resulting state.
    pub state: ToolState,
    /// Required scopes (empty unless mapped).
    pub scopes: Vec<String>,
    /// How `scopes` are matched.
    pub scope_match: ScopeMatch,
    /// When an admin last changed it (absent for suggestions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// An inventory row (what the manifests said about one tool, prompt or resource).
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryItem<M> {
    /// The manifest's view of the entry.
    pub manifest: M,
    /// First manifest that listed it (Unix seconds).
    pub first_seen: i64,
    /// Latest manifest that listed it (Unix seconds).
    pub last_seen: i64,
}

/// A tool inventory row.
pub type InventoryTool = InventoryItem<ManifestTool>;

/// A prompt or resource as the admin API shows it: the manifest's view, and the decision and
/// resulting state (the members of a [`Tool`] beyond its manifest entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry<M> {
    /// What the manifest said (or just the key, for an entry only an admin has named).
    #[serde(flatten)]
    pub manifest: M,
    /// First manifest that listed it; absent for entries only an admin has named.
    pub first_seen: Option<i64>,
    /// Latest manifest that listed it.
    pub last_seen: Option<i64>,
    /// Whether the most recent manifest listed it.
    pub in_latest_manifest: bool,
    /// The enforced state.
    pub state: ToolState,
    /// The effective mapping; absent when it is unmapped for want of any decision.
    pub mapping: Option<Mapping>,
}

/// A prompt (by name) with its state.
pub type Prompt = Entry<ManifestPrompt>;

/// A resource (by exact URI or URI template) with its state.
pub type Resource = Entry<ManifestResource>;

/// The inventory and admin decisions of one kind of entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog<M> {
    /// What the manifests listed.
    pub inventory: Vec<InventoryItem<M>>,
    /// Admin decisions by key.
    pub decisions: Vec<(String, Decision)>,
}

impl<M> Default for Catalog<M> {
    fn default() -> Self {
        Catalog {
            inventory: Vec::new(),
            decisions: Vec::new(),
        }
    }
}

/// A tool as the admin API shows it: inventory, decision and resulting state together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The MCP tool name.
    pub name: String,
    /// Display title (from the manifest).
    pub title: Option<String>,
    /// Description (from the manifest).
    pub description: Option<String>,
    /// Argument schema (from the manifest).
    pub input_schema: Option<Value>,
    /// MCP annotations (from the manifest).
    pub annotations: Option<Value>,
    /// Scopes suggested by the manifest.
    pub suggested_scopes: Vec<String>,
    /// First manifest that listed it; absent for tools only an admin has named.
    pub first_seen: Option<i64>,
    /// Latest manifest that listed it.
    pub last_seen: Option<i64>,
    /// Whether the most recent manifest listed it.
    pub in_latest_manifest: bool,
    /// The enforced state.
    pub state: ToolState,
    /// The effective mapping; absent when the tool is unmapped for want of any decision.
    pub mapping: Option<Mapping>,
}

impl Tool {
    /// A tool known only by name (no manifest lists it): unmapped until an admin maps it.
    pub fn unlisted(name: &str) -> Self {
        Entry::unlisted(name).into()
    }
}

impl<M: ManifestEntry> Entry<M> {
    /// An entry known only by its key: unmapped until an admin maps it.
    pub fn unlisted(key: &str) -> Self {
        Entry {
            manifest: M::named(key),
            first_seen: None,
            last_seen: None,
            in_latest_manifest: false,
            state: ToolState::Unmapped,
            mapping: None,
        }
    }

    /// The policy key (name, or URI / URI template).
    pub fn key(&self) -> &str {
        self.manifest.key()
    }
}

impl From<Entry<ManifestTool>> for Tool {
    fn from(e: Entry<ManifestTool>) -> Self {
        let m = e.manifest;
        Tool {
            name: m.name,
            title: m.title,
            description: m.description,
            input_schema: m.input_schema,
            annotations: m.annotations,
            suggested_scopes: m.suggested_scopes,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            in_latest_manifest: e.in_latest_manifest,
            state: e.state,
            mapping: e.mapping,
        }
    }
}

/// Why a policy is not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessReason {
    /// The resource server is disabled.
    RsDisabled,
    /// No scopes are defined.
    RsNeedsSetup,
    /// No tool, prompt or resource is mapped or public.
    NoToolsMapped,
}

impl ReadinessReason {
    /// Every reason, in the order the rules check them.
    pub const ALL: [ReadinessReason; 3] = [
        ReadinessReason::RsDisabled,
        ReadinessReason::RsNeedsSetup,
        ReadinessReason::NoToolsMapped,
    ];

    /// The wire name (the SDK's denial `reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReadinessReason::RsDisabled => "rs_disabled",
            ReadinessReason::RsNeedsSetup => "rs_needs_setup",
            ReadinessReason::NoToolsMapped => "no_tools_mapped",
        }
    }

    /// A sentence for people.
    pub fn description(self) -> &'static str {
        match self {
            ReadinessReason::RsDisabled => {
                "the resource server is disabled: every tool is denied until it is enabled"
            }
            ReadinessReason::RsNeedsSetup => {
                "the resource server has no scopes: define at least one scope and map tools to it"
            }
            ReadinessReason::NoToolsMapped => {
                "nothing is mapped or public: map at least one tool, prompt or resource (everything is denied until then)"
            }
        }
    }
}

/// The overall policy state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyState {
    /// The policy is complete.
    Ready,
    /// Setup is unfinished (see the reason).
    NeedsSetup,
    /// An admin disabled the resource server.
    Disabled,
}

impl PolicyState {
    /// Every state.
    pub const ALL: [PolicyState; 3] = [
        PolicyState::Ready,
        PolicyState::NeedsSetup,
        PolicyState::Disabled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyState::Ready => "ready",
            PolicyState::NeedsSetup => "needs_setup",
            PolicyState::Disabled => "disabled",
        }
    }
}

/// Readiness of a resource server's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready`, `needs_setup` or `disabled`.
    pub state: PolicyState,
    /// False denies every tool in the SDK.
    pub policy_complete: bool,
    /// Why it is not complete (absent when complete).
    pub reason: Option<ReadinessReason>,
}

/// Counts of tools (or prompts, or resources) per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCounts {
    /// Mapped entries.
    pub mapped: usize,
    /// Public entries.
    pub public: usize,
    /// Unmapped (denied) entries.
    pub unmapped: usize,
}

impl std::ops::Add for ToolCounts {
    type Output = ToolCounts;
    fn add(self, o: ToolCounts) -> ToolCounts {
        ToolCounts {
            mapped: self.mapped + o.mapped,
            public: self.public + o.public,
            unmapped: self.unmapped + o.unmapped,
        }
    }
}

/// A resource server's stored core fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerRow {
    /// `rs-` + 8 lowercase hex digits.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The resource URI (`aud` of its tokens).
    pub resource_uri: String,
    /// Disabled resource servers deny every tool.
    pub enabled: bool,
    /// Apply manifest suggestions when no admin decision exists.
    pub auto_apply_suggestions: bool,
    /// Bumped on every change to the resource server or anything under it.
    pub generation: i64,
    /// When the latest manifest arrived.
    pub last_manifest_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A resource server as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServer {
    /// `rs-` + 8 lowercase hex digits.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The resource URI (`aud` of its tokens).
    pub resource_uri: String,
    /// The client id of its credentials (SDK policy, manifest and introspection); the id itself.
    pub client_id: String,
    /// Disabled resource servers deny every tool.
    pub enabled: bool,
    /// Apply manifest suggestions when no admin decision exists.
    pub auto_apply_suggestions: bool,
    /// The policy generation.
    pub generation: i64,
    /// Policy readiness.
    pub readiness: Readiness,
    /// A sentence explaining `readiness.reason` (absent when ready).
    pub readiness_description: Option<String>,
    /// The scopes defined on it.
    pub scopes: Vec<String>,
    /// Tools per state.
    pub tool_counts: ToolCounts,
    /// Prompts per state.
    #[serde(default)]
    pub prompt_counts: ToolCounts,
    /// Resources per state.
    #[serde(default)]
    pub resource_counts: ToolCounts,
    /// When the latest manifest arrived.
    pub last_manifest_at: Option<i64>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

impl ResourceServer {
    /// Tools, prompts and resources per state, together (what readiness counts).
    pub fn entry_counts(&self) -> ToolCounts {
        self.tool_counts + self.prompt_counts + self.resource_counts
    }
}

/// A scope defined on a resource server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The scope string, e.g. `rs-525da3b4:tools:write` (compared byte for byte).
    pub name: String,
    /// What it grants, for people.
    pub description: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A machine client of the token service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// `cl-` + 16 lowercase hex digits.
    pub client_id: String,
    /// The resource server its tokens are for.
    pub resource_server_id: String,
    /// Display name.
    pub name: String,
    /// Scopes it may be granted.
    pub allowed_scopes: Vec<String>,
    /// A disabled client gets no tokens, and its tokens introspect as inactive.
    pub enabled: bool,
    /// How it authenticates at the token service.
    #[serde(default)]
    pub auth_method: ClientAuthMethod,
    /// Its public keys (`private_key_jwt` with an inline JWKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where its public keys are published (`private_key_jwt` with a JWKS URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// How a machine client authenticates at the token service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// A secret the console generated: `client_secret_basic` or `client_secret_post`.
    #[default]
    ClientSecret,
    /// An RFC 7523 assertion signed with a private key whose public key the console knows.
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecret => "client_secret",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ClientAuthMethod::ClientSecret,
            ClientAuthMethod::PrivateKeyJwt,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// The public keys of a `private_key_jwt` client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// A JWKS document, kept as given.
    Jwks(Value),
    /// A JWKS URL, fetched when the client authenticates.
    JwksUri(String),
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing id (the paging cursor).
    pub id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// Who: `admin`, `resource_server:<id>` or `client:<id>`.
    pub actor: String,
    /// What, e.g. `scope.created`, `mapping.set`, `manifest.applied`.
    pub action: String,
    /// The resource server concerned, if any.
    pub resource_server_id: Option<String>,
    /// The object concerned (a scope, tool, client id, key id…).
    pub target: Option<String>,
    /// The object before the change (absent on creation). Never contains secrets.
    pub before: Option<Value>,
    /// The object after the change (absent on deletion). Never contains secrets.
    pub after: Option<Value>,
}

/// Everything the rules need about one resource server.
#[derive(Debug, Clone)]
pub struct PolicyInputs {
    /// The resource server.
    pub server: ResourceServerRow,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// Its tool inventory.
    pub inventory: Vec<InventoryTool>,
    /// Admin decisions by tool name.
    pub decisions: Vec<(String, Decision)>,
    /// Its prompts.
    pub prompts: Catalog<ManifestPrompt>,
    /// Its resources.
    pub resources: Catalog<ManifestResource>,
}

/// The effective mapping of one tool (see the module docs).
pub fn effective_mapping(
    suggested_scopes: &[String],
    decision: Option<&Decision>,
    defined_scopes: &BTreeSet<&str>,
    auto_apply_suggestions: bool,
) -> Option<Mapping> {
    if let Some(d) = decision {
        return Some(Mapping {
            source: MappingSource::Admin,
            state: d.state,
            scopes: d.scopes.clone(),
            scope_match: d.scope_match,
            updated_at: Some(d.updated_at),
        });
    }
    if !auto_apply_suggestions {
        return None;
    }
    let mut seen = BTreeSet::new();
    let scopes: Vec<String> = suggested_scopes
        .iter()
        .filter(|s| defined_scopes.contains(s.as_str()) && seen.insert(s.as_str()))
        .cloned()
        .collect();
    if scopes.is_empty() {
        return None;
    }
    Some(Mapping {
        source: MappingSource::Suggested,
        state: ToolState::Mapped,
        scopes,
        scope_match: ScopeMatch::Any,
        updated_at: None,
    })
}

/// Every entry of one kind — inventory entries and entries only an admin has named — with its
/// effective mapping, sorted by key.
pub fn entries<M: ManifestEntry>(
    server: &ResourceServerRow,
    scopes: &[Scope],
    inventory: &[InventoryItem<M>],
    decisions: &[(String, Decision)],
) -> Vec<Entry<M>> {
    let defined: BTreeSet<&str> = scopes.iter().map(|s| s.name.as_str()).collect();
    let auto = server.auto_apply_suggestions;
    let latest = server.last_manifest_at;
    // By key, so a server with thousands of entries is not quadratic.
    let by_key: BTreeMap<&str, &Decision> =
        decisions.iter().map(|(n, d)| (n.as_str(), d)).collect();
    let mut out: Vec<Entry<M>> = inventory
        .iter()
        .map(|t| {
            let m = &t.manifest;
            let mapping = effective_mapping(
                m.suggested_scopes(),
                by_key.get(m.key()).copied(),
                &defined,
                auto,
            );
            Entry {
                manifest: m.clone(),
                first_seen: Some(t.first_seen),
                last_seen: Some(t.last_seen),
                in_latest_manifest: latest == Some(t.last_seen),
                state: mapping.as_ref().map_or(ToolState::Unmapped, |m| m.state),
                mapping,
            }
        })
        .collect();
    let listed: BTreeSet<&str> = inventory.iter().map(|t| t.manifest.key()).collect();
    for (key, d) in decisions {
        if listed.contains(key.as_str()) {
            continue;
        }
        out.push(Entry {
            state: d.state,
            mapping: effective_mapping(&[], Some(d), &defined, auto),
            ..Entry::unlisted(key)
        });
    }
    out.sort_by(|a, b| a.key().cmp(b.key()));
    out
}

/// Every tool of a resource server (see [`entries`]).
pub fn tools(inputs: &PolicyInputs) -> Vec<Tool> {
    ManifestTool::entries(inputs)
        .into_iter()
        .map(Tool::from)
        .collect()
}

/// Every prompt of a resource server (see [`entries`]).
pub fn prompts(inputs: &PolicyInputs) -> Vec<Prompt> {
    ManifestPrompt::entries(inputs)
}

/// Every resource of a resource server (see [`entries`]).
pub fn resources(inputs: &PolicyInputs) -> Vec<Resource> {
    ManifestResource::entries(inputs)
}

/// Entries per state.
pub fn counts(states: impl IntoIterator<Item = ToolState>) -> ToolCounts {
    let mut c = ToolCounts::default();
    for s in states {
        match s {
            ToolState::Mapped => c.mapped += 1,
            ToolState::Public => c.public += 1,
            ToolState::Unmapped => c.unmapped += 1,
        }
    }
    c
}

/// Tools per state.
pub fn tool_counts(tools: &[Tool]) -> ToolCounts {
    counts(tools.iter().map(|t| t.state))
}

/// Every readiness rule, in the order [`readiness`] checks them, with whether it is met: the
/// web console's launch checklist shows all of them, the first unmet one is the `reason`.
/// `counts` are the tools, prompts and resources together ([`ResourceServer::entry_counts`]).
pub fn readiness_checks(
    server: &ResourceServerRow,
    scope_count: usize,
    counts: ToolCounts,
) -> [(ReadinessReason, bool); 3] {
    [
        (ReadinessReason::RsDisabled, server.enabled),
        (ReadinessReason::RsNeedsSetup, scope_count > 0),
        (
            ReadinessReason::NoToolsMapped,
            counts.mapped + counts.public > 0,
        ),
    ]
}

/// The readiness rules (see the module docs).
pub fn readiness(server: &ResourceServerRow, scope_count: usize, counts: ToolCounts) -> Readiness {
    let reason = readiness_checks(server, scope_count, counts)
        .into_iter()
        .find(|(_, met)| !met)
        .map(|(reason, _)| reason);
    let state = match reason {
        None => PolicyState::Ready,
        Some(ReadinessReason::RsDisabled) => PolicyState::Disabled,
        Some(_) => PolicyState::NeedsSetup,
    };
    Readiness {
        state,
        policy_complete: reason.is_none(),
        reason,
    }
}

/// The admin view of a resource server.
pub fn resource_server_view(inputs: &PolicyInputs) -> ResourceServer {
    resource_server_view_of(inputs, &tools(inputs))
}

/// The admin view of a resource server whose [`tools`] are already computed.
pub fn resource_server_view_of(inputs: &PolicyInputs, tools: &[Tool]) -> ResourceServer {
    let counts = tool_counts(tools);
    let prompt_counts = self::counts(prompts(inputs).iter().map(|p| p.state));
    let resource_counts = self::counts(resources(inputs).iter().map(|r| r.state));
    let s = &inputs.server;
    let readiness = readiness(
        s,
        inputs.scopes.len(),
        counts + prompt_counts + resource_counts,
    );
    ResourceServer {
        id: s.id.clone(),
        name: s.name.clone(),
        resource_uri: s.resource_uri.clone(),
        client_id: s.id.clone(),
        enabled: s.enabled,
        auto_apply_suggestions: s.auto_apply_suggestions,
        generation: s.generation,
        readiness,
        readiness_description: readiness.reason.map(|r| r.description().to_owned()),
        scopes: inputs.scopes.iter().map(|s| s.name.clone()).collect(),
        tool_counts: counts,
        prompt_counts,
        resource_counts,
        last_manifest_at: s.last_manifest_at,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// The policy entry of a mapping (`None` for unmapped: absent = denied).
fn policy_entry(name: String, mapping: Option<Mapping>) -> Option<ToolPolicyEntry> {
    let m = mapping?;
    match m.state {
        ToolState::Unmapped => None,
        ToolState::Public => Some(ToolPolicyEntry {
            name,
            is_public: true,
            required_scopes: Vec::new(),
            scope_match: ScopeMatch::Any,
        }),
        ToolState::Mapped => Some(ToolPolicyEntry {
            name,
            is_public: false,
            required_scopes: m.scopes,
            scope_match: m.scope_match,
        }),
    }
}

/// The SDK policy document. Unmapped tools, prompts and resources are left out (absent =
/// denied); `prompt_policy` and `resource_policy` are omitted when empty, so an SDK that knows
/// only tools sees no change. An incomplete policy still lists its mappings, but the SDK
/// denies everything while `policy_complete` is false.
pub fn sdk_policy(inputs: &PolicyInputs) -> SdkPolicyDocument {
    let tools = tools(inputs);
    let prompts = prompts(inputs);
    let resources = resources(inputs);
    let all = tool_counts(&tools)
        + counts(prompts.iter().map(|p| p.state))
        + counts(resources.iter().map(|r| r.state));
    let readiness = readiness(&inputs.server, inputs.scopes.len(), all);
    SdkPolicyDocument {
        state: Some(readiness.state.as_str().to_owned()),
        policy_complete: readiness.policy_complete,
        reason: readiness.reason.map(|r| r.as_str().to_owned()),
        generation: inputs.server.generation,
        scopes_supported: inputs.scopes.iter().map(|s| s.name.clone()).collect(),
        tool_policy: tools
            .into_iter()
            .filter_map(|t| policy_entry(t.name, t.mapping))
            .collect(),
        prompt_policy: prompts
            .into_iter()
            .filter_map(|p| policy_entry(p.manifest.name, p.mapping))
            .collect(),
        resource_policy: resources
            .into_iter()
            .filter_map(|r| policy_entry(r.manifest.uri, r.mapping))
            .map(|e| ResourcePolicyEntry {
                uri: e.name,
                is_public: e.is_public,
                required_scopes: e.required_scopes,
                scope_match: e.scope_match,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(enabled: bool, auto: bool) -> ResourceServerRow {
        ResourceServerRow {
            id: "rs-525da3b4".into(),
            name: "notes".into(),
            resource_uri: "https://mcp.example.com/mcp".into(),
            enabled,
            auto_apply_suggestions: auto,
            generation: 7,
            last_manifest_at: Some(100),
            created_at: 1,
            updated_at: 2,
        }
    }

    fn scope(name: &str) -> Scope {
        Scope {
            name: name.into(),
            description: String::new(),
            created_at: 1,
            updated_at: 1,
        }
    }

    fn inv(name: &str, suggested: &[&str], last_seen: i64) -> InventoryTool {
        InventoryTool {
            manifest: ManifestTool {
                name: name.into(),
                title: None,
                description: None,
                input_schema: None,
                annotations: None,
                suggested_scopes: suggested.iter().map(|s| s.to_string()).collect(),
            },
            first_seen: 50,
            last_seen,
        }
    }

    fn decision(state: ToolState, scopes: &[&str], m: ScopeMatch) -> Decision {
        Decision {
            state,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scope_match: m,
            updated_at: 60,
        }
    }

    #[test]
    fn no_scopes_means_rs_needs_setup() {
        let r = readiness(&server(true, false), 0, ToolCounts::default());
        assert_eq!(r.state, PolicyState::NeedsSetup);
        assert!(!r.policy_complete);
        assert_eq!(r.reason, Some(ReadinessReason::RsNeedsSetup));
    }

    #[test]
    fn scopes_but_no_mapped_tool_is_incomplete() {
        let counts = ToolCounts {
            unmapped: 3,
            ..Default::default()
        };
        let r = readiness(&server(true, false), 2, counts);
        assert_eq!(r.reason, Some(ReadinessReason::NoToolsMapped));
        assert!(!r.policy_complete);
    }

    #[test]
    fn one_public_tool_and_a_scope_is_ready() {
        let counts = ToolCounts {
            public: 1,
            unmapped: 5,
            ..Default::default()
        };
        let r = readiness(&server(true, false), 1, counts);
        assert_eq!(
            r,
            Readiness {
                state: PolicyState::Ready,
                policy_complete: true,
                reason: None
            }
        );
    }

    #[test]
    fn disabled_wins_over_everything() {
        let counts = ToolCounts {
            mapped: 1,
            ..Default::default()
        };
        let r = readiness(&server(false, false), 1, counts);
        assert_eq!(r.state, PolicyState::Disabled);
        assert_eq!(r.reason, Some(ReadinessReason::RsDisabled));
    }

    #[test]
    fn suggestions_are_ignored_unless_auto_apply_is_on() {
        let defined: BTreeSet<&str> = ["a:read"].into_iter().collect();
        let suggested = vec!["a:read".to_string()];
        assert_eq!(effective_mapping(&suggested, None, &defined, false), None);
        let m = effective_mapping(&suggested, None, &defined, true).unwrap();
        assert_eq!(m.source, MappingSource::Suggested);
        assert_eq!(m.scopes, ["a:read"]);
    }

    #[test]
    fn suggested_scopes_that_are_not_defined_are_dropped() {
        let defined: BTreeSet<&str> = ["a:read"].into_iter().collect();
        let suggested = vec!["a:Read".to_string(), "b:write".to_string()];
        assert_eq!(effective_mapping(&suggested, None, &defined, true), None);
    }

    #[test]
    fn admin_decision_beats_suggestion() {
        let defined: BTreeSet<&str> = ["a:read", "a:write"].into_iter().collect();
        let suggested = vec!["a:read".to_string()];
        let d = decision(ToolState::Unmapped, &[], ScopeMatch::Any);
        let m = effective_mapping(&suggested, Some(&d), &defined, true).unwrap();
        assert_eq!(m.source, MappingSource::Admin);
        assert_eq!(m.state, ToolState::Unmapped);
    }

    #[test]
    fn sdk_policy_lists_mapped_and_public_tools_only() {
        let inputs = PolicyInputs {
            server: server(true, false),
            scopes: vec![
                scope("rs-525da3b4:tools:read"),
                scope("rs-525da3b4:tools:write"),
            ],
            inventory: vec![
                inv("list_notes", &[], 100),
                inv("delete_note", &[], 90),
                inv("ping", &[], 100),
            ],
            decisions: vec![
                (
                    "list_notes".into(),
                    decision(
                        ToolState::Mapped,
                        &["rs-525da3b4:tools:read", "rs-525da3b4:tools:write"],
                        ScopeMatch::All,
                    ),
                ),
                (
                    "ping".into(),
                    decision(ToolState::Public, &[], ScopeMatch::Any),
                ),
            ],
            prompts: Catalog::default(),
            resources: Catalog::default(),
        };
        let p = sdk_policy(&inputs);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({
                "state": "ready", "policy_complete": true, "reason": null, "generation": 7,
                "scopes_supported": ["rs-525da3b4:tools:read", "rs-525da3b4:tools:write"],
                "tool_policy": [
                    {"name": "list_notes", "is_public": false,
                     "required_scopes": ["rs-525da3b4:tools:read", "rs-525da3b4:tools:write"],
                     "scope_match": "all"},
                    {"name": "ping", "is_public": true, "required_scopes": [], "scope_match": "any"}
                ]
            })
        );
        let t = tools(&inputs);
        let delete = t.iter().find(|t| t.name == "delete_note").unwrap();
        assert_eq!(delete.state, ToolState::Unmapped);
        assert!(!delete.in_latest_manifest);
    }

    #[test]
    fn a_tool_named_only_by_an_admin_is_listed() {
        let inputs = PolicyInputs {
            server: server(true, false),
            scopes: vec![scope("s")],
            inventory: vec![],
            decisions: vec![(
                "future_tool".into(),
                decision(ToolState::Mapped, &["s"], ScopeMatch::Any),
            )],
            prompts: Catalog::default(),
            resources: Catalog::default(),
        };
        let t = tools(&inputs);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].state, ToolState::Mapped);
        assert_eq!(t[0].first_seen, None);
    }

    fn item<M>(manifest: M) -> InventoryItem<M> {
        InventoryItem {
            manifest,
            first_seen: 50,
            last_seen: 100,
        }
    }

    #[test]
    fn mapped_and_public_prompts_and_resources_are_in_the_sdk_policy_unmapped_ones_are_not() {
        let mut summarize = ManifestPrompt::named("summarize_notes");
        summarize.description = Some("Summarise".into());
        let inputs = PolicyInputs {
            server: server(true, false),
            scopes: vec![scope("notes:read")],
            inventory: vec![],
            decisions: vec![],
            prompts: Catalog {
                inventory: vec![item(summarize), item(ManifestPrompt::named("draft"))],
                decisions: vec![(
                    "summarize_notes".into(),
                    decision(ToolState::Mapped, &["notes:read"], ScopeMatch::Any),
                )],
            },
            resources: Catalog {
                inventory: vec![
                    item(ManifestResource::named("notes://all")),
                    item(ManifestResource::named("notes://note/{id}")),
                ],
                decisions: vec![(
                    "notes://note/{id}".into(),
                    decision(ToolState::Public, &[], ScopeMatch::Any),
                )],
            },
        };
        let p = serde_json::to_value(sdk_policy(&inputs)).unwrap();
        assert_eq!(p["policy_complete"], true, "a mapped prompt is enough");
        assert_eq!(p["tool_policy"], serde_json::json!([]));
        assert_eq!(
            p["prompt_policy"],
            serde_json::json!([{"name": "summarize_notes", "is_public": false,
                                "required_scopes": ["notes:read"], "scope_match": "any"}])
        );
        assert_eq!(
            p["resource_policy"],
            serde_json::json!([{"uri": "notes://note/{id}", "is_public": true,
                                "required_scopes": [], "scope_match": "any"}])
        );
        let view = resource_server_view(&inputs);
        assert_eq!(
            (view.prompt_counts, view.resource_counts),
            (
                ToolCounts {
                    mapped: 1,
                    public: 0,
                    unmapped: 1
                },
                ToolCounts {
                    mapped: 0,
                    public: 1,
                    unmapped: 1
                }
            )
        );
        let prompts = prompts(&inputs);
        assert_eq!(prompts[0].key(), "draft");
        assert_eq!(prompts[0].state, ToolState::Unmapped);
        assert_eq!(
            serde_json::to_value(&prompts[1]).unwrap()["description"],
            "Summarise"
        );
    }
}
