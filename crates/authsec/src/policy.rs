//! Tool, prompt and resource → scope policy.
//!
//! A request targets a [`Target`]: a tool (`tools/call`, by name), a prompt (`prompts/get`,
//! by name) or a resource (`resources/read`, `resources/subscribe` and the
//! `resourceSubscriptions` of `subscriptions/listen`, by URI). Every target is in one of
//! three states: unmapped (denied to everyone: `tool_unmapped`, `prompt_unmapped`,
//! `resource_unmapped`), public (`[]`), or scoped (any one of, or all of, a list of scopes).
//! Scopes are compared byte for byte — never case-folded or normalised. Resources are keyed
//! by exact URI or by URI template ([`ResourcePolicy`], [`UriTemplate`]).
//!
//! Where the rules come from is the policy mode: the local maps ([`ToolPolicy`] for tools and
//! prompts, [`ResourcePolicy`]; from `AUTHSEC_TOOL_SCOPES_JSON`, `AUTHSEC_PROMPT_SCOPES_JSON`
//! and `AUTHSEC_RESOURCE_SCOPES_JSON`), or the console's policy ([`ConsolePolicy`], kept fresh
//! by [`remote::RemotePolicy`]). [`PolicyView::select`] picks one per request and
//! [`PolicyView::decide_target`] decides with it.

#[cfg(feature = "remote-policy")]
pub mod remote;
mod resource;

pub use authsec_proto::uri_template::ResourceKeyError;
pub use resource::{ResourcePolicy, UriTemplate};

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{AuthError, ScopeMatch};
use crate::principal::Principal;

/// What kind of thing a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A tool, by name (`tools/call`).
    Tool,
    /// A prompt, by name (`prompts/get`).
    Prompt,
    /// A resource, by URI (`resources/read`, subscriptions).
    Resource,
}

impl TargetKind {
    /// `tool`, `prompt` or `resource`: the member naming the target in denial bodies, and the
    /// prefix of its `…_unmapped` reason.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Tool => "tool",
            TargetKind::Prompt => "prompt",
            TargetKind::Resource => "resource",
        }
    }
}

/// What one request uses, and is decided on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Tool, prompt or resource.
    pub kind: TargetKind,
    /// The tool or prompt name, or the resource URI (as sent).
    pub name: String,
}

impl Target {
    /// A target of `kind` named `name`.
    pub fn new(kind: TargetKind, name: impl Into<String>) -> Self {
        Target {
            kind,
            name: name.into(),
        }
    }

    /// A tool.
    pub fn tool(name: impl Into<String>) -> Self {
        Self::new(TargetKind::Tool, name)
    }

    /// A prompt.
    pub fn prompt(name: impl Into<String>) -> Self {
        Self::new(TargetKind::Prompt, name)
    }

    /// A resource, by URI.
    pub fn resource(uri: impl Into<String>) -> Self {
        Self::new(TargetKind::Resource, uri)
    }
}

/// Why a policy is refused: a local map (`AUTHSEC_TOOL_SCOPES_JSON`, `…_PROMPT_…`,
/// `…_RESOURCE_…`, TOML tables) or the console's `sdk-policy` document. Variants name the
/// entry and carry the offending value. A refused policy is never partly used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not a JSON object of name (or URI) → rule.
    #[error("not a JSON object of {} → scope list ({detail}); example: {}", kind.map_description(), kind.map_example())]
    NotJson {
        /// Which map: tools, prompts or resources.
        kind: TargetKind,
        /// The parser's message.
        detail: String,
    },
    /// An entry gives both `any` and `all`, or neither.
    #[error("{} {:?}: give exactly one of \"any\" or \"all\", e.g. {{\"all\": [\"notes:read\", \"notes:write\"]}}", target.kind.as_str(), target.name)]
    AnyAndAll {
        /// The entry.
        target: Target,
    },
    /// A scope is not an RFC 6749 §3.3 scope token.
    #[error("{} {:?}: scope {scope:?} is not a valid OAuth scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)", target.kind.as_str(), target.name)]
    InvalidScope {
        /// The entry naming it.
        target: Target,
        /// The scope as written.
        scope: String,
    },
    /// A resource key is neither an exact URI nor a valid URI template.
    #[error(transparent)]
    ResourceKey(#[from] ResourceKeyError),
    /// A console document entry has an empty name.
    #[error("a {} entry has an empty name", kind.as_str())]
    EmptyName {
        /// Tool or prompt.
        kind: TargetKind,
    },
    /// A console document entry is public and names required scopes.
    #[error("{} {:?} is public but names required scopes {scopes:?}", target.kind.as_str(), target.name)]
    PublicWithScopes {
        /// The entry.
        target: Target,
        /// The scopes it names.
        scopes: Vec<String>,
    },
    /// A console document entry is not public and names no scope.
    #[error("{} {:?} is neither public nor requires a scope", target.kind.as_str(), target.name)]
    NoScopes {
        /// The entry.
        target: Target,
    },
    /// A console document lists an entry twice (for resources: two templates of one shape).
    #[error("{} {:?} is listed twice", target.kind.as_str(), target.name)]
    Duplicate {
        /// The second entry.
        target: Target,
    },
    /// A console document's `scopes_supported` holds something that is not a scope token.
    #[error("scopes_supported: {scope:?} is not a valid scope token")]
    InvalidSupportedScope {
        /// The value as sent.
        scope: String,
    },
}

