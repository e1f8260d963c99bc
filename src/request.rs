//! What the filter reads from a request: nothing more, so the core never needs Envoy.

/// The parts of an HTTP request the decision depends on.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// `:path` as received, query string included.
    pub path: String,
    pub authority: String,
    /// Envoy's route name (`xds.route_name`), when a rule matches on it.
    pub route: Option<String>,
    /// Every request header: lower-case name, raw value bytes (values may hold any
    /// byte Envoy lets through, including non-UTF-8).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    /// Values of every header with this (lower-case) name, in order.
    pub fn header_values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}
