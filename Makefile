# Two commands:  make lab  (start the workbook)   make test  (run every test)
# Both create .venv and install the pinned packages on first use; later runs reuse it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888
NBVAL  := $(PY) -m pytest -q --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout 300

.PHONY: lab test unit notebooks check-sync solutions nbval doctor bench chaos test-browser clean reset

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name 'Python 3 (workbook)' >/dev/null
	touch $(STAMP)

lab: $(STAMP)
	$(PY) -m labs doctor || true
	@echo "JupyterLab: http://127.0.0.1:$(PORT)/lab  (Ctrl-C to stop)"
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --port $(PORT) --no-browser \
		--notebook-dir notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(STAMP) unit check-sync nbval

unit: $(STAMP)
	$(PY) -m pytest -q tests

# Learner notebooks are generated from solutions/; fail when they are out of step.
notebooks: $(STAMP)
	$(PY) -m labs.workbook generate

check-sync: $(STAMP)
	$(PY) -m labs.workbook generate --check

# Re-execute the solutions in place (instructors, after editing one).
solutions: $(STAMP)
	$(PY) -m labs.workbook execute solutions/*.ipynb

nbval: $(STAMP)
	rm -rf build/checks && mkdir -p build/checks
	LABS_CHECK_REPORT=$(CURDIR)/build/checks/solutions.jsonl $(NBVAL) solutions
	LABS_CHECK_REPORT=$(CURDIR)/build/checks/notebooks.jsonl $(NBVAL) --nbval-lax notebooks
	$(PY) -m labs.workbook verify-checks build/checks/solutions.jsonl build/checks/notebooks.jsonl

doctor: $(STAMP)
	$(PY) -m labs doctor

reset: $(STAMP)
	$(PY) -m labs sandbox reset

bench: $(STAMP)
	$(PY) -m labs.devtools.bench

# Every notebook run in JupyterLab in headless Chromium (installs chromium, a CJK font and playwright if missing).
test-browser: $(STAMP)
	bash tests/browser/install.sh $(PY)
	$(PY) tests/browser/run_notebooks.py

chaos: $(STAMP)
	$(PY) -m labs.devtools.chaos

clean:
	rm -rf build .pytest_cache
