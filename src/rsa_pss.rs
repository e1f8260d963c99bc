//! RSASSA-PSS signature verification (PS256, PS384, PS512): RFC 8017 §8.1.2 with
//! EMSA-PSS-VERIFY (§9.1.2), as JWS profiles it (RFC 7518 §3.5): MGF1 with the message
//! hash, and a salt exactly as long as the hash.
//!
//! Why this exists: PS* went through jwt-simple's pure-Rust RSA, ≈1 ms per verify in V8,
//! and kept superboring, num-bigint-dig and rsa in the module (with the RSA PEM parsing,
//! `src/rsa_pem.rs`, 72 KB of the optimised module). Here it reuses
//! `RsaPublicKey::public_op`, the exponentiation RS* already uses (`ag_math::amm`), and
//! adds only the encoding check: a few hashes.
//!
//! Unlike PKCS#1 v1.5, PSS cannot be checked by construct-and-compare: the salt is random
//! and is only recovered from the encoded message. So EM is decoded, strictly, and every
//! byte of it is accounted for: the 0xBC trailer, the zero top bits, the zero padding and
//! its 0x01 separator at the one position a hash-long salt allows; the salt and H are then
//! bound by the final hash comparison.

use crate::rsa_verify::{HashAlg, RsaPublicKey};