impl TargetKind {
    fn map_description(self) -> &'static str {
        match self {
            TargetKind::Tool => "tool name",
            TargetKind::Prompt => "prompt name",
            TargetKind::Resource => "resource URI or URI template",
        }
    }

    fn map_example(self) -> &'static str {
        match self {
            TargetKind::Tool => r#"{"add_note":["notes:write"],"server_time":[]}"#,
            TargetKind::Prompt => r#"{"summarize_notes":["notes:read"]}"#,
            TargetKind::Resource => {
                r#"{"notes://all":["notes:read"],"notes://note/{id}":["notes:read"]}"#
            }
        }
    }
}

impl std::fmt::Display for Target {
    /// `tool add_note`, `resource notes://all`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.name)
    }
}

/// What one tool, prompt or resource requires.
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
    /// Anyone with a valid token (`[]` in the JSON form).
    pub fn public() -> Self {
        ToolRule::Public
    }

    /// Any one of `scopes` (`["a","b"]` in the JSON form); public when `scopes` is empty.
    pub fn any_of<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::scoped(scopes, ScopeMatch::Any)
    }

    /// All of `scopes` (`{"all":["a","b"]}` in the JSON form); public when `scopes` is empty.
    pub fn all_of<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::scoped(scopes, ScopeMatch::All)
    }

    fn scoped<I: IntoIterator<Item = S>, S: Into<String>>(
        scopes: I,
        scope_match: ScopeMatch,
    ) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        if scopes.is_empty() {
            ToolRule::Public
        } else {
            ToolRule::Scoped {
                scopes,
                scope_match,
            }
        }
    }

    /// The JSON/TOML form of this rule.
    pub(crate) fn repr(&self) -> RuleRepr {
        match self {
            ToolRule::Public => RuleRepr::AnyOf(Vec::new()),
            ToolRule::Scoped {
                scopes,
                scope_match: ScopeMatch::Any,
            } => RuleRepr::AnyOf(scopes.clone()),
            ToolRule::Scoped {
                scopes,
                scope_match: ScopeMatch::All,
            } => RuleRepr::Explicit {
                any: None,
                all: Some(scopes.clone()),
            },
        }
    }

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

/// A rule under its general name: the same shapes serve tools, prompts and resources.
pub type Rule = ToolRule;

/// The name → rule map of tools (`AUTHSEC_TOOL_SCOPES_JSON`) and, as [`PromptPolicy`], of
/// prompts (`AUTHSEC_PROMPT_SCOPES_JSON`).
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

/// The prompt → rule map: the same shapes as tools'.
pub type PromptPolicy = ToolPolicy;

/// How a policy covers what a server serves ([`ToolPolicy::coverage`]). Its `Display` is one
/// line per problem, for a start-up log or error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Served but not in the policy: denied to everyone (`tool_unmapped`).
    pub unmapped: Vec<String>,
    /// In the policy but not served, each with the closest served name when one is near.
    pub unknown: Vec<(String, Option<String>)>,
}

impl Coverage {
    /// True when every served name is mapped and every entry names something served.
    pub fn is_complete(&self) -> bool {
        self.unmapped.is_empty() && self.unknown.is_empty()
    }
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lines = Vec::new();
        for name in &self.unmapped {
            lines.push(format!(
                "{name:?} is served but not in the policy: it is denied to everyone (map it, [] for public)"
            ));
        }
        for (name, near) in &self.unknown {
            lines.push(match near {
                Some(n) => format!("{name:?} is in the policy but not served: did you mean {n:?}?"),
                None => format!("{name:?} is in the policy but not served"),
            });
        }
        f.write_str(&lines.join("\n"))
    }
}

