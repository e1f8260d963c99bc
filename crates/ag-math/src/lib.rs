//! audience-guard's signature arithmetic (RSA exponentiation, P-256 ECDSA and Ed25519
//! verification), in a crate of its own so that it alone is built at `opt-level = 3`
//! while the filter around it stays size-optimised (in Node's
//! V8 a P-256 verification on 32-bit limbs took ~180–200 µs at 3, ~455–500 µs at "z"). Only
//! public-key operations: key, message and signature are public, so nothing here is
//! constant-time.

pub mod amm;
pub mod ed25519;
pub mod montgomery;
pub mod p256;
