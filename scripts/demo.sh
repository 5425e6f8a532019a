#!/usr/bin/env bash
# Install (if needed), index a repository, search it and answer a question on the embedded defaults
# (code-minilm embeddings; answers from the index, then with SmolLM2 via llama.cpp; CPU, offline).
# Usage: bash scripts/demo.sh [REPO] [QUESTION]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="${1:-.}"
QUESTION="${2:-how are lexical, dense and graph results fused?}"
bash scripts/install.sh
. .venv/bin/activate
repo-rag index "$REPO"
repo-rag search "$QUESTION" --repo "$REPO" -k 5
repo-rag ask "$QUESTION" --repo "$REPO"              # the answer assembled from the index (default)
repo-rag ask "$QUESTION" --repo "$REPO" --llm local  # plus an explanation by the embedded SmolLM2-135M
