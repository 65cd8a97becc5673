# 企政通 — `make run` serves the portal on a fresh clone, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INI ?= development.ini
PO := $(wildcard portal/locale/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)
# msgids: _() and N_() everywhere, plus the message argument of user-facing errors
BABEL_KEYWORDS := -k N_ -k InputError:2 -k AccountError:2 -k ContentError:2

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

install: $(STAMP) $(MO) ## create .venv and install the project (only when pyproject.toml changed)

db: install ## migrate the database and load the sample data once
	$(BIN)/qzt --ini $(INI) migrate
	$(BIN)/qzt --ini $(INI) seed

run: db ## serve the portal on http://127.0.0.1:6543 and the realtime server on :6544
	@echo; echo "  企政通 is at http://127.0.0.1:6543/  (realtime: ws://127.0.0.1:6544/ws)"; echo
	@$(BIN)/qzt --ini $(INI) demo-accounts; echo
	@# Both in the foreground: Ctrl-C (or either one exiting) stops both.
	@trap 'kill $$rt $$web 2>/dev/null; wait' INT TERM EXIT; \
	$(BIN)/qzt-realtime --ini $(INI) & rt=$$!; \
	$(BIN)/pserve $(INI) & web=$$!; \
	wait -n $$rt $$web

realtime: install ## run only the realtime server (chat, presence, meeting signalling)
	$(BIN)/qzt-realtime --ini $(INI)

test: install ## run the whole test suite (PostgreSQL/Redis/Chromium tests skip if absent)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff (format + check) and mypy
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: install ## extract messages and update the catalogs
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) -o portal/locale/qzt.pot --project=qizhengtong --no-location .
	for lang in zh_CN en; do $(BIN)/pybabel update -D qzt -i portal/locale/qzt.pot -d portal/locale -l $$lang; done

bench: install ## run the benchmarks (see bench/README.md)
	$(BIN)/python bench/portal.py

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var/qzt.sqlite* var/files var/index

.PHONY: help install db run realtime test lint format messages bench clean
