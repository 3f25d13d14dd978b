# Segue: `make test` and `make demo` do all the set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: test demo venv apt clean

# Debian packages the project needs at run time (none yet for the core).
APT_PACKAGES :=

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -n "$(APT_PACKAGES)" ]; then ./scripts/apt-install $(APT_PACKAGES); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, pinned: a CPU build lies on this machine's disk and a looser
	# pin would pull a multi-GB CUDA build. The project itself accepts torch>=2.5.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests

demo: $(STAMP)
	$(VENV)/bin/segue simulate --conversations 50000 --seed 1 --out runs/logs
	$(VENV)/bin/segue logs summary runs/logs

clean:
	rm -rf $(VENV) runs
