# The two commands a newcomer needs: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# `make test` defaults to the machine's local services; set DATABASE_URL / REDIS_URL to override.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/plinto)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint check-migrations schema check-deploy worker lock clean bench-auth bench-audit bench-rbac

$(STAMP): requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

## Run Plinto: embedded default (SQLite, in-process layers) unless DATABASE_URL / REDIS_URL are set.
## Migrates, ensures a demo admin (credentials printed), serves ASGI on 127.0.0.1:8000, and runs a
## Celery worker with beat when REDIS_URL provides a broker (without it tasks run in-process).
run: export DJANGO_SETTINGS_MODULE = plinto.settings.local
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_demo_admin
	@set -euo pipefail; pids=(); trap 'kill $${pids[@]} 2>/dev/null || true' EXIT INT TERM; \
	if [ -n "$${REDIS_URL:-}" ]; then \
		$(VENV)/bin/celery -A plinto worker -B --loglevel INFO --concurrency 2 & pids+=($$!); \
	else echo "No REDIS_URL: Celery tasks run in-process, no worker needed."; fi; \
	echo "Plinto on http://$(HOST):$(PORT)/  (API docs /api/docs/, admin /admin/, readiness /health/ready)"; \
	$(VENV)/bin/uvicorn plinto.asgi:application --host $(HOST) --port $(PORT) --lifespan off & pids+=($$!); \
	wait -n $${pids[@]}

## The whole suite, against PostgreSQL and Redis.
test: $(STAMP)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
		$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Offline gates run on a throwaway embedded configuration, whatever DATABASE_URL / REDIS_URL say.
OFFLINE := DJANGO_SETTINGS_MODULE=plinto.settings.local DATABASE_URL=sqlite://:memory: REDIS_URL= PLINTO_VAR_DIR=$$(mktemp -d)

check-migrations: $(STAMP)
	$(OFFLINE) $(PY) manage.py makemigrations --check --dry-run

schema: $(STAMP)
	$(OFFLINE) $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

## `manage.py check --deploy` under production settings, with throwaway values for the required secrets.
check-deploy: $(STAMP)
	DJANGO_SETTINGS_MODULE=plinto.settings.production \
	DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DJANGO_ALLOWED_HOSTS=plinto.example.com DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
		$(PY) manage.py check --deploy --fail-level WARNING

## Auth benchmark against PostgreSQL + Redis + gunicorn/uvicorn (by hand, never in CI): docs/benchmarks.md.
bench-auth: $(STAMP)
	bash bench/run_auth.sh

## Audit trail at scale (1M events in PostgreSQL; by hand, never in CI; KEEP=1 keeps the database): docs/benchmarks.md.
bench-audit: $(STAMP)
	bash bench/run_audit.sh

## Access-control decisions at scale (200 policies, 10k grants; by hand, never in CI; KEEP=1 keeps the database): docs/benchmarks.md.
bench-rbac: $(STAMP)
	bash bench/run_rbac.sh

worker: $(STAMP)
	DJANGO_SETTINGS_MODULE=plinto.settings.local $(VENV)/bin/celery -A plinto worker -B --loglevel INFO

## Re-resolve both locks from pyproject.toml after changing a dependency (in a throwaway virtualenv).
lock:
	rm -rf /tmp/plinto-lock && $(PYTHON) -m venv /tmp/plinto-lock
	$(PYTHON) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml","rb"))["project"]["dependencies"]))' > /tmp/plinto-lock/base.in
	$(PYTHON) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml","rb"))["project"]["optional-dependencies"]["dev"]))' > /tmp/plinto-lock/dev.in
	/tmp/plinto-lock/bin/pip install --quiet -r /tmp/plinto-lock/base.in
	/tmp/plinto-lock/bin/pip freeze | sort -f > requirements.lock
	/tmp/plinto-lock/bin/pip install --quiet -r /tmp/plinto-lock/dev.in
	/tmp/plinto-lock/bin/pip freeze | sort -f > requirements-dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache staticfiles
