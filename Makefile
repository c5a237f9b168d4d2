# One-command set-up on a fresh machine: every target installs what it needs (a no-op when installed).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true
EXAMPLE ?= configs/churn-xgb.yaml
# pytest workers for `make test` (pytest-xdist; `auto` = one per core, `0` = in-process, e.g. for a debugger).
TEST_JOBS ?= auto

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@echo "==> installing Python dependencies into $(VENV)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# checkov pins boto3/botocore far below the project's: it gets a virtual environment of its own.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
CHECKOV_VERSION := 3.3.30
$(SCAN_STAMP):
	@echo "==> installing checkov $(CHECKOV_VERSION) into $(SCAN_VENV) (its own venv: it pins an old boto3)"
	@test -x $(SCAN_VENV)/bin/python || python3 -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/python -m pip install -q --upgrade pip
	@$(SCAN_VENV)/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)'
	@touch $@

$(NPM_STAMP): package.json
	@echo "==> installing the pinned CDK CLI (npm)"
	@npm install --no-audit --no-fund --silent
	@touch $@

# The wheel test (tests/infra/test_wheel.py) installs the built wheel into a fresh venv without network: the
# wheels of the package's dependencies (the [cdk] extra), of the example app's cdk-nag and of the build
# requirements, at the versions .venv has (pip reuses what the dev install fetched).
WHEELHOUSE := build/wheelhouse
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.downloaded
$(WHEELHOUSE_STAMP): $(STAMP) examples/existing-app/requirements.txt
	@echo "==> collecting the wheels the wheel test installs into $(WHEELHOUSE)"
	@mkdir -p $(WHEELHOUSE)
	@$(PY) -m pip freeze --exclude-editable > $(WHEELHOUSE)/constraints.txt
	@$(PY) -m pip download -q --only-binary=:all: -d $(WHEELHOUSE) -c $(WHEELHOUSE)/constraints.txt \
	  pydantic pyyaml boto3 aws-cdk-lib constructs cdk-nag "setuptools>=69" wheel
	@touch $@

install: $(STAMP) $(NPM_STAMP) $(WHEELHOUSE_STAMP)  ## create .venv and install everything

synth: install  ## synthesize the CDK app into cdk.out/ (validates configs/, runs cdk-nag)
	@mkdir -p build && npx cdk synth --quiet --no-notices > /dev/null 2> build/synth.log \
	  || { cat build/synth.log; exit 1; }
	@echo "==> synthesized: $$(ls cdk.out/*.template.json)"

lint: install  ## ruff + mypy on src/, stacks/, lambda/, examples/
	@$(VENV)/bin/ruff check src stacks lambda tests bench scripts examples app.py
	@$(VENV)/bin/mypy src/amt_conductor stacks lambda/handlers app.py
	@$(VENV)/bin/mypy examples/existing-app/app.py

# The HTML report is tested in a real browser: Debian's chromium (Playwright drives it; no browser download).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "==> installing chromium (apt) for the HTML report's browser test"
	@$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	@$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(CHROMIUM)  ## install chromium for the browser test (apt; sudo when not root)

test: install browser $(SCAN_STAMP)  ## every check: lint, unit, infra (cdk-nag, cfn-lint, checkov), end-to-end, the HTML report in chromium
	@$(MAKE) --no-print-directory lint
	@AMT_CHECKOV=$(SCAN_VENV)/bin/checkov $(VENV)/bin/pytest -q -n $(TEST_JOBS) --dist loadfile

screenshot: install browser  ## refresh docs/report-html.png (the README's picture of an HTML report)
	@AMT_UPDATE_SCREENSHOT=1 $(VENV)/bin/pytest -q -p no:randomly tests/unit/test_report_html.py

demo: install  ## validate, render and plan the examples, synthesize, then run one study end to end in the simulator
	@echo "==> validating configs/"
	@$(VENV)/bin/amt validate configs
	@echo "==> rendering $(EXAMPLE), round 1 (the CreateHyperParameterTuningJob request; first lines)"
	@$(VENV)/bin/amt render $(EXAMPLE) --round 1 2>/dev/null | head -25
	@echo "==> plan"
	@$(VENV)/bin/amt plan $(EXAMPLE)
	@echo "==> synthesizing the CDK app (cdk-nag AwsSolutions checks run in synth)"
	@mkdir -p build && npx cdk synth --quiet --no-notices > /dev/null 2> build/synth.log \
	  || { cat build/synth.log; exit 1; }
	@echo "    $$(ls cdk.out/*.template.json)"
	@echo "==> simulating $(EXAMPLE) end to end (local test harness: moto, real handlers, simulated SageMaker)"
	@$(VENV)/bin/amt simulate $(EXAMPLE) --out .amt-sim

bench: install  ## benchmarks: writes bench/results.json and docs/benchmarks.md; SECTIONS=orchestration,synth for some
	@$(PY) -m bench.run $(if $(SECTIONS),--only $(SECTIONS))

# mutmut lives in its own extra: `make test` never installs or runs it.
MUTATE_STAMP := $(VENV)/.mutate-installed
$(MUTATE_STAMP): $(STAMP)
	@echo "==> installing mutmut (the [mutate] extra) into $(VENV)"
	@$(PY) -m pip install -q -e '.[dev,mutate]'
	@touch $@

mutate: $(MUTATE_STAMP)  ## mutation testing, slow (docs/testing.md): MODULE=render for one part, MUTATE_JOBS=1 children
	@$(PY) scripts/mutate.py $(MODULE)

catalog: $(STAMP)  ## regenerate src/amt_conductor/spec/data/image_catalog.json from the installed sagemaker SDK
	@$(PY) scripts/build_image_catalog.py

deploy: install  ## deploy to the AWS account in your environment
	@npx cdk deploy --all

clean:  ## remove build outputs (keeps .venv and node_modules)
	rm -rf cdk.out build .amt-sim

.PHONY: help install browser synth lint test screenshot demo bench mutate catalog deploy clean
