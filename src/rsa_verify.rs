//! RSASSA-PKCS1-v1_5 signature verification (RS256, RS384, RS512); the exponentiation
//! is `ag_math::amm` (SIMD almost-Montgomery multiplication on digits of ≤ 28 bits).
//! RSASSA-PSS (PS256, PS384, PS512) is in `rsa_pss`, on the same key type and
//! public-key operation.
//!
//! Why this exists: jwt-simple's RSA is the bottleneck in wasm — measured in V8 on a
//! 2048-bit RS256 token, ≈1 ms per verify there vs ≈40 µs here (its pure-Rust backend
//! computes with 64-bit digits, which wasm32 emulates; `ag_math::amm` multiplies 32-bit
//! digit pairs, two per SIMD instruction).
//!
//! Scope: the public-key operation only. Key, message and signature are all public, so
//! nothing here needs to be constant-time.
//!
//! Verification is RFC 8017 §8.2.2 with construct-and-compare: the expected
//! EMSA-PKCS1-v1_5 block (`00 01 FF…FF 00 || DigestInfo || H(m)`) is built from the
//! message and compared whole with `s^e mod n`. Nothing decrypted is ever parsed, which
//! rules out Bleichenbacher-style low-exponent forgeries, BER/garbage-in-ASN.1 variants and
//! the "missing NULL" DigestInfo form.

use ag_math::amm::Modulus;
use ag_math::montgomery::less_than;

/// Smallest modulus accepted (same policy as jwt-simple).
const MIN_MODULUS_BITS: usize = 2048;
/// Largest modulus accepted (same policy as jwt-simple).
const MAX_MODULUS_BITS: usize = 4096;
/// The only public exponent accepted (jwt-simple accepts only 65537 too).
const PUBLIC_EXPONENT: u32 = 65537;

/// DigestInfo prefixes from RFC 8017 §9.2, note 1 (with the explicit NULL parameters).
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_PREFIX: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_PREFIX: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// The hash of an RSA signature: RS256/PS256, RS384/PS384, RS512/PS512 (for PSS also
/// the MGF1 hash, as RFC 7518 §3.5 requires).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// DER `DigestInfo` header that precedes the hash value.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha256 => &SHA256_PREFIX,
            HashAlg::Sha384 => &SHA384_PREFIX,
            HashAlg::Sha512 => &SHA512_PREFIX,
        }
    }

    /// Digest length in bytes (hLen in RFC 8017).
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The hash of the concatenation of `parts`: PSS hashes M' = 00×8 || mHash || salt
    /// and MGF1 seed || counter, so this saves copying the pieces into one buffer.
    pub(crate) fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => {
                let mut h = hmac_sha256::Hash::new();
                parts.iter().for_each(|p| h.update(p));
                h.finalize().to_vec()
            }
            HashAlg::Sha384 => {
                let mut h = hmac_sha512::sha384::Hash::new();
                parts.iter().for_each(|p| h.update(p));
                h.finalize().to_vec()
            }
            HashAlg::Sha512 => {
                let mut h = hmac_sha512::Hash::new();
                parts.iter().for_each(|p| h.update(p));
                h.finalize().to_vec()
            }
        }
    }
}

/// An RSA public key prepared for fast verification: the modulus as little-endian
/// `u32` limbs (range checks, output length) and in the digit form `ag_math::amm`
/// exponentiates with, prepared once per key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// n, little-endian 32-bit limbs.
    n: Vec<u32>,
    /// n prepared for the exponentiation.
    modulus: Modulus,
    /// Modulus length in bytes (k in RFC 8017); signatures must be exactly this long.
    len: usize,
}

impl RsaPublicKey {
    /// Prepares a key from the big-endian `n` and `e` of a JWK (leading zero bytes are
    /// ignored). `None` unless 2048 ≤ bits(n) ≤ 4096, n is odd and e = 65537.
    pub fn new(n: &[u8], e: &[u8]) -> Option<Self> {
        if strip_leading_zeros(e) != strip_leading_zeros(&PUBLIC_EXPONENT.to_be_bytes()) {
            return None;
        }
        Self::prepare(n)
    }

