# Tracemark: the two commands are `make run` and `make test`; both install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

# The chain tools: the repo's solc wrapper (no compiler download) and the npm-installed anvil / forge.
export SOLCX_BINARY_PATH := $(CURDIR)/tools/solc
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: setup logrows browser run test lint typecheck test-contracts test-invariants test-backend slither soak gas abi clean

## setup: the Python venv (pinned by constraints.txt) and the npm packages (pinned by package-lock.json); the
## package's bytecode is compiled ahead (only what changed), for machines where Python does not write it itself
## (PYTHONDONTWRITEBYTECODE): every `tracemark` command and the indexer's decode worker then start sooner.
setup: $(BIN)/.installed node_modules/.installed logrows
	@$(BIN)/python -m compileall -q backend/tracemark > /dev/null

## logrows: the indexer's compiled reader of raw logs (backend/tracemark/chain/indexer/_logrows.c), built next to
## its source when it is missing or older than the source. Optional: without a C compiler the indexer reads every
## log in Python, giving the same rows (a back-fill then costs about 0.1 s more CPU per 50,000 events).
LOGROWS_C := backend/tracemark/chain/indexer/_logrows.c
logrows: $(BIN)/.installed
	@src="$(LOGROWS_C)"; so="$${src%.c}$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"; \
	include="$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"; \
	if [ ! -e "$$so" ] || [ "$(LOGROWS_C)" -nt "$$so" ]; then \
		$${CC:-cc} -O2 -Wall -shared -fPIC -I"$$include" -o "$$so" "$(LOGROWS_C)" \
			|| { rm -f "$$so"; echo "NOTE: $(LOGROWS_C) did not compile; the indexer reads logs in Python (same rows, slower)"; }; \
	fi

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## browser: Debian's chromium for the portal's browser tests (Playwright drives /usr/bin/chromium; never
## `playwright install`, which downloads a browser). Installed with apt-get as root (or through sudo) when missing.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y --no-install-recommends chromium; \
		elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y --no-install-recommends chromium; \
		else echo "NOTE: chromium is missing and cannot be installed here; the browser tests will be skipped"; fi; \
	fi

## run: local chain (anvil, state kept in var/), contracts deployed once, HTTP API; Ctrl-C stops all
run: setup
	$(BIN)/tracemark run

## test: lint, types, contract tests, invariant fuzzing, backend tests, Slither
test: setup browser lint typecheck test-contracts test-invariants test-backend slither

lint:
	$(BIN)/ruff check backend tests benchmarks scripts

typecheck:
	$(BIN)/mypy

# pytest exits 5 when it collects nothing: say so loudly, but do not fail on it.
define pytest_exit
rc=$$?; if [ $$rc -eq 5 ]; then echo "NOTE: $(1) collected no tests"; elif [ $$rc -ne 0 ]; then exit $$rc; fi
endef

test-contracts:
	$(BIN)/ape test tests/contracts -q -p no:cacheprovider || { $(call pytest_exit,ape test); }

test-invariants:
	tools/forge-invariants.sh

test-backend:
	$(BIN)/pytest tests/backend -q || { $(call pytest_exit,pytest tests/backend); }

slither:
	tools/slither.sh

## soak: long campaigns kept out of `make test` (invariant fuzzing with many more runs; 1,000 indexer reorgs
## and 400 kills)
soak: setup
	FOUNDRY_INVARIANT_RUNS=2000 FOUNDRY_INVARIANT_DEPTH=500 tools/forge-invariants.sh
	TRACEMARK_SOAK=1 $(BIN)/pytest tests/backend -q -m soak

## gas: the gas benchmark (figures go to docs/benchmarks.md)
gas: setup
	$(BIN)/python benchmarks/gas.py

## abi: refresh the ABIs the backend ships (backend/tracemark/chain/abi/)
abi: setup
	$(BIN)/ape run export_abi

clean:
	rm -rf .build contracts/.cache .forge crytic-export .pytest_cache .mypy_cache .ruff_cache
	rm -f backend/tracemark/chain/indexer/_logrows*.so
