//! audience-guard's signature arithmetic, in a crate of its own so that it alone is
//! built at `opt-level = 3` while the filter around it stays size-optimised (in V8 the
//! same P-256 code ran about twice as fast at 3 as at "z"). Only public-key operations:
//! key, message and signature are public, so nothing here is constant-time.

pub mod montgomery;
pub mod p256;
