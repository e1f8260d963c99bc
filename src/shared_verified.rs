//! The verified-token cache's second tier, shared by every VM of the Envoy process
//! through proxy-wasm shared data: a token one worker verified is not verified again
//! by the others (each VM's own cache, [`crate::cache`], would otherwise verify every
//! token once per worker).
//!
//! What is shared is one fact only: *this exact token's signature verified, under this
//! configuration, with this key set of its issuer*. A worker that finds it still parses
//! the token and runs every other check itself; it skips only the signature.
//!
//! Bounded: [`SLOTS`] shared-data keys; a token's slot comes from a fixed hash of the
//! token (every VM must pick the same), and the newest token in a slot replaces the one
//! before. Tokens over [`MAX_SHARED_TOKEN_BYTES`] are not shared. A slot holds
//! `configuration fingerprint (8 bytes) · key-set fingerprint (8) · the token`, all
//! compared, so neither another configuration in the same VM group nor a key set that
//! has since changed can vouch for a token.

use foldhash::fast::FixedState;
use std::hash::BuildHasher;

/// Part of every configuration fingerprint: facts recorded by another build (which may
/// have verified differently) are not vouched for by this one.
const FORMAT: &str = concat!(
    "audience-guard ",
    env!("CARGO_PKG_VERSION"),
    " verified/1\n"
);

/// Shared-data keys used, at most (whatever the configurations of the VM group).
pub const SLOTS: u64 = 4096;
/// Longest token shared: at most `SLOTS` × this many bytes of shared data.
pub const MAX_SHARED_TOKEN_BYTES: usize = 4096;
/// Any fixed value: every VM must hash alike.
const SEED: u64 = 0x6175_6469_656e_6365;

/// Where the slots live: Envoy's shared data in the filter, a map in tests.
pub trait SlotStore {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&self, key: &str, value: &[u8]);
}

/// The shared tier as one VM sees it: the store and this VM's configuration.
pub struct SharedVerified {
    store: Box<dyn SlotStore>,
    configuration: u64,
}

impl SharedVerified {
    /// For the configuration whose JSON text is `configuration`.
    pub fn new(store: Box<dyn SlotStore>, configuration: &str) -> SharedVerified {
        SharedVerified {
            store,
            configuration: fingerprint(format!("{FORMAT}{configuration}").as_bytes()),
        }
    }

    /// Whether some VM recorded that `token` verified with the key set `keys`.
    pub fn vouches_for(&self, token: &str, keys: u64) -> bool {
        if token.len() > MAX_SHARED_TOKEN_BYTES {
            return false;
        }
        self.store.get(&slot(token)).is_some_and(|value| {
            value.len() == 16 + token.len()
                && value.get(..8) == Some(&self.configuration.to_le_bytes()[..])
                && value.get(8..16) == Some(&keys.to_le_bytes()[..])
                && value.get(16..) == Some(token.as_bytes())
        })
    }

    /// Records that `token`'s signature verified with the key set `keys`.
    pub fn record(&self, token: &str, keys: u64) {
        if token.len() > MAX_SHARED_TOKEN_BYTES {
            return;
        }
        let mut value = Vec::with_capacity(16 + token.len());
        value.extend_from_slice(&self.configuration.to_le_bytes());
        value.extend_from_slice(&keys.to_le_bytes());
        value.extend_from_slice(token.as_bytes());
        self.store.set(&slot(token), &value);
    }
}

/// The same 64-bit value in every VM for the same bytes (a key set, a configuration):
/// SHA-256, truncated, so that no chosen JWKS can take an older one's fingerprint.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let digest = hmac_sha256::Hash::hash(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(first)
}

/// A token's slot: a fast fixed hash is enough, the whole token is compared.
fn slot(token: &str) -> String {
    let hash = FixedState::with_seed(SEED).hash_one(token.as_bytes());
    format!("audience_guard/verified/{}", hash % SLOTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_the_same_everywhere() {
        let keys: std::collections::HashSet<String> =
            (0..20_000).map(|i| slot(&format!("token-{i}"))).collect();
        assert!(keys.len() as u64 <= SLOTS);
        // A fixed hash: the same value in every VM and every run (a random seed would
        // make each worker look in other slots).
        assert_eq!(fingerprint(b"jwks"), fingerprint(b"jwks"));
        assert_eq!(slot("h.p.s"), slot("h.p.s"));
    }
}
