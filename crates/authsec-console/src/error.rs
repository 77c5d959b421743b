//! The console's errors: one enum whose variants name the exact condition.

use std::net::SocketAddr;

/// Everything that can go wrong in the console, from start-up to a rejected admin request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is unusable.
    #[error("{field} = {value:?}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// Its value (never a secret).
        value: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
    /// The system random number generator or a key operation failed.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// A stored value could not be read back (the database was edited by hand or is corrupt).
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The named object does not exist.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// `resource_server`, `scope`, `tool`, `client`, `signing_key`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A request field is invalid.
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Another resource server already has this resource URI.
    #[error("resource URI {resource_uri:?} is already registered to {existing}")]
    ResourceUriTaken {
        /// The URI.
        resource_uri: String,
        /// The resource server that has it.
        existing: String,
    },
    /// The scope already exists on this resource server.
    #[error("scope {scope:?} already exists")]
    ScopeExists {
        /// The scope.
        scope: String,
    },
    /// Scopes named in a request are not defined on the resource server.
    #[error("scopes not defined on {resource_server_id}: {}", scopes.join(", "))]
    UnknownScopes {
        /// The resource server.
        resource_server_id: String,
        /// The undefined scopes.
        scopes: Vec<String>,
    },
    /// The scope is still used by mappings or clients.
    #[error("scope {scope:?} is in use by tools [{}]{} and clients [{}]", tools.join(", "), prompts_and_resources(prompts, resources), clients.join(", "))]
    ScopeInUse {
        /// The scope.
        scope: String,
        /// Tools whose admin mapping names it.
        tools: Vec<String>,
        /// Prompts whose admin mapping names it.
        prompts: Vec<String>,
        /// Resources (URIs or URI templates) whose admin mapping names it.
        resources: Vec<String>,
        /// Clients allowed it.
        clients: Vec<String>,
    },
    /// Retiring this key would leave nothing to sign with.
    #[error("signing key {kid} is the only active key: create a new one before retiring it")]
    LastSigningKey {
        /// The key id.
        kid: String,
    },
    /// The admin token comes from the environment and cannot be rotated here.
    #[error("the admin token is set by AUTHSEC_CONSOLE_ADMIN_TOKEN; change the variable instead")]
    AdminTokenFromEnv,
}

/// `, prompts [...], resources [...]` for the ones that use a scope; nothing when none do, so
/// the sentence of a console without prompts and resources is unchanged.
fn prompts_and_resources(prompts: &[String], resources: &[String]) -> String {
    let mut out = String::new();
    for (what, list) in [("prompts", prompts), ("resources", resources)] {
        if !list.is_empty() {
            out.push_str(&format!(", {what} [{}]", list.join(", ")));
        }
    }
    out
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}
