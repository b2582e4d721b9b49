# dlopt-kit: `make lab` to learn, `make test` to check that every lesson still holds.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8888
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: setup site browser-setup postgres-setup lab test unit dry-runs notebooks browser-test lint doctor bench clean \
	class-server class-server-stop class-dashboard playground

setup:
	@bin/setup

browser-setup: setup
	@bin/setup-browser

# PostgreSQL's programs for the shared-study tests (the tests start their own server on loopback)
postgres-setup: setup
	@bin/setup-postgres

lab: setup
	@PORT=$(PORT) bin/lab

# unit tests, the browser tests (tests/browser) and every notebook under nbval, in one run
test: setup browser-setup postgres-setup lint
	$(PY) -m pytest -q --durations=40 tests notebooks $(NBVAL)

unit: setup
	$(PY) -m pytest -q tests --ignore=tests/browser --ignore=tests/test_dry_runs.py

# every notebook as a crash test at the medium and full budgets, its work capped (DLOPT_DRY_RUN=1); part of `make test`
dry-runs: setup
	$(PY) -m pytest -q -s tests/test_dry_runs.py

browser-test: browser-setup
	$(PY) -m pytest -q -s tests/browser

notebooks: setup
	$(PY) -m pytest -q notebooks $(NBVAL)

lint: setup
	$(PY) -m ruff check dlopt_kit tests tools docs

doctor: setup
	$(PY) -m dlopt_kit doctor

bench: setup
	$(PY) -m dlopt_kit.bench overhead
	$(PY) -m dlopt_kit.bench batching
	$(PY) -m dlopt_kit.bench augment

# classroom: one shared Optuna study on PostgreSQL (see README, "For instructors")
class-server: setup postgres-setup
	$(PY) -m dlopt_kit tune server start

class-server-stop: setup
	$(PY) -m dlopt_kit tune server stop

class-dashboard: setup
	$(PY) -m dlopt_kit tune dashboard

clean:
	rm -rf .venv datasets/cache datasets/raw build

# the sandbox as a standalone app (Voila), on 127.0.0.1 with a token; PORT=... as for lab (default 8866)
playground: setup
	@PORT=$(if $(filter command line environment,$(origin PORT)),$(PORT),8866) bin/playground

site: setup
	$(PY) docs/build.py
