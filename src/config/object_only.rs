//! Configuration sections are JSON objects, never arrays.
//!
//! serde's derived struct visitors also take a JSON array and read its elements as the
//! fields in order, so `"multiple_audiences": [false]` would silently mean
//! `require_azp: false` and `"match": ["/x"]` an exact path: the positional reading
//! `deny_unknown_fields` cannot see, and a way for a mistake to weaken a policy. Each
//! section type derives its field-by-name reading with `#[serde(remote = "Self")]` (an
//! inherent `deserialize`) and gets its `Deserialize` from [`objects_only!`], which asks
//! for a map: an array is then "invalid type: sequence, expected a JSON object" at its
//! path (serde_path_to_error still sees every member, through the map it hands on).

/// Implements `Deserialize` for each given type (which must also carry
/// `#[derive(Deserialize)] #[serde(remote = "Self")]`) so that only a JSON object is read.
macro_rules! objects_only {
    ($($section:ty),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $section {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = $section;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$section, A::Error> {
                        // The inherent, derived reading (by member name).
                        <$section>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(Object)
            }
        }
    )+};
}

pub(crate) use objects_only;
