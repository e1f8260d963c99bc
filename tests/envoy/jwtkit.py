"""Small JWT minting kit for the real-Envoy tests.

Keys are generated at run time; tokens are minted at run time with times relative
to now, so nothing expires. ``sign`` takes the header and payload either as dicts
(serialized as compact JSON) or as raw ``bytes``/``str`` (used verbatim), so hostile
tests can craft duplicate keys, non-JSON, odd encodings and so on.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Union

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

Part = Union[dict, bytes, str]


# ---------------------------------------------------------------- base64url
def b64url(data: Union[bytes, str]) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s: Union[str, bytes]) -> bytes:
    if isinstance(s, bytes):
        s = s.decode()
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _uint_b64(n: int, length: int | None = None) -> str:
    if length is None:
        length = max(1, (n.bit_length() + 7) // 8)
    return b64url(n.to_bytes(length, "big"))


def part_bytes(part: Part) -> bytes:
    if isinstance(part, dict):
        return json.dumps(part, separators=(",", ":")).encode()
    if isinstance(part, str):
        return part.encode()
    return bytes(part)


def now() -> int:
    return int(time.time())


# ---------------------------------------------------------------- keys
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVES = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48)}


@dataclass
class Key:
    kind: str  # "RSA" | "EC" | "OKP" | "oct"
    private: Any
    kid: str | None = None
    alg: str | None = None
    crv: str | None = None
    secret: bytes = b""
    extra: dict = field(default_factory=dict)

    # -- public forms
    def jwk(self, kid: Any = "__default__", alg: Any = "__default__") -> dict:
        """Public JWK. kid/alg default to the key's own; pass None to omit."""
        kid = self.kid if kid == "__default__" else kid
        alg = self.alg if alg == "__default__" else alg
        if self.kind == "RSA":
            pub = self.private.public_key().public_numbers()
            d = {"kty": "RSA", "n": _uint_b64(pub.n), "e": _uint_b64(pub.e)}
        elif self.kind == "EC":
            pub = self.private.public_key().public_numbers()
            size = _CURVES[self.crv][1]
            d = {"kty": "EC", "crv": self.crv, "x": _uint_b64(pub.x, size), "y": _uint_b64(pub.y, size)}
        elif self.kind == "OKP":
            raw = self.private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            d = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        else:
            raise ValueError("no public JWK for a symmetric key")
        if kid is not None:
            d["kid"] = kid
        if alg is not None:
            d["alg"] = alg
        d.update(self.extra)
        return d

    def private_jwk(self) -> dict:
        """A JWK that leaks private members (for config-rejection tests)."""
        d = self.jwk()
        if self.kind == "RSA":
            p = self.private.private_numbers()
            d.update(d=_uint_b64(p.d), p=_uint_b64(p.p), q=_uint_b64(p.q))
        elif self.kind == "EC":
            d["d"] = _uint_b64(self.private.private_numbers().private_value, _CURVES[self.crv][1])
        elif self.kind == "OKP":
            raw = self.private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            d["d"] = b64url(raw)
        return d

    def spki_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def public_der(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def secret_b64(self) -> str:
        return base64.b64encode(self.secret).decode()


def rsa_key(kid: str | None = "rsa1", alg: str | None = "RS256", bits: int = 2048) -> Key:
    return Key("RSA", rsa.generate_private_key(public_exponent=65537, key_size=bits), kid, alg)


def ec_key(kid: str | None = "ec1", alg: str | None = "ES256", crv: str = "P-256") -> Key:
    return Key("EC", ec.generate_private_key(_CURVES[crv][0]()), kid, alg, crv)


def ed_key(kid: str | None = "ed1", alg: str | None = "EdDSA") -> Key:
    return Key("OKP", ed25519.Ed25519PrivateKey.generate(), kid, alg, "Ed25519")


def hmac_key(secret: bytes, kid: str | None = None) -> Key:
    return Key("oct", None, kid, None, secret=secret)


def jwks(*keys: Key) -> dict:
    return {"keys": [k.jwk() for k in keys]}


# ---------------------------------------------------------------- signing
def raw_signature(signing_input: bytes, key: Key, alg: str) -> bytes:
    """The JWS signature bytes of ``signing_input`` for ``alg`` (no validation of the pairing)."""
    fam, bits = alg[:2], alg[2:]
    if alg == "EdDSA":
        return key.private.sign(signing_input)
    if fam == "HS":
        secret = key.secret if key.kind == "oct" else key  # bytes may be passed directly
        if isinstance(secret, Key):
            raise ValueError("HS* needs an oct key")
        h = hmac.HMAC(secret, _HASHES[bits]())
        h.update(signing_input)
        return h.finalize()
    if fam == "RS":
        return key.private.sign(signing_input, padding.PKCS1v15(), _HASHES[bits]())
    if fam == "PS":
        h = _HASHES[bits]()
        return key.private.sign(
            signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h
        )
    if fam == "ES":
        der = key.private.sign(signing_input, ec.ECDSA(_HASHES[bits]()))
        r, s = decode_dss_signature(der)
        size = (key.private.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError(f"unsupported alg {alg}")


def p1363_to_der(sig: bytes) -> bytes:
    half = len(sig) // 2
    return encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))


def sign(header: Part, payload: Part, key: Key | bytes | None, alg: str | None = None) -> str:
    """Compact JWS. ``alg`` picks the signing algorithm (default: header['alg'] or key.alg).

    ``key`` may be raw bytes (an HMAC secret, e.g. for key confusion) or None (empty signature).
    """
    if alg is None:
        alg = header.get("alg") if isinstance(header, dict) else None
        alg = alg or (key.alg if isinstance(key, Key) else None)
    signing_input = (b64url(part_bytes(header)) + "." + b64url(part_bytes(payload))).encode()
    if key is None:
        sig = b""
    elif isinstance(key, (bytes, bytearray)):
        sig = raw_signature(signing_input, hmac_key(bytes(key)), alg)
    else:
        sig = raw_signature(signing_input, key, alg)
    return signing_input.decode() + "." + b64url(sig)


def claims(**overrides: Any) -> dict:
    """A standard claim set valid for five minutes; a value of ``...`` removes a claim."""
    t = now()
    c: dict[str, Any] = {"iat": t, "nbf": t - 1, "exp": t + 300, "jti": f"jti-{time.monotonic_ns()}"}
    for k, v in overrides.items():
        if v is ...:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def header(key: Key, alg: str | None = None, **extra: Any) -> dict:
    h: dict[str, Any] = {"alg": alg or key.alg, "typ": "JWT"}
    if key.kid is not None:
        h["kid"] = key.kid
    for k, v in extra.items():
        if v is ...:
            h.pop(k, None)
        else:
            h[k] = v
    return h


def mint(key: Key, payload: Part, alg: str | None = None, **hdr: Any) -> str:
    """Token with a standard header for ``key`` (override/remove header members with kwargs)."""
    return sign(header(key, alg, **hdr), payload, key, alg or key.alg)
