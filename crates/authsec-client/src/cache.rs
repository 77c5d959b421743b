//! The token cache: one slot per (issuer, resource, scopes), in memory only. A slot is locked
//! while its token is fetched, so concurrent callers wait for one request instead of each
//! making their own.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;
use crate::token::Token;

/// What a token is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The issuer.
    pub issuer: String,
    /// The resource (`resource` parameter).
    pub resource: String,
    /// The scopes requested, as a set.
    pub scopes: BTreeSet<String>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// Tokens shared by every [`Access`](crate::Access) built with the same cache. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    slots: Arc<Mutex<HashMap<CacheKey, Slot>>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, key: &CacheKey) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(key.clone()).or_default().clone()
    }

    /// The cached token for `key` if it is fresh for `margin` (`None`: never); else the one `fetch` gets (given
    /// the stale token, whose refresh token it may use), which is cached. Concurrent callers
    /// for one key share one fetch.
    pub(crate) async fn get_or_fetch<F, Fut>(
        &self,
        key: &CacheKey,
        margin: Option<Duration>,
        fetch: F,
    ) -> Result<Token, Error>
    where
        F: FnOnce(Option<Token>) -> Fut,
        Fut: Future<Output = Result<Token, Error>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(t) = guard
            .as_ref()
            .filter(|t| margin.is_some_and(|m| t.fresh_for(m)))
        {
            return Ok(t.clone());
        }
        let token = fetch(guard.take()).await?;
        *guard = Some(token.clone());
        Ok(token)
    }

    /// Drops `key`'s token if it is `refused` (a resource rejected it), keeping its refresh
    /// token for the next fetch; a token fetched meanwhile by another caller stays.
    pub(crate) async fn invalidate(&self, key: &CacheKey, refused: &str) {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(t) = guard.as_mut() {
            if t.access_token.secret() == refused {
                t.expires_at = Some(std::time::Instant::now());
            }
        }
    }
}
