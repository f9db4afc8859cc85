# pagesite: `make run` to use it, `make test` to test it. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
export PORT

.PHONY: run test test-postgres bench bench-smoke browser wrk clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# Web (gunicorn on $PORT) and worker (scheduler + workers), from the Procfile.
run: $(VENV)/.installed
	REDIS_URL=$$($(PY) -m pagesite.devredis 0) && export REDIS_URL && \
	$(VENV)/bin/flask --app wsgi db upgrade && \
	echo "pagesite on http://127.0.0.1:$(PORT)  (Redis: $$REDIS_URL)" && \
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho start

# The whole suite: SQLite by default; PAGESITE_TEST_DATABASE_URL=postgresql://... for PostgreSQL.
test: $(VENV)/.installed browser
	PAGESITE_TEST_REDIS_URL=$${PAGESITE_TEST_REDIS_URL:-$$($(PY) -m pagesite.devredis 15)} \
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres:
	PAGESITE_TEST_DATABASE_URL=$${PAGESITE_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	$(MAKE) test

# Browser tests drive the system Chromium; install it when we can, else say how.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium for the browser tests"; \
	    apt-get install -y -q chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }; \
	  else \
	    echo "The browser tests need Chromium: install it (for example 'sudo apt-get install chromium')."; exit 1; \
	  fi; }

# The API benchmark drives wrk; install it when we can, else say how.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing wrk for the API benchmark"; \
	    apt-get install -y -q wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }; \
	  else \
	    echo "The API benchmark needs wrk: install it (for example 'sudo apt-get install wrk')."; exit 1; \
	  fi; }

bench: $(VENV)/.installed wrk
	REDIS_URL=$${REDIS_URL:-$$($(PY) -m pagesite.devredis 14)} $(PY) -m bench $(BENCH_ARGS)

# Every benchmark at small sizes: fails only when one crashes, not when a goal is missed.
bench-smoke: $(VENV)/.installed wrk
	REDIS_URL=$${REDIS_URL:-$$($(PY) -m pagesite.devredis 14)} $(PY) -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
