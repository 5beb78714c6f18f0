# The quick start is two commands (README.md):
#   make run    install what is missing, migrate, start everything, then print the login and links
#   make test   install what is missing, run the whole test suite
# The other targets are their steps. Debian 12 with Python 3.11 is assumed;
# system packages come from apt-get (as root, or through sudo).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

# Named after the requirements' contents: a changed pin reinstalls, an unchanged one costs nothing.
REQUIREMENTS := requirements.txt requirements-sandbox.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)

APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: run test deps redis-server chromium migrate

run: deps redis-server migrate
	@# Starts Procfile.dev through honcho, with its own Redis unless REDIS_URL
	@# names one, and prints the admin login and links once everything answers.
	python -m botplatform.devrun

test: deps redis-server chromium
	pytest $(PYTEST_ARGS)

migrate: deps
	python manage.py migrate --noinput
	python manage.py install_schedules

deps: $(STAMP)

$(STAMP):
	@if [ ! -x $(BIN)/python ]; then \
	  if ! $(PYTHON) -c "import ensurepip, venv" 2>/dev/null; then \
	    echo "Installing python3-venv (Debian package)"; \
	    $(APT_GET) update -q && $(APT_GET) install -y -q python3-venv; \
	  fi; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

# Tests start their own redis-server and `make run` does too (on a free port),
# unless REDIS_URL names a Redis to use instead.
redis-server:
	@if [ -z "$${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then \
	  echo "Installing redis-server (Debian package)"; \
	  $(APT_GET) update -q && $(APT_GET) install -y -q redis-server; \
	fi

# The browser tests drive Debian's Chromium through Playwright.
chromium:
	@if ! command -v chromium >/dev/null; then \
	  echo "Installing chromium (Debian package) for the browser tests"; \
	  $(APT_GET) update -q && $(APT_GET) install -y -q chromium; \
	fi