    /// Modulus checks and Montgomery precomputation, independent of the exponent.
    fn prepare(n: &[u8]) -> Option<Self> {
        let n = strip_leading_zeros(n);
        let top = *n.first()?;
        let bits = n
            .len()
            .checked_mul(8)?
            .checked_sub(usize::try_from(top.leading_zeros()).ok()?)?;
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return None;
        }
        if n.last()? & 1 == 0 {
            return None;
        }
        let limbs = n.len().div_ceil(4);
        let n_limbs = limbs_from_be(n, limbs);
        Some(RsaPublicKey {
            modulus: Modulus::new(&n_limbs)?,
            n: n_limbs,
            len: n.len(),
        })
    }

    /// Modulus length in bytes: the exact length a signature must have.
    pub fn modulus_len(&self) -> usize {
        self.len
    }

    /// Modulus length in bits (modBits in RFC 8017); PSS encodes into modBits − 1 bits.
    pub(crate) fn modulus_bits(&self) -> usize {
        let top = self.n.last().map_or(32, |limb| limb.leading_zeros());
        (self.n.len() * 32).saturating_sub(top as usize)
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2). `false` for a signature of
    /// any length other than the modulus length, for s ≥ n, and for any encoded block
    /// other than exactly `00 01 FF…FF 00 || DigestInfo(hash) || hash(message)`.
    pub fn verify_pkcs1v15(&self, hash: HashAlg, message: &[u8], signature: &[u8]) -> bool {
        match self.public_op(signature) {
            Some(m) => self.encoding_matches(&m, hash, message),
            None => false,
        }
    }

    /// Signature bytes → s as limbs; `None` unless the length is exactly k and s < n.
    fn signature_to_int(&self, signature: &[u8]) -> Option<Vec<u32>> {
        if signature.len() != self.len {
            return None;
        }
        let s = limbs_from_be(signature, self.n.len());
        less_than(&s, &self.n).then_some(s)
    }

    /// m = s^65537 mod n.
    pub(crate) fn public_op(&self, signature: &[u8]) -> Option<Vec<u32>> {
        let s = self.signature_to_int(signature)?;
        self.modulus.pow_odd(&s, PUBLIC_EXPONENT)
    }

    /// Compares m (as a k-byte big-endian block) with the expected EMSA-PKCS1-v1_5
    /// encoding of `message`, byte for byte.
    fn encoding_matches(&self, m: &[u32], hash: HashAlg, message: &[u8]) -> bool {
        let digest = hash.digest(&[message]);
        let prefix = hash.digest_info_prefix();
        // emLen ≥ tLen + 11 (RFC 8017 §9.2 step 3): at least 8 bytes of FF.
        let Some(ps_len) = prefix
            .len()
            .checked_add(digest.len())
            .and_then(|t_len| t_len.checked_add(3))
            .and_then(|used| self.len.checked_sub(used))
        else {
            return false;
        };
        if ps_len < 8 {
            return false;
        }
        let Some(actual) = self.octets(m) else {
            return false;
        };
        let expected = [0x00u8, 0x01]
            .into_iter()
            .chain(std::iter::repeat_n(0xff, ps_len))
            .chain(std::iter::once(0x00))
            .chain(prefix.iter().copied())
            .chain(digest.iter().copied());
        actual.eq(expected)
    }

    /// I2OSP(m, k): m as exactly k big-endian bytes. m < n < 2^(8k), so the limbs' high
    /// bytes beyond k are zero and skipped. `None` only if m has fewer limbs than k needs.
    pub(crate) fn octets<'m>(&self, m: &'m [u32]) -> Option<impl Iterator<Item = u8> + 'm> {
        let skip = m.len().checked_mul(4)?.checked_sub(self.len)?;
        Some(
            m.iter()
                .rev()
                .flat_map(|limb| limb.to_be_bytes())
                .skip(skip),
        )
    }
}

