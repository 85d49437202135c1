# The README's commands. Every target depends on `setup`, which is idempotent (a stamp file).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
TORCH := torch==2.13.0

.PHONY: setup reproduce reproduce-quick test lab bench clean

setup: $(STAMP)

# torch goes in FIRST and pinned: the local CPU wheel. Anything else would pull a CUDA build.
$(STAMP): pyproject.toml scripts/install_chromium.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	bash scripts/install_chromium.sh
	touch $(STAMP)

reproduce: setup
	$(VENV)/bin/workbench reproduce

reproduce-quick: setup
	$(VENV)/bin/workbench reproduce --quick --out build/figures

test: setup
	$(PY) -m pytest -q tests

lab: setup
	$(VENV)/bin/workbench lab

bench: setup
	@for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache
