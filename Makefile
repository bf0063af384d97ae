# Hourglass: `make demo` and `make test` set everything up on a fresh machine with only Python.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PORT   ?= 8000
export PORT

.PHONY: demo test lint pytest up migrate fixtures browser bench vendor clean help

help:
	@echo "make demo   - install, migrate, load real fixtures, create demo users and the demo paper account, serve on http://127.0.0.1:$(PORT) (it trades every replayed hour)"
	@echo "make test   - ruff + pytest (SQLite by default; PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)"
	@echo "make up     - web, worker and beat as separate processes on DATABASE_URL + REDIS_URL"
	@echo "make bench  - run the benchmarks in bench/ (needs ../shared/data)"
	@echo "make vendor - reinstall the pinned front-end libraries (package.json, npm) and copy them into static/vendor/"

# Runtime install, redone only when pyproject.toml changes.
$(VENV)/.runtime: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --upgrade pip
	$(PIP) install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) install -q --disable-pip-version-check -e ".[dev]"
	touch $@

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v 0

fixtures: migrate
	$(PY) manage.py load_demo_data

# One process: migrate (only if a migration is unapplied), fixtures (skipped by sha256), demo users
# and the demo paper account (when missing), then serve, with the demo paper account trading every
# replayed hour (tradingsite/settings/demo.py). A second run is one interpreter start.
demo: $(VENV)/.runtime
	$(PY) manage.py rundesk --demo --settings tradingsite.settings.demo --port $(PORT)

up: $(VENV)/.runtime
	@test -n "$$DATABASE_URL" || { echo "make up needs DATABASE_URL (postgres://...)"; exit 2; }
	@test -n "$$REDIS_URL" || { echo "make up needs REDIS_URL (redis://...)"; exit 2; }
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py load_demo_data
	$(PY) manage.py collectstatic --noinput -v 0
	trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A workers worker -Q default,research,live -c 2 -l INFO & \
	$(VENV)/bin/celery -A workers worker -Q control -c 1 -n control@%h -l INFO & \
	$(VENV)/bin/celery -A workers beat -l INFO & \
	$(PY) manage.py rundesk --port $(PORT) --no-workers & \
	wait

# Headless Chromium for the page tests (Debian packages; never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) ; } \
	  || echo "chromium not installed: browser tests will be skipped"

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: $(VENV)/.dev browser
	$(VENV)/bin/pytest

test: lint pytest

bench: $(VENV)/.dev
	$(PY) bench/import_bars.py

# Front-end libraries: the versions pinned in package.json / package-lock.json, installed with npm
# (checked against the lock's integrity) and copied into static/vendor/<lib>/ with their licence.
# The copies are committed, so `make demo` and `make test` need no node (static/vendor/README.md).
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p static/vendor/uplot
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE static/vendor/uplot/

clean:
	rm -rf var/hourglass.sqlite3* var/media
