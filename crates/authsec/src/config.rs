//! Configuration: [`Config`], its builder, `AUTHSEC_*` environment variables and TOML.
//!
//! Every source goes through the same [`RawConfig`] and the same validation, so an error names
//! the field (with its environment variable), the bad value and the fix, wherever it came from.
//!
//! ```
//! use authsec::config::Config;
//!
//! let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
//!     .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!     .tool_scopes_json(r#"{"add_note":["notes:write"],"server_time":[]}"#)
//!     .build()
//!     .expect("valid configuration");
//! assert_eq!(config.clock_skew_secs, 60);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::Uri;
use serde::Deserialize;

use crate::clock::Clock;
use crate::policy::{PolicyError, PromptPolicy, ResourcePolicy, RuleRepr, TargetKind, ToolPolicy};

pub use crate::challenge::{ChallengeScope, ACCUMULATING_PROTOCOL};
pub use crate::policy::PolicyMode;
pub use crate::validate::ValidationMode;

/// A secret string (client secret). `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; call only where it is sent to its one destination.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which `typ` header values are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypPolicy {
    /// `at+jwt`, `application/at+jwt`, `JWT`, or absent. The default.
    #[default]
    Lenient,
    /// RFC 9068 only: `at+jwt` or `application/at+jwt`.
    Rfc9068,
}

/// How the introspection client authenticates (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthMethod {
    /// HTTP Basic. The default.
    #[default]
    ClientSecretBasic,
    /// `client_id`/`client_secret` in the form body.
    ClientSecretPost,
}

/// A configuration keyword (`AUTHSEC_POLICY_MODE`, `AUTHSEC_VALIDATION_MODE`, …) that is
/// none of its setting's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {}", expected.join(" | "))]
pub struct UnknownKeyword {
    /// The text as given (trimmed).
    pub value: String,
    /// The keywords the setting accepts.
    pub expected: &'static [&'static str],
}

macro_rules! keyword_enum {
    ($ty:ty, $field:literal, [$(($text:literal, $variant:expr)),+ $(,)?]) => {
        impl FromStr for $ty {
            type Err = UnknownKeyword;
            fn from_str(s: &str) -> Result<Self, UnknownKeyword> {
                match s.trim() {
                    $($text => Ok($variant),)+
                    other => Err(UnknownKeyword {
                        value: other.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
        impl $ty {
            /// The configuration keyword for this value.
            pub fn as_str(&self) -> &'static str {
                $(if *self == $variant { return $text; })+
                unreachable!()
            }
        }
    };
}

keyword_enum!(
    ValidationMode,
    "validation_mode",
    [
        ("jwt_only", ValidationMode::JwtOnly),
        ("introspection_only", ValidationMode::IntrospectionOnly),
        ("jwt_and_introspect", ValidationMode::JwtAndIntrospect),
        ("jwt_or_introspect", ValidationMode::JwtOrIntrospect),
        ("auto", ValidationMode::Auto),
    ]
);
keyword_enum!(
    PolicyMode,
    "policy_mode",
    [
        ("remote_required", PolicyMode::RemoteRequired),
        (
            "remote_with_local_fallback",
            PolicyMode::RemoteWithLocalFallback
        ),
        ("local_only", PolicyMode::LocalOnly),
        ("open", PolicyMode::Open),
    ]
);
keyword_enum!(
    TypPolicy,
    "typ_policy",
    [
        ("lenient", TypPolicy::Lenient),
        ("rfc9068", TypPolicy::Rfc9068)
    ]
);
keyword_enum!(
    ChallengeScope,
    "challenge_scope",
    [
        ("by_protocol", ChallengeScope::ByProtocol),
        ("required_and_granted", ChallengeScope::RequiredAndGranted),
        ("required", ChallengeScope::RequiredOnly),
    ]
);
keyword_enum!(
    ClientAuthMethod,
    "introspection_auth_method",
    [
        ("client_secret_basic", ClientAuthMethod::ClientSecretBasic),
        ("client_secret_post", ClientAuthMethod::ClientSecretPost),
    ]
);

/// RFC 7662 introspection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionConfig {
    /// The introspection endpoint.
    pub url: Uri,
    /// Client id used to authenticate to the endpoint.
    pub client_id: String,
    /// Client secret used to authenticate to the endpoint.
    pub client_secret: Secret,
    /// Basic (default) or form-body client authentication.
    pub auth_method: ClientAuthMethod,
    /// Request timeout (default 5 s).
    pub timeout: Duration,
    /// Upper bound on how long an active result is cached (default 60 s; never past `exp`).
    pub cache_ttl: Duration,
    /// How long an inactive result is cached (default 5 s, at most 60 s).
    pub negative_cache_ttl: Duration,
    /// An introspected token must carry an `aud` containing the resource (default true).
    /// `false` accepts an active response without `aud` (one with `aud` must still match):
    /// only for authorization servers that never omit `aud` for tokens of other resources.
    pub require_audience: bool,
}

/// A client id and secret (the resource server's credentials at the console).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The client id; at an authsec console, the resource server id.
    pub client_id: String,
    /// The secret (never shown by `Debug`).
    pub client_secret: Secret,
}

/// A validated authsec configuration. Build it with [`Config::builder`], [`Config::from_env`]
/// or [`Config::from_toml_str`]; all of them run the same validation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The issuer tokens must carry in `iss`, byte for byte (`AUTHSEC_ISSUER`).
    pub issuer: String,
    /// Authorization servers advertised in the protected resource metadata (defaults to the issuer).
    pub authorization_servers: Vec<String>,
    /// JWKS location; when absent it is discovered from the issuer (RFC 8414, then OIDC).
    pub jwks_url: Option<Uri>,
    /// RFC 7662 settings, when an introspection endpoint is configured.
    pub introspection: Option<IntrospectionConfig>,
    /// This server's resource identifier; `aud` must contain it byte for byte.
    pub resource_uri: String,
    /// Human-readable name for the protected resource metadata.
    pub resource_name: Option<String>,
    /// Documentation URL for the protected resource metadata.
    pub resource_documentation: Option<String>,
    /// Console id of this resource server, e.g. `rs-525da3b4`.
    pub resource_server_id: Option<String>,
    /// `scopes_supported` in the protected resource metadata (defaults to every scope in the policy).
    pub supported_scopes: Vec<String>,
    /// The least a client needs to connect; named by 401 challenges that are not for a tool.
    pub base_scopes: Vec<String>,
    /// The local tool → scope policy.
    pub tool_policy: ToolPolicy,
    /// The local prompt → scope policy (empty: every prompt is unmapped, so denied).
    pub prompt_policy: PromptPolicy,
    /// The local resource (URI or URI template) → scope policy (empty: every resource is
    /// unmapped, so denied).
    pub resource_policy: ResourcePolicy,
    /// Where tool policy comes from.
    pub policy_mode: PolicyMode,
    /// How tokens are validated.
    pub validation_mode: ValidationMode,
    /// Publish the tool inventory to the console at start-up.
    pub publish_manifest: bool,
    /// Console base URL (defaults to the authorization server).
    pub console_url: Option<String>,
    /// The resource server's credentials for the console's SDK endpoints (policy and manifest):
    /// `AUTHSEC_INTROSPECTION_CLIENT_ID` / `_SECRET`, with or without an introspection URL.
    pub console_credentials: Option<ClientCredentials>,
    /// How long a console policy is used before it is refreshed (default 30 s).
    pub policy_cache_ttl: Duration,
    /// How long past its TTL a console policy is still used while refreshes fail (default
    /// 120 s); beyond it `remote_required` answers 503 `policy_unavailable` and
    /// `remote_with_local_fallback` uses the local map.
    pub policy_max_stale: Duration,
    /// Hold a wait-for-change request (`?wait_for_generation=N`) open to the console so a
    /// policy change arrives at once (default on); off, changes arrive within the TTL.
    pub policy_wait_for_change: bool,
    /// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds (default 60).
    pub clock_skew_secs: i64,
    /// Accepted `typ` header values.
    pub typ_policy: TypPolicy,
    /// Legacy opt-in: OAuth client ids accepted in `aud` in place of the resource URI.
    /// Off by default; every acceptance through it is logged as a warning.
    pub legacy_client_id_audiences: Vec<String>,
    /// Tokens longer than this are rejected unparsed (default 16 KiB).
    pub max_token_bytes: usize,
    /// Minimum interval between JWKS refreshes caused by unknown `kid`s (default 10 s).
    pub jwks_min_refresh_interval: Duration,
    /// Capacity of the verified-token cache in entries (default 10 000; 0 disables it).
    pub token_cache_entries: usize,
    /// What the `scope` of a 403 challenge contains.
    pub challenge_scope: ChallengeScope,
    /// Largest MCP request body the HTTP layer buffers and inspects (default 4 MiB; above: 413).
    pub max_body_bytes: usize,
    /// Filter `tools/list` responses to the tools the caller may call (default on).
    pub filter_tools_list: bool,
    /// Opt-in: report denials of JSON-RPC requests in band (JSON-RPC errors and `isError`
    /// tool results with structured `_meta`) instead of HTTP 401/403 (default off).
    pub in_band_denials: bool,
    /// The secret that binds each `Mcp-Session-Id` to its principal (a MAC carried in the
    /// session id). Give every instance behind one load balancer the same key; unset, a random
    /// key per process is used, so sessions do not survive a restart or span instances.
    pub session_key: Option<Secret>,
    /// Where "now" comes from. Override only in tests.
    pub clock: Clock,
}

/// The shortest accepted [`Config::session_key`].
pub const MIN_SESSION_KEY_BYTES: usize = 32;

/// A configuration error: which field, what value, what is wrong, how to fix it, and
/// ([`ConfigError::kind`]) what sort of mistake it is.
///
/// ```
/// use authsec::config::{Config, ConfigErrorKind};
///
/// let err = Config::builder("https://auth.example.com", "http://mcp.example.com/mcp")
///     .build()
///     .unwrap_err();
/// assert_eq!(err.kind(), ConfigErrorKind::Insecure);
/// assert_eq!(err.field, "resource_uri");
/// assert_eq!(err.env, "AUTHSEC_RESOURCE_URI");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} ({env}){}: {problem}. Fix: {fix}", value.as_ref().map(|v| format!(" = {v:?}")).unwrap_or_default())]
pub struct ConfigError {
    /// The TOML/builder key, e.g. `resource_uri`.
    pub field: &'static str,
    /// The environment variable, e.g. `AUTHSEC_RESOURCE_URI`.
    pub env: String,
    /// The offending value (never a secret).
    pub value: Option<String>,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
    // Boxed: configuration errors travel in `Result`s that must stay small.
    cause: Box<Cause>,
}

/// What a [`ConfigError`] knows beyond its public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cause {
    kind: ConfigErrorKind,
    policy: Option<PolicyError>,
}

