# underseal: `make setup` then `make test`. `make help` lists every target.
SHELL := /bin/bash
BIN := .venv/bin
PYTEST_ARGS ?=
# Test processes for `make test` (pytest-xdist): auto is one per core; 0 runs them in this process.
PYTEST_WORKERS ?= auto

.PHONY: help setup test lint typecheck contracts pytest proofs bench load vectors train-ocr train-detector operating-point eval eval-ocr eval-deps demo audit fuzz clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

setup:  ## create .venv and install everything (system packages too)
	bash scripts/setup.sh

test: lint typecheck contracts pytest  ## everything CI runs: lint, types, import contracts, tests and proofs

lint:  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:  ## mypy (strict on the core)
	$(BIN)/mypy src/underseal
	$(BIN)/mypy device/underseal_device server/underseal_server tests bench proofs fuzz

contracts:  ## the trust boundary: core imports neither side; device and server never import each other
	$(BIN)/lint-imports

pytest:  ## tests/ and proofs/ (short hypothesis profile), a worker per core (PYTEST_WORKERS); no tests collected is a failure
	@rc=0; HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest \
		-n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

proofs:  ## the proofs of DESIGN §8 (proofs/CLAIMS.md), thorough hypothesis profile, examples per proof
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest proofs -p no:cacheprovider -q \
		--hypothesis-show-statistics --durations=0 $(PYTEST_ARGS)

bench:  ## run benchmarks: print tables, write JSON to bench/results/
	$(BIN)/python -m bench

load:  ## records server under many cameras and investigators, SQLite and PostgreSQL (1, 2, 4 processes), ~5 min; ARGS=--help
	$(BIN)/python -m bench.load $(ARGS)

train-ocr:  ## train the plate recognizer, three networks on synthetic plates (CPU, ~40 min each on 2 cores; kept in build/train-ocr); ARGS=--help
	$(BIN)/python -m underseal_device.train.ocr $(ARGS)

train-detector:  ## train the plate detector on rendered scenes (CPU, ~50 min on 2 cores); ARGS=--help
	$(BIN)/python -m underseal_device.train.detector $(ARGS)

operating-point:  ## choose the reader's detector threshold by its rule on rendered scenes (after any model change)
	$(BIN)/python -m underseal_device.train.operating_point $(ARGS)

eval-deps:  ## install RapidOCR, the optional reference reader (its deps would replace OpenCV 4.x)
	$(BIN)/python -m pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4 pyclipper==1.4.0 \
		shapely==2.2.0 PyYAML==6.0.3 six==1.17.0

eval:  ## the reader (detector + OCR) on ../shared/benchmarks/openalpr scenes, beside RapidOCR and Haar
	$(BIN)/python -m bench.eval_reader $(ARGS)

eval-ocr:  ## the recognizer on ../shared/benchmarks/openalpr crops, beside RapidOCR and OpenALPR
	$(BIN)/python -m bench.eval_ocr $(ARGS)

demo:  ## the whole system on loopback, narrated; leaves the portal running (ARGS="--check": CI mode)
	$(BIN)/underseal demo $(ARGS)

# CI sets AUDIT_UNREACHABLE=warn: an offline runner warns; a vulnerable pin always fails.
AUDIT_UNREACHABLE ?= fail

audit:  ## pip-audit the installed dependencies against PyPI's advisories (network; AUDIT_UNREACHABLE=warn)
	@# pip-audit reports a package PyPI does not answer for as skipped and still exits 0,
	@# so first ask PyPI for one known release's advisories; no answer means nothing is audited.
	@if ! $(BIN)/python -c 'import json, urllib.request; from importlib.metadata import version; \
		url = "https://pypi.org/pypi/pip/" + version("pip") + "/json"; \
		json.load(urllib.request.urlopen(url, timeout=20))["vulnerabilities"]' 2>/dev/null; then \
		msg="audit: PyPI's vulnerability data (https://pypi.org/pypi/NAME/VERSION/json) is not reachable from this machine, so nothing was audited"; \
		if [ "$(AUDIT_UNREACHABLE)" = warn ]; then echo "WARNING: $$msg" >&2; exit 0; fi; \
		echo "$$msg (AUDIT_UNREACHABLE=warn makes this a warning)" >&2; exit 1; \
	fi; \
	echo "$(BIN)/pip-audit --skip-editable --strict --progress-spinner off"; \
	$(BIN)/pip-audit --skip-editable --strict --progress-spinner off

FUZZ_SECONDS ?= 60
API_EXAMPLES ?= 25
fuzz:  ## atheris on every byte parser (FUZZ_SECONDS each, default 60), then schemathesis long (API_EXAMPLES)
	@rc=0; PYTHONPATH=. $(BIN)/python -m fuzz.run_all --seconds $(FUZZ_SECONDS) || rc=$$?; \
	UNDERSEAL_API_EXAMPLES=$(API_EXAMPLES) $(BIN)/python -m pytest tests/hostile/test_api_schemas.py \
		-p no:cacheprovider -q --durations=0 || rc=$$?; exit $$rc

vectors:  ## regenerate tests/vectors/*.json (only when the wire format changes on purpose)
	$(BIN)/python -m tests.vectors.generate

clean:  ## remove caches (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
