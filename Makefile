# Segue: `make test` and `make demo` do all the set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
CONVERSATIONS ?= 50000

.PHONY: test demo venv bench clean system

venv: $(STAMP)

# torch first and pinned: a CPU build lies on this machine's disk and a looser
# pin would pull a multi-GB CUDA build. The project itself accepts torch>=2.5.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages: headless Chromium checks that the HTML report renders. Installed
# when missing and apt-get can run (root); otherwise that one check is skipped.
system:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	   (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1)) ; } || \
	  echo "note: chromium not installed; the report's headless-browser check will be skipped"

test: $(STAMP) system
	$(PY) -m pytest tests

# The main job: `segue pipeline` logs randomized conversations (resumable: a
# second run reuses the parts already written), trains the default learner and
# the regressor with and without listening history (skipped when already
# trained), evaluates them off-policy against the current policy with the
# simulator's truth beside the estimates, writes runs/report.html (+ .md) and
# promotes the best candidate that passes the gate.
SEGUE := $(VENV)/bin/segue
demo: $(STAMP)
	$(SEGUE) pipeline --conversations $(CONVERSATIONS) --seed 1 --runs runs

bench: $(STAMP)
	$(PY) benchmarks/simulate.py --conversations 50000 --seed 1
	$(PY) benchmarks/policies.py --registry runs/policies --logs runs/logs
	$(PY) benchmarks/ope_speed.py --logs runs/logs --registry runs/policies
	$(PY) benchmarks/embeddings.py
	$(PY) benchmarks/scorer.py

clean:
	rm -rf $(VENV) runs
