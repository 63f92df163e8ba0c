# Short verbs. `make run` serves the embedded portal; `make test` runs the whole suite
# against a private PostgreSQL and Redis that it starts and stops itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml client/pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e . -e ./client
	touch $@

$(VENV)/.test-deps: pyproject.toml client/pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test]" -e ./client
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.test-deps
	bash scripts/test.sh $(ARGS)

bench: $(VENV)/.test-deps
	scripts/with-services.sh $(PY) bench/resolve.py
	scripts/with-services.sh $(PY) bench/stale.py
	scripts/with-services.sh $(PY) bench/events.py
	scripts/with-services.sh $(PY) bench/evaluations.py
	scripts/with-services.sh $(PY) bench/client.py
	$(PY) bench/render.py

lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.test-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