/// What sort of mistake a [`ConfigError`] is, for callers that branch on it (an operator
/// tool that prompts for a missing setting, a test that expects a refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A required setting is absent: `issuer`, `resource_uri`, or one another setting needs
    /// (the introspection client id and secret with `introspection_url`, `resource_server_id`
    /// in the remote policy modes).
    Missing,
    /// A value does not parse or is out of range: not a URL, boolean, number, keyword or scope
    /// token; a query or fragment where none is allowed; a limit too small or too large.
    Invalid,
    /// A well-formed value that would weaken protection: plain `http` to a non-loopback host,
    /// a session key shorter than [`MIN_SESSION_KEY_BYTES`].
    Insecure,
    /// Settings that contradict each other, e.g. a validation mode that introspects without
    /// an introspection endpoint.
    Conflict,
    /// A tool, prompt or resource policy is refused; [`ConfigError::policy_error`] says how.
    Policy,
    /// The configuration file cannot be read.
    Io,
    /// The configuration file is not TOML, has an unknown key or a value of the wrong type.
    Parse,
}

impl ConfigError {
    /// What sort of mistake this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.cause.kind
    }

    /// The policy error behind a [`ConfigErrorKind::Policy`] error.
    pub fn policy_error(&self) -> Option<&PolicyError> {
        self.cause.policy.as_ref()
    }
}

fn err(
    kind: ConfigErrorKind,
    field: &'static str,
    value: Option<&str>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError {
        field,
        env: format!("AUTHSEC_{}", env_suffix(field)),
        value: value.map(str::to_owned),
        problem: problem.into(),
        fix: fix.into(),
        cause: Box::new(Cause { kind, policy: None }),
    }
}

/// A refused tool, prompt or resource map, named by its TOML key.
fn policy_err(field: &'static str, error: PolicyError, fix: &str) -> ConfigError {
    let mut e = err(ConfigErrorKind::Policy, field, None, error.to_string(), fix);
    e.cause.policy = Some(error);
    e
}

fn env_suffix(field: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|s| s.field == field || s.toml == Some(field))
        .map_or("", |s| s.env)
}

/// One setting as its reference documents it: generated, like [`RawConfig`]'s fields, its
/// environment parsing and its merge, from the one declaration of each setting in this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The builder/TOML field, e.g. `resource_uri`.
    pub field: &'static str,
    /// The environment variable without its prefix, e.g. `RESOURCE_URI`.
    pub env: &'static str,
    /// The TOML key when it differs from `field` (`tool_scopes` for `tool_scopes_json`).
    pub toml: Option<&'static str>,
    /// What it means (Markdown).
    pub doc: &'static str,
    /// The default (Markdown).
    pub default: &'static str,
    /// A secret: never echoed, and no command-line flag.
    pub secret: bool,
}

/// A value read from one environment variable.
trait FromVar: Sized {
    fn from_var(field: &'static str, v: String) -> Result<Self, ConfigError>;
}

impl FromVar for String {
    fn from_var(_: &'static str, v: String) -> Result<Self, ConfigError> {
        Ok(v)
    }
}

impl FromVar for Secret {
    fn from_var(_: &'static str, v: String) -> Result<Self, ConfigError> {
        Ok(Secret(v))
    }
}

/// Lists are space- or comma-separated.
impl FromVar for Vec<String> {
    fn from_var(_: &'static str, v: String) -> Result<Self, ConfigError> {
        Ok(split_list(&v))
    }
}

impl FromVar for bool {
    fn from_var(field: &'static str, v: String) -> Result<Self, ConfigError> {
        parse_bool(&v).ok_or_else(|| {
            err(
                ConfigErrorKind::Invalid,
                field,
                Some(&v),
                "not a boolean",
                "use true or false",
            )
        })
    }
}

/// `{prefix}{suffix}` through `get`, parsed; empty counts as unset.
fn read_var<T: FromVar>(
    get: &impl Fn(&str) -> Option<String>,
    prefix: &str,
    field: &'static str,
    suffix: &str,
) -> Result<Option<T>, ConfigError> {
    get(&format!("{prefix}{suffix}"))
        .filter(|v| !v.is_empty())
        .map(|v| T::from_var(field, v))
        .transpose()
}

macro_rules! from_var_number {
    ($($t:ty),*) => {$(
        impl FromVar for $t {
            fn from_var(field: &'static str, v: String) -> Result<Self, ConfigError> {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| <$t>::try_from(n).ok())
                    .ok_or_else(|| {
                        err(ConfigErrorKind::Invalid, field, Some(&v), "not a non-negative integer", "give a whole number")
                    })
            }
        }
    )*};
}
from_var_number!(u64, usize, i64);

/// Declares every setting once: its field and type, its environment variable, its meaning and
/// its default. From this come [`RawConfig`]'s fields, [`RawConfig::from_vars`],
/// [`RawConfig::or`] and [`SETTINGS`] (the configuration reference in the book is generated
/// from it, and a test holds the book to it). Validation and the typed [`Config`] are in
/// [`RawConfig::into_config`].
macro_rules! settings {
    ($(
        $(#[$attr:meta])*
        $field:ident: $ty:ty, $env:literal, $(toml $toml:literal,)? $(secret $secret:literal,)?
            doc $doc:literal, default $default:literal;
    )*) => {
        /// The unvalidated form shared by TOML, environment and builder. Every field is
        /// optional; each is documented in [`SETTINGS`] and the configuration reference.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawConfig {
            $(
                #[doc = $doc]
                $(#[$attr])*
                pub $field: Option<$ty>,
            )*
            /// Tool → scopes table (TOML `[tool_scopes]`).
            pub tool_scopes: Option<BTreeMap<String, RuleReprPub>>,
            /// Prompt → scopes table (TOML `[prompt_scopes]`).
            pub prompt_scopes: Option<BTreeMap<String, RuleReprPub>>,
            /// Resource URI or URI template → scopes table (TOML `[resource_scopes]`).
            pub resource_scopes: Option<BTreeMap<String, RuleReprPub>>,
            #[serde(skip)]
            clock: Option<Clock>,
        }

        /// Every setting, in the order of the configuration reference.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                field: stringify!($field),
                env: $env,
                toml: settings!(@opt $($toml)?),
                doc: $doc,
                default: $default,
                secret: settings!(@flag $($secret)?),
            },
        )*];

        impl RawConfig {
            /// Reads variables named `{prefix}…` through `get` (empty values count as unset).
            pub fn from_vars(
                prefix: &str,
                get: impl Fn(&str) -> Option<String>,
            ) -> Result<Self, ConfigError> {
                Ok(RawConfig {
                    $($field: read_var(&get, prefix, stringify!($field), $env)?,)*
                    tool_scopes: None,
                    prompt_scopes: None,
                    resource_scopes: None,
                    clock: None,
                })
            }

