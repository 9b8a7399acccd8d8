# The project's interface: `make run`, `make test`, `make lint`, `make build`, `make bench`.
# Every target sets up what it needs on a fresh machine (a virtualenv from pinned requirements).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/hub/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup test lint format run build bench fuzz lock clean invoke webhook scan lock-scan

setup: $(STAMP)

$(STAMP): requirements-dev.txt layers/hub/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The `hub` command line ($(BIN)/hub), editable: it runs the working tree's hubcli/.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The local run: every route on http://127.0.0.1:$(HUB_PORT) (default 3000), sandboxes unless HUB_CONFIG.
run: $(STAMP)
	PYTHONPATH=layers/hub/python:. $(BIN)/python -m local.run

# Against a running `make run`: fire a scheduled task now (FUNCTION=SyncReferralStatsFunction or
# PendingRewardsFunction), or post a signed sample webhook (PROVIDER=growsurf FILE=events/...json).
invoke: $(STAMP)
	PYTHONPATH=layers/hub/python:. $(BIN)/python -m local.invoke $(FUNCTION)

webhook: $(STAMP)
	PYTHONPATH=layers/hub/python:. $(BIN)/python -m local.webhook $(PROVIDER) $(FILE)

# Measurements, written to docs/benchmarks.md with the command that produced them.
bench: $(STAMP)
	PYTHONPATH=layers/hub/python:. $(BIN)/python -m bench.run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Schemathesis, every check, against the local run's /openapi.json: a fixed seed, a fixed number of
# examples per operation and a time budget (FUZZ_MAX_TIME, default 120 s); exits with its status.
fuzz: $(STAMP)
	PYTHONPATH=layers/hub/python:. $(BIN)/python -m local.fuzz

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# Every function is its own Lambda root with an `app` module: checked one by one.
	for fn in functions/*/app.py; do $(BIN)/mypy --no-error-summary $$fn || exit 1; done
	$(BIN)/cfn-lint template.yaml
	# The layer's folders are its layers (pyproject.toml, [tool.importlinter]).
	PYTHONPATH=layers/hub/python $(BIN)/lint-imports --no-cache
	# No function past what a reader holds at once: cyclomatic complexity grade B at worst (10).
	$(BIN)/xenon --max-absolute B layers/hub/python/hub functions hubcli local bench
	$(MAKE) --no-print-directory scan

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-pin requirements-dev.txt from requirements-dev.in (needs the package registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip && .lockenv/bin/pip install --quiet -r requirements-dev.in
	.lockenv/bin/pip freeze | grep -v '^-e' > requirements-dev.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) $(SCAN_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

SAM_VENV ?= .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cat requirements-sam.txt | cksum | cut -d' ' -f1)

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	rm -f $(SAM_VENV)/.installed-*
	touch $@

# `sam build` for arm64 / python3.13 on any host: the layer and functions use `makefile` builds.
build: $(SAM_STAMP)
	$(SAM_VENV)/bin/sam validate --lint
	$(SAM_VENV)/bin/sam build

# The template scanner (checkov), in its own virtualenv: its pins would otherwise hold back the
# project's own (boto3 among them). Each check it skips is in .checkov.yaml with its reason.
SCAN_VENV ?= .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed-$(shell cat requirements-scan.txt | cksum | cut -d' ' -f1)

$(SCAN_STAMP): requirements-scan.txt
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	rm -f $(SCAN_VENV)/.installed-*
	touch $@

scan: $(SCAN_STAMP)
	$(SCAN_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml

# Re-pin requirements-scan.txt from requirements-scan.in (needs the package registry).
lock-scan:
	rm -rf .lockenv-scan && $(PYTHON) -m venv .lockenv-scan
	.lockenv-scan/bin/pip install --quiet --upgrade pip && .lockenv-scan/bin/pip install --quiet -r requirements-scan.in
	.lockenv-scan/bin/pip freeze | grep -v '^-e' > requirements-scan.txt
	rm -rf .lockenv-scan
