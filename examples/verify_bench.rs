//! Micro-benchmark: our signature code (`rsa_verify` for RS256, `rsa_pss` for PS256,
//! `ag_math::p256` for ES256, `ag_math::ed25519` for EdDSA) vs jwt-simple's
//! `verify_token` (EdDSA: ed25519-compact's `verify`) on the same tokens: the RSA token
//! first (a new key, or the given one), then ES256 and EdDSA with new keys.
//! Not a test; run by hand, natively and in V8 (Node's WASI):
//!
//!     cargo run --release --example verify_bench [BITS]   # new key; prints "args: TOKEN N"
//!     ALG=PS256 cargo run --release --example verify_bench [BITS]   # the same, PS256
//!     cargo run --release --example verify_bench TOKEN N  # a given token (RS256 or PS256,
//!                                                         # read from its header) and modulus
//!     cargo build --release --example verify_bench --target wasm32-wasip1
//!     ITER=1000 node wasi-run.mjs target/wasm32-wasip1/release/examples/verify_bench.wasm TOKEN N
//!
//! `wasi-run.mjs` (the proxy-wasm host imports are linked in but never called; the
//! module exports both `_start` and `_initialize`, so hand Node's WASI only `_start`):
//!
//!     import { readFile } from 'node:fs/promises';
//!     import { WASI } from 'node:wasi';
//!     import { argv, env } from 'node:process';
//!     const wasi = new WASI({ version: 'preview1', args: argv.slice(2), env });
//!     const mod = await WebAssembly.compile(await readFile(argv[2]));
//!     const imports = wasi.getImportObject();
//!     imports.env = {};
//!     for (const i of WebAssembly.Module.imports(mod))
//!       if (i.module === 'env') imports.env[i.name] = () => { throw new Error(i.name); };
//!     const inst = await WebAssembly.instantiate(mod, imports);
//!     wasi.start({ exports: { memory: inst.exports.memory, _start: inst.exports._start } });
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ag_math::p256;
use audience_guard::rsa_verify::{HashAlg, RsaPublicKey};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use jwt_simple::prelude::*;
use std::time::Instant;

/// PS256 when the token's header says so, else RS256.
fn is_pss(token: &str) -> bool {
    let header = token.split('.').next().unwrap();
    let header = Base64UrlSafeNoPadding::decode_to_vec(header, None).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["alg"] == "PS256"
}

