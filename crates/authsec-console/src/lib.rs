//! # authsec-console
//!
//! The authsec control plane: the policy store an admin edits and SDKs pull, and a token
//! service for machine clients.
//!
//! * [`store`]: resource servers, scopes, the tool, prompt and resource inventories, admin
//!   mappings, clients, signing keys, revocations and the audit log, in SQLite (a file) or
//!   PostgreSQL (several instances).
//! * [`model`]: the rules — tool, prompt and resource states, effective mappings, readiness, the
//!   SDK policy document.
//! * [`web`]: the web console at `/` (sign-in with the admin token or a one-time link; resource
//!   servers with their launch checklist and SDK status, tools, prompts, resources, scopes,
//!   clients, an access simulator that decides with the SDK's own code, the audit log).
//! * `admin_api` (`/api/…`, admin bearer token; OpenAPI at `/api/openapi.json`),
//!   `sdk_api` (`/authsec/resource-servers/{id}/sdk-policy` and `…/sdk-manifest`, HTTP Basic with
//!   the resource server's credentials, long-poll with `?wait_for_generation=N`), and [`oauth`]
//!   (`/oauth/token`, `/oauth/introspect`, `/oauth/revoke`, JWKS and RFC 8414 metadata).
//!
//! Start one with [`run`] (binds, prints a new admin token once, serves until `shutdown`), or
//! with [`Console::bind`] and [`Console::serve`] to learn the bound address first:
//!
//! ```no_run
//! # async fn example() -> Result<(), authsec_console::Error> {
//! use authsec_console::{Console, ConsoleConfig};
//!
//! let config = ConsoleConfig::new("authsec-console.db", "127.0.0.1:0".parse().unwrap());
//! let console = Console::bind(config).await?;
//! println!("console at {}", console.public_url());
//! if let Some(token) = console.initial_admin_token() {
//!     println!("admin token (shown once): {token}");
//! }
//! console.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin_api;
pub mod auth;
pub mod error;
pub mod model;
mod notify;
pub mod oauth;
mod routes;
mod sdk_api;
pub mod state;
pub mod store;
pub mod web;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;

pub use authsec_proto::Clock;
pub use error::Error;
pub use routes::{route_table, router};
pub use state::{AppState, Settings};
pub use store::Store;

/// The OpenAPI 3 document of every route, served at `/api/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The environment variable that sets the admin token (instead of a stored, generated one).
pub const ADMIN_TOKEN_ENV: &str = "AUTHSEC_CONSOLE_ADMIN_TOKEN";

/// The environment variable that sets the key encrypting the signing keys at rest.
pub const KEY_ENCRYPTION_KEY_ENV: &str = "AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY";

/// The environment variable that sets how long a web console sign-in lasts, in seconds.
pub const SESSION_LIFETIME_ENV: &str = "AUTHSEC_CONSOLE_SESSION_LIFETIME_SECS";

/// The environment variable that sets how long a rotated signing key is published before it
/// signs, in seconds.
pub const KEY_ACTIVATION_DELAY_ENV: &str = "AUTHSEC_CONSOLE_KEY_ACTIVATION_DELAY_SECS";

/// The shortest admin token accepted from the environment.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// How to run a console.
#[derive(Clone)]
pub struct ConsoleConfig {
    /// A SQLite file path (or `sqlite://…` URL), created if missing; or a `postgres://…` URL.
    pub database_url: String,
    /// The listen address (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The public URL (token issuer and base of every advertised URL), e.g.
    /// `https://console.example.com`. Default: `http://<listen address>` (unspecified
    /// addresses become loopback).
    pub public_url: Option<String>,
    /// The admin token, e.g. from `AUTHSEC_CONSOLE_ADMIN_TOKEN`; never stored. Without one, a
    /// token is generated at first start, printed once and stored hashed.
    pub admin_token: Option<String>,
    /// Lifetime of access tokens from the token service (default 1 h).
    pub token_lifetime: Duration,
    /// How long `?wait_for_generation=N` waits before answering unchanged (default 25 s).
    pub long_poll_timeout: Duration,
    /// The key that encrypts the token service's signing keys in the database: 32 random bytes,
    /// base64 (`openssl rand -base64 32`), e.g. from `AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY`. Keep
    /// it outside the database. Without it the private keys are stored in the clear (logged as
    /// a warning at start-up).
    pub key_encryption_key: Option<String>,
    /// How long a web console sign-in lasts (default 8 h; absolute, not extended by use).
    pub session_lifetime: Duration,
    /// How long a rotated signing key is in the JWKS before it signs (default 5 min), so that
    /// every resource server refreshing its JWKS (the console says `max-age=60`) knows the key
    /// before the first token signed with it arrives.
    pub key_activation_delay: Duration,
    /// The clock (tests move time with [`Clock::with_offset`]).
    pub clock: Clock,
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("database_url", &store::redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("token_lifetime", &self.token_lifetime)
            .field("long_poll_timeout", &self.long_poll_timeout)
            .field(
                "key_encryption_key",
                &self.key_encryption_key.as_ref().map(|_| "<redacted>"),
            )
            .field("session_lifetime", &self.session_lifetime)
            .field("key_activation_delay", &self.key_activation_delay)
            .field("clock", &self.clock)
            .finish()
    }
}

