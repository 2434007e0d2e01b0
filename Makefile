# Two commands:  make lab  (start the workbook)   make test  (run every test)
# Both create .venv and install the pinned packages on first use; later runs reuse it.
# They call workbook.py, which does the same without make: python workbook.py lab | test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888
NB     ?= solutions/*.ipynb
OUT    ?= build/gradebook

.PHONY: lab test unit check-sync nbval notebooks solutions grade doctor reset bench chaos test-browser clean

$(STAMP): pyproject.toml constraints.txt workbook.py jupyter-config/overrides.d/event-driven-workbook.json
	$(PYTHON) workbook.py --venv $(VENV) install

lab: $(STAMP)
	$(PYTHON) workbook.py --venv $(VENV) lab --port $(PORT)

test: $(STAMP)
	$(PYTHON) workbook.py --venv $(VENV) test

unit check-sync nbval: $(STAMP)
	$(PYTHON) workbook.py --venv $(VENV) test $@

# Learner notebooks are generated from solutions/; `make test` fails when they are out of step.
notebooks: $(STAMP)
	$(PY) -m labs.workbook generate

# Re-execute solutions in place and fail, naming the exercise, when a check does not pass.
# One notebook:  make solutions NB=solutions/03_dlq.ipynb
solutions: $(STAMP)
	$(PY) -m labs.workbook execute $(NB)

# Run every learner notebook under DIR headless and write the gradebook:  make grade DIR=submissions
grade: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make grade DIR=<folder of learner notebooks> [OUT=build/gradebook]"; exit 2; }
	$(PY) -m labs.workbook grade "$(DIR)" --out "$(OUT)"

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