            /// Fills every field unset in `self` from `other` (`self` wins).
            pub fn or(self, other: RawConfig) -> RawConfig {
                RawConfig {
                    $($field: self.$field.or(other.$field),)*
                    tool_scopes: self.tool_scopes.or(other.tool_scopes),
                    prompt_scopes: self.prompt_scopes.or(other.prompt_scopes),
                    resource_scopes: self.resource_scopes.or(other.resource_scopes),
                    clock: self.clock.or(other.clock),
                }
            }
        }
    };
    (@opt) => { None };
    (@opt $v:literal) => { Some($v) };
    (@flag) => { false };
    (@flag $v:literal) => { $v };
}

settings! {
    issuer: String, "ISSUER",
        doc "required; compared byte for byte with `iss`", default "—";
    resource_uri: String, "RESOURCE_URI",
        doc "required, absolute; `aud` must contain it byte for byte", default "—";
    authorization_servers: Vec<String>, "AUTHORIZATION_SERVER",
        doc "authorization servers advertised in the resource metadata", default "the issuer";
    jwks_url: String, "JWKS_URL",
        doc "JWKS location", default "discovered: RFC 8414, then OpenID discovery";
    introspection_url: String, "INTROSPECTION_URL",
        doc "RFC 7662 introspection endpoint (never taken from discovery)", default "none";
    introspection_client_id: String, "INTROSPECTION_CLIENT_ID",
        doc "the client id introspection authenticates with; it and the secret also authenticate the console's policy and manifest endpoints (see [remote policy](../guide/remote-policy.md))",
        default "none";
    introspection_client_secret: Secret, "INTROSPECTION_CLIENT_SECRET", secret true,
        doc "the client secret for introspection and the console's endpoints", default "none";
    introspection_auth_method: String, "INTROSPECTION_AUTH_METHOD",
        doc "`client_secret_basic` \\| `client_secret_post`", default "`client_secret_basic`";
    introspection_timeout_secs: u64, "INTROSPECTION_TIMEOUT_SECS",
        doc "introspection request timeout", default "`5`";
    introspection_cache_ttl_secs: u64, "INTROSPECTION_CACHE_TTL_SECS",
        doc "longest an active answer is cached (never past its `exp`)", default "`60`";
    introspection_negative_cache_ttl_secs: u64, "INTROSPECTION_NEGATIVE_CACHE_TTL_SECS",
        doc "how long an inactive answer is cached (0–60)", default "`5`";
    introspection_require_aud: bool, "INTROSPECTION_REQUIRE_AUD",
        doc "an introspected opaque token must carry `aud` (see [introspection](../guide/validation.md#the-introspection-request-and-answer-rfc-7662))",
        default "`true`";
    resource_name: String, "RESOURCE_NAME",
        doc "`resource_name` in the resource metadata", default "none";
    resource_documentation: String, "RESOURCE_DOCUMENTATION",
        doc "`resource_documentation` in the resource metadata", default "none";
    resource_server_id: String, "RESOURCE_SERVER_ID",
        doc "console id, e.g. `rs-525da3b4`", default "none";
    supported_scopes: Vec<String>, "SUPPORTED_SCOPES",
        doc "`scopes_supported` (space or comma separated)",
        default "every scope in the tool, prompt and resource policies";
    base_scopes: Vec<String>, "BASE_SCOPES",
        doc "the least a client needs to connect", default "none";
    #[serde(skip)]
    tool_scopes_json: String, "TOOL_SCOPES_JSON", toml "tool_scopes",
        doc "`{\"tool\":[\"scope\",…]}`; `[]` = public; `[\"a\",\"b\"]` = any of; `{\"all\":[…]}` = all of (TOML: a `[tool_scopes]` table)",
        default "empty (every tool unmapped)";
    #[serde(skip)]
    prompt_scopes_json: String, "PROMPT_SCOPES_JSON", toml "prompt_scopes",
        doc "`{\"prompt\":[\"scope\",…]}`, the same rule shapes, for `prompts/get` and `prompts/list` (TOML: `[prompt_scopes]`)",
        default "empty (every prompt unmapped)";
    #[serde(skip)]
    resource_scopes_json: String, "RESOURCE_SCOPES_JSON", toml "resource_scopes",
        doc "`{\"uri or URI template\":[\"scope\",…]}`, the same rule shapes, for `resources/read`, resource subscriptions, `resources/list` and `resources/templates/list` (TOML: `[resource_scopes]`)",
        default "empty (every resource unmapped)";
    policy_mode: String, "POLICY_MODE",
        doc "`remote_required` \\| `remote_with_local_fallback` \\| `local_only` \\| `open`",
        default "`local_only`";
    validation_mode: String, "VALIDATION_MODE",
        doc "`jwt_only` \\| `introspection_only` \\| `jwt_and_introspect` \\| `jwt_or_introspect` \\| `auto`",
        default "`auto`";
    publish_manifest: bool, "PUBLISH_MANIFEST",
        doc "publish the tool inventory to the console at start-up", default "`false`";
    console_url: String, "CONSOLE_URL",
        doc "console base URL", default "the authorization server";
    policy_cache_ttl_secs: u64, "POLICY_CACHE_TTL_SECS",
        doc "remote modes: a console policy older than this is refreshed", default "`30`";
    policy_max_stale_secs: u64, "POLICY_MAX_STALE_SECS",
        doc "remote modes: how long past the TTL a policy is still used while refreshes fail",
        default "`120`";
    policy_wait_for_change: bool, "POLICY_WAIT_FOR_CHANGE",
        doc "remote modes: keep a wait-for-change request open to the console", default "`true`";
    clock_skew_secs: i64, "CLOCK_SKEW_SECS",
        doc "leeway for `exp`/`nbf`/`iat` (0–3600)", default "`60`";
    typ_policy: String, "TYP_POLICY",
        doc "`lenient` (`at+jwt`, `application/at+jwt`, `JWT`, absent) \\| `rfc9068`",
        default "`lenient`";
    legacy_client_id_audiences: Vec<String>, "LEGACY_CLIENT_ID_AUDIENCES",
        doc "legacy opt-in: client ids accepted in `aud` instead of the resource (logged as a warning)",
        default "none";
    max_token_bytes: usize, "MAX_TOKEN_BYTES",
        doc "tokens above this are refused unparsed", default "`16384`";
    jwks_min_refresh_secs: u64, "JWKS_MIN_REFRESH_SECS",
        doc "at most one unknown-`kid` JWKS refresh per interval", default "`10`";
    token_cache_entries: usize, "TOKEN_CACHE_ENTRIES",
        doc "bound of each token cache — verified JWTs, introspection answers (0 disables)",
        default "`10000`";
    challenge_scope: String, "CHALLENGE_SCOPE",
        doc "403 `scope`: `by_protocol` (MCP 2026-07-28 and later: the operation's scopes only, SEP-2350; earlier revisions: plus those granted) \\| `required_and_granted` \\| `required`",
        default "`by_protocol`";
    max_body_bytes: usize, "MAX_BODY_BYTES",
        doc "largest MCP request body the HTTP layer buffers and inspects (above: 413)",
        default "`4194304`";
    filter_tools_list: bool, "FILTER_TOOLS_LIST",
        doc "`tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` results list only what the caller may use, marked `\"cacheScope\": \"private\"`",
        default "`true`";
    in_band_denials: bool, "IN_BAND_DENIALS",
        doc "opt-in: denials of JSON-RPC requests as JSON-RPC errors / `isError` results (see [in-band denials](../guide/rmcp.md#in-band-denials))",
        default "`false`";
    session_key: Secret, "SESSION_KEY", secret true,
        doc "the secret (at least 32 bytes) keying the MAC that binds each `Mcp-Session-Id` to its principal; give every instance the same value (see [sessions](../security.md#sessions))",
        default "random per process: sessions do not survive a restart or span instances";
}

/// The configuration reference's table: one row per [`SETTINGS`] entry, variables with
/// `prefix`.
pub fn settings_table(prefix: &str) -> String {
    let mut out = String::from("| variable | meaning | default |\n|---|---|---|\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "| `{prefix}{}` | {} | {} |\n",
            s.env, s.doc, s.default
        ));
    }
    out
}

/// One tool's rule as written in TOML (`["a"]`, `[]`, `{ all = ["a", "b"] }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct RuleReprPub(RuleRepr);

/// Builder for [`Config`]; `build` validates.
#[derive(Debug, Clone)]
pub struct ConfigBuilder(RawConfig);

impl Config {
    /// Starts a configuration for tokens from `issuer` protecting `resource_uri`.
    pub fn builder(issuer: impl Into<String>, resource_uri: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder(RawConfig {
            issuer: Some(issuer.into()),
            resource_uri: Some(resource_uri.into()),
            ..RawConfig::default()
        })
    }

