//! Token verification: JWS structure, header, registered claims (iss, typ, exp, nbf,
//! iat, lifetime) and, last, the signature. Cheap checks run before any crypto.

use crate::algorithm::Algorithm;
use crate::decision::{Failure, KeyWait, Reason};
use crate::json::{self, Object};
use crate::policy::{Issuer, Policy, TokenType};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::Value;
use std::rc::Rc;

/// Latest instant a time claim may name: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// A token whose structure, issuer, header and times were checked; not yet its signature.
pub struct Unverified<'p, 't> {
    /// `header.payload`, what the signature covers.
    pub signing_input: &'t str,
    /// The signature segment, decoded once here for every key that may check it.
    pub signature: Rc<[u8]>,
    pub issuer: &'p Issuer,
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: Rc<Object>,
    /// The generation of the key set the signature was checked with.
    pub key_generation: u64,
}

fn invalid(description: &'static str) -> Failure {
    Failure::new(Reason::InvalidToken, description)
}

/// Decodes one base64url segment: alphabet `A–Z a–z 0–9 - _` only, no padding.
fn segment(part: &str) -> Option<Vec<u8>> {
    let clean = !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !clean {
        return None;
    }
    Base64UrlSafeNoPadding::decode_to_vec(part, None).ok()
}

/// What [`parse`] learned from a token's bytes: the same for every request carrying
/// them under one policy, so the cache keeps it for tokens that were then refused
/// ([`crate::cache::VerifyCache::remember_parsed`]) and a replayed refused token skips
/// base64 and JSON (most of its cost when the refusal comes before any signature check).
#[derive(Debug, Clone)]
pub struct Parsed {
    issuer: Rc<str>,
    alg: Algorithm,
    kid: Option<String>,
    claims: Rc<Object>,
    signature: Rc<[u8]>,
}

impl Unverified<'_, '_> {
    /// What of this token the cache can keep ([`Parsed::revive`] gives it back).
    pub fn parsed(&self) -> Parsed {
        Parsed {
            issuer: self.issuer.name.clone(),
            alg: self.alg,
            kid: self.kid.clone(),
            claims: self.claims.clone(),
            signature: self.signature.clone(),
        }
    }
}

impl Parsed {
    /// What [`parse`] returns for `raw`, the token these facts were learned from.
    /// `None` only if the policy has no such issuer (never for the policy that parsed it).
    pub fn revive<'p, 't>(&self, policy: &'p Policy, raw: &'t str) -> Option<Unverified<'p, 't>> {
        Some(Unverified {
            signing_input: signing_input(raw),
            signature: self.signature.clone(),
            issuer: policy.issuers.get(&*self.issuer)?,
            alg: self.alg,
            kid: self.kid.clone(),
            claims: self.claims.clone(),
            key_generation: 0,
        })
    }
}

/// `header.payload`: the raw token up to its last dot (there are exactly two).
fn signing_input(raw: &str) -> &str {
    raw.rsplit_once('.').map_or(raw, |(input, _)| input)
}

/// Parses `header.payload.signature`, finds the issuer and checks the header against
/// it (algorithm allow-list, `typ`); claims and signature come later.
pub fn parse<'p, 't>(policy: &'p Policy, raw: &'t str) -> Result<Unverified<'p, 't>, Failure> {
    let mut parts = raw.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "token is not a compact JWS (header.payload.signature)",
        ));
    };
    let header = segment(h)
        .and_then(|bytes| json::parse_object(&bytes))
        .ok_or_else(|| invalid("token header is not base64url-encoded JSON"))?;
    let claims = segment(p)
        .and_then(|bytes| json::parse_object(&bytes))
        .ok_or_else(|| invalid("token payload is not base64url-encoded JSON"))?;
    let signature = segment(s).ok_or_else(|| invalid("token signature is not base64url"))?;
    if header.contains_key("crit") {
        return Err(invalid("critical header extensions are not supported"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::parse)
        .ok_or_else(|| invalid("token algorithm is not supported"))?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(invalid("token key id is not a string")),
    };
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(typ)) => Some(typ.as_str()),
        Some(_) => return Err(invalid("token type header is not a string")),
    };
    check_member_types(&header, &claims)?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| policy.issuers.get(iss))
        .ok_or_else(|| Failure::new(Reason::UnknownIssuer, "token issuer is not trusted"))?;
    if !issuer.algorithms.contains(&alg) {
        return Err(invalid("token algorithm is not allowed for this issuer"));
    }
    if !type_accepted(issuer.token_type, typ) {
        return Err(invalid("token type is not accepted"));
    }
    Ok(Unverified {
        signing_input: signing_input(raw),
        signature: Rc::from(signature),
        issuer,
        alg,
        kid,
        claims: Rc::new(claims),
        key_generation: 0,
    })
}

