# FlitStack: two commands for a newcomer — `make demo` and `make test`.
# Both create .venv if needed and install the pinned dependencies (pyproject + constraints.txt) with uv
# (pinned below; 27 s on the 2-core machine where pip took 65 s), compiling their bytecode once. The project's
# own modules are compiled before the suite starts (__pycache__, ignored by git), and the processes it starts
# (workers, stand-ins, CLI runs) read that bytecode instead of compiling the same sources each (D-069).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.9.5
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
unexport PYTHONDONTWRITEBYTECODE
COMPILE := $(PY) -m compileall -q -j 0 shared functions flitstack sandbox infra bench app.py

.PHONY: demo test durations bench lint synth clean chromium asl openapi

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install -q --python $(PY) --compile-bytecode -c constraints.txt pip==25.3 -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m flitstack demo --records $${RECORDS:-5000}

# Headless Chromium (Debian's package) for the reconciliation page test; installed once, by name.
chromium:
	@command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)

# The suite runs on pytest-xdist workers; tests/conftest.py groups it so that no module's stand-ins or
# local stack are built twice. TEST_WORKERS=0 runs it in this process (no workers).
TEST_WORKERS ?= 4
test: $(STAMP) chromium
	@$(COMPILE)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The whole suite as `make test` runs it, rewriting tests/durations.json: the seconds per test from which
# the scheduler (tests/scheduling.py) hands out the longest groups first. Commit the result.
durations: $(STAMP) chromium
	@$(COMPILE)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --record-durations

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared functions flitstack

# Regenerate the workflows from their builder (infra/asl.py); a test checks the committed files match.
asl: $(STAMP)
	$(PY) -m infra.asl

# Regenerate the HTTP API's OpenAPI document (docs/contracts/openapi.json); a test checks it is current.
openapi: $(STAMP)
	$(PY) -m flitstack.openapi

synth: $(STAMP)
	$(PY) app.py

clean:
	rm -rf .flitstack cdk.out