impl ConsoleConfig {
    /// The default SQLite file.
    pub const DEFAULT_DATABASE: &'static str = "authsec-console.db";
    /// The default listen address.
    pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7410);

    /// A configuration with defaults for everything but the database and listen address.
    pub fn new(database_url: impl Into<String>, listen: SocketAddr) -> Self {
        ConsoleConfig {
            database_url: database_url.into(),
            listen,
            public_url: None,
            admin_token: None,
            token_lifetime: Duration::from_secs(3600),
            long_poll_timeout: Duration::from_secs(25),
            key_encryption_key: None,
            session_lifetime: Duration::from_secs(8 * 3600),
            key_activation_delay: Duration::from_secs(300),
            clock: Clock::system(),
        }
    }

    /// Takes the admin token from `AUTHSEC_CONSOLE_ADMIN_TOKEN` when it is set and non-empty.
    pub fn with_admin_token_from_env(mut self) -> Self {
        if let Ok(t) = std::env::var(ADMIN_TOKEN_ENV) {
            if !t.is_empty() {
                self.admin_token = Some(t);
            }
        }
        self
    }

    /// Takes the web console's session lifetime from `AUTHSEC_CONSOLE_SESSION_LIFETIME_SECS`
    /// (1 s to 30 days) when it is set.
    pub fn with_session_lifetime_from_env(mut self) -> Result<Self, Error> {
        let Ok(v) = std::env::var(SESSION_LIFETIME_ENV) else {
            return Ok(self);
        };
        match v.trim().parse::<u64>() {
            Ok(secs @ 1..=2_592_000) => {
                self.session_lifetime = Duration::from_secs(secs);
                Ok(self)
            }
            _ => Err(Error::Config {
                field: "session_lifetime",
                value: v,
                reason: format!(
                    "{SESSION_LIFETIME_ENV} must be a number of seconds from 1 to 2592000 (30 days)"
                ),
            }),
        }
    }

    /// Takes the signing-key activation delay from `AUTHSEC_CONSOLE_KEY_ACTIVATION_DELAY_SECS`
    /// (0 to 7 days) when it is set.
    pub fn with_key_activation_delay_from_env(mut self) -> Result<Self, Error> {
        let Ok(v) = std::env::var(KEY_ACTIVATION_DELAY_ENV) else {
            return Ok(self);
        };
        match v.trim().parse::<u64>() {
            Ok(secs @ 0..=604_800) => {
                self.key_activation_delay = Duration::from_secs(secs);
                Ok(self)
            }
            _ => Err(Error::Config {
                field: "key_activation_delay",
                value: v,
                reason: format!(
                    "{KEY_ACTIVATION_DELAY_ENV} must be a number of seconds from 0 to 604800 (7 days)"
                ),
            }),
        }
    }

    /// Takes the key encryption key from `AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY` when it is set
    /// and non-empty.
    pub fn with_key_encryption_key_from_env(mut self) -> Self {
        if let Ok(k) = std::env::var(KEY_ENCRYPTION_KEY_ENV) {
            if !k.is_empty() {
                self.key_encryption_key = Some(k);
            }
        }
        self
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig::new(Self::DEFAULT_DATABASE, Self::DEFAULT_LISTEN)
    }
}

