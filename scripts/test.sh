#!/usr/bin/env bash
# The test command (README and .ci/run call exactly this): install everything, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "local,ui,eval,mcp,scale,dev"
# Headless Chromium for the browser test (Debian package; Playwright drives it, no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -q && apt-get install -y -q chromium) >/dev/null
  fi
fi
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
export REPO_RAG_CACHE_DIR="${REPO_RAG_CACHE_DIR:-$(pwd)/.cache/repo-rag}"
ruff check .
python -m pytest -q -ra "$@"
