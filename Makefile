# okrapp — developer commands. `make run` serves the app, `make test` runs the suite.
# Configuration comes from the environment (see README): DATABASE_URL, REDIS_URL, EMAIL_HOST…

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     := .venv
PYTHON   := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
MANAGE   := $(PYTHON) manage.py
HOST     ?= 127.0.0.1
PORT     ?= 8000
# settings.py keeps its SQLite file, broker and mail under OKRAPP_VAR_DIR (default var/).
VAR_DIR  := $(or $(OKRAPP_VAR_DIR),var)
# Extra arguments: `make test PYTEST_ARGS="-k tenancy -x"`, `make run SEED_ARGS=--force`.
PYTEST_ARGS ?=
SEED_ARGS   ?=

.PHONY: help venv run test test-deps pdf-deps lint fmt clean messages

help:
	@echo "make run    create .venv, migrate, seed demo data, serve http://$(HOST):$(PORT) with a Celery worker + beat"
	@echo "make test   create .venv, install Chromium/CJK fonts when missing, run pytest (PYTEST_ARGS=...)"
	@echo "make lint   ruff check + ruff format --check"
	@echo "make fmt    ruff format + ruff check --fix"
	@echo "make messages  extract strings into the zh-Hant catalogue and compile it"
	@echo "make clean  remove var/, staticfiles/ and .venv/"

# --- virtualenv: created when missing, reinstalled only when pyproject.toml changes -------------
venv: $(STAMP)

$(VENV)/pyvenv.cfg:
	@if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi; \
	  echo "==> creating $(VENV) with $$py"; \
	  $$py -m venv $(VENV)

$(STAMP): pyproject.toml $(VENV)/pyvenv.cfg
	@echo "==> installing okrapp and its dev dependencies into $(VENV)"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

# --- run: web server + Celery, all stopped together by Ctrl-C -----------------------------------
# The supervisor below is kept inline (no helper script at the top level). Each child is started
# in its own process group (set -m); on Ctrl-C/TERM, or when any child exits, every child is sent
# TERM, then its whole group KILL (at once when it has exited, after 10 s if it has not), so no
# child or grandchild is left running.
define RUN_SCRIPT
set -uo pipefail
set -m
pids=()
stopping=0
stop() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  echo
  echo "==> stopping web server and Celery"
  # TERM to each child (runserver and Celery stop their own subprocesses), then 10 s to finish;
  # after that, and once they have exited, anything left in their process groups is killed.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  ( sleep 10; for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done ) &
  watchdog=$!
  wait "${pids[@]}" 2>/dev/null
  kill -KILL -- "-$watchdog" 2>/dev/null  # it inherited the ignored TERM
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  wait 2>/dev/null
  echo "==> stopped"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
start() { echo "==> $*"; "$@" & pids+=("$!"); }

start "$VENV/bin/python" manage.py runserver "$HOST:$PORT"
if [ -n "${REDIS_URL:-}" ]; then
  start "$VENV/bin/celery" -A okrapp worker -l info
  start "$VENV/bin/celery" -A okrapp beat -l info
else
  # Embedded broker: one process runs the worker and the beat schedule.
  start "$VENV/bin/celery" -A okrapp worker --beat -c 1 -l info
fi

url="http://$HOST:$PORT/"
for _ in $(seq 1 60); do
  "$VENV/bin/python" -c "import socket; socket.create_connection(('$HOST', $PORT), 1)" 2>/dev/null && break
  sleep 0.5
done
echo
echo "================================================================"
echo "  okrapp is running at $url   (Ctrl-C stops everything)"
if [ -s "$VAR_DIR/demo-logins.txt" ]; then
  echo "  Demo data (from manage.py seed_demo):"
  sed 's/^/    /' "$VAR_DIR/demo-logins.txt"
fi
echo "================================================================"
echo

wait -n
status=$?
echo "==> a process exited (status $status)"
stop
exit "$status"
endef