impl RuleRepr {
    fn into_rule(self, kind: TargetKind, name: &str) -> Result<ToolRule, PolicyError> {
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
                return Err(PolicyError::AnyAndAll {
                    target: Target::new(kind, name),
                })
            }
        };
        if let Some(bad) = scopes.iter().find(|s| !is_valid_scope_token(s)) {
            return Err(PolicyError::InvalidScope {
                target: Target::new(kind, name),
                scope: bad.clone(),
            });
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

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` (the grammar shared with
/// the console).
pub use authsec_proto::is_scope_token as is_valid_scope_token;

/// Where tool policy comes from (`AUTHSEC_POLICY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyMode {
    /// The console's policy is required; start-up fails without it.
    RemoteRequired,
    /// The console's policy, falling back to the local map when it is unavailable.
    RemoteWithLocalFallback,
    /// Only the local map (`AUTHSEC_TOOL_SCOPES_JSON` / TOML). The default.
    #[default]
    LocalOnly,
    /// No per-tool checks: any valid token may call any tool. Loudly logged.
    Open,
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

    /// The `AUTHSEC_TOOL_SCOPES_JSON` (or `_PROMPT_`) text of this policy: what
    /// [`ToolPolicy::from_json`] reads back.
    pub fn to_json(&self) -> String {
        let repr: BTreeMap<&str, RuleRepr> = self
            .tools
            .iter()
            .map(|(k, v)| (k.as_str(), v.repr()))
            .collect();
        serde_json::to_string(&repr).unwrap_or_default()
    }

    /// Compares this policy with the names a server actually has (its tools, or its prompts):
    /// which of them are unmapped (denied to everyone), and which entries name nothing the
    /// server has (a typo such as `get_wether`, or a tool since renamed).
    pub fn coverage<'n>(&self, served: impl IntoIterator<Item = &'n str>) -> Coverage {
        let served: Vec<&str> = served.into_iter().collect();
        let unmapped = served
            .iter()
            .filter(|n| !self.tools.contains_key(**n))
            .map(|n| (*n).to_owned())
            .collect();
        let unknown = self
            .tools
            .keys()
            .filter(|k| !served.contains(&k.as_str()))
            .map(|k| {
                let near = served
                    .iter()
                    .map(|n| (*n, edit_distance(k, n)))
                    .filter(|(n, d)| *d <= 3.max(n.len() / 3))
                    .min_by_key(|(_, d)| *d)
                    .map(|(n, _)| n.to_owned());
                (k.clone(), near)
            })
            .collect();
        Coverage { unmapped, unknown }
    }

    /// Parses `AUTHSEC_TOOL_SCOPES_JSON`: `{"tool": ["scope", …]}`, `[]` = public,
    /// `{"tool": {"all": [...]}}` for all-of.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        Self::from_repr(parse_map(json, TargetKind::Tool)?, TargetKind::Tool)
    }

    /// Parses `AUTHSEC_PROMPT_SCOPES_JSON`: `{"prompt": ["scope", …]}`, the shapes of
    /// [`ToolPolicy::from_json`].
    pub fn prompts_from_json(json: &str) -> Result<Self, PolicyError> {
        Self::from_repr(parse_map(json, TargetKind::Prompt)?, TargetKind::Prompt)
    }

    pub(crate) fn from_repr(
        raw: BTreeMap<String, RuleRepr>,
        kind: TargetKind,
    ) -> Result<Self, PolicyError> {
        let mut policy = ToolPolicy::new();
        for (name, repr) in raw {
            let rule = repr.into_rule(kind, &name)?;
            policy.tools.insert(name, rule);
        }
        Ok(policy)
    }
}

/// The name → rule object of a `…_SCOPES_JSON` setting, unchecked.
pub(crate) fn parse_map(
    json: &str,
    kind: TargetKind,
) -> Result<BTreeMap<String, RuleRepr>, PolicyError> {
    serde_json::from_str(json).map_err(|e| PolicyError::NotJson {
        kind,
        detail: e.to_string(),
    })
}

/// The console's policy for this resource server, checked and ready to decide with (the
/// `GET …/sdk-policy` document after `ConsolePolicy::try_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePolicy {
    /// The console's generation number (bumped on every change).
    pub generation: i64,
    /// `ready`, `needs_setup` or `disabled`, as the console says.
    pub state: Option<String>,
    /// `None` when the policy is complete; otherwise the console's reason (e.g.
    /// `rs_needs_setup`), and every tool is denied.
    pub incomplete: Option<String>,
    /// The mapped and public tools; any other tool is unmapped.
    pub tools: ToolPolicy,
    /// The mapped and public prompts (none from a console that sends no `prompt_policy`).
    pub prompts: PromptPolicy,
    /// The mapped and public resources (none from a console that sends no
    /// `resource_policy`).
    pub resources: ResourcePolicy,
    /// The resource server's scopes.
    pub scopes_supported: Vec<String>,
}

