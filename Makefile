# Two commands: `make run` (set up + run the pipeline on embedded defaults) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck pytest ui bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv 2>/dev/null
	@VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv pip install -q -e ".[dev,spark]"
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/phm run

test: setup lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy core reports load pipelines connectors pseudonymisation quality cohort linkage synthetic phm bench scripts

# One worker per core (at most 4), each test module on one worker, long modules first; the shared ICSs
# and loads are built once (tests/conftest.py). `.venv/bin/pytest -q tests/...` runs a few tests without workers.
pytest:
	$(BIN)/pytest -q -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

ui: setup
	$(BIN)/phm ui

bench: setup
	$(BIN)/phm bench generate
	$(BIN)/phm bench pipeline
	$(BIN)/phm bench model
	$(BIN)/phm bench link

clean:
	rm -rf .phm
