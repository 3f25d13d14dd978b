# Segue: `make test` and `make demo` do all the set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
CONVERSATIONS ?= 50000

.PHONY: test demo venv bench clean system rasa test-rasa

venv: $(STAMP)

# torch first and pinned: a CPU build lies on this machine's disk and a looser
# pin would pull a multi-GB CUDA build. The project itself accepts torch>=2.5.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev,ray]'
	touch $(STAMP)

# Debian packages: headless Chromium checks that the HTML report renders; PortAudio lets
# sounddevice load; tmux runs the chat in a real terminal in a test; espeak-ng is Segue's
# voice in `segue voice` and synthesizes the speech the voice tests recognize. Installed when
# missing and apt-get can run (root); otherwise the checks that need them are skipped.
APT_PACKAGES := chromium libportaudio2 tmux espeak-ng
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	    (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1) || \
	    echo "note: could not install$$missing; the checks that need them will be skipped"; \
	  else echo "note:$$missing not installed; the checks that need them will be skipped"; fi; \
	fi

# Two test processes, each a whole file at a time (a file's module fixtures are built once): CI has 2 cores.
test: $(STAMP) system
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder tests

# The main job: `segue pipeline` logs randomized conversations (resumable: a
# second run reuses the parts already written), trains the default learner and
# the regressor with and without listening history (skipped when already
# trained), evaluates them off-policy against the current policy with the
# simulator's truth beside the estimates, writes $(RUNS)/report.html (+ .md) and
# promotes the best candidate that passes the gate. Before it, what `segue chat`
# serves with is built when missing: the simulated population's listening
# histories (a Parquet table) and the scorer's embeddings trained on them. The
# chat ranks samples with those embeddings when its policy reads base features;
# a history-feature policy reads the scorer its logs were simulated with (the
# baseline scorer here), so it is served with that one.
# Small runs: `make demo CONVERSATIONS=3000`; more knobs: PIPELINE_FLAGS, EMBEDDINGS_FLAGS.
SEGUE := $(VENV)/bin/segue
RUNS ?= runs
HISTORY_USERS ?= 12000
EMBEDDINGS_FLAGS ?=
PIPELINE_FLAGS ?=
demo: $(STAMP)
	@mkdir -p $(RUNS)
	test -f $(RUNS)/histories.parquet || $(SEGUE) simulate-histories --users $(HISTORY_USERS) --out $(RUNS)/histories.parquet
	test -f $(RUNS)/embeddings/embeddings.json || $(SEGUE) embeddings train --histories $(RUNS)/histories.parquet --out $(RUNS)/embeddings $(EMBEDDINGS_FLAGS)
	MAKE_DEMO=1 $(SEGUE) pipeline --conversations $(CONVERSATIONS) --seed 1 --runs $(RUNS) $(PIPELINE_FLAGS)

bench: $(STAMP)
	$(PY) benchmarks/simulate.py --conversations 50000 --seed 1
	$(PY) benchmarks/policies.py --registry runs/policies --logs runs/logs
	$(PY) benchmarks/ope_speed.py --logs runs/logs --registry runs/policies
	$(PY) benchmarks/embeddings.py
	$(PY) benchmarks/scorer.py
	$(PY) benchmarks/voice.py
	$(PY) benchmarks/scale.py

# Rasa Open Source in its own venv (never a dependency of the core package):
# about 4 min and 2.7 GB. `segue chat --nlu rasa` and `make test-rasa` use it.
RASA_VENV  := .venv-rasa
RASA_STAMP := $(RASA_VENV)/.installed
rasa: $(RASA_STAMP)
$(RASA_STAMP): tools/rasa-constraints.txt tools/rasa_requirements.py
	test -x $(RASA_VENV)/bin/python || $(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install --quiet --upgrade pip packaging
	$(RASA_VENV)/bin/python -m pip install --quiet --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
	$(RASA_VENV)/bin/python tools/rasa_requirements.py > $(RASA_VENV)/requirements.txt
	$(RASA_VENV)/bin/python -m pip install --quiet -r $(RASA_VENV)/requirements.txt -c tools/rasa-constraints.txt
	$(RASA_VENV)/bin/python -m pip install --quiet --no-deps --ignore-requires-python rasa-sdk==3.6.2
	RASA_TELEMETRY_ENABLED=false $(RASA_VENV)/bin/rasa --version
	touch $(RASA_STAMP)

test-rasa: $(STAMP) $(RASA_STAMP)
	SEGUE_RASA=1 $(PY) -m pytest tests -m rasa

clean:
	rm -rf $(VENV) $(RASA_VENV) runs