# `make run` is the local default: DEBUG on unless the caller says otherwise (DEBUG=0 make run).
# Only this target sets it; `make test` leaves DEBUG as the environment has it.
run: export DEBUG ?= 1
run: export OKRAPP_RUN_SCRIPT = $(value RUN_SCRIPT)
run: venv pdf-deps
	@mkdir -p $(VAR_DIR)
	@echo "==> migrate"
	@$(MANAGE) migrate --noinput
	@if [ "$(DEBUG)" != "1" ]; then echo "==> collectstatic (DEBUG is off)"; $(MANAGE) collectstatic --noinput; fi
	@echo "==> seed_demo $(SEED_ARGS)"
	@set -o pipefail; $(MANAGE) seed_demo $(SEED_ARGS) | tee $(VAR_DIR)/demo-logins.txt
	@VENV="$(VENV)" VAR_DIR="$(VAR_DIR)" HOST="$(HOST)" PORT="$(PORT)" bash -c "$$OKRAPP_RUN_SCRIPT" okrapp-run

# --- system packages (Debian) ------------------------------------------------------------------
# APT_INSTALL installs the Debian packages named in $$missing (as root, or through sudo), or says
# which to install by hand when it cannot. A missing package never stops the target.
define APT_INSTALL
if [ -z "$$missing" ]; then exit 0; fi; \
  if [ "$$(id -u)" = 0 ]; then sudo=""; \
  elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
  else \
    echo "!! cannot install$$missing: not root and sudo is not available."; \
    echo "!! Install the Debian packages by hand: apt-get install$$missing"; \
    echo "!! (browser tests need chromium; PDF reports need Pango and fonts-noto-cjk)"; \
    exit 0; \
  fi; \
  echo "==> installing Debian packages:$$missing"; \
  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || { \
    echo "!! apt-get could not install$$missing; install them by hand."; \
    echo "!! (browser tests need chromium; PDF reports need Pango and fonts-noto-cjk)"; \
  }
endef

# What the app itself needs to print quarter reports as PDF (WeasyPrint): Pango/HarfBuzz, and
# fonts with Chinese glyphs (Noto CJK) and Latin ones (DejaVu). `make run` and `make test` both.
pdf-deps:
	@missing=""; \
	  command -v fc-list >/dev/null 2>&1 || missing="$$missing fontconfig"; \
	  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	  fc-list 2>/dev/null | grep -qi "DejaVu Sans" || missing="$$missing fonts-dejavu-core"; \
	  ldconfig -p 2>/dev/null | grep -q libpango-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b"; \
	  $(APT_INSTALL)

# --- test -------------------------------------------------------------------------------------
# What the suite needs besides pdf-deps: Chromium for the browser tests; poppler-utils (to read
# the PDFs back); gettext (xgettext: the catalogue test checks every string of the source is
# translated); npm. axe-core, the accessibility engine tests/browser/test_a11y.py injects, comes
# from the npm registry into var/npm (git-ignored), pinned, installed only when that version is
# missing; npm itself comes from Debian when absent. Without npm the accessibility test is skipped.
AXE_CORE_VERSION := 4.14.1

test-deps: pdf-deps
	@missing=""; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	  command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	  command -v xgettext >/dev/null 2>&1 || missing="$$missing gettext"; \
	  $(APT_INSTALL)
	@grep -qs '"version": "$(AXE_CORE_VERSION)"' $(VAR_DIR)/npm/node_modules/axe-core/package.json && exit 0; \
	  if ! command -v npm >/dev/null 2>&1; then \
	    echo "!! npm is not installed: tests/browser/test_a11y.py (axe-core) will be skipped"; \
	    exit 0; \
	  fi; \
	  echo "==> installing axe-core@$(AXE_CORE_VERSION) into $(VAR_DIR)/npm"; \
	  mkdir -p $(VAR_DIR)/npm && \
	  npm install --no-save --no-audit --no-fund --loglevel=error --prefix $(VAR_DIR)/npm \
	    axe-core@$(AXE_CORE_VERSION) >/dev/null || \
	    echo "!! npm could not install axe-core@$(AXE_CORE_VERSION): tests/browser/test_a11y.py will fail"

test: venv test-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# --- translations: extract new strings, rebuild the compiled catalogue (committed) ----------
messages: venv
	$(MANAGE) makemessages -l zh_Hant --ignore=.venv --ignore=staticfiles --ignore=var --ignore=tests --ignore=bench --no-obsolete
	$(MANAGE) compilemessages -l zh_Hant --ignore=.venv

# --- lint / format ----------------------------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var staticfiles $(VENV)
