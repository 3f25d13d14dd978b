# Segue: `make test` and `make demo` do all the set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
CONVERSATIONS ?= 50000

.PHONY: test demo venv bench clean

venv: $(STAMP)

# torch first and pinned: a CPU build lies on this machine's disk and a looser
# pin would pull a multi-GB CUDA build. The project itself accepts torch>=2.5.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests

# The main job: log randomized conversations (resumable: a second run reuses
# the parts already written) and summarize them.
demo: $(STAMP)
	$(VENV)/bin/segue simulate --conversations $(CONVERSATIONS) --seed 1 --out runs/logs

bench: $(STAMP)
	$(PY) benchmarks/simulate.py --conversations 50000 --seed 1

clean:
	rm -rf $(VENV) runs
