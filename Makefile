# Two commands on a fresh machine:
#   make run    create the environment (.venv) and run the workflow on config/config.yaml
#   make test   create the environment and run the test suite
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CORES ?= 2
# the dataset mirror next to the repository is used when present (SPARSEACE_MIRROR overrides)
ifneq ($(wildcard ../shared/data),)
export SPARSEACE_MIRROR ?= $(abspath ../shared/data)
endif

.PHONY: run test report clean-results

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -e '.[test,cluster]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --profile workflow/profiles/default

test: $(STAMP)
	$(VENV)/bin/pytest -n $(CORES) tests

report: $(STAMP)
	$(VENV)/bin/snakemake --report results/report.html

clean-results:
	rm -rf results logs
