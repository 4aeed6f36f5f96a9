# segedu: the two commands of the README are `make lab` and `make test`.
# Both create .venv on first use and reuse it afterwards (reinstalling when the
# dependency files change).

# `make -f path/to/Makefile ...` from another folder runs the same goals in the repository's folder,
# where every relative path below (pyproject.toml, .venv, notebooks/) is meant.
HERE := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
ifneq ($(abspath $(CURDIR)),$(HERE))
$(firstword $(MAKECMDGOALS) help):
	@$(MAKE) --no-print-directory -C "$(HERE)" $(MAKECMDGOALS)
$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)):
	@:
.PHONY: $(MAKECMDGOALS) help
else

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.segedu-installed
PORT   ?= 8888
# nbval compares only cells tagged `nbval-check-output`; notebooks run in fast mode.
PYTEST_ARGS ?=

.PHONY: check-port lab test unit notebooks lint compat course bench bench-quick bench-check venv clean help

help:
	@echo "make lab          open the course in JupyterLab (installs on first use)"
	@echo "make test         run every test: lint, unit tests, notebooks, browser (installs on first use)"
	@echo "make course       execute every notebook in learner mode into build/course/, with timings"
	@echo "make bench        train the leaderboard models, 5 seeds, 2 processes (1 h 43 min on a quiet 2-core CPU)"
	@echo "make bench-quick  one seed, one pair of models per claim (about 10 minutes), into build/bench/"
	@echo "make bench-check  re-run a few seed-0 jobs and compare them digit for digit with the leaderboard"
	@echo "make compat       run segedu under Colab's package set, ipywidgets 7.7.1 and torch 2.4 / Python 3.10 (downloads about 6 GB once)"

venv: $(STAMP)

# $(VENV) is built in place (a venv cannot be moved: its scripts name its folder) and counts as
# built only once `python -m venv` has finished and its python runs pip: $(VENV_OK) says so.
# An install stopped half-way (Ctrl-C, a lost connection) leaves no bin/python, a python without
# pip, or no $(VENV_OK); the next make removes that folder and builds it again instead of failing
# with "No module named pip" for ever. ($(STAMP) alone marks a complete venv of older Makefiles.)
# A folder that holds something else (no pyvenv.cfg, not being built here) is never removed: make stops.
VENV_OK       := $(VENV)/.segedu-venv-complete
VENV_BUILDING := $(VENV)/.segedu-venv-building

# A venv that was complete can break later (its bin/python or its torch removed by hand or by another
# tool): it then loses its marks, and the rule below removes it and builds it again, instead of failing
# in the middle of a notebook with "No module named 'torch'". Costs one `import torch` per make.
NEEDS_VENV := lab test unit notebooks lint compat course bench bench-quick bench-check venv
ifneq ($(filter $(NEEDS_VENV),$(MAKECMDGOALS)),)
ifneq ($(wildcard $(STAMP) $(VENV_OK)),)
ifneq ($(shell $(PY) -c 'import torch, segedu' >/dev/null 2>&1 && echo works),works)
$(info $(VENV) no longer works: $(PY) cannot import torch and segedu. It is built again.)
$(shell rm -f $(STAMP) $(VENV_OK))
endif
endif
endif

$(STAMP): pyproject.toml requirements/local.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "segedu needs Python 3.10 or newer, found " + sys.version.split()[0]'
	@if { [ -f $(VENV_OK) ] || [ -f $(STAMP) ]; } && $(PY) -m pip --version >/dev/null 2>&1; then \
	    exit 0; \
	elif [ -e $(VENV) ] && [ -n "$$(ls -A $(VENV))" ] && [ ! -f $(VENV)/pyvenv.cfg ] && [ ! -f $(VENV_BUILDING) ]; then \
	    echo "$(VENV) exists but is not a Python virtual environment (no pyvenv.cfg), so it is left alone:" \
	         "move it away, or install elsewhere with make VENV=another-folder." >&2; \
	    exit 1; \
	fi; \
	if [ -e $(VENV) ]; then \
	    echo "$(VENV) is incomplete or broken (an install stopped half-way?): removing it and building it again."; \
	    rm -rf $(VENV); \
	fi; \
	echo "Creating the virtual environment $(VENV)"; \
	mkdir -p $(VENV) && touch $(VENV_BUILDING) && $(PYTHON) -m venv $(VENV) && \
	$(PY) -m pip --version >/dev/null && mv $(VENV_BUILDING) $(VENV_OK)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/local.txt -e ".[lab,test]"
	touch $@

# No display (a server, a container): do not try to open a browser, just print the URL.
# As root (containers), Jupyter refuses to start without --allow-root.
LAB_FLAGS = $(shell [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ] || echo --no-browser) \
            $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

# A port is a whole number from 1 to 65535; Jupyter would print a URL for any other where nothing listens.
check-port:
	@case "$(PORT)" in ''|*[!0-9]*) bad=1;; *) [ "$(PORT)" -ge 1 ] && [ "$(PORT)" -le 65535 ] || bad=1;; esac; \
	if [ -n "$$bad" ]; then echo "PORT=$(PORT) is not a port number: give a whole number from 1 to 65535," \
	     "for example make lab PORT=8890." >&2; exit 2; fi

lab: check-port $(STAMP)
	@echo "Opening the course in JupyterLab; open the URL printed below (with its token) in a browser."
	@echo "Stop the server with Ctrl-C (twice)."
	$(PY) -m jupyter lab --ServerApp.port=$(PORT) $(LAB_FLAGS) notebooks/00_welcome.ipynb

# ruff, and vermin for the Python-version rule (nothing may need Python > 3.10; config in vermin.ini).
lint: $(STAMP)
	$(PY) -m ruff check segedu tests tools notebooks
	$(VENV)/bin/vermin --config-file vermin.ini --quiet segedu tests tools

unit: $(STAMP)
	SEGEDU_FAST=1 $(PY) -m pytest tests $(PYTEST_ARGS)

notebooks: $(STAMP)
	SEGEDU_FAST=1 $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 notebooks $(PYTEST_ARGS)

test: lint
	SEGEDU_FAST=1 $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 tests notebooks $(PYTEST_ARGS)

# The side environments of tests/test_compat.py (.venv-ipywidgets7, .venv-torch24, .venv-colab), the big ones
# included: Colab's package set runs every notebook and the unit tests, torch 2.4 the unit tests.
compat: $(STAMP)
	SEGEDU_FAST=1 SEGEDU_COMPAT=1 $(PY) -m pytest tests/test_compat.py $(PYTEST_ARGS)

course: $(STAMP)
	SEGEDU_FAST=0 $(PY) tools/run_course.py

bench: $(STAMP)
	SEGEDU_FAST=0 $(PY) -m segedu.leaderboard --processes 2

bench-quick: $(STAMP)
	SEGEDU_FAST=0 $(PY) -m segedu.leaderboard --quick --processes 2

bench-check: $(STAMP)
	SEGEDU_FAST=0 $(PY) -m segedu.leaderboard --check

clean:
	rm -rf build .pytest_cache .ruff_cache

endif
