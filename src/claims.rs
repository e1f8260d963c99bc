//! End-user claim conditions of a rule (`groups`, `tenant`, `email_verified`…).

use crate::config::ConfigError;
use crate::json::{self, Object};
use serde_json::{Number, Value};

/// One condition on one claim (looked up by name, dotted names reach nested claims).
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimCondition {
    Equals(Value),
    AnyOf(Vec<Value>),
    ContainsAny(Vec<Value>),
    ContainsAll(Vec<Value>),
    Present(bool),
}

impl ClaimCondition {
    /// A JSON value means equals, a list means any of, an object names one operator.
    /// `null` is refused wherever a value is compared: a `null` claim counts as absent,
    /// so it could never match (and a YAML key or list item left empty arrives as one).
    pub fn parse(value: &Value, path: &str) -> Result<ClaimCondition, ConfigError> {
        let object = match value {
            Value::Array(list) if !list.is_empty() => {
                return Ok(ClaimCondition::AnyOf(without_null(list, path)?))
            }
            Value::Array(_) => {
                return Err(ConfigError::new(
                    path,
                    "an empty list can never hold; expected at least one value",
                ))
            }
            Value::Object(object) => object,
            other => return Ok(ClaimCondition::Equals(not_null(other, path)?)),
        };
        let mut entries = object.iter();
        let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
            return Err(ConfigError::new(
                path,
                "expected exactly one of equals, any_of, contains_any, contains_all, present",
            ));
        };
        let list = |name: &str| -> Result<Vec<Value>, ConfigError> {
            match arg {
                Value::Array(l) if !l.is_empty() => without_null(l, &format!("{path}.{name}")),
                _ => Err(ConfigError::new(
                    format!("{path}.{name}"),
                    "expected a non-empty array",
                )),
            }
        };
        match op.as_str() {
            "equals" => Ok(ClaimCondition::Equals(not_null(
                arg,
                &format!("{path}.equals"),
            )?)),
            "any_of" => Ok(ClaimCondition::AnyOf(list("any_of")?)),
            "contains_any" => Ok(ClaimCondition::ContainsAny(list("contains_any")?)),
            "contains_all" => Ok(ClaimCondition::ContainsAll(list("contains_all")?)),
            "present" => match arg {
                Value::Bool(b) => Ok(ClaimCondition::Present(*b)),
                _ => Err(ConfigError::new(
                    format!("{path}.present"),
                    "expected true or false",
                )),
            },
            other => Err(ConfigError::new(
                format!("{path}.{other}"),
                "unknown condition; expected equals, any_of, contains_any, contains_all or present",
            )),
        }
    }

    /// Whether the claims satisfy the condition. A claim that is absent (or `null`)
    /// fails every condition but `present: false`. `equals` and `any_of` compare whole
    /// values ([`same_json`]); `contains_*` treat an array claim as a set.
    pub fn holds(&self, claims: &Object, name: &str) -> bool {
        let value = json::lookup(claims, name).filter(|v| !v.is_null());
        match (self, value) {
            (ClaimCondition::Present(want), v) => *want == v.is_some(),
            (_, None) => false,
            (ClaimCondition::Equals(want), Some(v)) => same_json(v, want),
            (ClaimCondition::AnyOf(options), Some(v)) => options.iter().any(|o| same_json(v, o)),
            (ClaimCondition::ContainsAny(wanted), Some(v)) => {
                let have = elements(v);
                wanted.iter().any(|w| have.iter().any(|h| same_json(h, w)))
            }
            (ClaimCondition::ContainsAll(wanted), Some(v)) => {
                let have = elements(v);
                wanted.iter().all(|w| have.iter().any(|h| same_json(h, w)))
            }
        }
    }
}

/// JSON equality: numbers by value (RFC 8259 numbers have no integer/float type, so an
/// IdP's `7.0` is the configured `7`), arrays element by element, objects member by
/// member whatever their order; everything else exactly (strings code point by code point).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => same_number(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(name, a)| y.get(name).is_some_and(|b| same_json(a, b)))
        }
        _ => a == b,
    }
}

/// Two numbers as values: integers exactly (as i128, which holds every i64 and u64), a
/// fraction against an integer only if it has no fractional part and the same value.
fn same_number(x: &Number, y: &Number) -> bool {
    let integer = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    // Integral doubles below 2^100 convert to i128 exactly; larger ones equal no i64/u64.
    let integral = |f: f64| (f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128);
    match (integer(x), integer(y)) {
        (Some(a), Some(b)) => a == b,
        (Some(a), None) => y.as_f64().and_then(integral) == Some(a),
        (None, Some(b)) => x.as_f64().and_then(integral) == Some(b),
        (None, None) => x.as_f64().is_some_and(|a| y.as_f64() == Some(a)),
    }
}

