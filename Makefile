# Every target installs the pinned environment first when it is missing (docs/operations.md).
# Settings are LOYALTY_* environment variables, read by loyalty/settings.py (README: How it runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# dagster-dbt looks for `dbt` on PATH in places (dagster dev's project preparation)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export LOYALTY_LANDING_DIR ?= $(CURDIR)/demo/landing
export LOYALTY_WAREHOUSE ?= $(CURDIR)/warehouse/loyalty.duckdb
DEMO_TRUTH := $(CURDIR)/demo/truth
DEMO_ARGS ?= --accounts 2000 --months 30 --seed 42

.PHONY: install demo data refresh test test-spark lint dbt-parse metrics-check unit ui docs bi bi-install bi-test bench faults deploy-check clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned environment into $(VENV) (log: $(VENV)/install.log) ..."
	@$(BIN)/python -m pip install --upgrade pip==26.3 > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -c constraints.txt -e ".[dev]" >> $(VENV)/install.log 2>&1 \
	  || { tail -30 $(VENV)/install.log; echo "pip install failed: see $(VENV)/install.log"; exit 1; }
	touch $(STAMP)

# Generate the demo landing folder (and its ground truth, outside it) once.
data: $(STAMP)
	@if [ -d "$(LOYALTY_LANDING_DIR)" ]; then echo "demo landing data already in $(LOYALTY_LANDING_DIR)"; \
	else $(BIN)/python -m tools.sample_data --out "$(LOYALTY_LANDING_DIR)" --truth "$(DEMO_TRUTH)" $(DEMO_ARGS); fi

refresh: $(STAMP)
	$(BIN)/python -m orchestration.cli refresh

# dbt-parse writes target/semantic_manifest.json, which `mf query` reads (README: Metrics)
demo: data dbt-parse
	$(BIN)/python -m orchestration.cli refresh --demo

lint: $(STAMP)
	$(BIN)/ruff check loyalty orchestration tools tests_py bi
	$(BIN)/ruff format --check loyalty orchestration tools tests_py bi
	@# the dbt templater opens the profile's DuckDB file: give it a scratch one
	mkdir -p target && LOYALTY_WAREHOUSE=$(CURDIR)/target/sqlfluff.duckdb $(BIN)/sqlfluff lint models tests

dbt-parse: $(STAMP)
	$(BIN)/dbt parse --profiles-dir . --quiet

# MetricFlow's semantic validations of the metrics (README: Metrics) on the manifest dbt-parse
# wrote. --skip-dw: the warehouse validations need built marts, which make test does not have
# (tests_py/test_metrics.py runs them on the warehouse its refresh publishes). mf connects
# first (dbt debug) whatever it validates: to a scratch file, never the published one.
metrics-check: dbt-parse
	LOYALTY_TARGET=duckdb LOYALTY_WAREHOUSE=$(CURDIR)/target/metrics-check.duckdb $(BIN)/mf validate-configs --skip-dw

# the suite in PYTEST_WORKERS processes (pytest-xdist), a test file per worker at a time: most
# of a refresh is single-threaded (Python, dbt's parse and scheduling), so two fill two cores
PYTEST_WORKERS ?= 2
test: lint dbt-parse metrics-check
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

# The whole dbt project on a local Spark (dbt-spark session; Java 17): small generated data,
# every model and test, marts compared with DuckDB's. Installs the `spark` extra on first use.
test-spark: lint dbt-parse
	@command -v java >/dev/null 2>&1 || { echo "make test-spark needs Java 17 on PATH (Debian: apt-get install -y openjdk-17-jre-headless)"; exit 2; }
	@$(BIN)/python -c "import pyspark, dbt.adapters.spark" 2>/dev/null || { \
	  echo "installing the spark extra (dbt-spark, pyspark) ..."; \
	  $(BIN)/python -m pip install -c constraints.txt -e ".[dev,spark]" >> $(VENV)/install.log 2>&1 \
	  || { tail -30 $(VENV)/install.log; exit 1; }; }
	$(BIN)/python -m pytest -m spark

ui: $(STAMP)
	$(BIN)/python -m orchestration.cli ui

# dbt's documentation site on http://127.0.0.1:$(DOCS_PORT) (loyalty/docs_site.py): lineage, every
# column, the doc blocks, the exposures, and the catalog read (read-only) from the build database
# of $LOYALTY_WAREHOUSE, so `make demo` (or `make refresh`) first. One page, no network needed.
# DOCS_ARGS e.g. --no-serve (build only), --no-compile, --wait 600
DOCS_PORT ?= 8080
docs: $(STAMP)
	$(BIN)/python -m loyalty.docs_site --port $(DOCS_PORT) $(DOCS_ARGS)

# Apache Superset in an environment of its own (.venv-bi: bi/requirements.txt, bi/constraints.txt),
# created on first use; README "For finance and BI tools".
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed
bi-install: $(BI_STAMP)

$(BI_STAMP): bi/requirements.txt bi/constraints.txt
	test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	@echo "installing Superset into $(BI_VENV) (log: $(BI_VENV)/install.log) ..."
	@$(BI_VENV)/bin/python -m pip install --upgrade pip==26.3 > $(BI_VENV)/install.log 2>&1 \
	  && $(BI_VENV)/bin/python -m pip install -c bi/constraints.txt -r bi/requirements.txt >> $(BI_VENV)/install.log 2>&1 \
	  || { tail -30 $(BI_VENV)/install.log; echo "pip install failed: see $(BI_VENV)/install.log"; exit 1; }
	touch $(BI_STAMP)

# Superset on http://127.0.0.1:8088 (LOYALTY_BI_PORT) reading the published warehouse, with the
# Month-end pack and Operations dashboards of bi/superset/bundle; serves until Ctrl-C.
bi: $(STAMP) $(BI_STAMP)
	$(BIN)/python -m bi.serve

# The demo data refreshed into a temp folder, `make bi` on it, both dashboards drawn in headless
# Chromium (/usr/bin/chromium) and their figures compared with the marts; rewrites
# docs/bi_month_end_pack.png and docs/bi_operations.png. Not part of `make test`.
bi-test: data $(BI_STAMP)
	@test -x /usr/bin/chromium || { echo "make bi-test needs /usr/bin/chromium (Debian: apt-get install -y chromium)"; exit 2; }
	$(BIN)/python -m pytest -m bi

# SCALE=1M|10M|100M ledger events (tools/bench.py); BENCH_ARGS e.g. --engines duckdb,postgres
SCALE ?= 1M
bench: $(STAMP)
	$(BIN)/python -m tools.bench --scale $(SCALE) $(BENCH_ARGS)

# The fault campaign (tools/faults, docs/reliability.md): bad input, re-delivery, determinism,
# personal data, crashes on DuckDB and PostgreSQL; one table. FAULTS_ARGS e.g. --parts crashes --keep
faults: $(STAMP)
	$(BIN)/python -m tools.faults $(FAULTS_ARGS)

# The production recipe of deploy/ run for real (deploy/README.md, tools/deploy_check.py): a throwaway
# PostgreSQL for Dagster's storage, dagster-webserver and dagster-daemon started as the systemd units
# start them, a refresh requested by the new_landing_files sensor, its checks and alerts read back
# through GraphQL. Starts services, so not part of `make test`. DEPLOY_CHECK_ARGS e.g. --keep
deploy-check: $(STAMP)
	$(BIN)/python -m tools.deploy_check $(DEPLOY_CHECK_ARGS)

clean:
	rm -rf target logs demo warehouse .pytest_cache
