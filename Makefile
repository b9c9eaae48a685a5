# Two commands on a fresh machine (Python 3.11 + make): `make demo`, then `make test`.
# The virtual environment is created on first use from the pinned set in constraints.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-browser env system-packages clean

demo: $(STAMP)
	$(BIN)/kit demo

test: system-packages $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=25

test-browser: system-packages $(STAMP)
	$(BIN)/python -m pytest tests/browser -q

env: $(STAMP)

# Chromium (browser tests), node and npm (differential policy test): installed as root with apt-get,
# otherwise make stops here with one line naming what to install.
system-packages:
	@tools/system-packages

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip uninstall -q -y kit 2>/dev/null || true  # the distribution's name before 0.2.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) reports
