//! Helpers shared by the signature tests (`rsa_wycheproof.rs`, `rsa_pem.rs`,
//! `es256_wycheproof.rs`, `ed25519_wycheproof.rs`): hex, the vector files under
//! tests/vectors, Wycheproof verdicts and deterministic randomness.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use serde_json::Value;

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A JSON file under tests/vectors, e.g. `wycheproof/rsa_signature_2048_sha256_test.json`.
pub fn read_vectors(path: &str) -> Value {
    let path = format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// SplitMix64: deterministic test randomness without a new dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A random printable message of 0..300 characters.
    pub fn message(&mut self) -> String {
        let len = self.below(300);
        (0..len)
            .map(|_| char::from(b' ' + self.below(95) as u8))
            .collect()
    }
}

/// Asserts `ok` against a Wycheproof test's `result` (true for "valid", false for
/// "invalid", naming the test otherwise) and returns whether it was a valid one. Files
/// with "acceptable" cases (`rsa_wycheproof.rs`) judge those themselves.
pub fn assert_verdict(test: &Value, ok: bool) -> bool {
    let (id, comment) = (&test["tcId"], &test["comment"]);
    match test["result"].as_str().unwrap() {
        "valid" => assert!(ok, "tcId {id} valid but rejected: {comment}"),
        "invalid" => assert!(!ok, "tcId {id} invalid but accepted: {comment}"),
        other => panic!("tcId {id}: unexpected result {other}"),
    }
    test["result"] == "valid"
}
