//! Verified-token cache, one per VM: saves parsing and signature work for tokens seen
//! before. It never decides anything — time checks and the whole policy still run on
//! every request against the cached claims.
//!
//! Entries are keyed by the exact token text (no hash collisions to reason about),
//! live until the token's `exp` (plus leeway), and are bounded by count and by an
//! approximate byte size, evicting the oldest first. A small negative cache remembers
//! tokens whose signature failed, for a short time, so a replayed forgery costs one
//! verification. A third map keeps what parsing learned about recently refused tokens
//! ([`Parsed`]): a replayed expired, foreign or forged token is refused again without
//! decoding it again, every check but the parse running as before. The cache belongs to
//! one compiled policy: a new configuration (or a new key set) starts a new cache.
//! Behind it, the process-wide tier of [`crate::shared_verified`] tells a VM which
//! signatures the other workers' VMs already verified.

use crate::config::objects_only;
use crate::decision::Failure;
use crate::json::Object;
use crate::shared_verified::SharedVerified;
use crate::verify::Parsed;
use foldhash::fast::SeedableRandomState;
use foldhash::SharedSeed;
use hashbrown::{Equivalent, HashMap};
use serde::Deserialize;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::rc::Rc;
use std::sync::OnceLock;

/// `cache` in the plugin configuration.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[serde(remote = "Self")]
pub struct CacheConfig {
    pub enabled: bool,
    pub max_entries: usize,
    pub max_bytes: usize,
    /// Whether verified signatures are shared with the other workers' VMs
    /// ([`crate::shared_verified`]). Off by default: any wasm module in the same VM id
    /// can write shared data, so turn it on only with a VM id of audience-guard's own.
    pub shared: bool,
}

objects_only!(CacheConfig);

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_entries: 10_000,
            max_bytes: 32 * 1024 * 1024,
            shared: false,
        }
    }
}

/// How long a failed signature is remembered, and how many such tokens.
const NEGATIVE_TTL_SECONDS: u64 = 60;
const NEGATIVE_MAX_ENTRIES: usize = 1024;
/// How many refused tokens' parses are kept, and in how many bytes.
const PARSED_MAX_ENTRIES: usize = 1024;
const PARSED_MAX_BYTES: usize = 4 * 1024 * 1024;
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
    verified: Bounded<Verified>,
    /// Forged tokens: (remembered until, the failure, the key generation that refused it).
    forged: Bounded<(u64, Failure, u64)>,
    /// Parses of refused tokens; a parse depends only on the token and the policy, so
    /// an entry is right for as long as it stays.
    parsed: Bounded<Parsed>,
    /// Signatures other VMs of the process verified (`None`: not shared).
    shared: Option<SharedVerified>,
}

impl VerifyCache {
    pub fn new(config: CacheConfig) -> VerifyCache {
        VerifyCache {
            config,
            verified: Bounded::new(config.max_entries, config.max_bytes),
            forged: Bounded::new(NEGATIVE_MAX_ENTRIES, usize::MAX),
            parsed: Bounded::new(PARSED_MAX_ENTRIES, PARSED_MAX_BYTES),
            shared: None,
        }
    }

    /// This cache with the process-wide tier, unless the configuration turns caching or
    /// sharing off.
    pub fn sharing(mut self, shared: SharedVerified) -> VerifyCache {
        if self.config.enabled && self.config.shared {
            self.shared = Some(shared);
        }
        self
    }

    /// Whether another VM (or this one) verified `token`'s signature with the issuer's
    /// key set `keys` (a [`crate::shared_verified::fingerprint`]).
    pub fn signature_vouched(&self, token: &str, keys: u64) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| shared.vouches_for(token, keys))
    }

    /// Tells the other VMs that `token`'s signature verified with the key set `keys`.
    pub fn share_signature(&self, token: &str, keys: u64) {
        if let Some(shared) = &self.shared {
            shared.record(token, keys);
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
        self.verified.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verified.entries.is_empty()
    }

    /// How many refused tokens' parses are kept.
    pub fn remembered_parses(&self) -> usize {
        self.parsed.entries.len()
    }

    /// An expired entry is a miss; it stays until it is replaced or evicted, which keeps
    /// every entry in the eviction order exactly once.
    pub fn lookup(&self, token: &str, now: u64) -> Lookup {
        if !self.config.enabled {
            return Lookup::Miss;
        }
        if let Some(verified) = self.verified.get(token) {
            if now <= verified.usable_until {
                return Lookup::Hit(verified.clone());
            }
        }
        match self.forged.get(token) {
            Some((until, failure, generation)) if now <= *until => {
                Lookup::Forged(failure.clone(), *generation)
            }
            _ => Lookup::Miss,
        }
    }

    pub fn insert(&mut self, token: &str, verified: Verified) {
        if self.config.enabled {
            let size = 2 * token.len() + ENTRY_OVERHEAD_BYTES;
            self.verified.insert(token, verified, size);
        }
    }

    /// The parse of a token refused before, if it is still kept.
    pub fn parsed(&self, token: &str) -> Option<Parsed> {
        if !self.config.enabled {
            return None;
        }
        self.parsed.get(token).cloned()
    }

    /// Keeps the parse of a token that was refused after parsing.
    pub fn remember_parsed(&mut self, token: &str, parsed: Parsed) {
        if self.config.enabled {
            let size = 2 * token.len() + ENTRY_OVERHEAD_BYTES;
            self.parsed.insert(token, parsed, size);
        }
    }

    pub fn insert_forged(&mut self, token: &str, now: u64, failure: Failure, generation: u64) {
        if self.config.enabled {
            let until = now.saturating_add(NEGATIVE_TTL_SECONDS);
            self.forged
                .insert(token, (until, failure, generation), token.len());
        }
    }
}

