# Two entry points: `make demo` and `make test`. Each creates .venv with pinned dependencies if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# pip's own progress (one line per package, a bar for each download): the first install takes minutes
PIP := $(BIN)/python -m pip --disable-pip-version-check
MIN_VENV := .venv-min
TEST_WORKERS ?= 2

.PHONY: demo test test-min lint docs figures smoke install install-dev clean

$(VENV)/.core: requirements/core.txt pyproject.toml
	@echo "== Installing the pinned runtime dependencies into $(VENV) (first run: a few minutes, torch is ~200 MB)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --progress-bar on -r requirements/core.txt
	$(PIP) install --progress-bar on --no-deps -e .
	@echo "== $(VENV) is ready"
	touch $@

$(VENV)/.dev: $(VENV)/.core requirements/dev.txt
	@echo "== Installing the development dependencies into $(VENV)"
	$(PIP) install --progress-bar on -r requirements/dev.txt
	touch $@

install: $(VENV)/.core
install-dev: $(VENV)/.dev

demo: $(VENV)/.core
	$(BIN)/lstmcast demo --out runs/demo

# two processes (pytest-xdist; `make test PYTEST_ARGS="-n 0"` runs in one): the docs pages, which
# run in order in one folder, stay together in one of them
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The declared floors of the core dependencies (requirements/min.txt = pyproject's minimums) with the
# test tools and the extras at their dev.txt pins (the extras' floors are not tested),
# in a separate venv; the whole suite runs against them.
test-min: requirements/min.txt requirements/dev.txt pyproject.toml
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	# lint-only import-linter (and its grimp) stay out: import-linter 2.17 needs rich>=14.2, above the floor
	grep -v -e '^-r' -e '^#' -e '^import-linter==' -e '^grimp==' requirements/dev.txt > $(MIN_VENV)/dev-only.txt
	$(MIN_VENV)/bin/python -m pip --disable-pip-version-check install -r requirements/min.txt \
	    -r $(MIN_VENV)/dev-only.txt -c requirements/min.txt
	$(MIN_VENV)/bin/python -m pip --disable-pip-version-check install --no-deps -e .
	$(MIN_VENV)/bin/python -m pip check
	$(MIN_VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# ruff (style, complexity <= 15), mypy (types, settings in pyproject), lint-imports (the layering
# contracts in pyproject [tool.importlinter]), no use of another module's private names (in src and
# benchmarks, which may not import lstmcast's private modules either), size limits,
# then the docs site.
lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks docs scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --cache-dir $(VENV)/import-linter-cache
	$(BIN)/python scripts/check_private_names.py src/lstmcast benchmarks
	$(BIN)/python scripts/check_sizes.py src
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

docs: $(VENV)/.dev
	$(BIN)/mkdocs serve

# Regenerate the pictures shown in the docs (docs/img/*.png) from tiny seeded runs.
figures: $(VENV)/.dev
	$(BIN)/python docs/make_figures.py

# Build the wheel, install it in a clean venv per Python found (3.11-3.13), run import, demo, export.
smoke: $(VENV)/.dev
	PYTHON_BUILD=$(BIN)/python bash scripts/smoke_pythons.sh

clean:
	rm -rf $(VENV) $(MIN_VENV) runs .pytest_cache dist build
