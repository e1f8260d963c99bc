//! End-user claim conditions of a rule (`groups`, `tenant`, `email_verified`…).

use crate::config::ConfigError;
use crate::json::{self, Object};
use serde_json::Value;

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
    pub fn parse(value: &Value, path: &str) -> Result<ClaimCondition, ConfigError> {
        let object = match value {
            Value::Array(list) if !list.is_empty() => {
                return Ok(ClaimCondition::AnyOf(list.clone()))
            }
            Value::Array(_) => {
                return Err(ConfigError::new(
                    path,
                    "an empty list can never hold; expected at least one value",
                ))
            }
            Value::Object(object) => object,
            other => return Ok(ClaimCondition::Equals(other.clone())),
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
                Value::Array(l) if !l.is_empty() => Ok(l.clone()),
                _ => Err(ConfigError::new(
                    format!("{path}.{name}"),
                    "expected a non-empty array",
                )),
            }
        };
        match op.as_str() {
            "equals" => Ok(ClaimCondition::Equals(arg.clone())),
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
    /// values; `contains_*` treat an array claim as a set.
    pub fn holds(&self, claims: &Object, name: &str) -> bool {
        let value = json::lookup(claims, name).filter(|v| !v.is_null());
        match (self, value) {
            (ClaimCondition::Present(want), v) => *want == v.is_some(),
            (_, None) => false,
            (ClaimCondition::Equals(want), Some(v)) => v == want,
            (ClaimCondition::AnyOf(options), Some(v)) => options.contains(v),
            (ClaimCondition::ContainsAny(wanted), Some(v)) => {
                let have = elements(v);
                wanted.iter().any(|w| have.contains(&w))
            }
            (ClaimCondition::ContainsAll(wanted), Some(v)) => {
                let have = elements(v);
                wanted.iter().all(|w| have.contains(&w))
            }
        }
    }
}

/// An array's elements, or a single value as a one-element set.
fn elements(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

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
