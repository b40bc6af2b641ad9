# Two commands do everything on a fresh clone:  make demo  |  make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Re-install when the dependency declarations change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: demo test test-slow lint bench fixtures clean browser

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(PY) -m tensorbridge.demo

# `make test` deselects the long sweeps (marked `slow`); `make test-slow` runs only them.
# The suite runs on the BLAS kernels numpy's OpenBLAS picks for the CPU, as a default install
# does: an OPENBLAS_CORETYPE set by the machine's image is dropped (docs/runtime.md, "Forced
# BLAS kernels": with Haswell forced on an AVX-512 CPU, onnx's light squeezenet, whose stored
# weights tie its 1000 logits at ~7e9, rounds differently per row and fails its 1e-3 check).
TEST_ENV := env -u OPENBLAS_CORETYPE
test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(TEST_ENV) $(PY) -m pytest -n 2 -q -m "not slow"

test-slow: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n 2 -q -m slow

# Debian's Chromium renders the HTML parity report in a test (needs root to install).
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
	  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
	  || echo "note: could not install chromium; the HTML rendering test will be skipped"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) bench/bench_runtime.py

fixtures: $(STAMP)
	$(PY) fixtures/make_fixtures.py

clean:
	rm -rf $(VENV) out .pytest_cache