/// An array's elements, or a single value as a one-element set.
fn elements(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// The value of an `equals` condition, unless it is `null` (see [`ClaimCondition::parse`]).
fn not_null(value: &Value, path: &str) -> Result<Value, ConfigError> {
    match value {
        Value::Null => Err(ConfigError::new(path, NULL_NEVER_HOLDS)),
        other => Ok(other.clone()),
    }
}

/// The values of a list condition, unless one of them is `null`.
fn without_null(list: &[Value], path: &str) -> Result<Vec<Value>, ConfigError> {
    match list.iter().position(Value::is_null) {
        Some(i) => Err(ConfigError::new(format!("{path}[{i}]"), NULL_NEVER_HOLDS)),
        None => Ok(list.to_vec()),
    }
}

const NULL_NEVER_HOLDS: &str =
    "null can never match (a null claim counts as absent); give a value, or use present";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(v: Value) -> ClaimCondition {
        ClaimCondition::parse(&v, "c").unwrap()
    }

    fn claims(v: Value) -> Object {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn each_operator() {
        let c = claims(json!({"groups": ["a", "b"], "tenant": "t1", "org": {"id": 7}, "n": null}));
        assert!(cond(json!("t1")).holds(&c, "tenant"));
        assert!(!cond(json!("T1")).holds(&c, "tenant"));
        assert!(cond(json!(["t0", "t1"])).holds(&c, "tenant"));
        assert!(cond(json!({"contains_any": ["x", "b"]})).holds(&c, "groups"));
        assert!(!cond(json!({"contains_any": ["x"]})).holds(&c, "groups"));
        assert!(cond(json!({"contains_all": ["a", "b"]})).holds(&c, "groups"));
        assert!(!cond(json!({"contains_all": ["a", "c"]})).holds(&c, "groups"));
        assert!(cond(json!({"equals": 7})).holds(&c, "org.id"));
        assert!(cond(json!({"present": true})).holds(&c, "org.id"));
        assert!(cond(json!({"present": false})).holds(&c, "n"));
        assert!(!cond(json!({"present": true})).holds(&c, "missing"));
        assert!(!cond(json!({"contains_any": ["a"]})).holds(&c, "missing"));
    }

    #[test]
    fn equals_compares_whole_values_contains_reads_sets() {
        let c = claims(json!({"groups": ["hr-staff", "x"]}));
        assert!(!cond(json!("hr-staff")).holds(&c, "groups"));
        assert!(cond(json!({"equals": ["hr-staff", "x"]})).holds(&c, "groups"));
        assert!(cond(json!({"contains_any": ["hr-staff"]})).holds(&c, "groups"));
    }

    #[test]
    fn numbers_compare_by_value() {
        let c = claims(
            json!({"level": 7.0, "big": u64::MAX, "neg": -3, "half": 0.5,
                              "org": {"id": 7.0, "tags": [1.0, 2]}}),
        );
        assert!(cond(json!(7)).holds(&c, "level"));
        assert!(cond(json!([1, 7])).holds(&c, "level"));
        assert!(!cond(json!(8)).holds(&c, "level"));
        assert!(cond(json!(u64::MAX)).holds(&c, "big"));
        assert!(!cond(json!(u64::MAX - 1)).holds(&c, "big"));
        assert!(cond(json!(-3.0)).holds(&c, "neg"));
        assert!(!cond(json!(3)).holds(&c, "neg"));
        assert!(cond(json!(0.5)).holds(&c, "half"));
        assert!(!cond(json!(0)).holds(&c, "half"));
        assert!(cond(json!({"equals": {"tags": [1, 2.0], "id": 7}})).holds(&c, "org"));
        assert!(!cond(json!({"equals": {"tags": [2, 1], "id": 7}})).holds(&c, "org"));
        assert!(cond(json!({"contains_all": [2.0, 1]})).holds(&c, "org.tags"));
        assert!(!cond(json!("7")).holds(&c, "level"));
    }

    #[test]
    fn bad_conditions_are_config_errors() {
        for bad in [
            json!({}),
            json!({"equals": 1, "any_of": [1]}),
            json!({"any_of": []}),
            json!([]),
            json!({"present": "yes"}),
            json!({"regex": "x"}),
        ] {
            assert!(ClaimCondition::parse(&bad, "c").is_err(), "{bad}");
        }
    }
}