/// Checks a configured public URL and drops a trailing slash (the issuer is compared byte for
/// byte by every SDK, so it has one spelling).
fn public_url(configured: Option<&str>, bound: SocketAddr) -> Result<String, Error> {
    let Some(configured) = configured else {
        let ip = match bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        return Ok(format!("http://{}", SocketAddr::new(ip, bound.port())));
    };
    let invalid = |reason: &str| {
        Error::Config {
        field: "public_url",
        value: configured.to_owned(),
        reason: format!("{reason}. Fix: use the URL clients reach the console at, e.g. https://console.example.com"),
    }
    };
    let url =
        url::Url::parse(configured).map_err(|e| invalid(&format!("not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid("must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(configured.trim_end_matches('/').to_owned())
}

/// A console bound to its address, ready to serve.
#[derive(Debug)]
pub struct Console {
    state: AppState,
    listener: TcpListener,
    local_addr: SocketAddr,
    initial_admin_token: Option<String>,
}

impl Console {
    /// Opens and migrates the store, binds the listen address, creates the admin token (first
    /// start, unless one is configured) and the first signing key.
    pub async fn bind(config: ConsoleConfig) -> Result<Console, Error> {
        if let Some(t) = &config.admin_token {
            if t.len() < MIN_ADMIN_TOKEN_LEN {
                return Err(Error::Config {
                    field: "admin_token",
                    value: format!("<{} characters>", t.len()),
                    reason: format!("is shorter than {MIN_ADMIN_TOKEN_LEN} characters. Fix: use a long random value, e.g. `openssl rand -base64 32`"),
                });
            }
        }
        let key_encryption_key = match &config.key_encryption_key {
            Some(k) => Some(std::sync::Arc::new(
                oauth::jwt::KeyEncryptionKey::from_base64(k)?,
            )),
            None => {
                tracing::warn!(
                    target: "authsec::console",
                    "the token service's signing keys are stored unencrypted in the database; \
                     set {KEY_ENCRYPTION_KEY_ENV} (openssl rand -base64 32) to encrypt them"
                );
                None
            }
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(Error::Serve)?;
        let issuer = public_url(config.public_url.as_deref(), local_addr)?;
        let store = Store::open(&config.database_url, config.clock.clone()).await?;
        let initial_admin_token = match &config.admin_token {
            Some(_) => None,
            None => create_admin_token(&store).await?,
        };
        let state = AppState::new(
            store,
            Settings {
                issuer,
                token_lifetime: config.token_lifetime,
                long_poll_timeout: config.long_poll_timeout,
                admin_token: config.admin_token,
                key_encryption_key,
                session_lifetime: config.session_lifetime,
                key_activation_delay: config.key_activation_delay,
            },
        );
        state.signer().await?;
        Ok(Console {
            state,
            listener,
            local_addr,
            initial_admin_token,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public URL (the token issuer).
    pub fn public_url(&self) -> &str {
        &self.state.settings().issuer
    }

    /// The admin token generated by this start (first start only); it is not retrievable later.
    pub fn initial_admin_token(&self) -> Option<&str> {
        self.initial_admin_token.as_deref()
    }

    /// A new one-time link that signs a browser in to the web console (valid 15 minutes).
    pub async fn sign_in_link(&self) -> Result<String, Error> {
        web::create_sign_in_link(&self.state).await
    }

    /// The shared state (and through it the store).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes: pending long-polls answer at once, in-flight requests
    /// finish, then the store closes.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let state = self.state.clone();
        let graceful = async move {
            shutdown.await;
            state.begin_shutdown();
        };
        // `into_make_service`: each connection gets a clone of the router (an `Arc`); served as
        // a plain `Router`, axum rebuilds its route tables for every connection (≈ 20 KB held
        // per open connection: 10,000 long-polling SDKs held 200 MB of them).
        axum::serve(
            self.listener,
            router(self.state.clone()).into_make_service(),
        )
        .with_graceful_shutdown(graceful)
        .await
        .map_err(Error::Serve)?;
        self.state.store().close().await;
        Ok(())
    }
}

async fn create_admin_token(store: &Store) -> Result<Option<String>, Error> {
    if store.admin_token_hash().await?.is_some() {
        return Ok(None);
    }
    let token = auth::generate_secret("asa_")?;
    let created = store
        .create_admin_token_if_missing(&auth::hash_secret(&token)?)
        .await?;
    Ok(created.then_some(token))
}

/// Runs a console until `shutdown` completes. On first start (no admin token configured or
/// stored) it prints the new admin token to stderr, once; at every start, the web console's URL
/// and a one-time sign-in link.
///
/// This is the entry point of `authsec console`.
pub async fn run<F>(config: ConsoleConfig, shutdown: F) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let console = Console::bind(config).await?;
    if let Some(token) = console.initial_admin_token() {
        eprintln!(
            "authsec console: created the admin token. It is shown only this once; store it now:\n\n    {token}\n\n\
             Use it as `Authorization: Bearer <token>` on {}/api/…",
            console.public_url()
        );
    }
    eprintln!(
        "authsec console: serving {} ({} database) on {}",
        console.public_url(),
        console.state().store().backend().as_str(),
        console.local_addr()
    );
    let link = console.sign_in_link().await?;
    eprintln!(
        "authsec console: web console at {}/ ; sign in with the admin token, or once with this \
         link (valid {} minutes):\n\n    {link}\n",
        console.public_url(),
        web::SIGN_IN_LINK_LIFETIME_SECS / 60
    );
    console.serve(shutdown).await
}

/// Replaces the stored admin token (for an operator who lost it) and returns the new one.
/// Not needed when the token comes from `AUTHSEC_CONSOLE_ADMIN_TOKEN`.
pub async fn reset_admin_token(database_url: &str) -> Result<String, Error> {
    let store = Store::open(database_url, Clock::system()).await?;
    let token = auth::generate_secret("asa_")?;
    store
        .replace_admin_token(&auth::Actor::System, &auth::hash_secret(&token)?)
        .await?;
    store.close().await;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut c = ConsoleConfig::new("postgres://u:hunter2@db/x", ConsoleConfig::DEFAULT_LISTEN);
        c.admin_token = Some("asa_topsecretvalue".into());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecret"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn the_default_public_url_is_the_loopback_address() {
        let any: SocketAddr = "0.0.0.0:7410".parse().unwrap();
        assert_eq!(public_url(None, any).unwrap(), "http://127.0.0.1:7410");
        let v6: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(public_url(None, v6).unwrap(), "http://[::1]:80");
    }

    #[test]
    fn a_configured_public_url_loses_its_trailing_slash() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(
            public_url(Some("https://console.example.com/"), a).unwrap(),
            "https://console.example.com"
        );
        assert!(public_url(Some("console.example.com"), a).is_err());
        assert!(public_url(Some("https://c.example.com/?x=1"), a).is_err());
    }
}
