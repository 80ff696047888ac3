# cytotile: build, run, test. Every target installs what it needs into the project folder
# (.venv, viewer/node_modules, .cache); only `apt` touches the system (Debian packages).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS := server,import,annotation,dev
VENV_STAMP := $(VENV)/.cytotile-installed
PIP_VERSION := 26.3

OSD_SRC := viewer/node_modules/openseadragon/build/openseadragon
OSD_DEST := src/cytotile/api/static/vendor/openseadragon
OSD_STAMP := $(OSD_DEST)/openseadragon.min.js
MIRADOR_SRC := viewer/node_modules/mirador
MIRADOR_DEST := src/cytotile/api/static/vendor/mirador

DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Existing folders only: a fresh clone has no empty folders.
LINT_PATHS := $(wildcard src tests functions bench scripts infra)
MYPY_PATHS := $(wildcard src) $(if $(wildcard functions/*/*.py),functions)

SAM_VENV := .cache/sam-venv
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
# cfn-lint comes pinned into the dev venv with moto[server].
CFN_LINT := $(VENV)/bin/cfn-lint
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}

.PHONY: help venv viewer-assets apt data run test check fmt bench bench-peers fuzz clean distclean lock \
        lambda-requirements sam lint-template sam-build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------
venv: $(VENV_STAMP) ## dev venv: .venv with the project (editable) and all extras, locked

# The editable install also compiles the C extension cytotile.importer._jpegdct in place (the
# .so beside its source, where the Lambda's copy of src/cytotile finds it): again when it changes.
$(VENV_STAMP): pyproject.toml constraints.txt src/cytotile/importer/_jpegdct.c
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check pip==$(PIP_VERSION)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $@

lock: ## rewrite constraints.txt (and the Lambda requirements) from the dev venv
	@test -x $(PY) || { echo "no $(VENV): run 'make venv' first" >&2; exit 1; }
	{ echo "# Lock of the dev venv (pip freeze, minus the project itself); used as -c by every install."; \
	  echo "# Regenerate with 'make lock' after changing a pin in pyproject.toml."; \
	  $(PY) -m pip freeze --exclude-editable | grep -viE '^(cytotile([ =]|$$)|-e )'; } > constraints.txt
	@touch $(VENV_STAMP)
	$(MAKE) --no-print-directory lambda-requirements

lambda-requirements: venv ## regenerate functions/*/requirements.txt and layers/vips/requirements.txt
	$(PY) scripts/lambda_requirements.py

# ---------------------------------------------------------------------------------------------
viewer-assets: $(OSD_STAMP) ## vendor OpenSeadragon and Mirador (npm, locked) into the API's static folder

$(OSD_STAMP): viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(OSD_DEST)
	mkdir -p $(OSD_DEST)
	cp -R $(OSD_SRC)/images $(OSD_DEST)/images
	cp $(OSD_SRC)/openseadragon.js $(OSD_SRC)/openseadragon.min.js $(OSD_DEST)/
	cp viewer/node_modules/openseadragon/LICENSE.txt $(OSD_DEST)/LICENSE.txt
	rm -rf $(MIRADOR_DEST)
	mkdir -p $(MIRADOR_DEST)
	cp $(MIRADOR_SRC)/dist/mirador.min.js $(MIRADOR_SRC)/LICENSE $(MIRADOR_DEST)/
	@touch $@

apt: ## Debian packages for browser tests (chromium, chromium-driver); no-op when present
	bash scripts/apt-deps.sh

data: venv ## demo images into ./data
	$(PY) -m cytotile.demo $(DATA)

run: venv viewer-assets data ## serve the viewer and API on http://127.0.0.1:8000
	$(VENV)/bin/cytotile serve --root $(DATA) --host $(HOST) --port $(PORT)

# pytest exits 5 when it ran no test: make treats that (like any non-zero) as a failure.
test: venv viewer-assets apt ## the test suite (pytest on 2 workers)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

check: venv ## ruff (lint + format), mypy, cfn-lint: runs all, fails if any failed
	@rc=0; \
	echo "+ ruff check $(LINT_PATHS)"; $(VENV)/bin/ruff check $(LINT_PATHS) || rc=1; \
	echo "+ ruff format --check $(LINT_PATHS)"; $(VENV)/bin/ruff format --check $(LINT_PATHS) || rc=1; \
	echo "+ mypy $(MYPY_PATHS)"; $(VENV)/bin/mypy $(MYPY_PATHS) || rc=1; \
	echo "+ lambda requirements up to date"; $(PY) scripts/lambda_requirements.py --check || rc=1; \
	echo "+ cfn-lint template.yaml"; $(MAKE) --no-print-directory cfn-lint || rc=1; \
	exit $$rc

fmt: venv ## fix lint issues that ruff can fix, then format
	$(VENV)/bin/ruff check --fix $(LINT_PATHS) || true
	$(VENV)/bin/ruff format $(LINT_PATHS)

# About 15 minutes: schemathesis on /openapi.json and the Hypothesis fuzzers of the API, with
# many more examples than the default suite (never a 5xx; see docs/openapi.md). 600 ran in
# 10m40s on 2 shared cores; the timeout leaves room for a loaded machine.
FUZZ_EXAMPLES ?= 850
fuzz: venv ## long fuzzing of the API (~15 min): schemathesis + Hypothesis, never a 5xx
	CYTOTILE_SCHEMATHESIS_EXAMPLES=$(FUZZ_EXAMPLES) CYTOTILE_FUZZ_EXAMPLES=$$(( $(FUZZ_EXAMPLES) * 6 )) \
	  timeout 2400 $(PY) -m pytest -n 0 -p no:cacheprovider --timeout 2400 \
	  tests/api/test_schemathesis.py tests/api/test_fuzz.py tests/reliability/test_bad_requests.py

bench: venv viewer-assets ## benchmarks (python -m bench)
	$(PY) -m bench

bench-peers: venv ## the bench's optional peers: large_image (pylibtiff built against libtiff-dev)
	scripts/apt-deps.sh --bench
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[bench-peers]'

# ---------------------------------------------------------------------------------------------
# AWS SAM: aws-sam-cli lives in its own venv (it conflicts with the project's and LocalStack's pins).
sam: $(SAM) ## aws-sam-cli in .cache/sam-venv

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	@touch $@

.PHONY: cfn-lint
cfn-lint: venv
	$(CFN_LINT) template.yaml

lint-template: cfn-lint $(SAM) ## cfn-lint and sam validate --lint on template.yaml (offline)
	$(SAM_ENV) $(SAM) validate --lint --template-file template.yaml

# sam builds every function and the layer with its Makefile (BuildMethod: makefile, see
# scripts/lambda.mk), using the dev venv's pip. Not --cached: sam would not see src/ change.
sam-build: $(SAM) venv viewer-assets ## sam build into .aws-sam/build (Lambda code + VipsLayer)
	$(SAM_ENV) LAMBDA_PIP="$(CURDIR)/$(PY) -m pip" $(SAM) build --template-file template.yaml \
	  --build-dir .aws-sam/build --parallel

# ---------------------------------------------------------------------------------------------
clean: ## remove build outputs and caches (keeps .venv and .cache)
	rm -rf build .aws-sam viewer/node_modules $(OSD_DEST) $(MIRADOR_DEST) src/*.egg-info \
	  .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean ## clean, and remove .venv and .cache (sam venv)
	rm -rf $(VENV) .cache

# ---------------------------------------------------------------------------------------------
# The local cloud, no Docker: LocalStack on the host in its own venv (infra/localstack/launch.sh),
# Lambdas run as host Python subprocesses by the project's runtime executor plugin
# (infra/localstack_executor), the stack deployed there with sam and checked end to end.
LOCALSTACK := infra/localstack/launch.sh
LOCALSTACK_ENDPOINT := http://127.0.0.1:4566
CLOUD_STACK := cytotile-local
CLOUD_ENV := SAM_CLI_TELEMETRY=0 AWS_ENDPOINT_URL=$(LOCALSTACK_ENDPOINT) AWS_ACCESS_KEY_ID=test \
  AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

.PHONY: cloud-up cloud-down cloud-ready cloud-deploy cloud-test

cloud-up: ## start LocalStack on the host (venv in .cache), wait until healthy; ok if running
	bash $(LOCALSTACK) up

cloud-down: ## stop LocalStack (by the PID in .cache/localstack.pid)
	bash $(LOCALSTACK) down

# Before the build: a LocalStack that is not running fails at once.
cloud-ready:
	@curl -sf --max-time 5 $(LOCALSTACK_ENDPOINT)/_localstack/health >/dev/null || \
	  { echo "LocalStack does not answer at $(LOCALSTACK_ENDPOINT): make cloud-up" >&2; exit 1; }

cloud-deploy: cloud-ready sam-build ## sam build, then sam deploy of the stack cytotile-local on LocalStack
	$(CLOUD_ENV) $(SAM) deploy --template-file .aws-sam/build/template.yaml \
	  --stack-name $(CLOUD_STACK) --resolve-s3 --region us-east-1 \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
	  --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar \
	  --parameter-overrides EnableCdn=false

cloud-test: cloud-deploy venv ## deploy on LocalStack, upload a slide, wait for DEPLOYED, compare API answers
	$(CLOUD_ENV) $(PY) infra/cloud_test.py --stack-name $(CLOUD_STACK)
