#!/usr/bin/env python3
"""Writes odd_moduli.json: RSASSA-PSS signatures (PS256/384/512: MGF1 with the message
hash, salt as long as the hash) made by OpenSSL, through pyca/cryptography, with moduli
whose bit length is not a multiple of 8 -- the cases jwt-simple and Wycheproof's
2048-bit file never produce:

  2049, 3073 bits: modBits = 1 (mod 8), so emLen = k - 1 and m must have a zero
                   leading byte (RFC 8017 §8.1.2 step 2c);
  2052 bits:       the encoded message's top 5 bits are masked (§9.1.2 step 6).

OpenSSL's key generator rounds such sizes to whole bytes, so the primes come from
`openssl prime -generate` and are multiplied here until n has the wanted length.
Run from this directory: python3 make_odd_moduli.py > odd_moduli.json
"""
import json
import subprocess

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

E = 65537
HASHES = {"PS256": hashes.SHA256(), "PS384": hashes.SHA384(), "PS512": hashes.SHA512()}
MESSAGES = [b"", b"eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJvZGQtbW9kdWx1cyJ9"]


def prime(bits):
    out = subprocess.run(
        ["openssl", "prime", "-generate", "-bits", str(bits)],
        check=True, capture_output=True, text=True,
    )
    return int(out.stdout.strip())


def key(bits):
    while True:
        p, q = prime(bits - bits // 2), prime(bits // 2)
        n = p * q
        if p != q and n.bit_length() == bits and (p - 1) % E and (q - 1) % E:
            break
    d = pow(E, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(E, n)
    )
    return numbers.private_key()


def main():
    groups = []
    for bits in (2049, 2052, 3073):
        private = key(bits)
        public = private.public_key()
        n = public.public_numbers().n
        tests = []
        for alg, h in HASHES.items():
            pss = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
            for msg in MESSAGES:
                sig = private.sign(msg, pss, h)
                public.verify(sig, msg, pss, h)
                tests.append({"alg": alg, "msg": msg.hex(), "sig": sig.hex()})
        k = (bits + 7) // 8
        groups.append({"bits": bits, "n": n.to_bytes(k, "big").hex(), "e": "010001", "tests": tests})
    print(json.dumps({"generator": "make_odd_moduli.py (OpenSSL via pyca/cryptography)",
                      "groups": groups}, indent=1))


main()
