#!/usr/bin/env bash
# The GPU check (issue 17): on a CUDA machine, in under 8 minutes, one Markdown report of what only a GPU
# shows: the GPU-only tests, float16/bfloat16 vs float32 outputs (tiny and no_weights models), 8-bit and
# 4-bit bitsandbytes, a real out-of-memory sweep with batch_size=auto checked against what fits, and
# runner vs raw pipeline() throughput in float16 (benchmarks/gpu_check.py says what each section does).
# Without CUDA it runs the CPU-safe parts, writes "skipped: no CUDA device" for the rest, and exits 0.
#
#   bash scripts/gpu_check.sh [REPORT]        # default $OUT/gpu_check.md when $OUT is set,
#                                             # else benchmarks/results/gpu_check.md
#   bash scripts/gpu_check.sh --download-wheels   # here, with pip working: fill .gpu_wheels/ (git-ignored)
#
# Through the session's device tool (a bare machine whose Python lacks hydra-core, omegaconf, jsonschema
# and bitsandbytes, and has another transformers; nothing can be downloaded there), first
# `bash scripts/gpu_check.sh --download-wheels` here (about 58 MB; the tool carries at most 64 MiB with
# the tree), then:
#   run(command="bash scripts/gpu_check.sh", carry=[".gpu_wheels"], timeout_s=560)
# and copy the report from the reply's files_at to benchmarks/results/gpu_check.md.
# Environment: GPU_CHECK_MEMORY_GB (24) caps the allocator for the OOM sweep; PYTHON picks the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=.gpu_wheels
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON; elif [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi

# What the device machine lacks, as (import test, distributions); versions are this checkout's .venv's.
MISSING_CHECKS=(
  "import hydra, omegaconf|hydra-core omegaconf antlr4-python3-runtime"
  "import jsonschema|jsonschema jsonschema-specifications referencing rpds-py"
  "import bitsandbytes|bitsandbytes"
  "import transformers, sys; sys.exit(transformers.__version__ != '${TRANSFORMERS_VERSION:-5.24.0}')|transformers"
)

download_wheels() {
  mkdir -p "$WHEELS"
  local names=() entry dist
  for entry in "${MISSING_CHECKS[@]}"; do
    for dist in ${entry#*|}; do
      names+=("$dist==$("$PY" -c "import importlib.metadata as m; print(m.version('$dist'))")")
    done
  done
  local platforms=()
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
           manylinux2014_x86_64 manylinux1_x86_64; do platforms+=(--platform "$p"); done
  local wheel_names=() name
  for name in "${names[@]}"; do [[ $name == antlr4-python3-runtime* ]] || wheel_names+=("$name"); done
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$WHEELS" "${wheel_names[@]}" || exit 1
  # antlr4-python3-runtime 4.9.3 (what omegaconf 2.3 pins) is a source distribution only: build its wheel.
  "$PY" -m pip wheel -q --no-deps -w "$WHEELS" "$(printf '%s\n' "${names[@]}" | grep ^antlr4)" || exit 1
  du -sh "$WHEELS"; ls "$WHEELS"
}

install_missing() {
  local missing=() entry dist files=()
  for entry in "${MISSING_CHECKS[@]}"; do
    "$PY" -c "${entry%%|*}" 2>/dev/null || missing+=(${entry#*|})
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -d "$WHEELS" ]; then
    echo "gpu_check: ${missing[*]} missing and no $WHEELS/: run 'bash scripts/gpu_check.sh --download-wheels' where pip works" >&2
    return 0  # the sections that need them fail in the report, naming what is missing
  fi
  for dist in "${missing[@]}"; do files+=($(ls "$WHEELS/${dist//-/_}-"*.whl 2>/dev/null)); done
  echo "gpu_check: installing ${files[*]##*/} into /tmp/gpu_check_site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site \
    "${files[@]}" || echo "gpu_check: installing the carried wheels failed" >&2
  export PYTHONPATH="/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}"
}

if [ "${1:-}" = "--download-wheels" ]; then download_wheels; exit; fi
REPORT=${1:-${OUT:+$OUT/gpu_check.md}}
REPORT=${REPORT:-benchmarks/results/gpu_check.md}
install_missing
# The checkout itself, uninstalled: runner finds conf/ and schemas/ at the top level (runner/core/paths.py).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
timeout 480 "$PY" -m benchmarks.gpu_check --report "$REPORT" --memory-gb "${GPU_CHECK_MEMORY_GB:-24}"
status=$?
[ $status -eq 124 ] && echo "gpu_check: stopped at 8 minutes; $REPORT holds the sections that finished" >&2
echo "gpu_check: exit $status, report $REPORT"
exit $status
