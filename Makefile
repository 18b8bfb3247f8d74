# One-command setup: every target creates .venv when missing and installs what it needs.
# On a machine without a GPU we install the CPU build of torch first (a local wheel here);
# on a CUDA machine run e.g. `make test TORCH_SPEC="torch>=2.6"` to take the CUDA build from PyPI.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.ehrsynth-installed

.PHONY: install demo test test-slow test-gpu lint bench notebooks clean

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,demo,parquet]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ehrsynth demo -o demo-output

# Default suite: under 4 CPU-minutes on 2 cores (README "Development"); slow and GPU tests excluded.
test: $(STAMP)
	$(PY) -m pytest -q

# Everything marked slow: notebooks, real-data end-to-end runs, long DP audits.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-gpu: $(STAMP)
	$(PY) -m pytest -q -m gpu

lint: $(STAMP)
	$(PY) -m ruff check ehrsynth tests benchmarks
	$(PY) -m ruff format --check ehrsynth tests benchmarks
	$(PY) -m mypy

notebooks: $(STAMP)
	$(PY) -m pytest -q -m slow tests/integration/test_notebooks.py

bench: $(STAMP)
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