/// Registered members with a fixed type (RFC 7515 §4.1, RFC 7519 §4.1). A token that
/// breaks them is malformed, whatever its signature. `jwk` is left alone: it is never
/// read, so its shape does not matter (HOSTILE.md: embedded keys are ignored).
fn check_member_types(header: &Object, claims: &Object) -> Result<(), Failure> {
    let string_header = ["cty", "jku", "x5u", "x5t", "x5t#S256"];
    let header_ok = string_header
        .iter()
        .all(|m| header.get(*m).is_none_or(Value::is_string))
        && header
            .get("x5c")
            .is_none_or(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)));
    if !header_ok {
        return Err(invalid("a token header member has the wrong type"));
    }
    if !["sub", "jti", "nonce"]
        .iter()
        .all(|m| claims.get(*m).is_none_or(Value::is_string))
    {
        return Err(invalid(
            "a registered claim (sub, jti, nonce) is not a string",
        ));
    }
    Ok(())
}

/// Media types compare regardless of case, and a `typ` without `/` stands for the same
/// name under `application/` (RFC 7515 §4.1.9): `JWT` is `application/jwt`.
fn type_accepted(wanted: TokenType, typ: Option<&str>) -> bool {
    match wanted {
        TokenType::Any => true,
        TokenType::Jwt => typ.is_none_or(|t| {
            t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("application/jwt")
        }),
        TokenType::AtJwt => typ.is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }),
    }
}

/// A NumericDate claim: absent, or a number from 0 to year 9999, fractions truncated.
/// The fraction goes before the range is checked (SPEC: "numbers from 0 to 253402300799
/// … fractions are truncated"), so `253402300799.5` is the last second of 9999, not
/// beyond it; a negative number stays refused, however small its magnitude.
fn numeric_date(claims: &Object, name: &str) -> Result<Option<u64>, Failure> {
    let Some(value) = json::member(claims, name) else {
        return Ok(None);
    };
    let seconds = value
        .as_u64()
        .map(|v| v as f64)
        .or_else(|| value.as_f64())
        .filter(|v| *v >= 0.0 && v.trunc() <= MAX_NUMERIC_DATE)
        .ok_or_else(|| invalid("token time claim is not a valid date"))?;
    Ok(Some(seconds as u64))
}

/// Checks `exp` (required), `nbf`, `iat` and the maximum lifetime, with the issuer's
/// leeway. Returns the last second at which the token is still usable (`exp` + leeway).
pub fn check_times(issuer: &Issuer, claims: &Object, now: u64) -> Result<u64, Failure> {
    let leeway = issuer.leeway_seconds;
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| invalid("token has no expiry (exp)"))?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    if now > exp.saturating_add(leeway) {
        return Err(Failure::new(Reason::Expired, "token has expired"));
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(Failure::new(
            Reason::NotYetValid,
            "token is not valid yet (nbf)",
        ));
    }
    if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(Failure::new(
            Reason::NotYetValid,
            "token was issued in the future (iat)",
        ));
    }
    if let Some(max) = issuer.max_lifetime_seconds {
        let iat = iat.ok_or_else(|| {
            invalid("token has no issue time (iat) and a maximum lifetime applies")
        })?;
        if exp.saturating_sub(iat) > max {
            return Err(invalid("token lifetime exceeds the maximum"));
        }
    }
    Ok(exp.saturating_add(leeway))
}

impl Unverified<'_, '_> {
    /// Checks the signature against the issuer's keys: the key with the token's `kid`,
    /// or else the keys without a `kid`; without a `kid`, every key that serves `alg`.
    pub fn verify_signature(&mut self, now: u64) -> Result<(), Failure> {
        let Some((keys, generation)) = self.issuer.key_set(now) else {
            return Err(Failure {
                wait: Some(KeyWait::FirstFetch),
                ..Failure::new(
                    Reason::KeysUnavailable,
                    "the issuer's signing keys are not available",
                )
            });
        };
        self.key_generation = generation;
        let by_kid: Vec<_> = match &self.kid {
            Some(kid) => {
                let named: Vec<_> = keys
                    .iter()
                    .filter(|k| k.kid.as_ref() == Some(kid))
                    .collect();
                if named.is_empty() {
                    keys.iter().filter(|k| k.kid.is_none()).collect()
                } else {
                    named
                }
            }
            None => keys.iter().collect(),
        };
        let candidates: Vec<_> = by_kid.into_iter().filter(|k| k.serves(self.alg)).collect();
        if candidates.is_empty() {
            let unknown = invalid("no key of this issuer matches the token's key id and algorithm");
            let wait = self.issuer.remote().map(|_| KeyWait::UnknownKid);
            return Err(Failure { wait, ..unknown });
        }
        let input = self.signing_input.as_bytes();
        if candidates
            .iter()
            .any(|k| k.verify(self.alg, input, &self.signature))
        {
            Ok(())
        } else {
            Err(invalid("token signature is invalid"))
        }
    }
}
