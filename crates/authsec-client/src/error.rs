//! [`Error`]: every way getting or using a token can fail, as data.

use authsec::explain::McpAuthError;

/// Why a token could not be obtained or a denial could not be overcome.
///
/// Variants name the condition and carry the expected and actual values, so callers can match,
/// test and explain them. None of them ever contains a token or a client secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request could not be sent or its response not read.
    #[error("{url}: {source}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// A metadata document could not be fetched from any of its candidate locations.
    #[error("no {document} found; tried {}", tried.join(", "))]
    MetadataNotFound {
        /// `protected resource metadata` or `authorization server metadata`.
        document: &'static str,
        /// Every URL tried, in order, with its status.
        tried: Vec<String>,
    },
    /// A metadata document was found but is not usable.
    #[error("{url}: {what}")]
    InvalidMetadata {
        /// Where it came from.
        url: String,
        /// What is wrong with it.
        what: String,
    },
    /// The protected resource metadata names another resource than the one being called
    /// (RFC 9728 §3.3): following it would send a token meant for `actual` to this server.
    #[error("resource metadata is for {actual}, not for {expected}")]
    ResourceMismatch {
        /// The URL being called.
        expected: String,
        /// The metadata's `resource`.
        actual: String,
    },
    /// The authorization server metadata's `issuer` is not the issuer it was fetched for
    /// (RFC 8414 §3.3).
    #[error("authorization server metadata says issuer {actual}, expected {expected}")]
    IssuerMismatch {
        /// The issuer the metadata was fetched for.
        expected: String,
        /// The metadata's `issuer`.
        actual: String,
    },
    /// Credentials configured for one authorization server would be sent to another one.
    #[error("the client credentials belong to {bound}; refusing to send them to {discovered}")]
    CredentialsForAnotherIssuer {
        /// The issuer the credentials are for.
        bound: String,
        /// The issuer discovery found.
        discovered: String,
    },
    /// No way to identify this client to the authorization server: no credentials for it, no
    /// client ID metadata document it accepts, no dynamic registration.
    #[error("no client registration for {issuer}: configure credentials for it, or a client ID metadata document URL; it offers no dynamic registration")]
    NoClientRegistration {
        /// The authorization server.
        issuer: String,
    },
    /// The authorization server does not support what the configured grant needs.
    #[error("{issuer} does not support {what}")]
    Unsupported {
        /// The authorization server.
        issuer: String,
        /// The grant type, authentication method or PKCE method missing.
        what: String,
    },
    /// The authorization server refused a request (RFC 6749 §5.2, RFC 7591 §3.2.2).
    #[error("{endpoint} refused the request: {status} {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// `token endpoint` or `registration endpoint`.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code (`invalid_client`, `invalid_scope`, …).
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// A token or registration response is not what RFC 6749 / RFC 7591 specify.
    #[error("invalid {endpoint} response: {what}")]
    InvalidResponse {
        /// Which endpoint answered.
        endpoint: &'static str,
        /// What is wrong with it.
        what: String,
    },
    /// The authorization response carried an error (RFC 6749 §4.1.2.1), e.g. the user declined.
    #[error("authorization refused: {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    AuthorizationRefused {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter.
        description: Option<String>,
    },
    /// The authorization response is not for the request this client made.
    #[error("authorization response rejected: {0}")]
    AuthorizationResponse(AuthorizationResponseError),
    /// No authorization response arrived in time.
    #[error("no authorization response within {secs} s")]
    AuthorizationTimeout {
        /// How long the listener waited.
        secs: u64,
    },
    /// The private key for `private_key_jwt` cannot be used.
    #[error("private key: {0}")]
    Key(String),
    /// The client is misconfigured.
    #[error("configuration: {0}")]
    Config(String),
    /// The resource denied the request in a way a new token cannot fix (unmapped tool,
    /// incomplete policy, malformed request, …). [`McpAuthError::next_step`] says what would.
    #[error("denied: {}", .0.summary())]
    Denied(Box<McpAuthError>),
    /// A fresh token was refused too: retrying would loop.
    #[error("a fresh token was refused: {}", .0.summary())]
    Unauthorized(Box<McpAuthError>),
    /// Step-up authorization was tried `attempts` times and the resource still answers
    /// `insufficient_scope`.
    #[error("still insufficient_scope after {attempts} step-up authorizations (last requested scope \"{}\"): {}", requested.join(" "), denial.summary())]
    StepUpLimit {
        /// Step-up authorizations made for this request.
        attempts: u32,
        /// The scopes requested by the last one.
        requested: Vec<String>,
        /// The last denial.
        denial: Box<McpAuthError>,
    },
}

/// Why an authorization response was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizationResponseError {
    /// `state` is missing or is not the one sent.
    #[error("state does not match the request")]
    StateMismatch,
    /// `iss` names another authorization server (RFC 9207 §2.4).
    #[error("iss is {actual:?}, expected {expected}")]
    IssuerMismatch {
        /// The issuer the request went to.
        expected: String,
        /// The response's `iss`, if any.
        actual: Option<String>,
    },
    /// No `code` parameter.
    #[error("no code")]
    MissingCode,
}

impl Error {
    pub(crate) fn http(url: &str, source: reqwest::Error) -> Self {
        // reqwest's Display includes the URL, which may carry a query; ours is the one asked.
        Error::Http {
            url: url.to_owned(),
            source: source.without_url(),
        }
    }
}
