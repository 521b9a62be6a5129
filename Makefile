# Two commands for a fresh machine (see README):
#   make run   - install into .venv, run the embedded broker, worker, sink, API and demo traffic
#   make test  - install into .venv (plus Chromium and promtool from Debian) and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# KUKURI_TRENDING_COMPILE=0 builds the fold as pure Python (setup.py); a change of mode reinstalls.
COMPILE := $(if $(filter 0,$(KUKURI_TRENDING_COMPILE)),0,1)
INSTALLED := $(VENV)/.installed-compile-$(COMPILE)

.PHONY: run test lint bench install

# The fold's modules are compiled by the install (setup.py), beside their sources: editing one
# reinstalls, so the compiled module never lags behind its source.
FOLD_SOURCES := $(shell $(PYTHON) -c "import runpy; print(*runpy.run_path('observability/fold_build.py')['FOLD_SOURCES'])")

$(INSTALLED): pyproject.toml setup.py $(FOLD_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed*
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/kukuri-trending run --demo-history 20000 --demo-rate 40

PACKAGES := streams config sinks appdb agents cli broker producer observability api reconcile bench

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES) setup.py

test: lint
	scripts/ensure-test-tools.sh
	$(BIN)/python -m pytest
	scripts/test-interpreted-fold.sh $(BIN)/python

bench: $(INSTALLED)
	$(BIN)/kukuri-trending bench
