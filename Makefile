# mass-ingest: `make demo` sets everything up and runs the demo; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test benchmark benchmark-insert clean

setup: $(STAMP)

# Exact versions come from constraints.txt, so every machine gets the same stack.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mass-ingest demo

test: $(STAMP)
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/discovery.py

benchmark-insert: $(STAMP)
	$(BIN)/python benchmarks/insert.py

clean:
	rm -rf $(VENV) *.egg-info
