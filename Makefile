# items-api. `make template` builds dist/; `make test` runs every check; `make deploy STAGE=...`.
# Make creates the virtual environment itself from pyproject.toml: nothing is installed by hand.

# The project's .venv runs the Lambda runtime's own Python (the Runtime default, python3.13), so
# every handler test runs on the interpreter Lambda runs: pyenv's 3.13 when present, else a
# python3.13 on PATH. The scanners' and taskcat's venvs keep TOOLS_PYTHON (checkov's pins).
RUNTIME_PYTHON := 3.13
PYTHON ?= $(or $(lastword $(sort $(wildcard $(shell pyenv root 2>/dev/null)/versions/$(RUNTIME_PYTHON).*/bin/python$(RUNTIME_PYTHON)))),$(shell command -v python$(RUNTIME_PYTHON) 2>/dev/null))
TOOLS_PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Named after the interpreter: a .venv made by another Python is made again.
VENV_STAMP := $(BIN)/.installed-py$(RUNTIME_PYTHON)
STAGE ?= dev
REGION ?= us-west-2
STACK_NAME ?= items-api-$(STAGE)
ARTIFACT_BUCKET ?=
PORT ?= 3000
LOCAL_DATA ?=
# make local only: NAME=VALUE parameter values over the stage file's, space-separated.
LOCAL_PARAMS ?=

# Everything the build reads: a change to any of these rebuilds dist/, nothing else does.
SOURCES := build.py pyproject.toml $(shell find templates functions params tools -type f \
	-not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null | LC_ALL=C sort)

.PHONY: help venv template docs local plan preflight outputs logs destroy lint scan test pytest fuzz diagram deploy taskcat-env taskcat-lint deploy-role clean bench browser

help:
	@echo "make template            build dist/ (template, CI/CD roles' template, zips, params, manifest)"
	@echo "make docs                docs/parameters.md, generated from the built template and params"
	@echo "make local               the API on http://127.0.0.1:3000, in-memory AWS [STAGE=dev PORT=3000 LOCAL_DATA=file]"
	@echo "                         [LOCAL_PARAMS='CorsAllowOrigin=http://127.0.0.1:8080 ...']"
	@echo "make test                lint + scan + taskcat lint + every test (no AWS account needed)"
	@echo "make pytest              every test only (pytest on every CPU, coverage of functions/)"
	@echo "make lint                cfn-lint (+ serverless rules) on both templates, ruff, the workflows' schema"
	@echo "make scan                checkov and cfripper on dist/template.json and dist/deploy-role.json (own venv)"
	@echo "make taskcat-lint        taskcat lint on .taskcat.yml's template (own venv)"
	@echo "make fuzz                the full fuzz run: 1,000 cases per operation, 500 model runs"
	@echo "make diagram             the stack as a picture: docs/stack.svg and .png (Graphviz)"
	@echo "make browser             what the browser test needs: Debian's chromium, playwright-core (.browser/)"
	@echo "make bench               benchmarks: build, artifacts, cold/warm paths, scale, deploy, local (docs/benchmarks.md)"
	@echo "make deploy STAGE=test   deploy a stage [REGION=us-west-2 STACK_NAME=items-api-<stage> ARTIFACT_BUCKET=...]"
	@echo "                         [ALLOW_REPLACE=1 ADOPT=1 FORCE=1 ROLE_ARN=<CloudFormation service role>]"
	@echo "make plan STAGE=test     what a deploy would change (change set, not executed); 1 if it would replace data"
	@echo "make preflight STAGE=test read-only account checks (CloudWatch role, concurrency, names); deploy and plan run it first"
	@echo "make outputs STAGE=test  the live stack's outputs"
	@echo "make logs STAGE=test FN=get_item   tail a function's log group"
	@echo "make destroy STAGE=dev   delete the stack, list what it retained [YES=1 PURGE=1 (never prod)]"
	@echo "make deploy-role GITHUB_REPO=owner/name   CI/CD's OIDC provider and roles, once per account"
	@echo "                         [REGION=us-west-2 OIDC_PROVIDER_ARN=<the account's, if it has one>]"