/// Why the console's policy could not be fetched or a manifest not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemotePolicyError {
    /// A setting the console client needs is missing or invalid.
    #[error("remote policy is not configured: {0}")]
    NotConfigured(String),
    /// The console could not be reached.
    #[error("console {url} unreachable: {detail}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The console did not answer in time.
    #[error("console {url} did not answer within {}s", timeout.as_secs())]
    Timeout {
        /// The endpoint.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The console refused the resource server's credentials.
    #[error(
        "console {url} refused this resource server's credentials (HTTP {status}); check \
         AUTHSEC_INTROSPECTION_CLIENT_ID (at an authsec console, the resource server id) and \
         AUTHSEC_INTROSPECTION_CLIENT_SECRET"
    )]
    Unauthorized {
        /// The endpoint.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// The console answered with another error status.
    #[error("console {url} answered HTTP {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        /// The endpoint.
        url: String,
        /// The status.
        status: u16,
        /// The console's `error_description`, if any.
        detail: Option<String>,
    },
    /// The answer is not a valid policy document (or manifest outcome).
    #[error("console {url} sent an invalid answer: {detail}")]
    InvalidResponse {
        /// The endpoint.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

/// Why no console policy decides a request now ([`remote::RemotePolicy::current`]): in
/// `remote_required` the request is answered 503 `policy_unavailable`, with this error's text
/// as the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyUnavailable {
    /// A remote mode without a console policy client (a layer not built by
    /// `AuthSecLayer::start`).
    #[error(
        "remote_required: no console policy client is running (start the layer with \
         AuthSecLayer::start)"
    )]
    NoClient,
    /// No policy has been fetched since start-up.
    #[error("no console policy has been loaded: {}", failure_text(.last_failure.as_ref()))]
    NeverLoaded {
        /// The latest attempt's error (`None`: none has finished yet).
        last_failure: Option<RemotePolicyError>,
    },
    /// The held policy is past its TTL plus the maximum staleness.
    #[error(
        "the console policy (generation {generation}) is {age_secs}s old, past the {}s TTL + \
         {}s maximum staleness: {}",
        ttl.as_secs(),
        max_stale.as_secs(),
        failure_text(.last_failure.as_ref())
    )]
    TooOld {
        /// The held policy's generation.
        generation: i64,
        /// Seconds since the console last answered with it.
        age_secs: i64,
        /// `AUTHSEC_POLICY_CACHE_TTL_SECS`.
        ttl: Duration,
        /// `AUTHSEC_POLICY_MAX_STALE_SECS`.
        max_stale: Duration,
        /// The latest attempt's error, if it failed.
        last_failure: Option<RemotePolicyError>,
    },
}

fn failure_text(failure: Option<&RemotePolicyError>) -> String {
    failure.map_or_else(|| "no fetch attempted yet".to_owned(), ToString::to_string)
}

