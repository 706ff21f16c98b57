# Entry points for developers and CI. `make test` is what .ci/run calls.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
BUILD   := build
ZIP     := dist/task_scheduler.zip
TF_DIRS := . examples/basic examples/complete examples/local
# Virtualenvs apart from .venv: checkov's dependency tree conflicts with the dev one, and the
# runtime matrix runs tests/unit under each Lambda runtime's own Python.
VENVS    := $(BUILD)/venvs
CHECKOV  := $(VENVS)/checkov
# AWS CLI v1, pinned, for the test that runs `make run`'s banner commands: it pins botocore exactly.
AWSCLI   := $(VENVS)/awscli
RUNTIMES := python3.12 python3.13

# Terraform reads the generated CLI config: it prefers a local provider mirror when
# the machine has one and otherwise downloads providers as usual.
export TF_CLI_CONFIG_FILE := $(CURDIR)/$(BUILD)/terraform.rc
export TF_IN_AUTOMATION := 1

.PHONY: help install build lint checkov test-runtimes docs test checks suite unit plan deployer emulator client e2e run stop bench load clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements/dev.txt lambda_src/pyproject.toml emulator/pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e lambda_src -e emulator -e client
	touch $@

$(TF_CLI_CONFIG_FILE): scripts/terraform_cli_config.py
	@mkdir -p $(BUILD)
	$(PYTHON) scripts/terraform_cli_config.py > $@

# Each Lambda runtime's Python with what a deployed function imports (for the emulator).
$(BUILD)/lambda-runtimes/.installed: $(BIN)/.installed requirements/lambda-runtime.txt
	$(BIN)/python -c 'from task_scheduler_emulator import runtimes; runtimes.ensure_supported()'
	touch $@

$(CHECKOV)/.installed: requirements/checkov.txt
	rm -rf $(CHECKOV)
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

$(AWSCLI)/.installed: requirements/awscli.txt
	rm -rf $(AWSCLI)
	$(PYTHON) -m venv $(AWSCLI)
	$(AWSCLI)/bin/pip install --quiet --disable-pip-version-check -r requirements/awscli.txt
	touch $@

# One virtualenv per Lambda runtime, on the interpreter the emulator runs that runtime with
# (task_scheduler_emulator.runtimes.interpreter), holding what a deployed function imports
# (requirements/lambda-runtime.txt) and the test tools (requirements/runtime-tests.txt).
$(VENVS)/python3.%/.installed: $(BIN)/.installed requirements/lambda-runtime.txt requirements/runtime-tests.txt
	rm -rf $(VENVS)/python3.$*
	python=$$($(BIN)/python -c 'import sys; from task_scheduler_emulator.runtimes import interpreter; print(interpreter(sys.argv[1]))' python3.$*) && \
	  "$$python" -m venv $(VENVS)/python3.$*
	$(VENVS)/python3.$*/bin/pip install --quiet --disable-pip-version-check \
	  -r requirements/lambda-runtime.txt -r requirements/runtime-tests.txt
	touch $@

install: $(BIN)/.installed $(TF_CLI_CONFIG_FILE) $(BUILD)/lambda-runtimes/.installed $(AWSCLI)/.installed ## Create .venv with the pinned toolchain, the Lambda runtimes and the pinned AWS CLI v1 (build/venvs/awscli)

build: install ## Rebuild the Lambda package (reproducible zip)
	$(BIN)/python scripts/build_lambda.py $(ZIP)

lint: install ## ruff, mypy, terraform fmt and validate
	$(BIN)/ruff check lambda_src emulator client tests scripts benchmarks
	$(BIN)/ruff format --check lambda_src emulator client tests scripts benchmarks
	$(BIN)/mypy
	terraform fmt -check -recursive
	@for d in $(TF_DIRS); do \
	  terraform -chdir=$$d init -backend=false -input=false >/dev/null && \
	  terraform -chdir=$$d validate -no-color >/dev/null && echo "terraform validate: $$d ok" || exit 1; \
	done

checkov: $(BIN)/.installed $(CHECKOV)/.installed ## checkov over the module and each example: no failed check, every skip reasoned
	$(BIN)/python scripts/run_checkov.py $(CHECKOV)/bin/checkov

test-runtimes: $(RUNTIMES:%=$(VENVS)/%/.installed) ## tests/unit under python3.12 and python3.13 with the Powertools layer's libraries
	@for runtime in $(RUNTIMES); do \
	  echo "tests/unit under $$runtime ($$($(VENVS)/$$runtime/bin/python -V))"; \
	  PYTHONPATH=lambda_src $(VENVS)/$$runtime/bin/python -m pytest -q -p no:cacheprovider tests/unit || exit 1; \
	done

docs: $(BIN)/.installed ## Regenerate the README's Inputs and Outputs tables and docs/openapi.json
	$(BIN)/python scripts/readme_tables.py
	$(BIN)/python scripts/export_openapi.py

# The static checks run one after another beside the pytest suite, whose local-stack worker
# mostly waits for timestamps: the two cores stay busy. Each one's output is kept together.
test: install ## Everything CI runs: lint, checkov, unit tests per runtime, the whole pytest suite
	$(MAKE) --no-print-directory -j2 --output-sync=target checks suite

checks: install
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory checkov
	$(MAKE) --no-print-directory test-runtimes

suite: install
	$(BIN)/pytest -n 2 --dist loadscope --no-loadscope-reorder

# One folder of tests each, for a quicker loop while developing.
unit: install ## tests/unit: handlers and logic against moto (under a minute)
	$(BIN)/pytest -n 2 -q tests/unit

plan: install ## tests/terraform: plans of the module and examples, IAM, validations, mocked apply
	$(BIN)/pytest -n 2 -q tests/terraform

deployer: install ## tests/deployer: the deployer policy against a recorded apply, upgrade and destroy
	$(BIN)/pytest -q tests/deployer

emulator: install ## tests/emulator: each emulator patch against what AWS documents
	$(BIN)/pytest -n 2 -q tests/emulator

client: install ## tests/client: the client library and command line
	$(BIN)/pytest -n 2 -q tests/client

e2e: install ## tests/local_stack: end to end through the module applied into the emulator
	$(BIN)/pytest -q tests/local_stack

run: build ## Deploy examples/local into the embedded emulator and serve the API
	$(BIN)/python -m task_scheduler_emulator.run

stop: ## Stop a `make run` started in another terminal
	-$(BIN)/python -m task_scheduler_emulator.run --stop

bench: install ## Print performance figures
	$(BIN)/python benchmarks/lateness_and_cost.py

load: install ## 500 tasks from 32 clients due within 5 s: accepted, refused, emitted, duplicates, lost
	$(BIN)/python benchmarks/loss_under_load.py

clean: ## Remove build and Terraform working files
	rm -rf $(BUILD) $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name .terraform -type d -prune -exec rm -rf {} + ; find . -name '.terraform.lock.hcl' -delete
