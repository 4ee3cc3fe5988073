# items-api. `make template` builds dist/; `make test` runs every check; `make deploy STAGE=...`.
# Make creates the virtual environment itself from pyproject.toml: nothing is installed by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev
REGION ?= us-west-2
STACK_NAME ?= items-api-$(STAGE)
ARTIFACT_BUCKET ?=

# Everything the build reads: a change to any of these rebuilds dist/, nothing else does.
SOURCES := build.py pyproject.toml $(shell find templates functions params -type f \
	-not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null | LC_ALL=C sort)

.PHONY: help venv template lint scan test fuzz deploy taskcat-env clean

help:
	@echo "make template            build dist/ (template, zips, params, manifest)"
	@echo "make test                lint + every test (no AWS account needed)"
	@echo "make lint                cfn-lint (+ serverless rules) and ruff"
	@echo "make scan                checkov and cfripper on dist/template.json (own venv)"
	@echo "make fuzz                the full fuzz run: 1,000 cases per operation, 500 model runs"
	@echo "make deploy STAGE=test   deploy a stage [REGION=us-west-2 STACK_NAME=items-api-<stage> ARTIFACT_BUCKET=...]"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

# build.py leaves unchanged files untouched; the touch tells make this build is current.
dist/manifest.json: $(BIN)/.installed $(SOURCES)
	$(BIN)/python build.py
	@touch $@

template: dist/manifest.json

lint: template
	$(BIN)/cfn-lint -c I -a cfn_lint_serverless.rules -t dist/template.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# checkov pins packaging<24, which clashes with the test tools: the scanners get their own venv.
SCAN := $(VENV)-checkov
$(SCAN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[scan]'
	touch $@

scan: template $(SCAN)/.installed
	$(BIN)/python security/scan.py --bin $(SCAN)/bin

# Line coverage of functions/ is reported, and below 90% fails (pyproject.toml).
test: lint scan
	$(BIN)/pytest --cov --cov-report=term

# make test runs the same fuzz and model tests with a quick profile.
FUZZ_EXAMPLES ?= 1000
MODEL_EXAMPLES ?= 500
fuzz: template
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MODEL_EXAMPLES=$(MODEL_EXAMPLES) $(BIN)/pytest -s -q \
		tests/test_fuzz.py tests/test_model_based.py

deploy: template
	$(BIN)/python deploy.py --stage '$(STAGE)' --region '$(REGION)' --stack-name '$(STACK_NAME)' \
		$(if $(ARTIFACT_BUCKET),--artifact-bucket '$(ARTIFACT_BUCKET)')

# taskcat pins jsonschema<4 and urllib3<2 (moto 5 needs newer), so it lives in its own venv.
$(VENV)-taskcat/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)-taskcat
	$(VENV)-taskcat/bin/python -m pip install --quiet --disable-pip-version-check -e '.[taskcat]'
	touch $@

taskcat-env: $(VENV)-taskcat/.installed

clean:
	rm -rf dist .cache
