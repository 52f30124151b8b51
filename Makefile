# Pixel Sceau: `make serve` runs the service, `make test` runs every check.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
MTLS ?= 127.0.0.1:8443

# Debian packages the tests use as independent checkers.
TEST_TOOLS := pdfsig:poppler-utils qpdf:qpdf certutil:libnss3-tools openssl:openssl \
  haproxy:haproxy chromium:chromium zbarimg:zbar-tools softhsm2-util:softhsm2 \
  nginx:nginx pg_dump:postgresql-client /usr/lib/postgresql/15/bin/initdb:postgresql-15

.PHONY: serve serve-mtls test lint typecheck unit install test-tools bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/sceau serve --host $(HOST) --port $(PORT)

# The service with its mutual-TLS front (HAProxy) for level-C clients on $(MTLS).
serve-mtls: $(STAMP)
	@command -v haproxy >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }
	$(BIN)/sceau serve --host $(HOST) --port $(PORT) --mtls $(MTLS)

test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing test tools:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) test-tools
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP) test-tools
	$(BIN)/python -m bench.signing --out docs/benchmarks.md
	$(BIN)/python -m bench.events --out docs/benchmarks.md
	$(BIN)/python -m bench.auth --out docs/benchmarks.md
	$(BIN)/python -m bench.anchoring --out docs/benchmarks.md
	$(BIN)/python -m bench.billing --out docs/benchmarks.md
	$(BIN)/python -m bench.web --out docs/benchmarks.md
	$(BIN)/python -m bench.verification --out docs/benchmarks.md
	$(BIN)/python -m bench.delegation --out docs/benchmarks.md
	$(BIN)/python -m bench.hsm --out docs/benchmarks.md
	$(BIN)/python -m bench.backup --out docs/benchmarks.md
	$(BIN)/python -m bench.load --out docs/benchmarks.md
	$(BIN)/python -m bench.audit --out docs/benchmarks.md

# The web signer's screenshots in docs/, from the browser tests.
screenshots: $(STAMP) test-tools
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest -q tests/e2e

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
