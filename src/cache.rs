//! Verified-token cache, one per VM: saves parsing and signature work for tokens seen
//! before. It never decides anything — time checks and the whole policy still run on
//! every request against the cached claims.
//!
//! Entries are keyed by the exact token text (no hash collisions to reason about),
//! live until the token's `exp` (plus leeway), and are bounded by count and by an
//! approximate byte size, evicting the oldest first. A small negative cache remembers
//! tokens whose signature failed, for a short time, so a replayed forgery costs one
//! verification. The cache belongs to one compiled policy: a new configuration (or a
//! new key set) starts a new cache.

use crate::decision::Failure;
use crate::json::Object;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// `cache` in the plugin configuration.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub enabled: bool,
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_entries: 10_000,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// How long a failed signature is remembered, and how many such tokens.
const NEGATIVE_TTL_SECONDS: u64 = 60;
const NEGATIVE_MAX_ENTRIES: usize = 1024;
/// Bookkeeping per entry beyond the token and claims, for the byte budget.
const ENTRY_OVERHEAD_BYTES: usize = 256;

/// What verification established about a token.
#[derive(Debug, Clone)]
pub struct Verified {
    pub issuer: Rc<str>,
    pub claims: Rc<Object>,
    /// Unix time after which the entry is useless (`exp` + leeway).
    pub usable_until: u64,
    /// The issuer's key-set generation that verified it.
    pub generation: u64,
}

/// The result of a lookup.
pub enum Lookup {
    Hit(Verified),
    /// The token's signature failed recently with this failure, under the issuer's
    /// key set of this generation.
    Forged(Failure, u64),
    Miss,
}

/// Whether a decision used the cache (for the hit/miss counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    Hit,
    Miss,
}

pub struct VerifyCache {
    config: CacheConfig,
    entries: HashMap<Rc<str>, (Verified, usize)>,
    order: VecDeque<Rc<str>>,
    bytes: usize,
    forged: HashMap<Rc<str>, (u64, Failure, u64)>,
    forged_order: VecDeque<Rc<str>>,
}

impl VerifyCache {
    pub fn new(config: CacheConfig) -> VerifyCache {
        VerifyCache {
            config,
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            forged: HashMap::new(),
            forged_order: VecDeque::new(),
        }
    }

    /// A cache that holds nothing (the CLI, and `cache.enabled: false`).
    pub fn disabled() -> VerifyCache {
        VerifyCache::new(CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        })
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lookup(&mut self, token: &str, now: u64) -> Lookup {
        if !self.config.enabled {
            return Lookup::Miss;
        }
        if let Some((verified, _)) = self.entries.get(token) {
            if now <= verified.usable_until {
                return Lookup::Hit(verified.clone());
            }
            self.remove(token);
        }
        match self.forged.get(token) {
            Some((until, failure, generation)) if now <= *until => {
                Lookup::Forged(failure.clone(), *generation)
            }
            Some(_) => {
                self.forged.remove(token);
                Lookup::Miss
            }
            None => Lookup::Miss,
        }
    }

    pub fn insert(&mut self, token: &str, verified: Verified) {
        if !self.config.enabled || self.config.max_entries == 0 {
            return;
        }
        let size = 2 * token.len() + ENTRY_OVERHEAD_BYTES;
        if size > self.config.max_bytes {
            return;
        }
        self.remove(token);
        while self.entries.len() >= self.config.max_entries
            || self.bytes + size > self.config.max_bytes
        {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.remove(&oldest);
        }
        let key: Rc<str> = Rc::from(token);
        self.order.push_back(key.clone());
        self.entries.insert(key, (verified, size));
        self.bytes += size;
    }

    pub fn insert_forged(&mut self, token: &str, now: u64, failure: Failure, generation: u64) {
        if !self.config.enabled {
            return;
        }
        while self.forged.len() >= NEGATIVE_MAX_ENTRIES {
            let Some(oldest) = self.forged_order.pop_front() else {
                break;
            };
            self.forged.remove(&oldest);
        }
        let key: Rc<str> = Rc::from(token);
        self.forged_order.push_back(key.clone());
        self.forged.insert(
            key,
            (
                now.saturating_add(NEGATIVE_TTL_SECONDS),
                failure,
                generation,
            ),
        );
    }

    fn remove(&mut self, token: &str) {
        if let Some((_, size)) = self.entries.remove(token) {
            self.bytes = self.bytes.saturating_sub(size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(until: u64) -> Verified {
        Verified {
            issuer: Rc::from("iss"),
            claims: Rc::new(Object::new()),
            usable_until: until,
            generation: 0,
        }
    }

    fn bad() -> Failure {
        Failure::new(
            crate::decision::Reason::InvalidToken,
            "token signature is invalid",
        )
    }

    #[test]
    fn entries_expire_and_are_bounded() {
        let mut c = VerifyCache::new(CacheConfig {
            enabled: true,
            max_entries: 2,
            max_bytes: 1 << 20,
        });
        c.insert("a", entry(100));
        assert!(matches!(c.lookup("a", 100), Lookup::Hit(_)));
        assert!(matches!(c.lookup("a", 101), Lookup::Miss));
        c.insert("a", entry(100));
        c.insert("b", entry(100));
        c.insert("c", entry(100));
        assert_eq!(c.len(), 2);
        assert!(matches!(c.lookup("a", 1), Lookup::Miss));
        assert!(matches!(c.lookup("c", 1), Lookup::Hit(_)));
    }

    #[test]
    fn byte_budget_is_respected() {
        let mut c = VerifyCache::new(CacheConfig {
            enabled: true,
            max_entries: 100,
            max_bytes: 1000,
        });
        for i in 0..20 {
            c.insert(&format!("{i:0>100}"), entry(10));
        }
        assert!(c.bytes <= 1000);
        assert!(!c.is_empty());
    }

    #[test]
    fn forged_tokens_are_remembered_briefly() {
        let mut c = VerifyCache::new(CacheConfig::default());
        c.insert_forged("x", 1000, bad(), 0);
        assert!(matches!(
            c.lookup("x", 1000 + NEGATIVE_TTL_SECONDS),
            Lookup::Forged(..)
        ));
        assert!(matches!(
            c.lookup("x", 1001 + NEGATIVE_TTL_SECONDS),
            Lookup::Miss
        ));
    }

    #[test]
    fn disabled_cache_holds_nothing() {
        let mut c = VerifyCache::disabled();
        c.insert("a", entry(100));
        c.insert_forged("b", 0, bad(), 0);
        assert!(matches!(c.lookup("a", 0), Lookup::Miss));
        assert!(matches!(c.lookup("b", 0), Lookup::Miss));
    }
}
