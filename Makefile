# audit-lineage: the two commands are `make demo` and `make test`.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: demo demo-s3 demo-distributed test test-slow ui check bench clean-data

$(STAMP): pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## sample data (if absent) + every asset for 14 days through Dagster
	$(BIN)/audit-pipeline demo

test: $(STAMP)  ## ruff, then every test but the slow ones (a few minutes)
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow" -n 2

test-slow: $(STAMP)  ## the slow cases: detection over a varied month, the S3 demo
	$(BIN)/pytest -m slow -n 2

demo-s3: $(STAMP)  ## the same demo with landing zone, lake and exports on a local S3 server
	$(BIN)/python -m audit_pipeline.local_s3 -- $(BIN)/audit-pipeline demo

demo-distributed: $(STAMP)  ## the demo on 2 Celery workers (Redis broker, PostgreSQL instance, S3 lake), checked table by table against a one-process run
	$(BIN)/python -m audit_pipeline.cluster --workers 2

ui: $(STAMP)  ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

check: $(STAMP)  ## the definitions load (dg check defs)
	$(BIN)/dg check defs

bench: $(STAMP)  ## speed and memory against the floor and the peers (never part of make test)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.sources

clean-data:  ## forget generated data and run history (keeps dagster_home/dagster.yaml)
	rm -rf data
	find dagster_home -mindepth 1 ! -name dagster.yaml -exec rm -rf {} +
