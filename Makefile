# Each target does its own set-up: a virtualenv at .venv/ with conveyor installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test suite static-checks coverage lint clean venv bench bench-real-files iac-check sam-build setup vendor-ui lock-images

# uv installs in seconds what pip takes minutes over; it is pinned and lives in a virtualenv
# of its own (the project's venv keeps pip, for anyone who wants it).
IAC := .venvs-iac
UV_VENV := $(IAC)/uv
UV := $(UV_VENV)/bin/uv

$(UV):
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet uv==0.13.9

# Bytecode compiled at install, as pip does: where PYTHONDONTWRITEBYTECODE is set (this
# machine sets it), every process (CLI calls, servers, training jobs) would otherwise compile
# polars, LightGBM and the rest from source again, 3.5 s each.
$(STAMP): pyproject.toml | $(UV)
	$(PYTHON) -m venv $(VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	$(BIN)/python -m compileall -q conveyor
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m conveyor.demo

# The virtualenvs are independent and mostly wait on downloads: make them side by side.
setup:
	@$(MAKE) --no-print-directory -j4 $(STAMP) $(IAC_STAMPS)
	@# The drift report's browser test drives Debian's Chromium (Playwright cannot download one).
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# The static checks (the template's linters, then mypy, strict as pyproject.toml configures
# it: about 50 s of one core) run beside the suite, whose two workers (one per core) leave a
# core idle for much of the time they wait on servers and subprocesses. Either failing fails
# the target; their lines come first, among the suite's first dots.
test: setup
	$(BIN)/ruff check conveyor tests bench
	@$(MAKE) --no-print-directory -j2 suite static-checks

suite:
	$(BIN)/python -m pytest -q -n 2

static-checks: iac-check
	$(BIN)/mypy conveyor

# The suite with line coverage and its 80% floor: about a fifth slower, so not in make test.
coverage: setup
	$(BIN)/python -m pytest -q -n 2 --cov=conveyor --cov-report=term:skip-covered --cov-fail-under=80

$(BENCH_STAMP): $(STAMP)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# wrk is installed by bench/serve.py if missing; MLflow, BentoML, AutoGluon and FLAML into
# bench/.venvs/.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run
	@# conveyor balanced against AutoGluon and FLAML (issue 23): hours from nothing, so each data
	@# set's results are cached in bench/results/automl/ and only the missing ones run.
	$(BIN)/python -m bench.automl
	$(BIN)/python bench/parity.py
	@# The heavier end-to-end cases make test leaves out (concurrency, kill -9, 10,000 columns).
	$(BIN)/python -m pytest -q -m slow

# The real-file corpus alone (issue 19): its table into BENCHMARKS.md, the rest left as it is.
bench-real-files: $(BENCH_STAMP)
	$(BIN)/python -m bench.real_files

lint: $(STAMP)
	$(BIN)/ruff check conveyor tests bench
	$(BIN)/ruff format --check conveyor tests

clean:
	rm -rf $(VENV) .conveyor .pytest_cache .coverage

# The SAM template's offline checks. Each tool has a virtualenv of its own under .venvs-iac/
# (aws-sam-cli and checkov pin boto3 versions of their own), made once from the pinned
# aws/iac-requirements/<tool>.txt and remade when that file changes. None needs credentials or
# the network: sam validate gets a region, checkov --skip-download.
IAC_TOOLS := cfn-lint sam checkov workflow-lint
IAC_ENV := SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
IAC_STAMPS := $(foreach tool,$(IAC_TOOLS),$(IAC)/$(tool)/.installed)

$(IAC)/%/.installed: aws/iac-requirements/%.txt | $(UV)
	rm -rf $(IAC)/$*
	$(UV) venv --quiet --python $(PYTHON) $(IAC)/$*
	$(UV) pip install --quiet --python $(IAC)/$*/bin/python --requirement $<
	touch $@

iac-check: $(IAC_STAMPS)
	$(IAC)/cfn-lint/bin/cfn-lint template.yaml deploy/github-oidc.yaml
	$(IAC_ENV) $(IAC)/sam/bin/sam validate --lint --region us-east-1 --template-file template.yaml
	$(IAC)/checkov/bin/checkov -f template.yaml -f deploy/github-oidc.yaml --framework cloudformation --skip-download --quiet --compact
	@# The release workflow (.github/workflows/release.yml) and the scripts its steps run.
	$(IAC)/workflow-lint/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(IAC)/workflow-lint/bin/shellcheck scripts/*.sh

# The Lambda functions and their dependencies layer, into .aws-sam/build (aws/Makefile has the
# rules; pip fetches the Lambda platform's wheels, so this one needs the package index).
sam-build: $(IAC)/sam/.installed
	$(IAC_ENV) $(IAC)/sam/bin/sam build --template-file template.yaml
	@du -sh .aws-sam/build/*/

# The images' lock files (containers/*/requirements.lock), which CodeBuild builds the training
# and inference images from: every package pinned with its hashes, for SageMaker's platform
# (x86_64 Linux, Python 3.11), at the versions this project's virtualenv runs its tests with.
IMAGE_LOCK := $(UV) pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock-images'

lock-images: $(STAMP)
	$(UV) pip freeze --python $(BIN)/python --exclude-editable > $(VENV)/tested-versions.txt
	$(IMAGE_LOCK) --constraint $(VENV)/tested-versions.txt \
		--output-file containers/inference/requirements.lock pyproject.toml
	cd containers/training && ../../$(IMAGE_LOCK) --constraint ../../$(VENV)/tested-versions.txt \
		--output-file requirements.lock requirements.in

# The dashboard's chart library, vendored into the package (the UI loads nothing from outside
# the app): `npm pack` fetches the pinned release; its minified script, stylesheet and license
# are committed under conveyor/ui/static/vendor/.
UPLOT_VERSION := 1.6.32
UI_VENDOR := conveyor/ui/static/vendor

vendor-ui:
	rm -rf $(UI_VENDOR)/.pack && mkdir -p $(UI_VENDOR)/.pack
	cd $(UI_VENDOR)/.pack && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar -xzf uplot-$(UPLOT_VERSION).tgz
	cp $(UI_VENDOR)/.pack/package/dist/uPlot.iife.min.js $(UI_VENDOR)/uPlot.iife.min.js
	cp $(UI_VENDOR)/.pack/package/dist/uPlot.min.css $(UI_VENDOR)/uPlot.min.css
	cp $(UI_VENDOR)/.pack/package/LICENSE $(UI_VENDOR)/uPlot.LICENSE
	echo "uPlot $(UPLOT_VERSION)" > $(UI_VENDOR)/VERSION
	rm -rf $(UI_VENDOR)/.pack
