"""`python -m runner.child <request.json>`: one run in its own process (bench.isolation=process).

The parent wrote the validated config and run dir; the outcome comes back through the run dir's
metrics.json and this process's exit code, so even a crash that kills Python reaches the parent."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def main(request_path: str) -> int:
    from runner.job import make_plan, run_plan

    logging.basicConfig(level=logging.INFO, format="[child] %(levelname)s %(name)s: %(message)s")
    request = json.loads(Path(request_path).read_text())
    plan = make_plan(request["cfg"], request.get("conf"))
    metrics = run_plan(plan, Path(request["run_dir"]), request["argv"], Path(request["cwd"]), request["multirun"])
    return 0 if metrics.get("status") in ("ok", "oom", "skipped_after_oom") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
