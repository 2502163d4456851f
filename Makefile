# The entry point: `make run` serves the portal with a worker; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install messages run test test-fast lint format bench bench-peer bench-scale bench-deps faults fuzz browser-deps corpus clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) messages ## Create .venv and install the project with its development tools

messages: $(STAMP) ## Compile the translation catalogues (locale/*/LC_MESSAGES/django.po -> .mo)
	$(BIN)/pybabel compile --domain django --directory locale --statistics

# Links in e-mails, documents and seed_demo's hint use SITE_URL: by default the address make run serves.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: export PORT := $(PORT)
run: install ## Migrate, load demo data, serve http://127.0.0.1:$PORT (default 8000) with a Celery worker and the mail listener on 127.0.0.1:$INBOUND_SMTP_PORT (default 8025); Ctrl-C stops all three
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	BIN=$(BIN) ./scripts/serve.sh

# pytest-xdist processes (0: one process). Tests with a real Celery worker share one group (--dist
# loadgroup: one at a time); each process has its own test database and Redis database (tests/xdist_redis.py).
TEST_WORKERS ?= 2

test: install browser-deps ## Run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

test-fast: install ## The suite without browser, worker and slow tests, in parallel (TEST_WORKERS=2)
	$(BIN)/python -m pytest -m "not browser and not worker and not slow" -n $(TEST_WORKERS) --durations=15

lint: install ## ruff check, ruff format --check, mypy --strict over every app (django-stubs, drf-stubs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install bench-deps ## Run the benchmarks and print their figures (load and peer need PostgreSQL, wrk, nginx; scale needs PostgreSQL, its first run 20-35 min)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/corpus.py
	$(BIN)/python bench/graded.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/inbound.py
	@if command -v wrk >/dev/null && [ -x /usr/sbin/nginx ]; then $(BIN)/python bench/load.py && $(BIN)/python bench/live.py && $(BIN)/python bench/peer.py; \
	 else echo "bench/load.py, bench/live.py and bench/peer.py need wrk and nginx (apt-get install wrk nginx-light) and PostgreSQL"; fi
	$(BIN)/python bench/scale.py

bench-peer: install bench-deps ## The portal against django-helpdesk (var/peer-venv), page by page, in one run (PostgreSQL, wrk, nginx; ~15 min)
	$(BIN)/python bench/peer.py

bench-scale: install ## Latency of list, API, case page, reports and search at 10k, 100k and 1M cases (PostgreSQL; first run 20-35 min, later ~5)
	$(BIN)/python bench/scale.py

# Not in `make bench`: it needs PostgreSQL (DATABASE_URL) besides redis-server, which it starts itself.
faults: install ## Fault injection in real time: workers and Redis killed (needs DATABASE_URL=postgres://... and redis-server)
	@if command -v redis-server >/dev/null; then $(BIN)/python bench/faults.py; \
	 else echo "bench/faults.py needs redis-server (apt-get install redis-server)"; exit 1; fi

# The load generator and the proxy that bench/load.py puts in front of gunicorn, as production does.
bench-deps: ## Debian packages for bench/load.py (installed when missing and apt is usable)
	@missing=$$(command -v wrk >/dev/null || echo wrk; [ -x /usr/sbin/nginx ] || echo nginx-light); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages ($$missing): bench/load.py needs them"; fi; fi

fuzz: install ## A longer fuzzing run of every parser (time and memory bounds) and of the API schema
	HYPOTHESIS_PROFILE=long HYPOTHESIS_MAX_EXAMPLES=5000 $(BIN)/python -m pytest tests/analysis tests/hardening tests/inbound/test_parsing.py -k "fuzz or schemathesis" -p no:cacheprovider

# Debian packages the tests use: Chromium (browser tests), a CJK font (embedded in summary PDFs),
# poppler-utils (reads the PDFs back), clamav-daemon (scanning tests run their own clamd), dovecot-imapd (the
# IMAP polling tests run their own dovecot). Installed when missing and apt is usable; otherwise those tests skip.
DEBIAN_TEST_PACKAGES := chromium fonts-wqy-microhei poppler-utils clamav-daemon dovecot-imapd
browser-deps: ## Debian packages for browser and PDF tests (installed when missing and apt is usable)
	@missing=$$(for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages ($$missing): the tests that need them skip"; fi; fi
	@# axe-core, the accessibility checker the browser tests inject (npm registry, into the venv folder).
	@if [ ! -f $(VENV)/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix $(VENV) axe-core@4.14.1 >/dev/null || \
	  echo "axe-core could not be installed: the accessibility checks skip"; fi

corpus: install ## Restore the corpus files named by tests/corpus/items (needs network, or MIRRORS=dir of git mirrors)
	$(BIN)/python scripts/corpus_restore.py $(if $(MIRRORS),--mirrors $(MIRRORS),)

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var
