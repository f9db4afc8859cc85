# pagesite: `make run` to use it, `make test` to test it. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
export PORT

.PHONY: run test test-fast test-postgres bench bench-smoke browser wrk pds synapse nostr-relay clean

# What running needs; the tests and benchmarks add their tools on top.
$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Web (gunicorn on $PORT) and worker (scheduler + workers), from the Procfile.
# Ctrl-C stops both and ends quietly (honcho reports each process stopping).
run: $(VENV)/.installed
	@REDIS_URL=$${REDIS_URL:-$$($(PY) -m pagesite.devredis 0)} && export REDIS_URL && \
	$(VENV)/bin/flask --app wsgi db upgrade && \
	echo "pagesite on http://$${PAGESITE_BIND:-127.0.0.1}:$(PORT)  (Redis: $$REDIS_URL)" && \
	trap 'stopped=1' INT TERM && \
	{ PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho start; status=$$?; \
	  if [ -n "$$stopped" ]; then exit 0; else exit $$status; fi; }

# The Bluesky PDS (and its PLC directory) the network tests run, from npm.
# It needs Node 22, which is fetched from the npm registry into peers/.node;
# better-sqlite3 is compiled against that Node's headers.
NODE_VERSION := 22.23.3
NODE_ARCH    := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x64)
NODE_DIR     := $(CURDIR)/peers/.node/node-v$(NODE_VERSION)

$(NODE_DIR)/bin/node:
	@command -v npm >/dev/null || { echo "the Bluesky tests need npm (Debian: apt-get install npm)"; exit 1; }
	mkdir -p peers/.node && cd peers/.node && rm -rf package && \
	  npm pack --silent node-linux-$(NODE_ARCH)@$(NODE_VERSION) >/dev/null && \
	  tar xzf node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz && rm node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz && \
	  rm -rf $(NODE_DIR) && mv package $(NODE_DIR)
	$@ --version

peers/node_modules/.installed: $(NODE_DIR)/bin/node peers/package.json peers/package-lock.json
	cd peers && PATH=$(NODE_DIR)/bin:$$PATH npm_config_nodedir=$(NODE_DIR) \
	  npm ci --no-audit --no-fund --loglevel=error
	touch $@

pds: peers/node_modules/.installed

# Synapse (Matrix) and nostr-relay (Nostr), the real peers of those network tests: each in a
# virtualenv of its own under peers/, since each pins libraries of its own.
SYNAPSE_VERSION     := 1.163.2
NOSTR_RELAY_VERSION := 1.14

peers/.synapse/.installed:
	test -d peers/.synapse || $(PYTHON) -m venv peers/.synapse
	peers/.synapse/bin/python -m pip install --quiet matrix-synapse==$(SYNAPSE_VERSION)
	touch $@

peers/.nostr-relay/.installed:
	test -d peers/.nostr-relay || $(PYTHON) -m venv peers/.nostr-relay
	peers/.nostr-relay/bin/python -m pip install --quiet nostr-relay==$(NOSTR_RELAY_VERSION)
	touch $@

synapse: peers/.synapse/.installed
nostr-relay: peers/.nostr-relay/.installed

# The whole suite: SQLite by default; PAGESITE_TEST_DATABASE_URL=postgresql://... for PostgreSQL.
# TEST_PROCESSES=2 (or more) splits the suite into parallel runs (pytest-xdist), each with a
# database and a Redis database of its own (Redis databases 15, 14, ... of
# PAGESITE_TEST_REDIS_URL). One run is the default: on two cores, parallel runs finish in
# about three quarters of the time, but a browser wait can then time out now and then.
# pytest replaces the shell (exec), so a SIGTERM to make reaches it and it stops what it started.
TEST_PROCESSES ?= 0
PARALLEL = $(if $(filter-out 0,$(TEST_PROCESSES)),-n $(TEST_PROCESSES) --dist load)
test: $(VENV)/.installed-dev browser pds synapse nostr-relay
	PAGESITE_TEST_REDIS_URL=$${PAGESITE_TEST_REDIS_URL:-$$($(PY) -m pagesite.devredis 15)} \
	exec $(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)

# The quick suite, for while you work (under 2 minutes): everything but the browser
# tests and the slow ones (real worker, web and PDS processes, make run, killed runs),
# in two parallel runs (1.6 min; 2.7 min in one, FAST_TEST_PROCESSES=0).
FAST_TEST_PROCESSES ?= 2
test-fast: $(VENV)/.installed-dev
	PAGESITE_TEST_REDIS_URL=$${PAGESITE_TEST_REDIS_URL:-$$($(PY) -m pagesite.devredis 15)} \
	exec $(PY) -m pytest -m "not browser and not slow" $(if $(filter-out 0,$(FAST_TEST_PROCESSES)),-n $(FAST_TEST_PROCESSES) --dist load) $(PYTEST_ARGS)

test-postgres:
	PAGESITE_TEST_DATABASE_URL=$${PAGESITE_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	$(MAKE) test

# A Debian tool the tests or benchmarks drive: installed when we can (root with
# apt), otherwise a clear message and a failure. $(call need,COMMANDS,PACKAGE,WHO)
need = @$(foreach c,$(1),command -v $(c) >/dev/null 2>&1 ||) { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2), needed by $(3)"; \
	    apt-get install -y -q $(2) >/dev/null || { apt-get update -q && apt-get install -y -q $(2); }; \
	  else \
	    echo "$(3) need $(2): install it (for example 'sudo apt-get install $(2)')."; exit 1; \
	  fi; }

browser:
	$(call need,chromium chromium-browser,chromium,the browser tests)

wrk:
	$(call need,wrk,wrk,the API benchmarks)

bench: $(VENV)/.installed-dev wrk
	REDIS_URL=$${REDIS_URL:-$$($(PY) -m pagesite.devredis 14)} $(PY) -m bench $(BENCH_ARGS)

# Every benchmark at small sizes: fails only when one crashes, not when a goal is missed.
bench-smoke: $(VENV)/.installed-dev wrk
	REDIS_URL=$${REDIS_URL:-$$($(PY) -m pagesite.devredis 14)} $(PY) -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts peers/node_modules peers/.node peers/.synapse peers/.nostr-relay