/// A map bounded by entry count and by approximate bytes, evicting the oldest insert
/// first. Every key is in `order` exactly once, so `order` never outgrows `entries`.
struct Bounded<V> {
    entries: HashMap<Rc<str>, (V, usize), SeedableRandomState>,
    order: VecDeque<Rc<str>>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl<V> Bounded<V> {
    fn new(max_entries: usize, max_bytes: usize) -> Bounded<V> {
        Bounded {
            entries: HashMap::with_hasher(token_hasher()),
            order: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(&TokenKey(key)).map(|(value, _)| value)
    }

    /// Inserts or replaces; a replacement keeps the key's place in the eviction order
    /// (a key's size never changes: it is derived from the key).
    fn insert(&mut self, key: &str, value: V, size: usize) {
        if self.max_entries == 0 || size > self.max_bytes {
            return;
        }
        if let Some((old, _)) = self.entries.get_mut(&TokenKey(key)) {
            *old = value;
            return;
        }
        while self.entries.len() >= self.max_entries
            || self.bytes.saturating_add(size) > self.max_bytes
        {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, freed)) = self.entries.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(freed);
            }
        }
        let key: Rc<str> = Rc::from(key);
        self.order.push_back(key.clone());
        self.entries.insert(key, (value, size));
        self.bytes = self.bytes.saturating_add(size);
    }
}

/// A token looked up in a map keyed by `Rc<str>`: hashed as the `str` it is, compared
/// eight bytes at a time. A hit compares the whole token (~1 KB); `str`'s equality is a
/// `memcmp`, which in wasm is wasi-libc's byte loop — measured in V8 (Node's profiler,
/// `examples/hit_path.rs`), about a sixth of a cache hit.
struct TokenKey<'a>(&'a str);

impl Hash for TokenKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Equivalent<Rc<str>> for TokenKey<'_> {
    fn equivalent(&self, key: &Rc<str>) -> bool {
        same_bytes(self.0.as_bytes(), key.as_bytes())
    }
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let word = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map(u64::from_ne_bytes).ok();
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    a.len() == b.len()
        && a_words.remainder() == b_words.remainder()
        && a_words.zip(b_words).all(|(x, y)| word(x) == word(y))
}

/// foldhash, seeded from the host's randomness (std's `RandomState` keys come from
/// WASI `random_get`; foldhash's own seed would come from addresses, which are fixed in
/// wasm). Keys are whole tokens (~1 KB): with std's SipHash, hashing was about a sixth
/// of a cache hit. foldhash is not a cryptographic hash; with a secret seed, an
/// attacker cannot aim forged tokens at one bucket, and the maps are bounded anyway
/// (the negative one at [`NEGATIVE_MAX_ENTRIES`]); a hit still compares the whole token.
fn token_hasher() -> SeedableRandomState {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    let random = || RandomState::new().hash_one(0u8);
    let shared = SHARED.get_or_init(|| SharedSeed::from_u64(random()));
    SeedableRandomState::with_seed(random(), shared)
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
    fn tokens_are_compared_whole() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl";
        for len in 0..token.len() {
            let a = &token[..len];
            assert!(same_bytes(a.as_bytes(), a.to_owned().as_bytes()));
            for at in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(a.as_bytes(), &b), "{len} {at}");
            }
            assert!(!same_bytes(a.as_bytes(), &token.as_bytes()[..len + 1]));
        }
    }

    #[test]
    fn entries_expire_and_are_bounded() {
        let mut c = VerifyCache::new(CacheConfig {
            enabled: true,
            max_entries: 2,
            max_bytes: 1 << 20,
            shared: false,
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
    fn eviction_order_stays_as_small_as_the_cache() {
        // Expired entries that come back (forgeries replayed after the negative TTL,
        // tokens re-verified) must not pile up in the eviction order.
        let mut c = VerifyCache::new(CacheConfig::default());
        for round in 0..5u64 {
            let now = round * (NEGATIVE_TTL_SECONDS + 1);
            for i in 0..100 {
                let token = format!("t{i}");
                assert!(matches!(c.lookup(&token, now), Lookup::Miss));
                c.insert_forged(&token, now, bad(), 0);
                c.insert(&token, entry(now));
            }
        }
        assert_eq!(c.forged.order.len(), 100);
        assert_eq!(c.verified.order.len(), 100);
        assert_eq!(c.len(), 100);
    }

    #[test]
    fn byte_budget_is_respected() {
        let mut c = VerifyCache::new(CacheConfig {
            enabled: true,
            max_entries: 100,
            max_bytes: 1000,
            shared: false,
        });
        for i in 0..20 {
            c.insert(&format!("{i:0>100}"), entry(10));
        }
        assert!(c.verified.bytes <= 1000);
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
