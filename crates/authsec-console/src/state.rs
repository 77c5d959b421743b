//! The state every handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsec_proto::jws::SigningKey;
use serde::Serialize;
use tokio::sync::watch;

use crate::auth::Actor;
use crate::error::Error;
use crate::oauth::jwt;
use crate::store::{Store, StoredKey};

/// Settings the HTTP layer needs.
#[derive(Clone)]
pub struct Settings {
    /// The console's public URL without a trailing slash: the token issuer, and the base of
    /// every URL in the metadata.
    pub issuer: String,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// How long `?wait_for_generation=N` waits for a change before answering anyway.
    pub long_poll_timeout: Duration,
    /// The admin token given by the environment (not stored); `None` uses the stored one.
    pub admin_token: Option<String>,
    /// Encrypts signing keys at rest; `None` stores them in the clear.
    pub key_encryption_key: Option<Arc<jwt::KeyEncryptionKey>>,
    /// How long a web console sign-in lasts (absolute, not extended by use).
    pub session_lifetime: Duration,
    /// How long a rotated signing key is published before it signs.
    pub key_activation_delay: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("issuer", &self.issuer)
            .field("token_lifetime", &self.token_lifetime)
            .field("long_poll_timeout", &self.long_poll_timeout)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("key_encryption_key", &self.key_encryption_key)
            .field("session_lifetime", &self.session_lifetime)
            .field("key_activation_delay", &self.key_activation_delay)
            .finish()
    }
}

/// Shared handler state. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    settings: Settings,
    signer: Mutex<Option<(String, Arc<SigningKey>)>>,
    shutdown: watch::Sender<bool>,
    sdk_status: Mutex<HashMap<String, SdkStatus>>,
}

