//! The console's policy in the SDK: the `remote_required` and `remote_with_local_fallback`
//! policy modes, and manifest publishing.
//!
//! [`RemotePolicy`] fetches `GET {console_url}/authsec/resource-servers/{id}/sdk-policy`
//! (HTTP Basic with the resource server's credentials, `AUTHSEC_INTROSPECTION_CLIENT_ID` /
//! `_SECRET`; at an authsec console the client id is the resource server id) and keeps it:
//!
//! * **Start-up.** The first fetch happens in [`RemotePolicy::start`]. In `remote_required` a
//!   failed first fetch fails start-up; in `remote_with_local_fallback` the local map decides
//!   until a fetch succeeds.
//! * **TTL** (`AUTHSEC_POLICY_CACHE_TTL_SECS`, 30 s). A policy older than the TTL is still
//!   used, and the request that notices starts one background refresh (never more than one at a
//!   time).
//! * **Maximum staleness** (`AUTHSEC_POLICY_MAX_STALE_SECS`, 120 s past the TTL). While
//!   refreshes fail, the last policy is used up to TTL + maximum staleness after it was
//!   fetched. Beyond that, `remote_required` waits for one refresh and, if it fails, denies
//!   every tool with 503 `policy_unavailable`; `remote_with_local_fallback` uses the local map.
//! * **Retry backoff** (10 s). After a failed fetch none is attempted for 10 s.
//! * **Wait for change** (`AUTHSEC_POLICY_WAIT_FOR_CHANGE`, on). A background task keeps one
//!   `?wait_for_generation=N` request open; the console answers it as soon as the policy
//!   changes, so a change reaches the SDK in milliseconds, not a TTL. Each answer also counts
//!   as a refresh. The task ends when the last [`RemotePolicy`] handle is dropped.
//!
//! Times are judged by the configuration's [`Clock`]; the wait-for-change task's pauses are
//! real time. A policy with a lower generation than the one held is never installed.
//!
//! An incomplete policy (`policy_complete: false`) denies every tool with
//! [`AuthError::PolicyIncomplete`](crate::AuthError::PolicyIncomplete) and the console's
//! reason. A document that does not parse, or that is inconsistent (a public tool with
//! required scopes, a scoped tool without any, an invalid scope token, a tool listed twice), is
//! a failed fetch: the previous policy stays.
//!
//! The documents are `authsec-proto`'s wire types, shared with the console.
//!
//! [`ConsoleClient::publish_manifest`] sends the tool inventory
//! (`PUT …/sdk-manifest`); [`AuthSecLayer::start`](crate::http::AuthSecLayer::start) does it at
//! start-up when `AUTHSEC_PUBLISH_MANIFEST=true`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::Uri;
use serde_json::Value;
use tokio::sync::{watch, Mutex as AsyncMutex};

use super::{
    is_valid_scope_token, ConsolePolicy, PolicyError, PromptPolicy, ResourcePolicy, Target,
    TargetKind, ToolPolicy, ToolRule,
};
pub use super::{PolicyUnavailable, RemotePolicyError};
use crate::clock::Clock;
use crate::config::{ClientCredentials, Config, PolicyMode};
use crate::fetch::{FetchError, HttpClient, RequestBuilder};

/// After a failed fetch, none is attempted for this long.
pub const RETRY_BACKOFF: Duration = Duration::from_secs(10);

/// Timeout of a plain policy fetch and of a manifest upload.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Timeout of a wait-for-change request (the console answers unchanged after 25 s).
const WAIT_TIMEOUT: Duration = Duration::from_secs(90);

/// A wait-for-change answer that comes back unchanged sooner than this (a console without
/// long-polling) is followed by a pause of this length, so the task never spins.
const MIN_WAIT_INTERVAL: Duration = Duration::from_secs(1);

/// Largest policy document accepted.
const MAX_POLICY_BYTES: usize = 4 * 1024 * 1024;

pub use authsec_proto::wire::{
    Manifest, ManifestOutcome, ManifestPrompt, ManifestResource, ManifestTool, PromptPolicyEntry,
    ResourcePolicyEntry, SdkPolicyDocument, ToolPolicyEntry,
};

