# Two commands on a fresh machine: `make run` (serve with demo data) and `make test` (whole suite).
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# pytest-xdist workers for `make test`: one per core by default.
TEST_WORKERS ?= auto
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export TRANSFORMERS_VERBOSITY := error

.PHONY: install run test test-only lint bench

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	# The CPU build of torch first, or pip pulls a multi-GB CUDA build for sentence-transformers.
	$(BIN)/pip install --disable-pip-version-check "torch==2.13.0"
	$(BIN)/pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# Links in e-mails (and the demo's login hint) point at this server.
run: export TANDEM_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	TANDEM_DEVELOPMENT=1 $(BIN)/flask --app wsgi init-db
	@echo ""
	@TANDEM_DEVELOPMENT=1 $(BIN)/flask --app wsgi seed-demo
	@echo ""
	@# One job worker beside the web server (mail, digests); both stop on Ctrl-C, on a SIGTERM to make (which
	@# passes it to this shell: `wait`, unlike a command in the foreground, lets the trap run at once) and
	@# when gunicorn exits.
	TANDEM_DEVELOPMENT=1 $(BIN)/flask --app wsgi worker & worker=$$!; \
	TANDEM_DEVELOPMENT=1 $(BIN)/gunicorn -c gunicorn.conf.py --workers 2 --threads 4 --bind $(HOST):$(PORT) --access-logfile - wsgi:app & web=$$!; \
	trap 'kill -TERM $$web $$worker 2>/dev/null' INT TERM; \
	wait $$web; kill -TERM $$worker 2>/dev/null; wait $$worker; wait $$web

test: install test-only

test-only:
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n $(TEST_WORKERS)

bench: install
	$(BIN)/python bench/run_all.py