    /// Reads the `AUTHSEC_*` environment variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with_prefix("AUTHSEC_")
    }

    /// Reads environment variables named `{prefix}ISSUER`, `{prefix}RESOURCE_URI`, ….
    pub fn from_env_with_prefix(prefix: &str) -> Result<Self, ConfigError> {
        Self::from_vars(prefix, |name| std::env::var(name).ok())
    }

    /// Reads variables from any lookup function (the testable core of [`Config::from_env`]).
    pub fn from_vars(
        prefix: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        RawConfig::from_vars(prefix, get)?.into_config()
    }

    /// Parses a TOML document whose keys are the snake_case field names (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml_str(toml_text: &str) -> Result<Self, ConfigError> {
        RawConfig::from_toml_str(toml_text)?.into_config()
    }

    /// Reads and parses a TOML file (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml_file(path: impl AsRef<std::path::Path>) -> Result<Self, ConfigError> {
        RawConfig::from_toml_file(path)?.into_config()
    }

    /// The effective validation mode (`Auto` resolved from the configured endpoints).
    pub fn effective_validation_mode(&self) -> ValidationMode {
        match (self.validation_mode, &self.introspection) {
            (ValidationMode::Auto, Some(_)) if self.jwks_url.is_some() => {
                ValidationMode::JwtAndIntrospect
            }
            (ValidationMode::Auto, Some(_)) => ValidationMode::IntrospectionOnly,
            (ValidationMode::Auto, None) => ValidationMode::JwtOnly,
            (mode, _) => mode,
        }
    }

    /// `scopes_supported`: configured, else every scope named by the local policies (tools,
    /// prompts and resources).
    pub fn scopes_supported(&self) -> Vec<String> {
        if !self.supported_scopes.is_empty() {
            return self.supported_scopes.clone();
        }
        let mut v = self.tool_policy.all_scopes();
        v.extend(self.prompt_policy.all_scopes());
        v.extend(self.resource_policy.all_scopes());
        v.sort();
        v.dedup();
        v
    }

    /// The console base URL: configured, else the first authorization server.
    pub fn effective_console_url(&self) -> Option<&str> {
        self.console_url
            .as_deref()
            .or(self.authorization_servers.first().map(String::as_str))
    }
}

impl RawConfig {
    /// Parses TOML; unknown keys are errors (a typo must not silently fall back to a default).
    /// Feature `toml`.
    #[cfg(feature = "toml")]
    pub fn from_toml_str(toml_text: &str) -> Result<Self, ConfigError> {
        toml::from_str(toml_text).map_err(|e| ConfigError {
            field: "toml",
            env: "--config".into(),
            value: None,
            problem: e.message().to_string(),
            cause: Box::new(Cause {
                kind: ConfigErrorKind::Parse,
                policy: None,
            }),
            fix: format!(
                "correct the TOML{}; keys are the snake_case names in the README",
                e.span()
                    .map(|s| {
                        let line = toml_text[..s.start].matches('\n').count() + 1;
                        format!(" at line {line}")
                    })
                    .unwrap_or_default()
            ),
        })
    }

    /// Reads a TOML file (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml_file(path: impl AsRef<std::path::Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            field: "toml",
            env: "--config".into(),
            value: Some(path.display().to_string()),
            problem: format!("cannot read the file: {e}"),
            fix: "check the path and permissions".into(),
            cause: Box::new(Cause {
                kind: ConfigErrorKind::Io,
                policy: None,
            }),
        })?;
        Self::from_toml_str(&text)
    }

    /// Validates and converts.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let issuer = self.issuer.ok_or_else(|| {
            err(ConfigErrorKind::Missing,
                "issuer",
                None,
                "is required",
                "set it to the exact `issuer` your authorization server publishes in its .well-known metadata",
            )
        })?;
        check_issuer(&issuer)?;
        let resource_uri = self.resource_uri.ok_or_else(|| {
            err(
                ConfigErrorKind::Missing,
                "resource_uri",
                None,
                "is required",
                "set it to this server's public MCP URL, e.g. https://mcp.example.com/mcp",
            )
        })?;
        check_resource_uri(&resource_uri)?;

        let jwks_url = self
            .jwks_url
            .as_deref()
            .map(|u| parse_endpoint("jwks_url", u))
            .transpose()?;

        let introspection = match self.introspection_url.as_deref() {
            None => None,
            Some(u) => {
                let url = parse_endpoint("introspection_url", u)?;
                let client_id = self.introspection_client_id.clone().ok_or_else(|| {
                    err(
                        ConfigErrorKind::Missing,
                        "introspection_client_id",
                        None,
                        "is required when introspection_url is set",
                        "set the client id this server uses to call the introspection endpoint",
                    )
                })?;
                let client_secret = self.introspection_client_secret.clone().ok_or_else(|| {
                    err(
                        ConfigErrorKind::Missing,
                        "introspection_client_secret",
                        None,
                        "is required when introspection_url is set",
                        "set the client secret registered for introspection_client_id",
                    )
                })?;
                let negative_ttl = self.introspection_negative_cache_ttl_secs.unwrap_or(5);
                if negative_ttl > 60 {
                    return Err(err(ConfigErrorKind::Invalid,
                        "introspection_negative_cache_ttl_secs",
                        Some(&negative_ttl.to_string()),
                        "must be at most 60",
                        "keep it a few seconds (default 5): a token refused once stays refused for this long, even after the authorization server starts accepting it",
                    ));
                }
                Some(IntrospectionConfig {
                    url,
                    client_id,
                    client_secret,
                    auth_method: parse_keyword(
                        "introspection_auth_method",
                        self.introspection_auth_method.as_deref(),
                    )?,
                    timeout: Duration::from_secs(self.introspection_timeout_secs.unwrap_or(5)),
                    cache_ttl: Duration::from_secs(self.introspection_cache_ttl_secs.unwrap_or(60)),
                    negative_cache_ttl: Duration::from_secs(negative_ttl),
                    require_audience: self.introspection_require_aud.unwrap_or(true),
                })
            }
        };

        let validation_mode: ValidationMode =
            parse_keyword("validation_mode", self.validation_mode.as_deref())?;
        let needs_introspection = matches!(
            validation_mode,
            ValidationMode::IntrospectionOnly
                | ValidationMode::JwtAndIntrospect
                | ValidationMode::JwtOrIntrospect
        );
        if needs_introspection && introspection.is_none() {
            return Err(err(
                ConfigErrorKind::Conflict,
                "validation_mode",
                Some(validation_mode.as_str()),
                "needs an introspection endpoint",
                "set AUTHSEC_INTROSPECTION_URL (with client id and secret) or choose jwt_only",
            ));
        }

        let tool_policy = match (self.tool_scopes, self.tool_scopes_json) {
            (Some(table), _) => ToolPolicy::from_repr(
                table.into_iter().map(|(k, v)| (k, v.0)).collect(),
                TargetKind::Tool,
            ),
            (None, Some(json)) => ToolPolicy::from_json(&json),
            (None, None) => Ok(ToolPolicy::new()),
        }
        .map_err(|e| {
            policy_err(
                "tool_scopes",
                e,
                "write {\"tool\": [\"scope\", …]} ([] for a public tool)",
            )
        })?;
        let prompt_policy = match (self.prompt_scopes, self.prompt_scopes_json) {
            (Some(table), _) => ToolPolicy::from_repr(
                table.into_iter().map(|(k, v)| (k, v.0)).collect(),
                TargetKind::Prompt,
            ),
            (None, Some(json)) => ToolPolicy::prompts_from_json(&json),
            (None, None) => Ok(ToolPolicy::new()),
        }
        .map_err(|e| {
            policy_err(
                "prompt_scopes",
                e,
                "write {\"prompt\": [\"scope\", …]} ([] for a public prompt)",
            )
        })?;
        let resource_policy = match (self.resource_scopes, self.resource_scopes_json) {
            (Some(table), _) => {
                ResourcePolicy::from_repr(table.into_iter().map(|(k, v)| (k, v.0)).collect())
            }
            (None, Some(json)) => ResourcePolicy::from_json(&json),
            (None, None) => Ok(ResourcePolicy::new()),
        }
        .map_err(|e| {
            policy_err(
                "resource_scopes",
                e,
                "write {\"notes://all\": [\"scope\", …], \"notes://note/{id}\": [\"scope\"]} ([] for a public resource)",
            )
        })?;

        for (field, scopes) in [
            ("supported_scopes", self.supported_scopes.as_deref()),
            ("base_scopes", self.base_scopes.as_deref()),
        ] {
            if let Some(bad) = scopes
                .unwrap_or_default()
                .iter()
                .find(|s| !crate::policy::is_valid_scope_token(s))
            {
                return Err(err(
                    ConfigErrorKind::Invalid,
                    field,
                    Some(bad),
                    "is not a valid scope token",
                    "scopes contain no spaces, quotes or backslashes",
                ));
            }
        }

        let clock_skew_secs = self.clock_skew_secs.unwrap_or(60);
        if !(0..=3600).contains(&clock_skew_secs) {
            return Err(err(
                ConfigErrorKind::Invalid,
                "clock_skew_secs",
                Some(&clock_skew_secs.to_string()),
                "must be between 0 and 3600",
                "use a small leeway (the default is 60); fix large skew with NTP",
            ));
        }
        let max_token_bytes = self.max_token_bytes.unwrap_or(16 * 1024);
        if max_token_bytes < 64 {
            return Err(err(
                ConfigErrorKind::Invalid,
                "max_token_bytes",
                Some(&max_token_bytes.to_string()),
                "is too small for any real token",
                "leave the default (16384) or raise it",
            ));
        }
        let max_body_bytes = self.max_body_bytes.unwrap_or(4 * 1024 * 1024);
        if max_body_bytes < 1024 {
            return Err(err(
                ConfigErrorKind::Invalid,
                "max_body_bytes",
                Some(&max_body_bytes.to_string()),
                "is too small for MCP requests",
                "leave the default (4194304) or give at least 1024",
            ));
        }
        let authorization_servers = self
            .authorization_servers
            .unwrap_or_else(|| vec![issuer.clone()]);
        for a in &authorization_servers {
            parse_endpoint("authorization_servers", a)?;
        }
        let policy_mode = parse_keyword("policy_mode", self.policy_mode.as_deref())?;
        let console_url = self.console_url;
        if let Some(c) = &console_url {
            parse_endpoint("console_url", c)?;
        }
        let remote = matches!(
            policy_mode,
            PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback
        );
        #[cfg(not(feature = "remote-policy"))]
        if remote || self.publish_manifest == Some(true) {
            let (setting, value) = if remote {
                ("policy_mode", policy_mode.as_str())
            } else {
                ("publish_manifest", "true")
            };
            return Err(err(
                ConfigErrorKind::Invalid,
                setting,
                Some(value),
                "needs the console client, which this build of authsec leaves out",
                "enable authsec's `remote-policy` feature (on by default), or decide locally \
                 (policy_mode = local_only, publish_manifest = false)",
            ));
        }
        if remote && self.resource_server_id.is_none() {
            return Err(err(
                ConfigErrorKind::Missing,
                "resource_server_id",
                None,
                "is required for remote policy modes",
                "set the console id of this resource server, e.g. rs-525da3b4",
            ));
        }
        let console_credentials = match (
            self.introspection_client_id.clone(),
            self.introspection_client_secret.clone(),
        ) {
            (Some(client_id), Some(client_secret)) => Some(ClientCredentials {
                client_id,
                client_secret,
            }),
            _ => None,
        };
        // Missing console credentials are reported when the policy client starts
        // (`RemotePolicy::start`): offline tools such as `authsec diagnose` do not need them.
        let policy_cache_ttl_secs = self.policy_cache_ttl_secs.unwrap_or(30);
        if policy_cache_ttl_secs == 0 {
            return Err(err(
                ConfigErrorKind::Invalid,
                "policy_cache_ttl_secs",
                Some("0"),
                "must be at least 1",
                "leave the default (30)",
            ));
        }

        if let Some(key) = &self.session_key {
            if key.expose().len() < MIN_SESSION_KEY_BYTES {
                return Err(err(ConfigErrorKind::Insecure,
                    "session_key",
                    None,
                    format!(
                        "is {} bytes; at least {MIN_SESSION_KEY_BYTES} are needed",
                        key.expose().len()
                    ),
                    "use a random secret, e.g. the output of `openssl rand -base64 32`, the same on every instance",
                ));
            }
        }

        Ok(Config {
            issuer,
            authorization_servers,
            jwks_url,
            introspection,
            resource_uri,
            resource_name: self.resource_name,
            resource_documentation: self.resource_documentation,
            resource_server_id: self.resource_server_id,
            supported_scopes: self.supported_scopes.unwrap_or_default(),
            base_scopes: self.base_scopes.unwrap_or_default(),
            tool_policy,
            prompt_policy,
            resource_policy,
            policy_mode,
            validation_mode,
            publish_manifest: self.publish_manifest.unwrap_or(false),
            console_url,
            console_credentials,
            policy_cache_ttl: Duration::from_secs(policy_cache_ttl_secs),
            policy_max_stale: Duration::from_secs(self.policy_max_stale_secs.unwrap_or(120)),
            policy_wait_for_change: self.policy_wait_for_change.unwrap_or(true),
            clock_skew_secs,
            typ_policy: parse_keyword("typ_policy", self.typ_policy.as_deref())?,
            legacy_client_id_audiences: self.legacy_client_id_audiences.unwrap_or_default(),
            max_token_bytes,
            jwks_min_refresh_interval: Duration::from_secs(
                self.jwks_min_refresh_secs.unwrap_or(10),
            ),
            token_cache_entries: self.token_cache_entries.unwrap_or(10_000),
            challenge_scope: parse_keyword("challenge_scope", self.challenge_scope.as_deref())?,
            max_body_bytes,
            filter_tools_list: self.filter_tools_list.unwrap_or(true),
            in_band_denials: self.in_band_denials.unwrap_or(false),
            session_key: self.session_key,
            clock: self.clock.unwrap_or_default(),
        })
    }
}