/// What this console process has seen of a resource server's SDK (in memory: each console
/// instance knows the fetches it answered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SdkStatus {
    /// When an SDK last received the policy (Unix seconds).
    pub last_fetch_at: Option<i64>,
    /// The generation that answer carried: the one the SDK holds.
    pub generation: Option<i64>,
    /// Wait-for-change requests open right now (an SDK that waits for changes keeps one).
    pub waiting: usize,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("issuer", &self.0.settings.issuer)
            .field("store", &self.0.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over an open store.
    pub fn new(store: Store, settings: Settings) -> Self {
        AppState(Arc::new(Inner {
            store,
            settings,
            signer: Mutex::new(None),
            shutdown: watch::channel(false).0,
            sdk_status: Mutex::new(HashMap::new()),
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The issuer (public URL).
    pub(crate) fn issuer(&self) -> &str {
        &self.0.settings.issuer
    }

    /// Ends pending long-polls (they answer with the current policy) so that a graceful
    /// shutdown does not wait for their timeout.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// Changes to `true` when shutdown begins.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }

    /// The key that signs new tokens (see [`signing_position`]). A new key is generated when
    /// none is active (first start).
    pub(crate) async fn signer(&self) -> Result<(String, Arc<SigningKey>), Error> {
        let mut keys = self.store().signing_keys(false).await?;
        if keys.is_empty() {
            self.rotate_signing_key(&Actor::System).await?;
            keys = self.store().signing_keys(false).await?;
        }
        let now = self.store().now();
        let signing = signing_position(&keys, now, self.activation_delay())
            .and_then(|i| keys.get(i))
            .ok_or(Error::Crypto("no signing key after generating one"))?;
        if let Some((kid, pair)) = self
            .0
            .signer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if *kid == signing.kid {
                return Ok((kid.clone(), pair.clone()));
            }
        }
        let kek = self.0.settings.key_encryption_key.as_deref();
        let pair = Arc::new(jwt::parse_private_key(signing, kek)?);
        *self.0.signer.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((signing.kid.clone(), pair.clone()));
        Ok((signing.kid.clone(), pair))
    }

    /// Generates a new signing key. It is in the JWKS at once and signs once it has been
    /// published for the activation delay; older keys stay in the JWKS until retired. Returns
    /// the new key id.
    pub(crate) async fn rotate_signing_key(&self, actor: &Actor) -> Result<String, Error> {
        let kek = self.0.settings.key_encryption_key.as_deref();
        let key = jwt::generate_key(self.store().now(), kek)?;
        self.store().insert_signing_key(actor, &key).await?;
        Ok(key.kid)
    }

    /// Every signing key, newest first, with where it is in its life now.
    pub(crate) async fn signing_keys(&self) -> Result<Vec<KeyView>, Error> {
        let keys = self.store().signing_keys(true).await?;
        let now = self.store().now();
        let delay = self.activation_delay();
        let active: Vec<StoredKey> = keys
            .iter()
            .filter(|k| k.retired_at.is_none())
            .cloned()
            .collect();
        let signing = signing_position(&active, now, delay).and_then(|i| active.get(i));
        let mut newer = true;
        Ok(keys
            .into_iter()
            .map(|key| {
                let (state, signs_from) = if key.retired_at.is_some() {
                    (KeyState::Retired, None)
                } else if signing.is_some_and(|s| s.kid == key.kid) {
                    newer = false;
                    (KeyState::Signing, None)
                } else if newer {
                    (KeyState::Published, Some(key.created_at + delay))
                } else {
                    (KeyState::Verifying, None)
                };
                KeyView {
                    key,
                    state,
                    signs_from,
                }
            })
            .collect())
    }

    fn activation_delay(&self) -> i64 {
        i64::try_from(self.0.settings.key_activation_delay.as_secs()).unwrap_or(i64::MAX)
    }

    /// What this process has seen of `rs_id`'s SDK.
    pub fn sdk_status(&self, rs_id: &str) -> SdkStatus {
        self.sdk_statuses().get(rs_id).copied().unwrap_or_default()
    }

    fn sdk_statuses(&self) -> std::sync::MutexGuard<'_, HashMap<String, SdkStatus>> {
        self.0.sdk_status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that an SDK of `rs_id` received the policy of `generation` at `at`.
    pub(crate) fn record_sdk_fetch(&self, rs_id: &str, generation: i64, at: i64) {
        let mut all = self.sdk_statuses();
        let s = all.entry(rs_id.to_owned()).or_default();
        s.last_fetch_at = Some(at);
        s.generation = Some(generation);
    }

    /// Counts an open wait-for-change request of `rs_id` until the guard is dropped.
    pub(crate) fn sdk_waiting(&self, rs_id: &str) -> WaitingGuard {
        self.sdk_statuses()
            .entry(rs_id.to_owned())
            .or_default()
            .waiting += 1;
        WaitingGuard {
            state: self.clone(),
            rs_id: rs_id.to_owned(),
        }
    }

    /// The long-poll timeout.
    pub(crate) fn long_poll_timeout(&self) -> Duration {
        self.0.settings.long_poll_timeout
    }
}

/// Which of the active keys (newest first) signs at `now`: the newest one published for at
/// least `delay` seconds, so that resource servers refreshing their JWKS know it before its
/// first token arrives. When none has been published that long — a console's first key, or
/// the keys left after retiring the signing one (an emergency rotation) — the oldest signs at
/// once.
pub(crate) fn signing_position(active: &[StoredKey], now: i64, delay: i64) -> Option<usize> {
    active
        .iter()
        .position(|k| k.created_at.saturating_add(delay) <= now)
        .or(active.len().checked_sub(1))
}

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// In the JWKS; signs from `signs_from`.
    Published,
    /// Signs new tokens.
    Signing,
    /// In the JWKS for the tokens it signed; no longer signs.
    Verifying,
    /// Out of the JWKS; its tokens are inactive.
    Retired,
}

/// A signing key and its state, as the admin API and the Console page show it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    /// The key.
    #[serde(flatten)]
    pub key: StoredKey,
    /// Where it is in its life.
    pub state: KeyState,
    /// When a published key starts signing (Unix seconds), unless an older key is retired
    /// first.
    pub signs_from: Option<i64>,
}

/// An open wait-for-change request (see [`AppState::sdk_waiting`]).
pub(crate) struct WaitingGuard {
    state: AppState,
    rs_id: String,
}

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        if let Some(s) = self.state.sdk_statuses().get_mut(&self.rs_id) {
            s.waiting = s.waiting.saturating_sub(1);
        }
    }
}

/// A `Duration` in whole seconds, at least 1.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
}
