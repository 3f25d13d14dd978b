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
# the parts already written), train the default learner and the regressor
# with and without listening history (skipped when already trained), and
# compare them with the rule-based baseline on the same simulated users.
SEGUE := $(VENV)/bin/segue
demo: $(STAMP)
	$(SEGUE) simulate --conversations $(CONVERSATIONS) --seed 1 --out runs/logs
	@for spec in cql:base regressor:base regressor:history; do \
	  algo=$${spec%%:*}; features=$${spec##*:}; \
	  test -f runs/policies/$$algo-$$features/policy.json || \
	  $(SEGUE) train --logs runs/logs --algo $$algo --features $$features --out runs/policies/$$algo-$$features || exit 1; \
	done
	$(SEGUE) ab --policy rule --policy cql-base --policy regressor-base --policy regressor-history --conversations 2000 --seeds 1

bench: $(STAMP)
	$(PY) benchmarks/simulate.py --conversations 50000 --seed 1
	$(PY) benchmarks/policies.py --registry runs/policies --logs runs/logs

clean:
	rm -rf $(VENV) runs