fn parse_keyword<T: FromStr<Err = UnknownKeyword> + Default>(
    field: &'static str,
    v: Option<&str>,
) -> Result<T, ConfigError> {
    match v {
        None => Ok(T::default()),
        Some(s) => s.parse().map_err(|problem: UnknownKeyword| {
            err(
                ConfigErrorKind::Invalid,
                field,
                Some(s),
                problem.to_string(),
                "use one of the listed values",
            )
        }),
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// True for loopback hosts, where plain `http` is acceptable (local development and tests):
/// `localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`.
pub fn is_loopback(url: &Uri) -> bool {
    crate::uri::is_loopback(url)
}

fn parse_endpoint(field: &'static str, value: &str) -> Result<Uri, ConfigError> {
    let url = crate::uri::parse_absolute(value).map_err(|e| {
        err(
            ConfigErrorKind::Invalid,
            field,
            Some(value),
            format!("is not an absolute URL ({e})"),
            "give the full URL including https://",
        )
    })?;
    match url.scheme_str().unwrap_or_default() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(err(
            ConfigErrorKind::Insecure,
            field,
            Some(value),
            "uses plain http on a non-loopback host",
            "use https (http is accepted only for localhost / 127.0.0.1 / [::1])",
        )),
        other => Err(err(
            ConfigErrorKind::Invalid,
            field,
            Some(value),
            format!("has scheme {other:?}"),
            "use an https:// URL",
        )),
    }
}

fn check_issuer(issuer: &str) -> Result<(), ConfigError> {
    let url = parse_endpoint("issuer", issuer)?;
    if url.query().is_some() || issuer.contains('#') {
        return Err(err(
            ConfigErrorKind::Invalid,
            "issuer",
            Some(issuer),
            "has a query or fragment, which RFC 8414 forbids",
            "use the issuer exactly as your authorization server publishes it",
        ));
    }
    Ok(())
}

fn check_resource_uri(value: &str) -> Result<(), ConfigError> {
    let url = crate::uri::parse_absolute(value).map_err(|e| {
        err(
            ConfigErrorKind::Invalid,
            "resource_uri",
            Some(value),
            format!("is not an absolute URI ({e})"),
            "use the full public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp",
        )
    })?;
    if !matches!(url.scheme_str(), Some("https" | "http")) {
        return Err(err(
            ConfigErrorKind::Invalid,
            "resource_uri",
            Some(value),
            "has no http(s) scheme and host",
            "use the full public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp",
        ));
    }
    if url.scheme_str() == Some("http") && !is_loopback(&url) {
        return Err(err(
            ConfigErrorKind::Insecure,
            "resource_uri",
            Some(value),
            "uses plain http on a non-loopback host",
            "use the https URL clients reach this server at",
        ));
    }
    if value.contains('#') {
        return Err(err(
            ConfigErrorKind::Invalid,
            "resource_uri",
            Some(value),
            "has a fragment, which RFC 8707 forbids",
            "remove the #… part",
        ));
    }
    Ok(())
}

impl ConfigBuilder {
    /// Sets the JWKS URL (otherwise discovered from the issuer).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.0.jwks_url = Some(url.into());
        self
    }
    /// Configures RFC 7662 introspection.
    pub fn introspection(
        mut self,
        url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.0.introspection_url = Some(url.into());
        self.0.introspection_client_id = Some(client_id.into());
        self.0.introspection_client_secret = Some(Secret::new(client_secret));
        self
    }
    /// Introspection client authentication method.
    pub fn introspection_auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.0.introspection_auth_method = Some(method.as_str().into());
        self
    }
    /// Introspection request timeout.
    pub fn introspection_timeout(mut self, timeout: Duration) -> Self {
        self.0.introspection_timeout_secs = Some(timeout.as_secs());
        self
    }
    /// Introspection positive-cache TTL.
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.0.introspection_cache_ttl_secs = Some(ttl.as_secs());
        self
    }
    /// How long an inactive introspection result is cached (default 5 s, at most 60 s).
    pub fn introspection_negative_cache_ttl(mut self, ttl: Duration) -> Self {
        self.0.introspection_negative_cache_ttl_secs = Some(ttl.as_secs());
        self
    }
    /// Whether an introspection response must carry `aud` (default true; see
    /// [`IntrospectionConfig::require_audience`]).
    pub fn introspection_require_aud(mut self, required: bool) -> Self {
        self.0.introspection_require_aud = Some(required);
        self
    }
    /// Authorization servers advertised in the protected resource metadata.
    pub fn authorization_servers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        servers: I,
    ) -> Self {
        self.0.authorization_servers = Some(servers.into_iter().map(Into::into).collect());
        self
    }
    /// Human-readable resource name.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.0.resource_name = Some(name.into());
        self
    }
    /// Documentation URL for the resource metadata.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.0.resource_documentation = Some(url.into());
        self
    }
    /// Console id of this resource server.
    pub fn resource_server_id(mut self, id: impl Into<String>) -> Self {
        self.0.resource_server_id = Some(id.into());
        self
    }
    /// `scopes_supported`.
    pub fn supported_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.0.supported_scopes = Some(s.into_iter().map(Into::into).collect());
        self
    }
    /// The least a client needs to connect.
    pub fn base_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.0.base_scopes = Some(s.into_iter().map(Into::into).collect());
        self
    }
    /// The tool policy as `AUTHSEC_TOOL_SCOPES_JSON` text.
    pub fn tool_scopes_json(mut self, json: impl Into<String>) -> Self {
        self.0.tool_scopes_json = Some(json.into());
        self.0.tool_scopes = None;
        self
    }
    /// The tool policy in code, instead of `AUTHSEC_TOOL_SCOPES_JSON` text:
    ///
    /// ```
    /// use authsec::config::Config;
    /// use authsec::policy::{ToolPolicy, ToolRule};
    ///
    /// let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
    ///     .tool_policy(
    ///         ToolPolicy::new()
    ///             .with("whoami", ToolRule::public())
    ///             // any one of the two scopes
    ///             .with("get_weather", ToolRule::any_of(["weather:read", "weather:admin"]))
    ///             .with("set_alert", ToolRule::all_of(["weather:read", "alerts:write"])),
    ///     )
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.tool_policy.len(), 3);
    /// ```
    pub fn tool_policy(self, policy: ToolPolicy) -> Self {
        self.tool_scopes_json(policy.to_json())
    }
    /// The prompt policy in code (see [`ConfigBuilder::tool_policy`]).
    pub fn prompt_policy(self, policy: ToolPolicy) -> Self {
        self.prompt_scopes_json(policy.to_json())
    }
    /// The prompt policy as `AUTHSEC_PROMPT_SCOPES_JSON` text.
    pub fn prompt_scopes_json(mut self, json: impl Into<String>) -> Self {
        self.0.prompt_scopes_json = Some(json.into());
        self.0.prompt_scopes = None;
        self
    }
    /// The resource policy as `AUTHSEC_RESOURCE_SCOPES_JSON` text (keys: exact URIs, or URI
    /// templates such as `notes://note/{id}`).
    pub fn resource_scopes_json(mut self, json: impl Into<String>) -> Self {
        self.0.resource_scopes_json = Some(json.into());
        self.0.resource_scopes = None;
        self
    }
    /// Policy mode.
    pub fn policy_mode(mut self, mode: PolicyMode) -> Self {
        self.0.policy_mode = Some(mode.as_str().into());
        self
    }
    /// Validation mode.
    pub fn validation_mode(mut self, mode: ValidationMode) -> Self {
        self.0.validation_mode = Some(mode.as_str().into());
        self
    }
    /// Publish the tool manifest at start-up.
    pub fn publish_manifest(mut self, on: bool) -> Self {
        self.0.publish_manifest = Some(on);
        self
    }
    /// Console base URL.
    pub fn console_url(mut self, url: impl Into<String>) -> Self {
        self.0.console_url = Some(url.into());
        self
    }
    /// The resource server's credentials at the console (the same variables as the
    /// introspection client: `AUTHSEC_INTROSPECTION_CLIENT_ID` / `_SECRET`), for the policy and
    /// manifest endpoints when introspection is not configured.
    pub fn console_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.0.introspection_client_id = Some(client_id.into());
        self.0.introspection_client_secret = Some(Secret::new(client_secret));
        self
    }
    /// How long a console policy is used before it is refreshed (whole seconds, at least 1).
    pub fn policy_cache_ttl(mut self, ttl: Duration) -> Self {
        self.0.policy_cache_ttl_secs = Some(ttl.as_secs());
        self
    }
    /// How long past its TTL a console policy is still used while refreshes fail.
    pub fn policy_max_stale(mut self, d: Duration) -> Self {
        self.0.policy_max_stale_secs = Some(d.as_secs());
        self
    }
    /// Whether to hold a wait-for-change request open to the console (default on).
    pub fn policy_wait_for_change(mut self, on: bool) -> Self {
        self.0.policy_wait_for_change = Some(on);
        self
    }
    /// Clock skew leeway in seconds.
    pub fn clock_skew_secs(mut self, secs: i64) -> Self {
        self.0.clock_skew_secs = Some(secs);
        self
    }
    /// Accepted `typ` values.
    pub fn typ_policy(mut self, p: TypPolicy) -> Self {
        self.0.typ_policy = Some(p.as_str().into());
        self
    }
    /// Legacy, not recommended: accept these OAuth client ids in `aud` in place of the resource.
    pub fn legacy_client_id_audiences<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        ids: I,
    ) -> Self {
        self.0.legacy_client_id_audiences = Some(ids.into_iter().map(Into::into).collect());
        self
    }
    /// Token size cap in bytes.
    pub fn max_token_bytes(mut self, n: usize) -> Self {
        self.0.max_token_bytes = Some(n);
        self
    }
    /// Minimum interval between unknown-`kid` JWKS refreshes.
    pub fn jwks_min_refresh_interval(mut self, d: Duration) -> Self {
        self.0.jwks_min_refresh_secs = Some(d.as_secs());
        self
    }
    /// Verified-token cache capacity (0 disables it).
    pub fn token_cache_entries(mut self, n: usize) -> Self {
        self.0.token_cache_entries = Some(n);
        self
    }
    /// What a 403 challenge's `scope` contains.
    pub fn challenge_scope(mut self, c: ChallengeScope) -> Self {
        self.0.challenge_scope = Some(c.as_str().into());
        self
    }
    /// Largest request body the HTTP layer inspects (bytes).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.0.max_body_bytes = Some(n);
        self
    }
    /// Filter `tools/list` responses to the tools the caller may call.
    pub fn filter_tools_list(mut self, on: bool) -> Self {
        self.0.filter_tools_list = Some(on);
        self
    }
    /// Report policy denials in band (JSON-RPC errors / `isError` results) instead of HTTP 401/403.
    pub fn in_band_denials(mut self, on: bool) -> Self {
        self.0.in_band_denials = Some(on);
        self
    }
    /// The secret binding session ids to principals (see [`Config::session_key`]; at least
    /// 32 bytes).
    pub fn session_key(mut self, key: impl Into<String>) -> Self {
        self.0.session_key = Some(Secret::new(key));
        self
    }
    /// Overrides the clock. For tests: a fixed clock in production is logged as a warning.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.0.clock = Some(clock);
        self
    }
    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.0.into_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    /// The configuration reference in the book is [`settings_table`], between its markers.
    #[test]
    fn settings_reference_in_the_book_is_generated_from_the_declarations() {
        const BEGIN: &str = "<!-- settings: generated from authsec::config::SETTINGS; UPDATE_DOCS=1 cargo test -p authsec settings_reference rewrites it -->\n";
        const END: &str = "<!-- settings:end -->";
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/src/reference/configuration.md"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find(BEGIN).expect("the begin marker") + BEGIN.len();
        let end = text[start..].find(END).expect("the end marker") + start;
        let generated = settings_table("AUTHSEC_");
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{generated}{}", &text[..start], &text[end..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        assert!(
            text[start..end] == generated,
            "docs/src/reference/configuration.md is out of date: run UPDATE_DOCS=1 cargo test -p authsec settings_reference"
        );
    }

    #[test]
    fn every_setting_is_read_from_its_variable_and_named_in_its_errors() {
        for s in SETTINGS {
            // A value no setting accepts as a number or a boolean, but every text one does.
            let raw = RawConfig::from_vars("T_", |name| {
                (name == format!("T_{}", s.env)).then(|| "x".to_owned())
            });
            match raw {
                Ok(raw) => assert!(
                    format!("{raw:?}").contains(&format!("{}: Some(", s.field)),
                    "{} not read from T_{}",
                    s.field,
                    s.env
                ),
                Err(e) => {
                    assert_eq!(e.field, s.field);
                    assert_eq!(e.env, format!("AUTHSEC_{}", s.env));
                }
            }
        }
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn env_reads_every_documented_variable() {
        let c = Config::from_vars(
            "AUTHSEC_",
            vars(&[
                ("AUTHSEC_ISSUER", "https://auth.example.com"),
                ("AUTHSEC_RESOURCE_URI", "https://mcp.example.com/mcp"),
                ("AUTHSEC_JWKS_URL", "https://auth.example.com/jwks"),
                (
                    "AUTHSEC_INTROSPECTION_URL",
                    "https://auth.example.com/introspect",
                ),
                ("AUTHSEC_INTROSPECTION_CLIENT_ID", "rs"),
                ("AUTHSEC_INTROSPECTION_CLIENT_SECRET", "s3cret"),
                ("AUTHSEC_RESOURCE_NAME", "Notes"),
                ("AUTHSEC_RESOURCE_SERVER_ID", "rs-525da3b4"),
                ("AUTHSEC_SUPPORTED_SCOPES", "notes:read notes:write"),
                ("AUTHSEC_BASE_SCOPES", "notes:read"),
                (
                    "AUTHSEC_TOOL_SCOPES_JSON",
                    r#"{"list":["notes:read"],"t":[]}"#,
                ),
                ("AUTHSEC_POLICY_MODE", "open"),
                ("AUTHSEC_VALIDATION_MODE", "jwt_or_introspect"),
                ("AUTHSEC_PUBLISH_MANIFEST", "true"),
                ("AUTHSEC_CONSOLE_URL", "https://console.example.com"),
                ("AUTHSEC_CLOCK_SKEW_SECS", "30"),
            ]),
        )
        .unwrap();
        assert_eq!(c.issuer, "https://auth.example.com");
        assert_eq!(c.supported_scopes, ["notes:read", "notes:write"]);
        assert_eq!(c.base_scopes, ["notes:read"]);
        assert_eq!(c.tool_policy.len(), 2);
        assert_eq!(c.policy_mode, PolicyMode::Open);
        assert_eq!(c.validation_mode, ValidationMode::JwtOrIntrospect);
        assert!(c.publish_manifest);
        assert_eq!(c.clock_skew_secs, 30);
        assert_eq!(c.resource_server_id.as_deref(), Some("rs-525da3b4"));
        let i = c.introspection.unwrap();
        assert_eq!(i.client_secret.expose(), "s3cret");
        assert_eq!(format!("{:?}", i.client_secret), "Secret(***)");
        assert_eq!(c.authorization_servers, ["https://auth.example.com"]);
    }

    #[test]
    fn env_prefix_is_overridable() {
        let c = Config::from_vars(
            "MY_",
            vars(&[
                ("MY_ISSUER", "https://a.example"),
                ("MY_RESOURCE_URI", "https://r.example/mcp"),
            ]),
        )
        .unwrap();
        assert_eq!(c.resource_uri, "https://r.example/mcp");
    }

    #[test]
    fn resource_uri_without_scheme_names_field_value_and_fix() {
        let e = Config::builder("https://auth.example.com", "mcp.example.com/mcp")
            .build()
            .unwrap_err();
        assert_eq!(e.field, "resource_uri");
        assert_eq!(e.env, "AUTHSEC_RESOURCE_URI");
        assert_eq!(e.value.as_deref(), Some("mcp.example.com/mcp"));
        let text = e.to_string();
        assert!(
            text.starts_with("resource_uri (AUTHSEC_RESOURCE_URI) = \"mcp.example.com/mcp\""),
            "{text}"
        );
        assert!(text.contains("Fix: use the full public URL"), "{text}");
    }

    #[test]
    fn missing_issuer_is_reported() {
        let e = Config::from_vars(
            "AUTHSEC_",
            vars(&[("AUTHSEC_RESOURCE_URI", "https://r.example/mcp")]),
        )
        .unwrap_err();
        assert_eq!(e.field, "issuer");
        assert_eq!(e.problem, "is required");
        assert_eq!(e.kind(), ConfigErrorKind::Missing);
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn a_setting_another_one_needs_is_missing() {
        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .policy_mode(PolicyMode::RemoteRequired)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.field),
            (ConfigErrorKind::Missing, "resource_server_id")
        );
        let e = Config::from_vars(
            "AUTHSEC_",
            vars(&[
                ("AUTHSEC_ISSUER", "https://a.example"),
                ("AUTHSEC_RESOURCE_URI", "https://r.example/mcp"),
                ("AUTHSEC_INTROSPECTION_URL", "https://a.example/introspect"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.field),
            (ConfigErrorKind::Missing, "introspection_client_id")
        );
    }

    #[test]
    fn unparsable_and_out_of_range_values_are_invalid() {
        let base = [
            ("AUTHSEC_ISSUER", "https://a.example"),
            ("AUTHSEC_RESOURCE_URI", "https://r.example/mcp"),
        ];
        for (var, value, field) in [
            ("AUTHSEC_CLOCK_SKEW_SECS", "soon", "clock_skew_secs"),
            ("AUTHSEC_CLOCK_SKEW_SECS", "7200", "clock_skew_secs"),
            ("AUTHSEC_FILTER_TOOLS_LIST", "maybe", "filter_tools_list"),
            ("AUTHSEC_VALIDATION_MODE", "jwt", "validation_mode"),
            ("AUTHSEC_JWKS_URL", "jwks.json", "jwks_url"),
            ("AUTHSEC_BASE_SCOPES", "a\"b", "base_scopes"),
        ] {
            let mut v = base.to_vec();
            v.push((var, value));
            let e = Config::from_vars("AUTHSEC_", vars(&v)).unwrap_err();
            assert_eq!(
                (e.kind(), e.field),
                (ConfigErrorKind::Invalid, field),
                "{e}"
            );
            assert_eq!(e.policy_error(), None);
        }
    }

    #[test]
    fn weakening_values_are_insecure() {
        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .jwks_url("http://a.example/jwks")
            .build()
            .unwrap_err();
        assert_eq!((e.kind(), e.field), (ConfigErrorKind::Insecure, "jwks_url"));
        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .session_key("short")
            .build()
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.field),
            (ConfigErrorKind::Insecure, "session_key")
        );
        // The secret itself is never part of the error.
        assert!(!e.to_string().contains("short"), "{e}");
    }

    #[test]
    fn a_refused_policy_map_carries_its_policy_error() {
        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .tool_scopes_json(r#"{"add":{"any":["a"],"all":["b"]}}"#)
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Policy);
        assert_eq!(e.field, "tool_scopes");
        assert_eq!(
            e.policy_error(),
            Some(&PolicyError::AnyAndAll {
                target: crate::policy::Target::tool("add")
            })
        );
        assert_eq!(e.problem, e.policy_error().unwrap().to_string());
    }

    #[test]
    fn an_unknown_keyword_names_the_value_and_the_choices() {
        assert_eq!(
            "remote".parse::<PolicyMode>(),
            Err(UnknownKeyword {
                value: "remote".into(),
                expected: &[
                    "remote_required",
                    "remote_with_local_fallback",
                    "local_only",
                    "open"
                ],
            })
        );
        assert_eq!(" open ".parse::<PolicyMode>(), Ok(PolicyMode::Open));
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        let e = Config::builder("http://auth.example.com", "https://r.example/mcp")
            .build()
            .unwrap_err();
        assert_eq!(e.field, "issuer");
        assert_eq!(e.kind(), ConfigErrorKind::Insecure);
        Config::builder("http://127.0.0.1:9000", "http://localhost:8080/mcp")
            .build()
            .unwrap();
    }

    #[test]
    fn introspection_mode_without_endpoint_is_refused() {
        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .validation_mode(ValidationMode::IntrospectionOnly)
            .build()
            .unwrap_err();
        assert_eq!(e.field, "validation_mode");
        assert_eq!(e.kind(), ConfigErrorKind::Conflict);
    }

    #[test]
    fn defaults_are_the_strict_ones() {
        let c = Config::builder("https://a.example", "https://r.example/mcp")
            .build()
            .unwrap();
        assert_eq!(c.clock_skew_secs, 60);
        assert_eq!(c.max_token_bytes, 16384);
        assert_eq!(c.typ_policy, TypPolicy::Lenient);
        assert!(c.legacy_client_id_audiences.is_empty());
        assert_eq!(c.policy_mode, PolicyMode::LocalOnly);
        assert_eq!(c.effective_validation_mode(), ValidationMode::JwtOnly);
        assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
        assert!(c.filter_tools_list);
        assert!(!c.in_band_denials);
        assert!(!c.clock.is_overridden());
    }

    #[cfg(feature = "toml")]
    #[test]
    fn prompt_and_resource_maps_come_from_env_json_or_toml_tables() {
        let vars = |name: &str| match name {
            "AUTHSEC_ISSUER" => Some("https://a.example".to_owned()),
            "AUTHSEC_RESOURCE_URI" => Some("https://r.example/mcp".to_owned()),
            "AUTHSEC_PROMPT_SCOPES_JSON" => Some(r#"{"sum":["n:read"]}"#.to_owned()),
            "AUTHSEC_RESOURCE_SCOPES_JSON" => {
                Some(r#"{"n://all":["n:read"],"n://note/{id}":["n:admin"]}"#.to_owned())
            }
            _ => None,
        };
        let c = Config::from_vars("AUTHSEC_", vars).unwrap();
        assert_eq!(c.prompt_policy.len(), 1);
        assert_eq!(c.resource_policy.len(), 2);
        assert_eq!(c.scopes_supported(), ["n:admin", "n:read"]);

        let c = Config::from_toml_str(
            r#"
            issuer = "https://a.example"
            resource_uri = "https://r.example/mcp"
            [prompt_scopes]
            sum = { all = ["n:read", "n:write"] }
            [resource_scopes]
            "n://note/{id}" = ["n:read"]
            "#,
        )
        .unwrap();
        assert_eq!(c.prompt_policy.len(), 1);
        assert_eq!(c.resource_policy.rules_for("n://note/1").len(), 1);

        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .resource_scopes_json(r#"{"n://{+rest}":["n:read"]}"#)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.field, e.env.as_str()),
            ("resource_scopes", "AUTHSEC_RESOURCE_SCOPES_JSON")
        );
        assert_eq!(
            e.policy_error(),
            Some(&PolicyError::ResourceKey(
                crate::policy::ResourceKeyError::NotSimple {
                    template: "n://{+rest}".into(),
                    expression: "+rest".into()
                }
            ))
        );
        assert!(e.problem.contains("level 1"), "{e}");
        let e = Config::builder("https://a.example", "https://r.example/mcp")
            .prompt_scopes_json(r#"{"sum":["a b"]}"#)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.field, e.env.as_str()),
            ("prompt_scopes", "AUTHSEC_PROMPT_SCOPES_JSON")
        );
        assert!(e.problem.starts_with("prompt \"sum\""), "{e}");
    }

    #[cfg(feature = "toml")]
    #[test]
    fn toml_reads_tables_and_rejects_unknown_keys() {
        let c = Config::from_toml_str(
            r#"
            issuer = "https://a.example"
            resource_uri = "https://r.example/mcp"
            clock_skew_secs = 5
            [tool_scopes]
            add_note = ["notes:write"]
            delete_note = { all = ["notes:write", "notes:admin"] }
            server_time = []
            "#,
        )
        .unwrap();
        assert_eq!(c.clock_skew_secs, 5);
        assert_eq!(c.tool_policy.len(), 3);
        let e = Config::from_toml_str("isuer = \"x\"").unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Parse);
        assert!(e.problem.contains("isuer"), "{e}");
        assert!(e.fix.contains("line 1"), "{e}");
        let e = Config::from_toml_str("issuer = ").unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Parse);
    }

    #[cfg(feature = "toml")]
    #[test]
    fn an_unreadable_config_file_is_an_io_error() {
        let e = Config::from_toml_file("/nonexistent/authsec.toml").unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Io);
        assert_eq!(e.value.as_deref(), Some("/nonexistent/authsec.toml"));
    }

    #[test]
    fn http_layer_settings_are_read_from_env() {
        let base = [
            ("AUTHSEC_ISSUER", "https://a.example"),
            ("AUTHSEC_RESOURCE_URI", "https://r.example/mcp"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            Config::from_vars("AUTHSEC_", vars(&v))
        };
        let c = with(&[
            ("AUTHSEC_MAX_BODY_BYTES", "65536"),
            ("AUTHSEC_FILTER_TOOLS_LIST", "false"),
            ("AUTHSEC_IN_BAND_DENIALS", "yes"),
        ])
        .unwrap();
        assert_eq!(c.max_body_bytes, 65536);
        assert!(!c.filter_tools_list);
        assert!(c.in_band_denials);
        let e = with(&[("AUTHSEC_IN_BAND_DENIALS", "maybe")]).unwrap_err();
        assert_eq!(e.env, "AUTHSEC_IN_BAND_DENIALS");
        let e = with(&[("AUTHSEC_MAX_BODY_BYTES", "10")]).unwrap_err();
        assert_eq!(e.field, "max_body_bytes");
    }

    #[cfg(not(feature = "remote-policy"))]
    #[test]
    fn without_the_remote_policy_feature_a_remote_mode_or_publishing_is_refused() {
        let base = || Config::builder("https://as.example.com", "https://mcp.example.com/mcp");
        for (builder, field, value) in [
            (
                base().policy_mode(PolicyMode::RemoteRequired),
                "policy_mode",
                "remote_required",
            ),
            (
                base().policy_mode(PolicyMode::RemoteWithLocalFallback),
                "policy_mode",
                "remote_with_local_fallback",
            ),
            (base().publish_manifest(true), "publish_manifest", "true"),
        ] {
            let e = builder.build().unwrap_err();
            assert_eq!(e.kind(), ConfigErrorKind::Invalid);
            assert_eq!(e.field, field);
            assert_eq!(e.value.as_deref(), Some(value));
            assert_eq!(
                e.problem,
                "needs the console client, which this build of authsec leaves out"
            );
        }
    }

    #[cfg(feature = "remote-policy")] // a remote policy mode
    #[test]
    fn remote_policy_settings_and_console_credentials_are_read_from_env() {
        let base = [
            ("AUTHSEC_ISSUER", "https://a.example"),
            ("AUTHSEC_RESOURCE_URI", "https://r.example/mcp"),
            ("AUTHSEC_POLICY_MODE", "remote_required"),
            ("AUTHSEC_RESOURCE_SERVER_ID", "rs-525da3b4"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            Config::from_vars("AUTHSEC_", vars(&v))
        };
        assert_eq!(with(&[]).unwrap().console_credentials, None);
        let creds = [
            ("AUTHSEC_INTROSPECTION_CLIENT_ID", "rs-525da3b4"),
            ("AUTHSEC_INTROSPECTION_CLIENT_SECRET", "s3cret"),
        ];
        let c = with(&creds).unwrap();
        assert_eq!(c.policy_cache_ttl, Duration::from_secs(30));
        assert_eq!(c.policy_max_stale, Duration::from_secs(120));
        assert!(c.policy_wait_for_change);
        assert!(c.introspection.is_none());
        let cc = c.console_credentials.unwrap();
        assert_eq!(cc.client_id, "rs-525da3b4");
        assert_eq!(cc.client_secret.expose(), "s3cret");
        let mut extra = creds.to_vec();
        extra.extend_from_slice(&[
            ("AUTHSEC_POLICY_CACHE_TTL_SECS", "2"),
            ("AUTHSEC_POLICY_MAX_STALE_SECS", "5"),
            ("AUTHSEC_POLICY_WAIT_FOR_CHANGE", "false"),
        ]);
        let c = with(&extra).unwrap();
        assert_eq!(c.policy_cache_ttl, Duration::from_secs(2));
        assert_eq!(c.policy_max_stale, Duration::from_secs(5));
        assert!(!c.policy_wait_for_change);
        let mut zero = creds.to_vec();
        zero.push(("AUTHSEC_POLICY_CACHE_TTL_SECS", "0"));
        assert_eq!(with(&zero).unwrap_err().field, "policy_cache_ttl_secs");
    }

    #[test]
    fn bad_keyword_lists_the_choices() {
        let e = Config::from_vars(
            "AUTHSEC_",
            vars(&[
                ("AUTHSEC_ISSUER", "https://a.example"),
                ("AUTHSEC_RESOURCE_URI", "https://r.example/mcp"),
                ("AUTHSEC_POLICY_MODE", "remote"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.field, "policy_mode");
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        assert!(e
            .problem
            .contains("remote_required | remote_with_local_fallback | local_only | open"));
    }
}