/// The rules one request is decided with.
#[derive(Debug, Clone, Copy)]
pub enum PolicyView<'a> {
    /// The local maps: `local_only`, `open`, or `remote_with_local_fallback` while no usable
    /// console policy is held.
    Local {
        /// The tool map.
        tools: &'a ToolPolicy,
        /// The prompt map.
        prompts: &'a PromptPolicy,
        /// The resource map.
        resources: &'a ResourcePolicy,
        /// `LocalOnly` or `Open`.
        mode: PolicyMode,
    },
    /// The console's policy.
    Console(&'a ConsolePolicy),
    /// `remote_required` without a usable console policy: every tool is denied with 503
    /// `policy_unavailable`, saying why.
    Unavailable(&'a PolicyUnavailable),
}

impl<'a> PolicyView<'a> {
    /// The local maps of `config`, decided under `mode`.
    pub fn local(config: &'a Config, mode: PolicyMode) -> Self {
        PolicyView::Local {
            tools: &config.tool_policy,
            prompts: &config.prompt_policy,
            resources: &config.resource_policy,
            mode,
        }
    }

    /// Picks the rules for `config.policy_mode`. `console` is what the remote policy client
    /// holds: `None` without a client, `Some(Err(why))` when it has nothing usable (never
    /// loaded, or past its maximum staleness).
    ///
    /// | mode | console policy usable | not usable |
    /// |---|---|---|
    /// | `local_only` / `open` | local map | local map |
    /// | `remote_required` | console | unavailable (503) |
    /// | `remote_with_local_fallback` | console | local map |
    pub fn select(
        config: &'a Config,
        console: Option<&'a Result<std::sync::Arc<ConsolePolicy>, Box<PolicyUnavailable>>>,
    ) -> Self {
        match (config.policy_mode, console) {
            (mode @ (PolicyMode::LocalOnly | PolicyMode::Open), _) => Self::local(config, mode),
            (_, Some(Ok(policy))) => PolicyView::Console(policy),
            (PolicyMode::RemoteWithLocalFallback, _) => Self::local(config, PolicyMode::LocalOnly),
            (PolicyMode::RemoteRequired, Some(Err(why))) => PolicyView::Unavailable(why),
            (PolicyMode::RemoteRequired, None) => {
                PolicyView::Unavailable(&PolicyUnavailable::NoClient)
            }
        }
    }

    /// Decides whether a principal holding `granted` may call `tool`
    /// ([`PolicyView::decide_target`] for a tool).
    pub fn decide(&self, granted: &[String], tool: &str) -> Result<(), AuthError> {
        self.decide_target(granted, TargetKind::Tool, tool)
    }

    /// Decides whether a principal holding `granted` may use the `kind` named `name`: the
    /// local maps' rules (any valid token in `open`); or, from the console,
    /// [`AuthError::PolicyIncomplete`] when the policy is incomplete, else the console's rules
    /// exactly as local ones; or [`AuthError::PolicyUnavailable`].
    ///
    /// Unmapped is [`AuthError::Unmapped`]; a rule that does not hold is
    /// [`AuthError::InsufficientScope`] naming the target and that rule's scopes. A resource
    /// matching several templates must satisfy every one of them (the first that does not
    /// hold is named).
    pub fn decide_target(
        &self,
        granted: &[String],
        kind: TargetKind,
        name: &str,
    ) -> Result<(), AuthError> {
        match self {
            PolicyView::Local {
                mode: PolicyMode::Open,
                ..
            } => Ok(()),
            PolicyView::Local { .. } => self.decide_mapped(granted, kind, name),
            PolicyView::Console(policy) => match &policy.incomplete {
                Some(reason) => Err(AuthError::PolicyIncomplete {
                    target: Target::new(kind, name),
                    reason: reason.clone(),
                }),
                None => self.decide_mapped(granted, kind, name),
            },
            PolicyView::Unavailable(why) => Err(AuthError::PolicyUnavailable {
                detail: why.to_string(),
            }),
        }
    }

    /// Decides with the rules mapping the target (no allocation for tools and prompts: this
    /// runs for every call and every listed item).
    fn decide_mapped(
        &self,
        granted: &[String],
        kind: TargetKind,
        name: &str,
    ) -> Result<(), AuthError> {
        match kind {
            TargetKind::Resource => decide_rules(&self.rules(kind, name), granted, kind, name),
            TargetKind::Tool | TargetKind::Prompt => {
                decide_rules(self.named_rule(kind, name).as_slice(), granted, kind, name)
            }
        }
    }

    /// The rule of the tool or prompt `name` (`None` for resources: see
    /// [`PolicyView::rules`]).
    fn named_rule(&self, kind: TargetKind, name: &str) -> Option<&'a ToolRule> {
        let (tools, prompts) = match *self {
            PolicyView::Local { tools, prompts, .. } => (tools, prompts),
            PolicyView::Console(policy) => (&policy.tools, &policy.prompts),
            PolicyView::Unavailable(_) => return None,
        };
        match kind {
            TargetKind::Tool => tools.get(name),
            TargetKind::Prompt => prompts.get(name),
            TargetKind::Resource => None,
        }
    }

    /// May a principal holding `granted` see the resource template `template` in a
    /// `resources/templates/list`? Only when the rules map that template (by shape, see
    /// [`UriTemplate`]) and its rule holds; always in `open`.
    pub fn allows_template(&self, granted: &[String], template: &str) -> bool {
        let resources = match self {
            PolicyView::Local {
                mode: PolicyMode::Open,
                ..
            } => return true,
            PolicyView::Local { resources, .. } => *resources,
            PolicyView::Console(policy) if policy.incomplete.is_none() => &policy.resources,
            PolicyView::Console(_) | PolicyView::Unavailable(_) => return false,
        };
        resources
            .template_rule(template)
            .is_some_and(|r| r.is_satisfied_by(granted))
    }

    /// The rule for `tool`, if the rules in force map it.
    pub fn rule(&self, tool: &str) -> Option<&'a ToolRule> {
        self.named_rule(TargetKind::Tool, tool)
    }

    /// The rules deciding the `kind` named `name` (empty when unmapped; several only for a
    /// resource matching several templates).
    pub fn rules(&self, kind: TargetKind, name: &str) -> Vec<&'a ToolRule> {
        let resources = match *self {
            PolicyView::Local { resources, .. } => resources,
            PolicyView::Console(policy) => &policy.resources,
            PolicyView::Unavailable(_) => return Vec::new(),
        };
        match kind {
            TargetKind::Tool | TargetKind::Prompt => {
                self.named_rule(kind, name).into_iter().collect()
            }
            TargetKind::Resource => resources
                .rules_for(name)
                .into_iter()
                .map(|(_, r)| r)
                .collect(),
        }
    }

    /// True when per-tool checks are off (`open`).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            PolicyView::Local {
                mode: PolicyMode::Open,
                ..
            }
        )
    }

    /// `scopes_supported` for the resource metadata and 401 challenges: the configured
    /// `AUTHSEC_SUPPORTED_SCOPES` when set; otherwise the console's scopes (falling back to
    /// every scope its rules name) or every scope in the local maps.
    pub fn scopes_supported(&self, config: &Config) -> Vec<String> {
        match self {
            _ if !config.supported_scopes.is_empty() => config.supported_scopes.clone(),
            PolicyView::Console(policy) if !policy.scopes_supported.is_empty() => {
                policy.scopes_supported.clone()
            }
            PolicyView::Console(policy) => policy.all_scopes(),
            _ => config.scopes_supported(),
        }
    }
}

