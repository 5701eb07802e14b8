# zhibu-qa: `make run` sets everything up and serves the app; `make test` sets up and runs lint + tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# The install stamp is keyed on pyproject.toml: a changed file reinstalls, an unchanged one does not.
STAMP := $(VENV)/.stamp-$(shell sha256sum pyproject.toml | cut -c1-16)
MODEL_DIR ?= models/m3e-small
CORPUS := corpus/tianjin-zhibu-shenghuo-2024-09b.txt

.PHONY: setup model index run test lint unit bench eval eval-mrc train clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	# CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.stamp-*
	@touch $@

model: setup
	$(BIN)/zhibu-qa fetch-model --model-dir $(MODEL_DIR)

index: model
	$(BIN)/zhibu-qa ingest $(CORPUS)
	$(BIN)/zhibu-qa index

run: index
	@# `serve` prints the real URL (host and port from the settings) once the server accepts requests
	$(BIN)/zhibu-qa serve

lint: setup
	$(BIN)/ruff check src tests benchmarks eval app.py

test: model lint
	$(BIN)/pytest -q

unit: setup
	$(BIN)/pytest -q -m "not integration"

bench: index
	$(PY) benchmarks/retrieval.py

eval: index
	$(BIN)/zhibu-qa eval --out eval/out

# Public reading-comprehension data (CMRC 2018 / DRCD, SQuAD-style JSON) lives outside the repo.
MRC ?= ../shared/datasets/mrc
MRC_WORK ?= /tmp/zhibu-mrc

# The held-out MRC split as a scratch knowledge base, answered by the default configuration.
eval-mrc: model
	$(BIN)/zhibu-qa mrc-dataset --data $(MRC) --out $(MRC_WORK)/eval $(if $(MRC_SAMPLE),--max-questions $(MRC_SAMPLE))
	$(BIN)/zhibu-qa --index-dir $(MRC_WORK)/index ingest $(MRC_WORK)/eval/corpus/*.md
	$(BIN)/zhibu-qa --index-dir $(MRC_WORK)/index index --quiet
	$(BIN)/zhibu-qa --index-dir $(MRC_WORK)/index eval --configs hybrid --dataset $(MRC_WORK)/eval/dataset.jsonl --out $(MRC_WORK)/out

# Refit src/zhibu_qa/data/selector.json and answerability.json (deterministic for the same data and model).
train: index
	$(BIN)/zhibu-qa train-selector --data $(MRC) --work $(MRC_WORK)/train

clean:
	rm -rf index/catalogue.json index/sources index/store index/naive eval/out .pytest_cache
