//! A bounded, sharded map keyed by token cache keys ([`crate::token::cache_key`]) — the only
//! form in which tokens are cached.
//!
//! Each entry carries its own deadline. When a shard is full, expired entries go first, then
//! an arbitrary one: with a bound of N entries, any number of distinct tokens leaves at most N.
//! Expired entries are also swept from a shard at most every [`SWEEP_INTERVAL_SECS`] as
//! entries are inserted, so memory follows the tokens in use, not every token seen until the
//! bound is reached.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::token::CacheKey;

const MAX_SHARDS: usize = 16;

/// How often (at most, in seconds) an insert sweeps its shard of expired entries.
pub const SWEEP_INTERVAL_SECS: i64 = 60;

#[derive(Debug)]
struct Shard<V> {
    entries: HashMap<CacheKey, (i64, V)>,
    /// When expired entries were last swept (Unix seconds).
    swept_at: i64,
}

/// A bounded cache from token key to `V`, with per-entry deadlines (Unix seconds).
#[derive(Debug)]
pub struct DigestCache<V> {
    shards: Vec<Mutex<Shard<V>>>,
    per_shard: usize,
}

impl<V: Clone> DigestCache<V> {
    /// A cache holding at most `capacity` entries (0 = caches nothing).
    pub fn new(capacity: usize) -> Self {
        let shards = capacity.clamp(1, MAX_SHARDS);
        DigestCache {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: HashMap::new(),
                        swept_at: i64::MIN,
                    })
                })
                .collect(),
            per_shard: capacity / shards,
        }
    }

    fn shard(&self, key: &CacheKey) -> std::sync::MutexGuard<'_, Shard<V>> {
        let i = key[0] as usize % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value for `key` if its deadline is after `now`.
    pub fn get(&self, key: &CacheKey, now: i64) -> Option<V> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key);
        match shard.entries.get(key) {
            Some((deadline, v)) if *deadline > now => Some(v.clone()),
            Some(_) => {
                shard.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `deadline` (Unix seconds), evicting to stay within the bound.
    pub fn insert(&self, key: CacheKey, value: V, deadline: i64, now: i64) {
        if self.per_shard == 0 || deadline <= now {
            return;
        }
        let mut shard = self.shard(&key);
        let full = shard.entries.len() >= self.per_shard && !shard.entries.contains_key(&key);
        if full || now.saturating_sub(shard.swept_at) >= SWEEP_INTERVAL_SECS {
            shard.entries.retain(|_, (d, _)| *d > now);
            shard.swept_at = now;
        }
        if full && shard.entries.len() >= self.per_shard {
            if let Some(victim) = shard.entries.keys().next().copied() {
                shard.entries.remove(&victim);
            }
        }
        shard.entries.insert(key, (deadline, value));
    }

    /// Number of entries (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).entries.len())
            .sum()
    }

    /// True when empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> CacheKey {
        crate::token::cache_key(&i.to_string())
    }

    #[test]
    fn ten_times_capacity_distinct_keys_leave_at_most_capacity_entries() {
        for cap in [1, 7, 100, 1000] {
            let c = DigestCache::new(cap);
            for i in 0..(10 * cap as u32) {
                c.insert(key(i), i, 100, 0);
            }
            assert!(c.len() <= cap, "cap {cap}: {} entries", c.len());
            assert!(!c.is_empty());
        }
    }

    #[test]
    fn entries_expire_at_their_deadline() {
        let c = DigestCache::new(10);
        c.insert(key(1), "v", 100, 0);
        assert_eq!(c.get(&key(1), 99), Some("v"));
        assert_eq!(c.get(&key(1), 100), None);
    }

    #[test]
    fn expired_entries_are_swept_long_before_the_cache_is_full() {
        let c = DigestCache::new(10_000);
        for i in 0..1000 {
            c.insert(key(i), i, 100, 0);
        }
        assert_eq!(c.len(), 1000);
        // Past their deadline and a sweep interval later, one insert per shard clears them. The
        // shard of a key depends on the process's hash key, so pick one fresh key per shard.
        let later = 100 + SWEEP_INTERVAL_SECS;
        let mut fresh: Vec<Option<u32>> = vec![None; c.shards.len()];
        for i in 1000.. {
            let shard = key(i)[0] as usize % c.shards.len();
            fresh[shard].get_or_insert(i);
            if fresh.iter().all(Option::is_some) {
                break;
            }
        }
        for i in fresh.iter().flatten() {
            c.insert(key(*i), *i, later + 100, later);
        }
        assert_eq!(c.len(), c.shards.len());
        let last = fresh.iter().flatten().last().copied().unwrap_or_default();
        assert_eq!(c.get(&key(last), later), Some(last));
    }

    #[test]
    fn live_entries_survive_a_sweep() {
        let c = DigestCache::new(100);
        c.insert(key(1), 1, 1_000, 0);
        c.insert(key(2), 2, 1_000, SWEEP_INTERVAL_SECS);
        assert_eq!(c.get(&key(1), SWEEP_INTERVAL_SECS), Some(1));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let c = DigestCache::new(0);
        c.insert(key(1), 1, 100, 0);
        assert_eq!(c.get(&key(1), 0), None);
    }
}
