#!/usr/bin/env bash
# Install (if needed), index a repository, search it and answer a question on the embedded defaults
# (MiniLM embeddings + SmolLM2 via llama.cpp, CPU, offline).
# Usage: bash scripts/demo.sh [REPO] [QUESTION]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="${1:-.}"
QUESTION="${2:-how are lexical, dense and graph results fused?}"
bash scripts/install.sh
. .venv/bin/activate
repo-rag index "$REPO"
repo-rag search "$QUESTION" --repo "$REPO" -k 5
repo-rag ask "$QUESTION" --repo "$REPO"