impl RsaPublicKey {
    /// RSASSA-PSS verification (RFC 8017 §8.1.2) with MGF1(`hash`) and a salt of the
    /// hash's length. `false` for a signature of any length other than the modulus
    /// length, for s ≥ n, and for any encoded message EMSA-PSS-VERIFY calls inconsistent.
    pub fn verify_pss(&self, hash: HashAlg, message: &[u8], signature: &[u8]) -> bool {
        let Some(m) = self.public_op(signature) else {
            return false;
        };
        let Some(em) = self.octets(&m) else {
            return false;
        };
        let em: Vec<u8> = em.collect();
        // emBits = modBits − 1: the encoding always leaves m below n.
        match self.modulus_bits().checked_sub(1) {
            Some(em_bits) => pss_encoding_matches(hash, &hash.digest(&[message]), &em, em_bits),
            None => false,
        }
    }
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with sLen = hLen, on m given as k bytes (I2OSP(m, k)).
/// emLen = ⌈emBits/8⌉ is k, or k − 1 when modBits ≡ 1 (mod 8); in that case m's extra
/// leading byte must be zero (I2OSP(m, emLen) would fail otherwise, §8.1.2 step 2c).
fn pss_encoding_matches(hash: HashAlg, m_hash: &[u8], m: &[u8], em_bits: usize) -> bool {
    let h_len = hash.output_len();
    let em_len = em_bits.div_ceil(8);
    let Some((extra, em)) = m
        .len()
        .checked_sub(em_len)
        .and_then(|extra| m.split_at_checked(extra))
    else {
        return false;
    };
    if extra.iter().any(|&b| b != 0) {
        return false;
    }
    // Step 3: emLen ≥ hLen + sLen + 2 (always true from 2048 bits; checked anyway). The
    // padding PS is what DB has before the 0x01 separator and the salt.
    let Some(db_len) = em_len.checked_sub(h_len + 1) else {
        return false;
    };
    let Some(ps_len) = db_len.checked_sub(h_len + 1) else {
        return false;
    };
    // Step 4: the trailer. Step 5: maskedDB || H.
    let Some((&0xbc, rest)) = em.split_last() else {
        return false;
    };
    let Some((masked_db, h)) = rest.split_at_checked(db_len) else {
        return false;
    };
    // Step 6: the 8·emLen − emBits (0..=7) top bits of EM are zero.
    let top_mask = 0xffu8 >> (em_len * 8 - em_bits);
    if masked_db.first().is_none_or(|&b| b & !top_mask != 0) {
        return false;
    }
    // Steps 7–9: DB = maskedDB ⊕ MGF1(H), its top bits cleared as they were in EM.
    let mut db: Vec<u8> = masked_db
        .iter()
        .zip(mgf1(hash, h, db_len))
        .map(|(a, b)| a ^ b)
        .collect();
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    // Step 10: DB = PS (zeros) || 0x01 || salt, the salt exactly hLen bytes.
    let Some((ps, separator_and_salt)) = db.split_at_checked(ps_len) else {
        return false;
    };
    let Some((&0x01, salt)) = separator_and_salt.split_first() else {
        return false;
    };
    if ps.iter().any(|&b| b != 0) {
        return false;
    }
    // Steps 11–14: H = Hash(00×8 || mHash || salt).
    hash.digest(&[&[0u8; 8], m_hash, salt]) == h
}

/// MGF1 (RFC 8017 §B.2.1): Hash(seed || counter) for counter = 0, 1, …, cut to `len`.
fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Vec<u8> {
    (0..=u32::MAX)
        .flat_map(|counter| hash.digest(&[seed, &counter.to_be_bytes()]))
        .take(len)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASHES: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    /// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with any salt, for emBits bits, prefixed with
    /// the zero bytes that make it `k` bytes long: the reference the checks are held to.
    fn encode(hash: HashAlg, msg: &[u8], salt: &[u8], em_bits: usize, k: usize) -> Vec<u8> {
        let em_len = em_bits.div_ceil(8);
        let h_len = hash.output_len();
        let m_hash = hash.digest(&[msg]);
        let h = hash.digest(&[&[0u8; 8], &m_hash, salt]);
        let mut db = vec![0u8; em_len - salt.len() - h_len - 2];
        db.push(0x01);
        db.extend_from_slice(salt);
        let mut masked: Vec<u8> = db
            .iter()
            .zip(mgf1(hash, &h, db.len()))
            .map(|(a, b)| a ^ b)
            .collect();
        masked[0] &= 0xff >> (8 * em_len - em_bits);
        let mut m = vec![0u8; k - em_len];
        m.extend(masked);
        m.extend(h);
        m.push(0xbc);
        m
    }

    fn check(hash: HashAlg, msg: &[u8], m: &[u8], em_bits: usize) -> bool {
        pss_encoding_matches(hash, &hash.digest(&[msg]), m, em_bits)
    }

    /// (emBits, k) for modBits 2048 (top bit masked), 2049 (emLen = k − 1), 2050 (7 bits
    /// masked), 2052 (5 bits masked), 3073 (emLen = k − 1), 4096.
    const SHAPES: [(usize, usize); 6] = [
        (2047, 256),
        (2048, 257),
        (2049, 257),
        (2051, 257),
        (3072, 385),
        (4095, 512),
    ];

    #[test]
    fn encoded_messages_match_exactly() {
        for hash in HASHES {
            let salt: Vec<u8> = (0..hash.output_len()).map(|i| i as u8 ^ 0x5a).collect();
            for (em_bits, k) in SHAPES {
                let m = encode(hash, b"abc", &salt, em_bits, k);
                assert_eq!(m.len(), k);
                assert!(check(hash, b"abc", &m, em_bits), "{hash:?} {em_bits}");
                assert!(!check(hash, b"abd", &m, em_bits));
                // Every single-bit change of m fails, including the zero top bits and
                // the leading zero byte when emLen = k − 1.
                for bit in 0..k * 8 {
                    let mut bad = m.clone();
                    bad[bit / 8] ^= 0x80 >> (bit % 8);
                    assert!(
                        !check(hash, b"abc", &bad, em_bits),
                        "{hash:?} {em_bits} {bit}"
                    );
                }
            }
        }
    }

    #[test]
    fn salt_must_be_exactly_as_long_as_the_hash() {
        for hash in HASHES {
            let h_len = hash.output_len();
            for s_len in [0, 1, 20, h_len - 1, h_len + 1, 2 * h_len, 100] {
                let salt = vec![0xa5; s_len];
                for (em_bits, k) in SHAPES {
                    let m = encode(hash, b"", &salt, em_bits, k);
                    assert!(!check(hash, b"", &m, em_bits), "{hash:?} sLen {s_len}");
                }
            }
            // All-zero and all-one salts of the right length are fine.
            for byte in [0x00, 0xff] {
                let m = encode(hash, b"", &vec![byte; h_len], 2047, 256);
                assert!(check(hash, b"", &m, 2047));
            }
        }
    }

    #[test]
    fn the_other_hash_never_matches() {
        for hash in HASHES {
            let m = encode(hash, b"m", &vec![7; hash.output_len()], 2047, 256);
            for other in HASHES {
                assert_eq!(check(other, b"m", &m, 2047), other == hash);
            }
        }
    }

    #[test]
    fn degenerate_blocks_are_rejected() {
        for hash in HASHES {
            for (em_bits, k) in SHAPES {
                for m in [vec![0u8; k], vec![0xff; k], {
                    let mut v = vec![0u8; k];
                    v[k - 1] = 0xbc;
                    v
                }] {
                    assert!(!check(hash, b"", &m, em_bits));
                }
            }
            // Too short for hLen + sLen + 2, too short for emLen, and empty.
            assert!(!check(hash, b"", &[0xbc; 60], 479));
            assert!(!check(hash, b"", &[0xbc; 10], 2047));
            assert!(!check(hash, b"", &[], 2047));
            assert!(!check(hash, b"", &[], 0));
        }
    }

    #[test]
    fn mgf1_counts_across_blocks() {
        for hash in HASHES {
            let h_len = hash.output_len();
            let mask = mgf1(hash, b"seed", 3 * h_len + 5);
            assert_eq!(mask.len(), 3 * h_len + 5);
            for (i, block) in mask.chunks(h_len).enumerate() {
                let full = hash.digest(&[b"seed", &(i as u32).to_be_bytes()]);
                assert_eq!(block, &full[..block.len()]);
            }
            assert!(mgf1(hash, b"seed", 0).is_empty());
        }
    }
}