/// One entry's rule, checked: public exactly when it names no scope, every scope a valid
/// token.
fn entry_rule(
    kind: TargetKind,
    name: &str,
    is_public: bool,
    required_scopes: Vec<String>,
    scope_match: crate::error::ScopeMatch,
) -> Result<ToolRule, PolicyError> {
    if name.is_empty() {
        return Err(PolicyError::EmptyName { kind });
    }
    let target = || Target::new(kind, name);
    if let Some(bad) = required_scopes.iter().find(|s| !is_valid_scope_token(s)) {
        return Err(PolicyError::InvalidScope {
            target: target(),
            scope: bad.clone(),
        });
    }
    match (is_public, required_scopes.is_empty()) {
        (true, true) => Ok(ToolRule::Public),
        (false, false) => Ok(ToolRule::Scoped {
            scopes: required_scopes,
            scope_match,
        }),
        (true, false) => Err(PolicyError::PublicWithScopes {
            target: target(),
            scopes: required_scopes,
        }),
        (false, true) => Err(PolicyError::NoScopes { target: target() }),
    }
}

impl TryFrom<SdkPolicyDocument> for ConsolePolicy {
    type Error = PolicyError;

    /// Checks the document and turns it into a [`ConsolePolicy`]. Inconsistent entries are
    /// errors, never guesses: the caller keeps its previous policy (fail closed).
    fn try_from(document: SdkPolicyDocument) -> Result<ConsolePolicy, PolicyError> {
        let mut tools = ToolPolicy::new();
        for entry in document.tool_policy {
            let rule = entry_rule(
                TargetKind::Tool,
                &entry.name,
                entry.is_public,
                entry.required_scopes,
                entry.scope_match,
            )?;
            if tools.get(&entry.name).is_some() {
                return Err(PolicyError::Duplicate {
                    target: Target::tool(entry.name),
                });
            }
            tools.insert(entry.name, rule);
        }
        let mut prompts = ToolPolicy::new();
        for entry in document.prompt_policy {
            let rule = entry_rule(
                TargetKind::Prompt,
                &entry.name,
                entry.is_public,
                entry.required_scopes,
                entry.scope_match,
            )?;
            if prompts.get(&entry.name).is_some() {
                return Err(PolicyError::Duplicate {
                    target: Target::prompt(entry.name),
                });
            }
            prompts.insert(entry.name, rule);
        }
        let mut resources = ResourcePolicy::new();
        for entry in document.resource_policy {
            let rule = entry_rule(
                TargetKind::Resource,
                &entry.uri,
                entry.is_public,
                entry.required_scopes,
                entry.scope_match,
            )?;
            let before = resources.len();
            resources.insert(&entry.uri, rule)?;
            if resources.len() == before {
                return Err(PolicyError::Duplicate {
                    target: Target::resource(entry.uri),
                });
            }
        }
        if let Some(bad) = document
            .scopes_supported
            .iter()
            .find(|s| !is_valid_scope_token(s))
        {
            return Err(PolicyError::InvalidSupportedScope { scope: bad.clone() });
        }
        let incomplete = (!document.policy_complete).then(|| {
            document
                .reason
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "policy_incomplete".to_owned())
        });
        Ok(ConsolePolicy {
            generation: document.generation,
            state: document.state,
            incomplete,
            tools,
            prompts,
            resources,
            scopes_supported: document.scopes_supported,
        })
    }
}

/// The manifest for `tools` (MCP `tools/list` entries), each suggesting the scopes the local
/// map (`AUTHSEC_TOOL_SCOPES_JSON`) gives it.
pub fn manifest_from_mcp_tools<'a>(
    tools: impl IntoIterator<Item = &'a Value>,
    suggestions: &ToolPolicy,
) -> Vec<ManifestTool> {
    tools
        .into_iter()
        .filter_map(ManifestTool::from_mcp_tool)
        .map(|mut t| {
            if let Some(rule) = suggestions.get(&t.name) {
                t.suggested_scopes = rule.scopes().to_vec();
            }
            t
        })
        .collect()
}

/// The manifest entries for `prompts` (MCP `prompts/list` entries), each suggesting the scopes
/// the local map (`AUTHSEC_PROMPT_SCOPES_JSON`) gives it.
pub fn manifest_from_mcp_prompts<'a>(
    prompts: impl IntoIterator<Item = &'a Value>,
    suggestions: &PromptPolicy,
) -> Vec<ManifestPrompt> {
    prompts
        .into_iter()
        .filter_map(ManifestPrompt::from_mcp_prompt)
        .map(|mut p| {
            if let Some(rule) = suggestions.get(&p.name) {
                p.suggested_scopes = rule.scopes().to_vec();
            }
            p
        })
        .collect()
}

