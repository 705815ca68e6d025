#!/usr/bin/env bash
# Write the constraints files from the environments the tests passed in (.venv: transformers 5;
# .venv4: transformers 4.57.6), so that scripts/setup.sh gives a fresh machine the same versions.
# torch is left out: TORCH_SPEC chooses it (a CPU or a CUDA build). The project itself is left out.
#   bash scripts/lock.sh            # after the tests pass; commit the two files
set -euo pipefail
cd "$(dirname "$0")/.."
freeze() {  # name==version lines (pip list never writes "@ file://" the way freeze can)
  {
    echo "# Versions the tests passed with, from $(basename "$1") ($(date -u +%Y-%m-%d)); regenerate with scripts/lock.sh."
    echo "# Used by scripts/setup.sh (pip -c): pins versions, installs nothing by itself."
    "$1/bin/python" -m pip list --format=freeze --exclude-editable --disable-pip-version-check 2>/dev/null \
      | grep -v -i -e '^torch==' -e '^nvidia-' -e '^triton==' -e '^hf-pipeline-runner==' -e '^pip==' -e '^setuptools==' \
      | LC_ALL=C sort -f
  } > "$2"
  echo "wrote $2 ($(grep -vc '^#' "$2") pins) from $1"
}
freeze "${VENV:-.venv}" constraints.txt
freeze "${VENV4:-.venv4}" constraints-transformers4.txt
