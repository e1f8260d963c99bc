//! A proxy-wasm HTTP filter that only reads `authorization` and continues: the floor
//! under any wasm filter's cost in `make bench` (see Cargo.toml).

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Floor) });
}}

struct Floor;

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let _ = proxy_wasm::hostcalls::get_map_value_bytes(
            MapType::HttpRequestHeaders,
            "authorization",
        );
        Action::Continue
    }
}
