# Every target sets up what it needs: a fresh clone with only Python needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the lists sample job, the contacts sample job, then the migration sample job, against
## the built-in sandbox; each prints its summary line. The first two hold invalid rows on
## purpose, so each is expected to exit 1 (some rows invalid); the migration has only added and
## excluded rows, so it is expected to exit 0; anything else fails the target.
run: $(STAMP)
	$(BIN)/avosms-import run --job jobs/sample.yaml; status=$$?; \
	  if [ $$status -ne 1 ]; then echo "unexpected exit code $$status" >&2; exit 1; fi
	@echo "results: sample_data/out/lists.results.xlsx, report: sample_data/out/report.html"
	$(BIN)/avosms-import run --job jobs/contacts.yaml; status=$$?; \
	  if [ $$status -ne 1 ]; then echo "unexpected exit code $$status" >&2; exit 1; fi
	@echo "results: sample_data/out/contacts.results.xlsx, report: sample_data/out/contacts.report.html"
	$(BIN)/avosms-import run --job jobs/migration.yaml; status=$$?; \
	  if [ $$status -ne 0 ]; then echo "unexpected exit code $$status" >&2; exit 1; fi
	@echo "results: sample_data/out/migration.results.xlsx, report: sample_data/out/migration.report.html"

## test: lint, types and the whole test suite
test: $(STAMP) lint
	$(BIN)/pytest -q

## lint: ruff (lint + format check) and mypy on the package and the benchmarks
lint: $(STAMP)
	$(BIN)/ruff check importer tests bench
	$(BIN)/ruff format --check importer tests bench
	$(BIN)/mypy importer bench

## bench: the speed and memory figures, written to bench/RESULTS.md
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis sample_data/out
