//! A bounded, sharded map keyed by SHA-256 digests — the only form in which tokens are cached.
//!
//! Each entry carries its own deadline. When a shard is full, expired entries go first, then
//! an arbitrary one: with a bound of N entries, any number of distinct tokens leaves at most N.

use std::collections::HashMap;
use std::sync::Mutex;

const MAX_SHARDS: usize = 16;

type Shard<V> = HashMap<[u8; 32], (i64, V)>;

/// A bounded cache from token digest to `V`, with per-entry deadlines (Unix seconds).
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
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity / shards,
        }
    }

    fn shard(&self, key: &[u8; 32]) -> std::sync::MutexGuard<'_, Shard<V>> {
        let i = key[0] as usize % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value for `key` if its deadline is after `now`.
    pub fn get(&self, key: &[u8; 32], now: i64) -> Option<V> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key);
        match shard.get(key) {
            Some((deadline, v)) if *deadline > now => Some(v.clone()),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `deadline` (Unix seconds), evicting to stay within the bound.
    pub fn insert(&self, key: [u8; 32], value: V, deadline: i64, now: i64) {
        if self.per_shard == 0 || deadline <= now {
            return;
        }
        let mut shard = self.shard(&key);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, (d, _)| *d > now);
            if shard.len() >= self.per_shard {
                if let Some(victim) = shard.keys().next().copied() {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(key, (deadline, value));
    }

    /// Removes one entry.
    pub fn remove(&self, key: &[u8; 32]) {
        self.shard(key).remove(key);
    }

    /// Number of entries (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> [u8; 32] {
        crate::token::token_digest(&i.to_string())
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
    fn zero_capacity_caches_nothing() {
        let c = DigestCache::new(0);
        c.insert(key(1), 1, 100, 0);
        assert_eq!(c.get(&key(1), 0), None);
    }
}