/// The manifest entries for `resources`: MCP `resources/list` entries (`uri`) and
/// `resources/templates/list` entries (`uriTemplate`), in any mix. Each suggests the scopes of
/// the local map (`AUTHSEC_RESOURCE_SCOPES_JSON`): a template those of the entry for the same
/// template, an exact URI those of the entries that decide it (all of them, sorted).
pub fn manifest_from_mcp_resources<'a>(
    resources: impl IntoIterator<Item = &'a Value>,
    suggestions: &ResourcePolicy,
) -> Vec<ManifestResource> {
    resources
        .into_iter()
        .filter_map(|item| {
            let mut r = ManifestResource::from_mcp_resource(item)?;
            let mut scopes: Vec<String> = if item.get("uri").is_some() {
                suggestions
                    .rules_for(&r.uri)
                    .into_iter()
                    .flat_map(|(_, rule)| rule.scopes().iter().cloned())
                    .collect()
            } else {
                suggestions
                    .template_rule(&r.uri)
                    .map(|rule| rule.scopes().to_vec())
                    .unwrap_or_default()
            };
            scopes.sort();
            scopes.dedup();
            r.suggested_scopes = scopes;
            Some(r)
        })
        .collect()
}

/// The HTTP client for one resource server's console endpoints.
#[derive(Clone)]
pub struct ConsoleClient {
    policy_url: Uri,
    manifest_url: Uri,
    credentials: ClientCredentials,
    http: HttpClient,
}

impl std::fmt::Debug for ConsoleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleClient")
            .field("policy_url", &self.policy_url.to_string())
            .field("client_id", &self.credentials.client_id)
            .finish_non_exhaustive()
    }
}

impl ConsoleClient {
    /// The client for `config`: the console URL (`AUTHSEC_CONSOLE_URL`, else the first
    /// authorization server), the resource server id and its credentials.
    pub fn new(config: &Config) -> Result<Self, RemotePolicyError> {
        let missing = |what: &str| RemotePolicyError::NotConfigured(what.to_owned());
        let base = config
            .effective_console_url()
            .ok_or_else(|| missing("AUTHSEC_CONSOLE_URL is not set"))?;
        let id = config
            .resource_server_id
            .as_deref()
            .ok_or_else(|| missing("AUTHSEC_RESOURCE_SERVER_ID is not set"))?;
        let credentials = config.console_credentials.clone().ok_or_else(|| {
            missing("AUTHSEC_INTROSPECTION_CLIENT_ID and _CLIENT_SECRET (the resource server's credentials) are not set")
        })?;
        let endpoint = |last: &str| -> Result<Uri, RemotePolicyError> {
            let not_configured =
                |e| RemotePolicyError::NotConfigured(format!("console URL {base:?}: {e}"));
            let url = crate::uri::parse_absolute(base).map_err(not_configured)?;
            crate::uri::join_segments(&url, &["authsec", "resource-servers", id, last])
                .map_err(not_configured)
        };
        Ok(ConsoleClient {
            policy_url: endpoint("sdk-policy")?,
            manifest_url: endpoint("sdk-manifest")?,
            credentials,
            http: crate::validate::try_http_client().map_err(|e| {
                RemotePolicyError::NotConfigured(format!("the HTTP client cannot start: {e}"))
            })?,
        })
    }

    /// The policy endpoint.
    pub fn policy_url(&self) -> &Uri {
        &self.policy_url
    }

    /// Fetches the policy; with `wait_for_generation`, the console holds the request until the
    /// generation differs from it (or its long-poll timeout passes).
    pub async fn fetch_policy(
        &self,
        wait_for_generation: Option<i64>,
    ) -> Result<ConsolePolicy, RemotePolicyError> {
        let (url, timeout) = match wait_for_generation {
            Some(generation) => {
                let url = crate::uri::with_query_pair(
                    &self.policy_url,
                    "wait_for_generation",
                    &generation.to_string(),
                )
                .map_err(|e| RemotePolicyError::NotConfigured(format!("policy URL: {e}")))?;
                (url, WAIT_TIMEOUT)
            }
            None => (self.policy_url.clone(), FETCH_TIMEOUT),
        };
        let request = self.http.get(url).header(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let body = self.send(&self.policy_url, request, timeout).await?;
        let invalid = |detail: String| RemotePolicyError::InvalidResponse {
            url: self.policy_url.to_string(),
            detail,
        };
        let document: SdkPolicyDocument =
            serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
        ConsolePolicy::try_from(document).map_err(|e| invalid(e.to_string()))
    }

    /// Publishes the inventory of tools, prompts and resources (`PUT …/sdk-manifest`). A
    /// manifest of tools alone goes out as the bare array, which every console reads; one with
    /// prompts or resources as the object, which a console that predates them refuses (400).
    pub async fn publish_manifest(
        &self,
        manifest: &Manifest,
    ) -> Result<ManifestOutcome, RemotePolicyError> {
        let body =
            serde_json::to_vec(manifest).map_err(|e| RemotePolicyError::InvalidResponse {
                url: self.manifest_url.to_string(),
                detail: format!("cannot serialise the manifest: {e}"),
            })?;
        let request = self
            .http
            .put(self.manifest_url.clone())
            .header(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            )
            .header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            )
            .body(body);
        let body = self
            .send(&self.manifest_url, request, FETCH_TIMEOUT)
            .await?;
        serde_json::from_slice(&body).map_err(|e| RemotePolicyError::InvalidResponse {
            url: self.manifest_url.to_string(),
            detail: e.to_string(),
        })
    }

