# Two commands do all the set-up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench docs docs-check clean-venv

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "jepaworld needs Python >= 3.11, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,pusht,mujoco,serve,mcp,lerobot-data,docs]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jepaworld demo

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: $(STAMP)
	@$(BIN)/python -m pytest tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check jepaworld tests benchmarks
	$(BIN)/mypy jepaworld

# The documentation site, built strictly (a broken link, anchor or API reference fails) and offline into
# site/. docs-check serves it, opens every page in headless Chromium (apt-get install chromium), the
# server's /docs page too, and saves screenshots under runs/docs-check/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --clean

docs-check: docs
	$(BIN)/python docs/tools/check_site.py site --out runs/docs-check --swagger

bench: $(STAMP)
	$(BIN)/python benchmarks/sampler_speed.py
	$(BIN)/python benchmarks/model_speed.py
	$(BIN)/python benchmarks/plan_speed.py

clean-venv:
	rm -rf $(VENV)
