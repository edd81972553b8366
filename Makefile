# Two commands: `make run` (the demo) and `make test` (lint, types, layers, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install lint types layers pytest bench-ingest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bus,detect,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/vigil demo

test: $(STAMP) lint types layers pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	./scripts/install-peers.sh
	$(BIN)/pytest

bench-ingest: $(STAMP)
	$(BIN)/vigil bench ingest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