$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(RUNTIME_PYTHON)".split("."))))' 2>/dev/null \
	  || { echo "make: the project's .venv needs Python $(RUNTIME_PYTHON) (Lambda's runtime), not found." >&2; \
	       echo "  install it: pyenv install $(RUNTIME_PYTHON)   or   uv python install $(RUNTIME_PYTHON)" >&2; \
	       echo "  or name it: make PYTHON=/path/to/python$(RUNTIME_PYTHON) ..." >&2; exit 2; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV_STAMP)

# build.py leaves unchanged files untouched; the touch tells make this build is current.
dist/manifest.json: $(VENV_STAMP) $(SOURCES)
	$(BIN)/python build.py
	@touch $@

template: dist/manifest.json

# docs/parameters.md: the parameter table, generated from dist/ (tests/test_readme.py checks it).
docs: template
	$(BIN)/python -m tools.parameter_docs

# cfn-lint on both templates; the workflows against GitHub's workflow schema, which
# check-jsonschema ships (nothing downloaded).
lint: template
	$(BIN)/cfn-lint -c I -a cfn_lint_serverless.rules -t dist/template.json dist/deploy-role.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# checkov pins packaging<24, which clashes with the test tools: the scanners get their own venv.
SCAN := $(VENV)-checkov
$(SCAN)/.installed: pyproject.toml
	$(TOOLS_PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[scan]'
	touch $@

scan: template $(SCAN)/.installed
	$(BIN)/python -m tools.scan --bin $(SCAN)/bin

# The scanners and taskcat lint run beside pytest: on 2 cores pytest's workers leave CPU idle
# while they start, collect and finish. Each target's output is printed whole when it ends.
test: lint browser
	$(MAKE) --no-print-directory -j3 --output-sync=target scan taskcat-lint pytest

# Line coverage of functions/ is reported, and below 90% fails (pyproject.toml). pytest-xdist
# runs the tests on every CPU, a test module on one worker at a time (tests/workers.py).
pytest: template
	$(BIN)/pytest -n auto --dist loadfile --cov --cov-report=term

# make test runs the same fuzz and model tests with a quick profile.
FUZZ_EXAMPLES ?= 1000
MODEL_EXAMPLES ?= 500
fuzz: template
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MODEL_EXAMPLES=$(MODEL_EXAMPLES) $(BIN)/pytest -s -q \
		tests/tools/local/test_fuzz.py tests/tools/local/test_model_based.py

# Graphviz draws the picture: installed here when missing if apt-get can (root); otherwise
# tools/diagram.py writes only docs/stack.dot, which the tests compare with the template.
diagram: template
	@if ! command -v dot >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "make diagram: installing graphviz (apt-get)"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null || \
			echo "make diagram: installing graphviz failed: writing docs/stack.dot only" >&2; \
		else \
			echo "make diagram: Graphviz's dot is missing and cannot be installed here (needs" \
				"root and apt-get): install the graphviz package to render; writing docs/stack.dot" \
				"only" >&2; \
		fi; \
	fi
	$(BIN)/python -m tools.diagram

# The browser end-to-end test (tests/tools/local/test_browser.py): Debian's Chromium, installed here when
# missing if apt-get can (root), and playwright-core, exactly as .browser/package-lock.json pins
# it (npm ci; it downloads no browser of its own). Either missing fails here, with the reason:
# the test never skips.
CHROMIUM := /usr/bin/chromium
BROWSER_DIR := .browser
browser: $(BROWSER_DIR)/node_modules/.installed
	@if ! [ -x $(CHROMIUM) ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "make browser: installing chromium (apt-get)"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
			{ echo "make browser: installing Debian's chromium failed (apt-get above)" >&2; \
			  exit 1; }; \
		else \
			echo "make browser: $(CHROMIUM) is missing and cannot be installed here (needs root" \
				"and apt-get): install Debian's chromium package" >&2; \
			exit 1; \
		fi; \
	fi
	@$(CHROMIUM) --version 2>/dev/null || { echo "make browser: $(CHROMIUM) --version failed" >&2; \
		exit 1; }

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make browser: npm is missing: install Node.js" \
		"20 or newer with npm (Debian: nodejs, npm)" >&2; exit 1; }
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Benchmarks (tools/bench/): one table, the latest full run kept in docs/benchmarks.md. Not part of test.
bench: template
	$(BIN)/python -m tools.bench.run

# The whole API on loopback: moto in-process, the stack created from dist/, the built handlers.
local: template
	$(BIN)/python -m tools.local.serve --stage '$(STAGE)' --port '$(PORT)' \
		$(if $(LOCAL_DATA),--data '$(LOCAL_DATA)') \
		$(foreach p,$(LOCAL_PARAMS),--parameter '$(p)')

# Operator switches (1 = on): see README, Deploy, and docs/operations.md.
ALLOW_REPLACE ?=
ADOPT ?=
FORCE ?=
YES ?=
PURGE ?=
FN ?=
# The CloudFormation service role make deploy passes (CI's: make deploy-role); none by default.
ROLE_ARN ?=
OPS = $(BIN)/python -m tools.deploy --stage '$(STAGE)' --region '$(REGION)' --stack-name '$(STACK_NAME)' \
	$(if $(ARTIFACT_BUCKET),--artifact-bucket '$(ARTIFACT_BUCKET)') $(if $(ROLE_ARN),--role-arn '$(ROLE_ARN)') \
	$(if $(filter 1,$(ALLOW_REPLACE)),--allow-replace) $(if $(filter 1,$(ADOPT)),--adopt) \
	$(if $(filter 1,$(FORCE)),--force)

deploy: template
	$(OPS) deploy

plan: template
	$(OPS) plan

preflight: template
	$(OPS) preflight

outputs: venv
	$(OPS) outputs

logs: venv
	$(OPS) logs --fn '$(FN)'

destroy: venv
	$(OPS) destroy $(if $(filter 1,$(YES)),--yes) $(if $(filter 1,$(PURGE)),--purge)

# taskcat pins jsonschema<4 and urllib3<2 (moto 5 needs newer), so it lives in its own venv.
$(VENV)-taskcat/.installed: pyproject.toml
	$(TOOLS_PYTHON) -m venv $(VENV)-taskcat
	$(VENV)-taskcat/bin/python -m pip install --quiet --disable-pip-version-check -e '.[taskcat]'
	touch $@

taskcat-env: $(VENV)-taskcat/.installed

# The real `taskcat lint` (cfn-lint through taskcat, offline) on .taskcat.yml's template, after
# checking .taskcat.yml is what params/ gives. `taskcat test run` needs an account
# (docs/operations.md).
taskcat-lint: template $(VENV)-taskcat/.installed
	$(BIN)/python -m tools.deploy.taskcat --check
	$(VENV)-taskcat/bin/taskcat lint --input-file .taskcat.yml

# CI/CD's roles (dist/deploy-role.json, templates/deploy_roles.py), once per account, by someone
# allowed to create IAM roles: GITHUB_REPO=owner/name, REGION the workflows' AWS_REGION, and
# OIDC_PROVIDER_ARN when the account has GitHub's OIDC provider already (one per account).
GITHUB_REPO ?=
OIDC_PROVIDER_ARN ?=
ROLES_STACK_NAME ?= items-api-ci-roles
deploy-role: template
	@[ -n '$(GITHUB_REPO)' ] || { echo "make deploy-role: GITHUB_REPO=<owner>/<name> is missing:" \
		"the GitHub repository whose workflows may assume the roles" >&2; exit 2; }
	$(BIN)/aws cloudformation deploy --region '$(REGION)' --stack-name '$(ROLES_STACK_NAME)' \
		--template-file dist/deploy-role.json --capabilities CAPABILITY_NAMED_IAM \
		--no-fail-on-empty-changeset --tags Project=items-api ManagedBy=CloudFormation \
		--parameter-overrides 'GitHubRepository=$(GITHUB_REPO)' \
		'GitHubOidcProviderArn=$(OIDC_PROVIDER_ARN)'
	$(BIN)/aws cloudformation describe-stacks --region '$(REGION)' --stack-name '$(ROLES_STACK_NAME)' \
		--query 'Stacks[0].Outputs' --output table

clean:
	rm -rf dist .cache
