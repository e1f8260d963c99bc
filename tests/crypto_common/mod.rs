//! Helpers shared by the signature tests (`rsa_wycheproof.rs`, `rsa_pem.rs`,
//! `es256_wycheproof.rs`, `ed25519_wycheproof.rs`, `curve_pem.rs`): hex, the vector files
//! under tests/vectors, Wycheproof verdicts, deterministic randomness, DER and PEM.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use ct_codecs::{Base64, Encoder};
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

    /// `bytes` after one to three random changes (a byte replaced or flipped, inserted,
    /// removed, or the rest cut off), half of them within the first `head` bytes, where
    /// a DER document's headers are.
    pub fn mutate(&mut self, bytes: &[u8], head: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for _ in 0..1 + self.below(3) {
            if out.is_empty() {
                break;
            }
            let at = if self.below(2) == 0 {
                self.below(head.min(out.len()))
            } else {
                self.below(out.len())
            };
            match self.below(5) {
                0 => out[at] = self.next() as u8,
                1 => out[at] ^= 1 << self.below(8),
                2 => out.insert(at, self.next() as u8),
                3 => {
                    out.remove(at);
                }
                _ => out.truncate(at.max(1)),
            }
        }
        out
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

/// A DER TLV with a minimal length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// A PEM document: `der` in base64, 64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    pem_wrapped(label, der, 64, "\n")
}

pub fn pem_wrapped(label: &str, der: &[u8], width: usize, eol: &str) -> String {
    let b64 = Base64::encode_to_string(der).unwrap();
    let mut out = format!("-----BEGIN {label}-----{eol}");
    for line in b64.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str(eol);
    }
    out.push_str(&format!("-----END {label}-----{eol}"));
    out
}

/// PEM-level variations of one document: line endings and widths, surrounding
/// whitespace and text, headers, blank lines, broken labels and base64 (broken in the
/// body's first three characters), and an empty document: 20 in all.
pub fn pem_variants(label: &str, der: &[u8]) -> Vec<String> {
    let lf = pem(label, der);
    let body = Base64::encode_to_string(der).unwrap();
    let head = &body[..3];
    let broken = |with: &str| lf.replacen(head, with, 1);
    vec![
        lf.clone(),
        pem_wrapped(label, der, 64, "\r\n"),
        pem_wrapped(label, der, 76, "\n"),
        pem_wrapped(label, der, 48, "\n"),
        pem_wrapped(label, der, 10_000, "\n"),
        lf.trim_end().to_owned(),
        format!("  \n\t{lf}\n\n  "),
        format!("junk before\n{lf}"),
        format!("{lf}junk after\n"),
        lf.replacen('\n', "\n\n", 2),
        lf.replacen('\n', "\nProc-Type: 4,ENCRYPTED\n\n", 1),
        lf.replacen("-----\n", "----- \n", 1),
        lf.replacen("BEGIN", "BEGIN ", 1),
        lf.replace(&format!("END {label}"), "END OTHER"),
        lf.replace(&format!("-----END {label}-----\n"), ""),
        broken(&format!("{} {}", &head[..1], &head[1..])),
        broken(&format!("{}={}", &head[..1], &head[2..])),
        broken(&format!("{}*{}", &head[..1], &head[2..])),
        lf.to_lowercase(),
        String::new(),
    ]
}