    /// Sends with Basic credentials; returns the body of a 2xx answer.
    async fn send(
        &self,
        endpoint: &Uri,
        request: RequestBuilder<'_>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RemotePolicyError> {
        let url = endpoint.to_string();
        let failed = |e: FetchError| match e {
            FetchError::Timeout(_) => RemotePolicyError::Timeout {
                url: url.clone(),
                timeout,
            },
            FetchError::TooLarge(limit) => RemotePolicyError::InvalidResponse {
                url: url.clone(),
                detail: format!("larger than {limit} bytes"),
            },
            FetchError::Transport(detail) => RemotePolicyError::Unreachable {
                url: url.clone(),
                detail,
            },
        };
        let response = request
            .timeout(timeout)
            .header(
                http::header::AUTHORIZATION,
                crate::introspect::basic_authorization(
                    &self.credentials.client_id,
                    self.credentials.client_secret.expose(),
                ),
            )
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let body = response
            .bytes(MAX_POLICY_BYTES)
            .await
            .map_err(failed)?
            .to_vec();
        if matches!(status.as_u16(), 401 | 403) {
            return Err(RemotePolicyError::Unauthorized {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            let detail = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                v.get("error_description")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            return Err(RemotePolicyError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                detail,
            });
        }
        Ok(body)
    }
}

/// How old a held policy is, relative to the TTL and the maximum staleness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Within the TTL.
    Fresh,
    /// Past the TTL, within TTL + maximum staleness: used, and refreshed in the background.
    Stale,
    /// Past TTL + maximum staleness: not used.
    Expired,
}

/// The freshness of a policy fetched at `fetched_at`, at `now` (Unix seconds).
pub fn freshness(now: i64, fetched_at: i64, ttl: Duration, max_stale: Duration) -> Freshness {
    let age = now.saturating_sub(fetched_at);
    let ttl = secs(ttl);
    if age <= ttl {
        Freshness::Fresh
    } else if age <= ttl.saturating_add(secs(max_stale)) {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// What the client holds, for logs, tests and health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemotePolicyStatus {
    /// The held policy's generation, if any.
    pub generation: Option<i64>,
    /// Seconds since the console last answered (with a policy).
    pub age_secs: Option<i64>,
    /// The held policy's freshness (`None` when nothing is held).
    pub freshness: Option<Freshness>,
    /// The last failure, if the latest attempt failed.
    pub last_error: Option<RemotePolicyError>,
    /// Requests sent to the policy endpoint so far (plain and wait-for-change).
    pub fetches: u64,
}

#[derive(Default)]
struct Held {
    policy: Option<Arc<ConsolePolicy>>,
    /// When the console last answered with a policy (clock seconds).
    fetched_at: i64,
    /// When and why the latest attempt failed (cleared by a success).
    last_failure: Option<(i64, RemotePolicyError)>,
}

struct Inner {
    client: ConsoleClient,
    clock: Clock,
    mode: PolicyMode,
    ttl: Duration,
    max_stale: Duration,
    held: RwLock<Held>,
    /// Held while a plain refresh runs: at most one at a time.
    refresh: Arc<AsyncMutex<()>>,
    /// Completed plain refreshes (lets waiters share one refresh's result).
    refreshes: AtomicU64,
    fetches: AtomicU64,
}

/// The console's policy for one resource server, kept fresh (see the module docs). Cheap to
/// clone; the wait-for-change task stops when the last clone is dropped.
#[derive(Clone)]
pub struct RemotePolicy {
    inner: Arc<Inner>,
    _stop: Arc<watch::Sender<()>>,
}

impl std::fmt::Debug for RemotePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePolicy")
            .field("client", &self.inner.client)
            .field("status", &self.status())
            .finish()
    }
}