/// Big-endian bytes → `limbs` little-endian u32 limbs (bytes beyond 4·limbs ignored;
/// callers pass at most 4·limbs bytes).
fn limbs_from_be(bytes: &[u8], limbs: usize) -> Vec<u32> {
    let mut out = vec![0u32; limbs];
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks(4)) {
        *limb = chunk
            .iter()
            .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte));
    }
    out
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ag_math::montgomery::sub_in_place;

    /// A 2048-bit modulus (Wycheproof rsa_signature_2048_sha256, first group).
    const N_2048: &str = "a2b451a07d0aa5f96e455671513550514a8a5b462ebef717094fa1fee82224e637f9746d3f7cafd31878d80325b6ef5a1700f65903b469429e89d6eac8845097b5ab393189db92512ed8a7711a1253facd20f79c15e8247f3d3e42e46e48c98e254a2fe9765313a03eff8f17e1a029397a1fa26a8dce26f490ed81299615d9814c22da610428e09c7d9658594266f5c021d0fceca08d945a12be82de4d1ece6b4c03145b5d3495d4ed5411eb878daf05fd7afc3e09ada0f1126422f590975a1969816f48698bcbba1b4d9cae79d460d8f9f85e7975005d9bc22c4e5ac0f7c1a45d12569a62807d3b9a02e5a530e773066f453d1f5b4c2e9cf7820283f742b9d5";
    /// Its tcId 1 signature of the empty message (valid, SHA-256).
    const SIG_EMPTY_2048: &str = "840f5dac53106dd1f9c57219224cf51289290c42f20466875ba8e830ac5690e541536fcc8ab03b731f82bf66d83f194e7e180b3963ec7a2f3f7904a7ce49aed47da4d4b79421eaf937d301b3e696169297b797c32c076a12be4de0b58e003c5123051a84a10c62f8dac2f42a8640008eb3c7cccd6760ff5b51b689763922582845f048fb8150e5a7a6ca2eccc7bdc85349ad5b26c52137a79fa3fe5c29ab5cd7615013219c1941b6708e9c3c23feff5febaf0c8ebca5750b54e3e6e99a3e876b396f27860b7f3ec4e9191703c6332d944f6f69751167680c79c4f6b57f1cc8755d24b6ec158ccdbacdb23107a33cb6b332516c13274d1f9dccc21dced869e486";
    const E: [u8; 3] = [1, 0, 1];

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn key() -> RsaPublicKey {
        RsaPublicKey::new(&hex(N_2048), &E).unwrap()
    }

    fn be_bytes(limbs: &[u32], len: usize) -> Vec<u8> {
        let all: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        all[all.len() - len..].to_vec()
    }

    /// n − k as big-endian bytes (n > k).
    fn n_minus(n: &[u8], k: u8) -> Vec<u8> {
        let mut v = n.to_vec();
        let mut borrow = k;
        for byte in v.iter_mut().rev() {
            let (d, under) = byte.overflowing_sub(borrow);
            *byte = d;
            borrow = u8::from(under);
        }
        assert_eq!(borrow, 0);
        v
    }

    /// a = 2a mod n, for a < n.
    fn double_mod(a: &mut [u32], n: &[u32]) {
        let mut carry = 0u64;
        for x in a.iter_mut() {
            let v = (u64::from(*x) << 1) | carry;
            *x = v as u32;
            carry = v >> 32;
        }
        if carry != 0 || !less_than(a, n) {
            sub_in_place(a, n);
        }
    }

    /// Schoolbook reference: a·b mod n with bit-by-bit doubling (slow, obviously right).
    fn mul_mod_slow(a: &[u32], b: &[u32], n: &[u32]) -> Vec<u32> {
        let mut acc = vec![0u32; n.len()];
        for bit in (0..b.len() * 32).rev() {
            double_mod(&mut acc, n);
            if (b[bit / 32] >> (bit % 32)) & 1 == 1 {
                // acc += a mod n
                let mut carry = 0u64;
                for (x, &y) in acc.iter_mut().zip(a) {
                    let v = u64::from(*x) + u64::from(y) + carry;
                    *x = v as u32;
                    carry = v >> 32;
                }
                if carry != 0 || !less_than(&acc, n) {
                    sub_in_place(&mut acc, n);
                }
            }
        }
        acc
    }

    fn pow_slow(s: &[u32], e: u32, n: &[u32]) -> Vec<u32> {
        let mut one = vec![0u32; n.len()];
        one[0] = 1;
        let mut acc = one;
        for bit in (0..32).rev() {
            acc = mul_mod_slow(&acc, &acc, n);
            if (e >> bit) & 1 == 1 {
                acc = mul_mod_slow(&acc, s, n);
            }
        }
        acc
    }

    /// Keys of every shape of length (whole limbs, a partial top limb, 2048/3072/4096
    /// bits): the exponentiation agrees with the schoolbook reference.
    #[test]
    fn exponentiation_matches_reference_on_every_length() {
        for (bits, pattern) in [
            (2048usize, 0x5au8),
            (2049, 0x33),
            (2055, 0xc7),
            (2080, 0xff),
            (3072, 0x81),
            (3100, 0x0f),
            (4064, 0x99),
            (4096, 0xa5),
        ] {
            let len = bits.div_ceil(8);
            let mut n: Vec<u8> = (0..len)
                .map(|i| pattern.wrapping_mul(i as u8 | 1))
                .collect();
            let top_bits = bits - (len - 1) * 8;
            n[0] = (n[0] | 0x80) >> (8 - top_bits);
            n[len - 1] |= 1;
            let key = RsaPublicKey::new(&n, &E).unwrap_or_else(|| panic!("{bits}"));
            assert_eq!(key.modulus_len(), len);
            assert_eq!(key.modulus_bits(), bits);
            let mut sig = n_minus(&n, 3);
            sig[len / 2] &= pattern;
            let s = limbs_from_be(&sig, key.n.len());
            assert!(less_than(&s, &key.n));
            assert_eq!(
                key.public_op(&sig).unwrap(),
                pow_slow(&s, 65537, &key.n),
                "bits {bits}"
            );
        }
    }

    #[test]
    fn montgomery_matches_reference_pow() {
        let key = key();
        let n = hex(N_2048);
        let cases: Vec<Vec<u8>> = vec![
            vec![0; n.len()],
            {
                let mut v = vec![0; n.len()];
                v[n.len() - 1] = 2;
                v
            },
            n_minus(&n, 1),
            n_minus(&n, 2),
            hex(SIG_EMPTY_2048),
            (0..n.len())
                .map(|i| (i * 37 + 11) as u8)
                .collect::<Vec<_>>(),
        ];
        for sig in cases {
            let s = limbs_from_be(&sig, key.n.len());
            if !less_than(&s, &key.n) {
                continue;
            }
            let fast = key.public_op(&sig).unwrap();
            assert_eq!(fast, pow_slow(&s, 65537, &key.n));
        }
    }

    /// SplitMix64, for deterministic random tests.
    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn random_bytes(state: &mut u64, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng(state) as u8).collect()
    }

    /// s^65537 mod n against the schoolbook reference, for random moduli of every shape
    /// (random, all-ones, sparse) and random or extreme s.
    #[test]
    fn exponentiation_matches_reference_on_random_moduli() {
        let mut st = 42u64;
        for round in 0..9 {
            let bits = 2048 + (rng(&mut st) % 2049) as usize;
            let len = bits.div_ceil(8);
            let mut n = match round % 3 {
                0 => random_bytes(&mut st, len),
                1 => vec![0xff; len],
                _ => vec![0; len],
            };
            let top_bits = bits - (len - 1) * 8;
            n[0] = (n[0] | 0x80) >> (8 - top_bits);
            n[len - 1] |= 1;
            let key = RsaPublicKey::new(&n, &E).unwrap();
            let random = loop {
                let v = random_bytes(&mut st, len);
                if less_than(&limbs_from_be(&v, key.n.len()), &key.n) {
                    break v;
                }
            };
            for sig in [random, n_minus(&n, 1), n_minus(&n, 2)] {
                let s = limbs_from_be(&sig, key.n.len());
                assert_eq!(
                    key.public_op(&sig).unwrap(),
                    pow_slow(&s, 65537, &key.n),
                    "round {round}, {bits} bits"
                );
            }
        }
    }

    /// Arbitrary keys, signatures of every length around k, messages: never a panic, and
    /// (with overwhelming probability) never a valid signature.
    #[test]
    fn random_inputs_never_panic_or_verify() {
        let mut st = 7u64;
        let key = key();
        for _ in 0..300 {
            let len = match rng(&mut st) % 4 {
                0 => key.modulus_len(),
                1 => key.modulus_len() + 1,
                2 => key.modulus_len() - 1,
                _ => (rng(&mut st) % 600) as usize,
            };
            let sig = random_bytes(&mut st, len);
            let msg_len = (rng(&mut st) % 64) as usize;
            let msg = random_bytes(&mut st, msg_len);
            for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
                assert!(!key.verify_pkcs1v15(hash, &msg, &sig));
                assert!(!key.verify_pss(hash, &msg, &sig));
            }
            // Random key material: accepted or not, verification just returns false.
            let n_len = (rng(&mut st) % 600) as usize;
            let n = random_bytes(&mut st, n_len);
            let e_len = (rng(&mut st) % 4) as usize;
            let e = random_bytes(&mut st, e_len);
            for e in [&e[..], &E[..]] {
                if let Some(k) = RsaPublicKey::new(&n, e) {
                    assert!(!k.verify_pkcs1v15(HashAlg::Sha256, &msg, &sig));
                    assert!(!k.verify_pss(HashAlg::Sha256, &msg, &sig));
                }
            }
        }
    }

    #[test]
    fn edge_values_of_s() {
        let key = key();
        let n = hex(N_2048);
        let k = n.len();
        let limbs = key.n.len();
        // s = 0 → m = 0.
        assert_eq!(key.public_op(&vec![0; k]).unwrap(), vec![0; limbs]);
        // s = 1 → m = 1.
        let mut one = vec![0u8; k];
        one[k - 1] = 1;
        let mut expect_one = vec![0u32; limbs];
        expect_one[0] = 1;
        assert_eq!(key.public_op(&one).unwrap(), expect_one);
        // s = n − 1 ≡ −1 → m = (−1)^65537 = n − 1.
        let nm1 = n_minus(&n, 1);
        assert_eq!(be_bytes(&key.public_op(&nm1).unwrap(), k), nm1);
        // None of these is a valid signature of anything.
        for sig in [vec![0u8; k], one, nm1] {
            assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &sig));
            assert!(!key.verify_pss(HashAlg::Sha256, b"", &sig));
        }
        // s = n and s > n are rejected before exponentiation.
        assert!(key.public_op(&n).is_none());
        let mut above = n.clone();
        above[k - 1] += 1;
        assert!(key.public_op(&above).is_none());
        assert!(key.public_op(&vec![0xff; k]).is_none());
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &n));
        // s = n + (valid signature) would be ≡ the valid one, but is out of range.
        // (n + s overflows k bytes here, so check only the length-preserving s = n case.)
    }

    #[test]
    fn valid_signature_and_length_rules() {
        let key = key();
        let sig = hex(SIG_EMPTY_2048);
        assert!(key.verify_pkcs1v15(HashAlg::Sha256, b"", &sig));
        assert!(!key.verify_pkcs1v15(HashAlg::Sha384, b"", &sig));
        assert!(!key.verify_pkcs1v15(HashAlg::Sha512, b"", &sig));
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"x", &sig));
        // Leading zero prepended: same integer, wrong length → rejected (RFC 8017 §8.2.2).
        let mut longer = vec![0u8];
        longer.extend_from_slice(&sig);
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &longer));
        // Truncated, empty and one-byte signatures.
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &sig[1..]));
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &sig[..sig.len() - 1]));
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &[]));
        assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &[1]));
        // Every single-bit flip fails.
        for i in 0..sig.len() {
            let mut bad = sig.clone();
            bad[i] ^= 1 << (i % 8);
            assert!(!key.verify_pkcs1v15(HashAlg::Sha256, b"", &bad), "byte {i}");
        }
    }

    #[test]
    fn key_policy() {
        let n = hex(N_2048);
        // Exponent: only 65537, leading zeros tolerated.
        assert!(RsaPublicKey::new(&n, &[0, 1, 0, 1]).is_some());
        for e in [
            &[3u8][..],
            &[],
            &[0],
            &[1],
            &[1, 0, 0, 1],
            &[1, 0, 1, 0],
            &[0x01, 0x00, 0x03],
        ] {
            assert!(RsaPublicKey::new(&n, e).is_none(), "{e:?}");
        }
        // Modulus: leading zeros tolerated, must be odd, 2048..=4096 bits.
        let mut padded = vec![0u8, 0];
        padded.extend_from_slice(&n);
        assert_eq!(RsaPublicKey::new(&padded, &E), Some(key()));
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        assert!(RsaPublicKey::new(&even, &E).is_none());
        assert!(RsaPublicKey::new(&[], &E).is_none());
        assert!(RsaPublicKey::new(&[0; 300], &E).is_none());
        let mut bits_2047 = vec![0xffu8; 256];
        bits_2047[0] = 0x7f;
        assert!(RsaPublicKey::new(&bits_2047, &E).is_none());
        assert!(RsaPublicKey::new(&[0xff; 255], &E).is_none());
        assert!(RsaPublicKey::new(&[0xff; 256], &E).is_some());
        assert!(RsaPublicKey::new(&[0xff; 512], &E).is_some());
        assert!(RsaPublicKey::new(&[0xff; 513], &E).is_none());
        let mut bits_4097 = vec![0xffu8; 513];
        bits_4097[0] = 1;
        assert!(RsaPublicKey::new(&bits_4097, &E).is_none());
    }

    #[test]
    fn all_ones_modulus_edge() {
        // n = 2^4096 − 1 (odd, 4096 bits; not a real RSA modulus, fine for arithmetic):
        // n0 = 0xffffffff, every carry chain saturated.
        let n = vec![0xffu8; 512];
        let key = RsaPublicKey::new(&n, &E).unwrap();
        let mut s = vec![0xffu8; 512];
        s[511] = 0xfd; // n − 2 ≡ −2
        let s_limbs = limbs_from_be(&s, key.n.len());
        assert_eq!(
            key.public_op(&s).unwrap(),
            pow_slow(&s_limbs, 65537, &key.n)
        );
        assert!(!key.verify_pkcs1v15(HashAlg::Sha512, b"", &s));
    }

    #[test]
    fn encoding_is_built_exactly() {
        // Feed the comparison a hand-built EM for each hash: accepted only when exact.
        let key = key();
        let k = key.modulus_len();
        for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let digest = hash.digest(&[b"abc"]);
            let prefix = hash.digest_info_prefix();
            let mut em = vec![0x00, 0x01];
            em.resize(k - prefix.len() - digest.len() - 1, 0xff);
            em.push(0x00);
            em.extend_from_slice(prefix);
            em.extend_from_slice(&digest);
            assert_eq!(em.len(), k);
            let m = limbs_from_be(&em, key.n.len());
            assert!(key.encoding_matches(&m, hash, b"abc"));
            assert!(!key.encoding_matches(&m, hash, b"abd"));
            for i in 0..k {
                let mut bad = em.clone();
                bad[i] ^= 0x01;
                let m = limbs_from_be(&bad, key.n.len());
                assert!(!key.encoding_matches(&m, hash, b"abc"), "{hash:?} byte {i}");
            }
        }
    }

    /// Exercises the exponentiation on Wycheproof's e = 3 groups (keys the public API
    /// rejects by policy), including "signature is close to n".
    #[test]
    fn wycheproof_e3_groups_through_montgomery_core() {
        let mut checked = 0;
        for (file, hash) in [
            ("rsa_signature_2048_sha256", HashAlg::Sha256),
            ("rsa_signature_2048_sha384", HashAlg::Sha384),
            ("rsa_signature_2048_sha512", HashAlg::Sha512),
            ("rsa_signature_3072_sha256", HashAlg::Sha256),
            ("rsa_signature_4096_sha256", HashAlg::Sha256),
        ] {
            let path = format!(
                "{}/tests/vectors/wycheproof/{file}_test.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            for group in json["testGroups"].as_array().unwrap() {
                if group["publicKey"]["publicExponent"] != "03" {
                    continue;
                }
                let n = hex(group["publicKey"]["modulus"].as_str().unwrap());
                assert!(RsaPublicKey::new(&n, &[3]).is_none());
                let key = RsaPublicKey::prepare(&n).unwrap();
                for test in group["tests"].as_array().unwrap() {
                    let sig = hex(test["sig"].as_str().unwrap());
                    let msg = hex(test["msg"].as_str().unwrap());
                    let s = key.signature_to_int(&sig).unwrap();
                    let a = key.modulus.pow_odd(&s, 3).unwrap();
                    assert_eq!(a, pow_slow(&s, 3, &key.n));
                    let ok = key.encoding_matches(&a, hash, &msg);
                    assert_eq!(
                        ok,
                        test["result"] == "valid",
                        "{file} tcId {}",
                        test["tcId"]
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 4);
    }
}