impl ConsolePolicy {
    /// Every scope any of its rules names, sorted and deduplicated.
    pub fn all_scopes(&self) -> Vec<String> {
        let mut v = self.tools.all_scopes();
        v.extend(self.prompts.all_scopes());
        v.extend(self.resources.all_scopes());
        v.sort();
        v.dedup();
        v
    }
}

/// Levenshtein distance over chars: how near a policy entry is to a served name (and, in
/// diagnoses, a scope or tool to the ones that exist).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Decides with the rules that map a target: none is unmapped, and each must hold.
fn decide_rules(
    rules: &[&ToolRule],
    granted: &[String],
    kind: TargetKind,
    name: &str,
) -> Result<(), AuthError> {
    if rules.is_empty() {
        return Err(AuthError::Unmapped {
            target: Target::new(kind, name),
        });
    }
    for rule in rules {
        if let ToolRule::Scoped {
            scopes,
            scope_match,
        } = rule
        {
            if !rule.is_satisfied_by(granted) {
                return Err(AuthError::InsufficientScope {
                    target: Target::new(kind, name),
                    required: scopes.clone(),
                    scope_match: *scope_match,
                    granted: granted.to_vec(),
                });
            }
        }
    }
    Ok(())
}

/// Decides whether `principal` may call `tool`.
///
/// * `open`: any valid token may call any tool (the mode is loudly logged at start-up).
/// * `local_only`: the tool's rule in `policy`; a tool absent from the map is denied
///   ([`AuthError::Unmapped`]), a scoped tool without a matching scope is
///   [`AuthError::InsufficientScope`] naming the tool, its required and granted scopes.
/// * `remote_with_local_fallback`: until a console policy is loaded, the local map decides.
/// * `remote_required`: without a loaded console policy every call is denied
///   ([`AuthError::PolicyUnavailable`]): fail closed.
///
/// ```
/// use authsec::policy::{decide_scopes, PolicyMode, ToolPolicy};
/// use authsec::AuthError;
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
///     Err(AuthError::Unmapped { .. })
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
    decide_rules(policy.get(tool).as_slice(), granted, TargetKind::Tool, tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_policy_built_in_code_round_trips_through_its_json_form() {
        let policy = ToolPolicy::new()
            .with("whoami", ToolRule::public())
            .with("read", ToolRule::any_of(["a:read", "a:admin"]))
            .with("both", ToolRule::all_of(["a:read", "a:write"]))
            .with("empty", ToolRule::all_of(Vec::<String>::new()));
        assert_eq!(policy.get("empty"), Some(&ToolRule::Public));
        assert_eq!(
            policy.to_json(),
            r#"{"both":{"all":["a:read","a:write"]},"empty":[],"read":["a:read","a:admin"],"whoami":[]}"#
        );
        assert_eq!(ToolPolicy::from_json(&policy.to_json()), Ok(policy));
    }

    #[test]
    fn coverage_names_unmapped_tools_and_entries_for_tools_not_served() {
        let policy = ToolPolicy::from_json(r#"{"get_wether":["w:read"],"ping":[]}"#).unwrap();
        let coverage = policy.coverage(["get_weather", "ping", "set_alert"]);
        assert_eq!(coverage.unmapped, ["get_weather", "set_alert"]);
        assert_eq!(
            coverage.unknown,
            [("get_wether".to_owned(), Some("get_weather".to_owned()))]
        );
        assert!(!coverage.is_complete());
        assert!(policy.coverage(["get_wether", "ping"]).is_complete());
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
        assert_eq!(
            err,
            PolicyError::InvalidScope {
                target: Target::tool("add"),
                scope: "has space".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "tool \"add\": scope \"has space\" is not a valid OAuth scope token \
             (RFC 6749 §3.3: no spaces, quotes or backslashes)"
        );
    }

    #[test]
    fn both_any_and_all_is_rejected() {
        let err = ToolPolicy::prompts_from_json(r#"{"x":{"any":["a"],"all":["b"]}}"#).unwrap_err();
        assert_eq!(
            err,
            PolicyError::AnyAndAll {
                target: Target::prompt("x")
            }
        );
        assert!(err
            .to_string()
            .starts_with("prompt \"x\": give exactly one of"));
    }

    #[test]
    fn text_that_is_not_a_json_map_is_refused_with_an_example() {
        let err = ToolPolicy::from_json(r#"["add_note"]"#).unwrap_err();
        assert!(
            matches!(
                &err,
                PolicyError::NotJson {
                    kind: TargetKind::Tool,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("not a JSON object of tool name → scope list (")
                && text.ends_with(r#"example: {"add_note":["notes:write"],"server_time":[]}"#),
            "{text}"
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("tools:write", "tools:Write"), 1);
        assert_eq!(edit_distance("add_note", "add_notes"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn decide_denies_unmapped_and_names_tool_required_and_granted() {
        let p = ToolPolicy::from_json(r#"{"add":["n:write","n:admin"],"time":[]}"#).unwrap();
        let granted = s(&["n:read"]);
        assert_eq!(
            decide_scopes(&p, PolicyMode::LocalOnly, &granted, "nope"),
            Err(AuthError::Unmapped {
                target: Target::tool("nope")
            })
        );
        assert_eq!(
            decide_scopes(&p, PolicyMode::LocalOnly, &granted, "add"),
            Err(AuthError::InsufficientScope {
                target: Target::tool("add"),
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

    #[cfg(feature = "remote-policy")] // the console policy's tests
    fn console(incomplete: Option<&str>) -> std::sync::Arc<ConsolePolicy> {
        std::sync::Arc::new(ConsolePolicy {
            generation: 3,
            state: Some("ready".into()),
            incomplete: incomplete.map(str::to_owned),
            tools: ToolPolicy::from_json(r#"{"add":["n:admin"],"time":[]}"#).unwrap(),
            prompts: ToolPolicy::prompts_from_json(r#"{"p":["n:read"]}"#).unwrap(),
            resources: ResourcePolicy::from_json(r#"{"n://{id}":["n:read"]}"#).unwrap(),
            scopes_supported: s(&["n:admin", "n:read"]),
        })
    }

    #[cfg(feature = "remote-policy")] // the console policy's tests
    fn config(mode: PolicyMode) -> Config {
        let mut b = Config::builder("https://as.example", "https://r.example/mcp")
            .tool_scopes_json(r#"{"add":["n:write"]}"#)
            .policy_mode(mode);
        if matches!(
            mode,
            PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback
        ) {
            b = b
                .resource_server_id("rs-525da3b4")
                .console_credentials("rs-525da3b4", "secret");
        }
        b.build().unwrap()
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn the_console_policy_decides_in_the_remote_modes() {
        let held = Ok(console(None));
        for mode in [
            PolicyMode::RemoteRequired,
            PolicyMode::RemoteWithLocalFallback,
        ] {
            let c = config(mode);
            let view = PolicyView::select(&c, Some(&held));
            assert_eq!(view.decide(&s(&["n:admin"]), "add"), Ok(()));
            assert!(matches!(
                view.decide(&s(&["n:write"]), "add"),
                Err(AuthError::InsufficientScope { .. })
            ));
            assert_eq!(view.scopes_supported(&c), s(&["n:admin", "n:read"]));
        }
        // The local modes ignore a console policy.
        let c = config(PolicyMode::LocalOnly);
        let view = PolicyView::select(&c, Some(&held));
        assert_eq!(view.decide(&s(&["n:write"]), "add"), Ok(()));
        assert_eq!(view.scopes_supported(&c), s(&["n:write"]));
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn an_incomplete_console_policy_denies_every_tool_with_its_reason() {
        let held = Ok(console(Some("rs_needs_setup")));
        let c = config(PolicyMode::RemoteRequired);
        let view = PolicyView::select(&c, Some(&held));
        for tool in ["add", "time", "unknown"] {
            assert_eq!(
                view.decide(&s(&["n:admin"]), tool),
                Err(AuthError::PolicyIncomplete {
                    target: Target::tool(tool),
                    reason: "rs_needs_setup".into()
                })
            );
        }
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn without_a_usable_console_policy_required_fails_closed_and_fallback_uses_the_local_map() {
        let gone: Result<std::sync::Arc<ConsolePolicy>, _> =
            Err(Box::new(PolicyUnavailable::NeverLoaded {
                last_failure: Some(RemotePolicyError::Timeout {
                    url: "https://console.example/p".into(),
                    timeout: Duration::from_secs(10),
                }),
            }));
        let c = config(PolicyMode::RemoteRequired);
        assert_eq!(
            PolicyView::select(&c, Some(&gone)).decide(&s(&["n:write"]), "add"),
            Err(AuthError::PolicyUnavailable {
                detail: "no console policy has been loaded: console https://console.example/p \
                         did not answer within 10s"
                    .into()
            })
        );
        assert_eq!(
            PolicyView::select(&c, None).decide(&s(&["n:write"]), "add"),
            Err(AuthError::PolicyUnavailable {
                detail: "remote_required: no console policy client is running (start the layer \
                         with AuthSecLayer::start)"
                    .into()
            })
        );
        let c = config(PolicyMode::RemoteWithLocalFallback);
        assert_eq!(
            PolicyView::select(&c, Some(&gone)).decide(&s(&["n:write"]), "add"),
            Ok(())
        );
        assert_eq!(
            PolicyView::select(&c, None).decide(&s(&["n:admin"]), "time"),
            Err(AuthError::Unmapped {
                target: Target::tool("time")
            })
        );
    }

    fn local(mode: PolicyMode) -> Config {
        Config::builder("https://as.example", "https://r.example/mcp")
            .tool_scopes_json(r#"{"add":["n:write"]}"#)
            .prompt_scopes_json(r#"{"sum":["n:read"],"hello":[]}"#)
            .resource_scopes_json(
                r#"{"n://all":["n:read"],"n://note/{id}":["n:read"],"n://{kind}/1":["n:admin"]}"#,
            )
            .policy_mode(mode)
            .build()
            .unwrap()
    }

    #[test]
    fn prompts_are_decided_by_name_with_the_tool_rule_shapes() {
        let c = local(PolicyMode::LocalOnly);
        let view = PolicyView::select(&c, None);
        let read = s(&["n:read"]);
        assert_eq!(view.decide_target(&read, TargetKind::Prompt, "sum"), Ok(()));
        assert_eq!(view.decide_target(&[], TargetKind::Prompt, "hello"), Ok(()));
        assert_eq!(
            view.decide_target(&s(&["n:write"]), TargetKind::Prompt, "sum"),
            Err(AuthError::InsufficientScope {
                target: Target::prompt("sum"),
                required: read.clone(),
                scope_match: ScopeMatch::Any,
                granted: s(&["n:write"]),
            })
        );
        // A tool and a prompt of the same name are two things.
        assert_eq!(
            view.decide_target(&read, TargetKind::Prompt, "add"),
            Err(AuthError::Unmapped {
                target: Target::prompt("add")
            })
        );
    }

    #[test]
    fn a_resource_matching_several_templates_needs_every_one() {
        let c = local(PolicyMode::LocalOnly);
        let view = PolicyView::select(&c, None);
        let read = s(&["n:read"]);
        assert_eq!(
            view.decide_target(&read, TargetKind::Resource, "n://all"),
            Ok(())
        );
        assert_eq!(
            view.decide_target(&read, TargetKind::Resource, "n://note/2"),
            Ok(())
        );
        // `n://note/1` matches `n://note/{id}` and `n://{kind}/1`.
        assert_eq!(
            view.decide_target(&read, TargetKind::Resource, "n://note/1"),
            Err(AuthError::InsufficientScope {
                target: Target::resource("n://note/1"),
                required: s(&["n:admin"]),
                scope_match: ScopeMatch::Any,
                granted: read.clone(),
            })
        );
        assert_eq!(
            view.decide_target(
                &s(&["n:read", "n:admin"]),
                TargetKind::Resource,
                "n://note/1"
            ),
            Ok(())
        );
        assert_eq!(
            view.decide_target(&read, TargetKind::Resource, "n://secret"),
            Err(AuthError::Unmapped {
                target: Target::resource("n://secret")
            })
        );
        assert!(view.allows_template(&read, "n://note/{noteId}"));
        assert!(!view.allows_template(&read, "n://{kind}/1"));
        assert!(!view.allows_template(&read, "n://other/{id}"));
        assert_eq!(
            view.scopes_supported(&c),
            s(&["n:admin", "n:read", "n:write"])
        );
    }

    #[test]
    fn open_mode_allows_every_prompt_resource_and_template() {
        let c = local(PolicyMode::Open);
        let view = PolicyView::select(&c, None);
        for kind in [TargetKind::Tool, TargetKind::Prompt, TargetKind::Resource] {
            assert_eq!(view.decide_target(&[], kind, "anything"), Ok(()));
        }
        assert!(view.allows_template(&[], "x://{y}"));
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn an_incomplete_console_policy_denies_prompts_and_resources_too() {
        let held = Ok(console(Some("rs_needs_setup")));
        let c = config(PolicyMode::RemoteRequired);
        let view = PolicyView::select(&c, Some(&held));
        assert_eq!(
            view.decide_target(&s(&["n:read"]), TargetKind::Resource, "n://1"),
            Err(AuthError::PolicyIncomplete {
                target: Target::resource("n://1"),
                reason: "rs_needs_setup".into()
            })
        );
        assert!(!view.allows_template(&s(&["n:read"]), "n://{id}"));
        let held = Ok(console(None));
        let view = PolicyView::select(&c, Some(&held));
        assert_eq!(
            view.decide_target(&s(&["n:read"]), TargetKind::Prompt, "p"),
            Ok(())
        );
        assert!(view.allows_template(&s(&["n:read"]), "n://{id}"));
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
            Err(AuthError::Unmapped {
                target: Target::tool("t")
            })
        );
    }
}