impl RemotePolicy {
    /// Fetches the policy once and starts the wait-for-change task (when enabled).
    ///
    /// In `remote_required` a failed first fetch is an error: the server must not start
    /// without its policy. In `remote_with_local_fallback` it is logged and the local map
    /// decides until a fetch succeeds. Needs a tokio runtime.
    pub async fn start(config: &Config) -> Result<Self, RemotePolicyError> {
        let policy = Self::new(config)?;
        match policy.inner.fetch_and_record(None).await {
            Ok(()) => {}
            Err(e) if config.policy_mode == PolicyMode::RemoteRequired => return Err(e),
            Err(e) => tracing::warn!(
                target: "authsec::policy",
                error = %e,
                "remote_with_local_fallback: the console's policy is not available at start-up; \
                 the local tool map decides until it is"
            ),
        }
        if config.policy_wait_for_change {
            let (inner, stop) = (policy.inner.clone(), policy._stop.subscribe());
            tokio::spawn(wait_for_changes(inner, stop));
        }
        Ok(policy)
    }

    /// A client that has fetched nothing and runs no task (the first request fetches).
    pub fn new(config: &Config) -> Result<Self, RemotePolicyError> {
        Ok(RemotePolicy {
            inner: Arc::new(Inner {
                client: ConsoleClient::new(config)?,
                clock: config.clock.clone(),
                mode: config.policy_mode,
                ttl: config.policy_cache_ttl,
                max_stale: config.policy_max_stale,
                held: RwLock::new(Held::default()),
                refresh: Arc::new(AsyncMutex::new(())),
                refreshes: AtomicU64::new(0),
                fetches: AtomicU64::new(0),
            }),
            _stop: Arc::new(watch::channel(()).0),
        })
    }

    /// The console client (for publishing a manifest).
    pub fn client(&self) -> &ConsoleClient {
        &self.inner.client
    }

    /// The policy to decide with now, or why there is none.
    ///
    /// Fresh: returned. Stale: returned, and a background refresh starts (unless one is
    /// running or the retry backoff holds). Nothing usable: in `remote_required` one refresh
    /// is awaited (shared with concurrent callers); in `remote_with_local_fallback` it runs in
    /// the background and the caller falls back at once.
    pub async fn current(&self) -> Result<Arc<ConsolePolicy>, PolicyUnavailable> {
        let inner = &self.inner;
        let now = inner.clock.now();
        match inner.usable(now) {
            Some((policy, Freshness::Fresh)) => return Ok(policy),
            Some((policy, _)) => {
                if inner.retry_due(now) {
                    Inner::spawn_refresh(inner);
                }
                return Ok(policy);
            }
            None => {}
        }
        if inner.retry_due(now) {
            if inner.mode == PolicyMode::RemoteRequired {
                inner.refresh_shared().await;
                if let Some((policy, _)) = inner.usable(inner.clock.now()) {
                    return Ok(policy);
                }
            } else {
                Inner::spawn_refresh(inner);
            }
        }
        Err(inner.unavailable_reason(inner.clock.now()))
    }

    /// The held policy, however old (`None` before the first successful fetch).
    pub fn held(&self) -> Option<Arc<ConsolePolicy>> {
        self.inner.read().policy.clone()
    }