fn time<F: FnMut() -> bool>(label: &str, iterations: u32, mut f: F) -> f64 {
    assert!(f(), "{label}: verification failed");
    let start = Instant::now();
    for _ in 0..iterations {
        assert!(std::hint::black_box(f()));
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    println!("{label:<44} {per:>10.1} µs/verify  ({iterations} iterations)");
    per
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (token, n) = if args.len() >= 3 {
        let n = Base64UrlSafeNoPadding::decode_to_vec(&args[2], None).unwrap();
        (args[1].clone(), n)
    } else {
        let bits = args.get(1).map_or(2048, |b| b.parse().unwrap());
        let claims = Claims::create(Duration::from_days(3650)).with_subject("bench");
        let (token, n) = if std::env::var("ALG").is_ok_and(|a| a == "PS256") {
            let key = PS256KeyPair::generate(bits).unwrap();
            (
                key.sign(claims).unwrap(),
                key.public_key().to_components().n,
            )
        } else {
            let key = RS256KeyPair::generate(bits).unwrap();
            (
                key.sign(claims).unwrap(),
                key.public_key().to_components().n,
            )
        };
        println!(
            "args: {token} {}",
            Base64UrlSafeNoPadding::encode_to_string(&n).unwrap()
        );
        (token, n)
    };
    let e = [1u8, 0, 1];
    let iterations = std::env::var("ITER").map_or(200, |v| v.parse().unwrap());

    let pss = is_pss(&token);
    let t_jwt = if pss {
        let theirs = PS256PublicKey::from_components(&n, &e).unwrap();
        time(
            "jwt-simple PS256PublicKey::verify_token",
            iterations,
            || theirs.verify_token::<NoCustomClaims>(&token, None).is_ok(),
        )
    } else {
        let theirs = RS256PublicKey::from_components(&n, &e).unwrap();
        time(
            "jwt-simple RS256PublicKey::verify_token",
            iterations,
            || theirs.verify_token::<NoCustomClaims>(&token, None).is_ok(),
        )
    };

    let verify = |key: &RsaPublicKey, input: &[u8], sig: &[u8]| {
        if pss {
            key.verify_pss(HashAlg::Sha256, input, sig)
        } else {
            key.verify_pkcs1v15(HashAlg::Sha256, input, sig)
        }
    };
    let ours = RsaPublicKey::new(&n, &e).unwrap();
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig = Base64UrlSafeNoPadding::decode_to_vec(sig_b64, None).unwrap();
    let name = if pss { "verify_pss" } else { "verify_pkcs1v15" };
    let t_ours = time(&format!("ours: {name} (sig decoded)"), iterations, || {
        verify(&ours, input.as_bytes(), &sig)
    });
    time("ours: incl. base64 decode of signature", iterations, || {
        let sig = Base64UrlSafeNoPadding::decode_to_vec(sig_b64, None).unwrap();
        verify(&ours, input.as_bytes(), &sig)
    });
    time("ours: incl. key preparation (cold key)", iterations, || {
        verify(&RsaPublicKey::new(&n, &e).unwrap(), input.as_bytes(), &sig)
    });
    println!(
        "modulus {} bits: jwt-simple / ours = {:.1}x",
        n.len() * 8,
        t_jwt / t_ours
    );
    es256_section(iterations);
    eddsa_section(iterations);
}

fn es256_section(iterations: u32) {
    let pair = ES256KeyPair::generate();
    let token = pair
        .sign(Claims::create(Duration::from_days(3650)).with_subject("bench"))
        .unwrap();
    let theirs = pair.public_key();
    let t_jwt = time(
        "jwt-simple ES256PublicKey::verify_token",
        iterations,
        || theirs.verify_token::<NoCustomClaims>(&token, None).is_ok(),
    );
    let point = theirs.public_key().to_bytes_uncompressed();
    let ours = p256::PublicKey::from_sec1(&point).unwrap();
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig = Base64UrlSafeNoPadding::decode_to_vec(sig_b64, None).unwrap();
    let t_ours = time("p256::PublicKey::verify (sig decoded)", iterations, || {
        ours.verify(input.as_bytes(), &sig)
    });
    time("es256 incl. key preparation (cold key)", iterations, || {
        p256::PublicKey::from_sec1(&point)
            .unwrap()
            .verify(input.as_bytes(), &sig)
    });
    println!("ES256: jwt-simple / es256 = {:.1}x", t_jwt / t_ours);
}

/// EdDSA: ours (`ag_math::ed25519`, what `keys.rs` calls) vs ed25519-compact (what it
/// called before, and jwt-simple's own) on the same token.
fn eddsa_section(iterations: u32) {
    let pair = Ed25519KeyPair::generate();
    let token = pair
        .sign(Claims::create(Duration::from_days(3650)).with_subject("bench"))
        .unwrap();
    let raw_key = pair.public_key().to_bytes();
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig = Base64UrlSafeNoPadding::decode_to_vec(sig_b64, None).unwrap();
    let theirs = ed25519_compact::PublicKey::from_slice(&raw_key).unwrap();
    let their_sig = ed25519_compact::Signature::from_slice(&sig).unwrap();
    let t_theirs = time("ed25519-compact verify (sig decoded)", iterations, || {
        theirs.verify(input.as_bytes(), &their_sig).is_ok()
    });
    let ours = ag_math::ed25519::PublicKey::from_bytes(&raw_key).unwrap();
    let t_ours = time("ag_math::ed25519 verify (sig decoded)", iterations, || {
        ours.verify(input.as_bytes(), &sig)
    });
    time("ag_math::ed25519 incl. key preparation", iterations, || {
        ag_math::ed25519::PublicKey::from_bytes(&raw_key)
            .unwrap()
            .verify(input.as_bytes(), &sig)
    });
    println!("EdDSA: ed25519-compact / ours = {:.1}x", t_theirs / t_ours);
}
