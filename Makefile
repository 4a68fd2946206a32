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

# MASS_INGEST_TEST_BACKENDS=postgresql,mysql also runs the `backends` tests on those servers (tests/conftest.py).
test: $(STAMP)
	$(BIN)/python -m pytest
	@for backend in $$(echo "$${MASS_INGEST_TEST_BACKENDS:-}" | tr ',' ' '); do \
	  echo "== backends tests on $$backend"; \
	  MASS_INGEST_TEST_BACKEND=$$backend $(BIN)/python -m pytest -m backends -q || exit 1; \
	done

benchmark: $(STAMP)
	$(BIN)/python benchmarks/discovery.py

benchmark-insert: $(STAMP)
	$(BIN)/python benchmarks/insert.py

clean:
	rm -rf $(VENV) *.egg-info
