"""bench.isolation=process, the child's side: `python -m runner.job.child <request.json>` runs one run in its
own Python process.

The parent (runner.job.policies.run_in_child) writes the validated config and run dir to child_request.json
and starts this module; main runs it through the same policies as any run (runner.job.policies) under an
Invocation of its own. The outcome comes back through the run dir's metrics.json and the child's exit
code, so even a crash that kills Python reaches the parent. The parent names this module by its command
line only, never imports it: the child sits above the policies it runs."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from runner.core.redact import RedactFilter


def main(request_path: str) -> int:
    from runner.job.invocation import Invocation
    from runner.plan import make_plan
    from runner.job.policies import run_plan

    logging.basicConfig(level=logging.INFO, format="[child] %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactFilter())
    # "-": the request comes on stdin, secrets included (the copy in the run dir is redacted).
    request = json.loads(sys.stdin.read() if request_path == "-" else Path(request_path).read_text())
    plan = make_plan(request["cfg"], request.get("conf"))
    metrics = run_plan(
        plan, Path(request["run_dir"]), request["argv"], Path(request["cwd"]), Invocation(), request["multirun"]
    )
    return 0 if metrics.finished else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