    /// What the client holds.
    pub fn status(&self) -> RemotePolicyStatus {
        let inner = &self.inner;
        let now = inner.clock.now();
        let held = inner.read();
        RemotePolicyStatus {
            generation: held.policy.as_ref().map(|p| p.generation),
            age_secs: held.policy.as_ref().map(|_| now - held.fetched_at),
            freshness: held
                .policy
                .as_ref()
                .map(|_| freshness(now, held.fetched_at, inner.ttl, inner.max_stale)),
            last_error: held.last_failure.as_ref().map(|(_, e)| e.clone()),
            fetches: inner.fetches.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The held policy and its freshness, unless there is none or it has expired.
    fn usable(&self, now: i64) -> Option<(Arc<ConsolePolicy>, Freshness)> {
        let held = self.read();
        let policy = held.policy.clone()?;
        match freshness(now, held.fetched_at, self.ttl, self.max_stale) {
            Freshness::Expired => None,
            f => Some((policy, f)),
        }
    }

    /// No attempt within the retry backoff of a failure.
    fn retry_due(&self, now: i64) -> bool {
        self.read()
            .last_failure
            .as_ref()
            .is_none_or(|(at, _)| now.saturating_sub(*at) >= secs(RETRY_BACKOFF))
    }

    fn unavailable_reason(&self, now: i64) -> PolicyUnavailable {
        let held = self.read();
        let last_failure = held.last_failure.as_ref().map(|(_, e)| e.clone());
        match &held.policy {
            None => PolicyUnavailable::NeverLoaded { last_failure },
            Some(p) => PolicyUnavailable::TooOld {
                generation: p.generation,
                age_secs: now - held.fetched_at,
                ttl: self.ttl,
                max_stale: self.max_stale,
                last_failure,
            },
        }
    }

    fn generation(&self) -> Option<i64> {
        self.read().policy.as_ref().map(|p| p.generation)
    }

    /// One fetch, recorded.
    async fn fetch_and_record(&self, wait_for: Option<i64>) -> Result<(), RemotePolicyError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.client.fetch_policy(wait_for).await;
        crate::telemetry::policy_fetch(result.is_ok());
        let outcome = result.as_ref().map(|_| ()).map_err(Clone::clone);
        self.record(result);
        outcome
    }

    fn record(&self, result: Result<ConsolePolicy, RemotePolicyError>) {
        let now = self.clock.now();
        let mut held = self.write();
        match result {
            Ok(policy) => {
                if held.last_failure.take().is_some() {
                    tracing::info!(target: "authsec::policy", "the console answers again");
                }
                held.fetched_at = now;
                let old = held.policy.as_ref().map(|p| p.generation);
                if old.is_some_and(|g| policy.generation < g) {
                    // An answer that overtook a newer one: keep the newer.
                    return;
                }
                if old != Some(policy.generation) {
                    log_installed(&policy);
                }
                held.policy = Some(Arc::new(policy));
            }
            Err(why) => {
                let repeated = held.last_failure.as_ref().is_some_and(|(_, w)| *w == why);
                if matches!(why, RemotePolicyError::Unauthorized { .. }) {
                    tracing::error!(target: "authsec::policy", error = %why, "console policy fetch refused");
                } else if repeated {
                    tracing::debug!(target: "authsec::policy", error = %why, "console policy fetch failed again");
                } else {
                    tracing::warn!(target: "authsec::policy", error = %why, "console policy fetch failed; using the held policy while it is within its maximum staleness");
                }
                held.last_failure = Some((now, why));
            }
        }
    }

    /// A plain refresh; callers that arrive while one runs wait for it and share its result.
    async fn refresh_shared(&self) {
        let seen = self.refreshes.load(Ordering::Acquire);
        let _guard = self.refresh.lock().await;
        if self.refreshes.load(Ordering::Acquire) != seen {
            return;
        }
        let _ = self.fetch_and_record(None).await;
        self.refreshes.fetch_add(1, Ordering::Release);
    }

    /// Starts a background refresh unless one is running.
    fn spawn_refresh(this: &Arc<Inner>) {
        let Ok(guard) = this.refresh.clone().try_lock_owned() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = this.clone();
        runtime.spawn(async move {
            let _ = inner.fetch_and_record(None).await;
            inner.refreshes.fetch_add(1, Ordering::Release);
            drop(guard);
        });
    }
}

fn log_installed(policy: &ConsolePolicy) {
    match &policy.incomplete {
        None => tracing::info!(
            target: "authsec::policy",
            generation = policy.generation,
            tools = policy.tools.len(),
            prompts = policy.prompts.len(),
            resources = policy.resources.len(),
            "console policy installed"
        ),
        Some(reason) => tracing::warn!(
            target: "authsec::policy",
            generation = policy.generation,
            reason = %reason,
            "console policy installed, but it is incomplete: every tool is denied until the console's setup is finished"
        ),
    }
}

/// The wait-for-change loop: one `?wait_for_generation=N` request at a time, until the last
/// [`RemotePolicy`] handle is dropped.
async fn wait_for_changes(inner: Arc<Inner>, mut stop: watch::Receiver<()>) {
    loop {
        let known = inner.generation();
        let started = Instant::now();
        let result = tokio::select! {
            r = inner.fetch_and_record(known) => r,
            _ = stop.changed() => return,
        };
        let pause = match result {
            Ok(()) if inner.generation() == known && started.elapsed() < MIN_WAIT_INTERVAL => {
                MIN_WAIT_INTERVAL
            }
            Ok(()) => continue,
            Err(_) => RETRY_BACKOFF,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScopeMatch;
    use serde_json::json;

    fn doc(v: Value) -> Result<ConsolePolicy, PolicyError> {
        ConsolePolicy::try_from(wire(v).expect("a well-formed sdk-policy document"))
    }

    fn wire(v: Value) -> Result<SdkPolicyDocument, serde_json::Error> {
        serde_json::from_value::<SdkPolicyDocument>(v)
    }

    #[test]
    fn a_ready_document_becomes_rules() {
        let p = doc(json!({
            "state": "ready", "policy_complete": true, "reason": null, "generation": 7,
            "scopes_supported": ["n:read", "n:write"],
            "tool_policy": [
                {"name": "list", "is_public": false, "required_scopes": ["n:read"], "scope_match": "any"},
                {"name": "both", "is_public": false, "required_scopes": ["n:read", "n:write"], "scope_match": "all"},
                {"name": "time", "is_public": true, "required_scopes": []}
            ]
        }))
        .unwrap();
        assert_eq!(p.generation, 7);
        assert_eq!(p.incomplete, None);
        assert_eq!(p.tools.get("time"), Some(&ToolRule::Public));
        assert_eq!(
            p.tools.get("both"),
            Some(&ToolRule::Scoped {
                scopes: vec!["n:read".into(), "n:write".into()],
                scope_match: ScopeMatch::All
            })
        );
        assert_eq!(p.tools.get("missing"), None);
    }

    #[test]
    fn prompt_and_resource_sections_become_rules_and_their_absence_maps_nothing() {
        let p = doc(json!({
            "policy_complete": true, "generation": 2, "tool_policy": [],
            "prompt_policy": [{"name": "summarize", "is_public": false, "required_scopes": ["n:read"]}],
            "resource_policy": [
                {"uri": "notes://all", "is_public": true, "required_scopes": []},
                {"uri": "notes://note/{id}", "is_public": false, "required_scopes": ["n:read"]}
            ]
        }))
        .unwrap();
        let read = ToolRule::Scoped {
            scopes: vec!["n:read".into()],
            scope_match: ScopeMatch::Any,
        };
        assert_eq!(p.prompts.get("summarize"), Some(&read));
        assert_eq!(
            p.resources.rules_for("notes://all"),
            [("notes://all", &ToolRule::Public)]
        );
        assert_eq!(
            p.resources.rules_for("notes://note/3"),
            [("notes://note/{id}", &read)]
        );
        let p = doc(json!({"policy_complete": true, "generation": 1, "tool_policy": []})).unwrap();
        assert!(p.prompts.is_empty() && p.resources.is_empty());
        for (section, entry, expected) in [
            (
                "prompt_policy",
                json!({"name": "", "is_public": true}),
                PolicyError::EmptyName {
                    kind: TargetKind::Prompt,
                },
            ),
            (
                "resource_policy",
                json!({"uri": "x://{+p}", "is_public": true}),
                PolicyError::ResourceKey(super::super::ResourceKeyError::NotSimple {
                    template: "x://{+p}".into(),
                    expression: "+p".into(),
                }),
            ),
            (
                "resource_policy",
                json!({"uri": "x://y", "is_public": false}),
                PolicyError::NoScopes {
                    target: Target::resource("x://y"),
                },
            ),
        ] {
            let mut d = json!({"policy_complete": true, "generation": 1, "tool_policy": []});
            d[section] = json!([entry]);
            assert_eq!(doc(d).unwrap_err(), expected);
        }
        let err = doc(
            json!({"policy_complete": true, "generation": 1, "tool_policy": [],
            "resource_policy": [{"uri": "n://{a}", "is_public": true},
                                {"uri": "n://{b}", "is_public": true}]}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PolicyError::Duplicate {
                target: Target::resource("n://{b}")
            }
        );
        assert_eq!(err.to_string(), "resource \"n://{b}\" is listed twice");
    }

    #[test]
    fn an_incomplete_document_keeps_the_reason() {
        let p = doc(json!({"state": "needs_setup", "policy_complete": false,
            "reason": "rs_needs_setup", "generation": 1, "scopes_supported": [], "tool_policy": []}))
        .unwrap();
        assert_eq!(p.incomplete.as_deref(), Some("rs_needs_setup"));
        let p = doc(json!({"policy_complete": false, "generation": 1, "tool_policy": []})).unwrap();
        assert_eq!(p.incomplete.as_deref(), Some("policy_incomplete"));
    }

    #[test]
    fn inconsistent_documents_are_refused() {
        let base = |entry: Value| json!({"policy_complete": true, "generation": 1, "tool_policy": [entry]});
        let t = || Target::tool("t");
        for (entry, expected) in [
            (
                json!({"name": "t", "is_public": true, "required_scopes": ["a"]}),
                PolicyError::PublicWithScopes {
                    target: t(),
                    scopes: vec!["a".into()],
                },
            ),
            (
                json!({"name": "t", "is_public": false, "required_scopes": []}),
                PolicyError::NoScopes { target: t() },
            ),
            (
                json!({"name": "t", "is_public": false, "required_scopes": ["a b"]}),
                PolicyError::InvalidScope {
                    target: t(),
                    scope: "a b".into(),
                },
            ),
        ] {
            assert_eq!(doc(base(entry.clone())).unwrap_err(), expected, "{entry}");
        }
        // Shape errors are the wire type's: the document does not deserialize.
        for (entry, expected) in [
            (
                json!({"name": "t", "is_public": false, "required_scopes": ["a"], "scope_match": "most"}),
                "unknown variant",
            ),
            (json!({"name": "t"}), "is_public"),
        ] {
            let err = wire(base(entry.clone())).unwrap_err().to_string();
            assert!(err.contains(expected), "{entry}: {err}");
        }
        let err = doc(
            json!({"policy_complete": true, "generation": 1, "tool_policy": [
            {"name": "t", "is_public": true}, {"name": "t", "is_public": true}]}),
        )
        .unwrap_err();
        assert_eq!(err, PolicyError::Duplicate { target: t() });
        assert_eq!(
            doc(
                json!({"policy_complete": true, "generation": 1, "tool_policy": [],
                "scopes_supported": ["a", "b c"]})
            )
            .unwrap_err(),
            PolicyError::InvalidSupportedScope {
                scope: "b c".into()
            }
        );
        let err = wire(json!({"generation": 1, "tool_policy": []}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("policy_complete"), "{err}");
    }

    #[test]
    fn freshness_windows_are_ttl_then_max_stale() {
        let (ttl, stale) = (Duration::from_secs(30), Duration::from_secs(120));
        assert_eq!(freshness(1030, 1000, ttl, stale), Freshness::Fresh);
        assert_eq!(freshness(1031, 1000, ttl, stale), Freshness::Stale);
        assert_eq!(freshness(1150, 1000, ttl, stale), Freshness::Stale);
        assert_eq!(freshness(1151, 1000, ttl, stale), Freshness::Expired);
    }

    #[test]
    fn manifest_entries_come_from_mcp_tools_with_local_suggestions() {
        let local =
            ToolPolicy::from_json(r#"{"add_note":["notes:write"],"server_time":[]}"#).unwrap();
        let tools = [
            json!({"name": "add_note", "description": "Add", "inputSchema": {"type": "object"},
                   "annotations": {"title": "Add a note"}}),
            json!({"name": "server_time", "title": "Time"}),
            json!({"description": "no name"}),
        ];
        let m = manifest_from_mcp_tools(&tools, &local);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name, "add_note");
        assert_eq!(m[0].title.as_deref(), Some("Add a note"));
        assert_eq!(m[0].input_schema, Some(json!({"type": "object"})));
        assert_eq!(m[0].suggested_scopes, ["notes:write"]);
        assert_eq!(m[1].title.as_deref(), Some("Time"));
        assert!(m[1].suggested_scopes.is_empty());
        assert_eq!(
            serde_json::to_value(&m[1]).unwrap(),
            json!({"name": "server_time", "title": "Time", "suggested_scopes": []})
        );
    }

    #[test]
    fn endpoints_are_built_under_the_console_url() {
        let config = Config::builder("https://as.example", "https://mcp.example/mcp")
            .console_url("https://console.example/base/")
            .resource_server_id("rs-525da3b4")
            .console_credentials("rs-525da3b4", "s3cret")
            .build()
            .unwrap();
        let c = ConsoleClient::new(&config).unwrap();
        assert_eq!(
            c.policy_url().to_string(),
            "https://console.example/base/authsec/resource-servers/rs-525da3b4/sdk-policy"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let config = Config::builder("https://as.example", "https://mcp.example/mcp")
            .policy_mode(PolicyMode::RemoteRequired)
            .resource_server_id("rs-525da3b4")
            .build()
            .unwrap();
        let err = ConsoleClient::new(&config).unwrap_err();
        assert!(
            matches!(&err, RemotePolicyError::NotConfigured(m) if m.contains("AUTHSEC_INTROSPECTION_CLIENT_ID")),
            "{err}"
        );
    }
}
