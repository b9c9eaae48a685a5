# Two commands on a fresh machine (Python 3.11 + make): `make demo`, then `make test`.
# The virtual environment is created on first use from the pinned set in constraints.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-browser env clean

demo: $(STAMP)
	$(BIN)/kit demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=25

test-browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser -q

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) reports
