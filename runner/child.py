"""bench.isolation=process: one run in its own Python process, both sides.

run_in_child (the parent) writes the validated config and run dir to child_request.json and starts
`python -m runner.child <request.json>`; main (the child) runs it through the same policies as any run
(runner.policies) under an Invocation of its own. The outcome comes back through the run dir's
metrics.json and the child's exit code, so even a crash that kills Python reaches the parent."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from runner.errors import RunError
from runner.redact import RedactFilter, redact, redact_text
from runner.rundir import CHILD_LOG, CHILD_REQUEST, Metrics, RunDir
from runner.sinks import open_output, write_json


def main(request_path: str) -> int:
    from runner.invocation import Invocation
    from runner.plan import make_plan
    from runner.policies import run_plan

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


def run_in_child(plan, run_dir: Path, argv, cwd, multirun: bool) -> Metrics:
    """A crash (even a segfault or the kernel's OOM killer) becomes this point's `error` status,
    and the next point starts clean."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = {**plan.cfg, "bench": {**plan.cfg["bench"], "isolation": "none"}}
    request = {
        "cfg": cfg,
        "conf": plan.conf,
        "run_dir": str(run_dir),
        "argv": argv,
        "cwd": str(cwd),
        "multirun": multirun,
    }
    write_json(run_dir / CHILD_REQUEST, redact(request))  # for the record; the child reads the real one on stdin
    # The parent holds the run dir's lock (runner.rundir_lock); the child runs the policies, which take none.
    child = subprocess.run(
        [sys.executable, "-m", "runner.child", "-"], input=json.dumps(request), capture_output=True, text=True
    )
    with open_output(run_dir / CHILD_LOG) as f:
        f.write(redact_text(child.stdout + child.stderr))
    written = RunDir(run_dir).read_metrics()
    if child.returncode == 0 and written is not None:
        return written
    # After a failure an oom the child recorded stands; anything else is recorded here as an error.
    metrics = written if written is not None and written.status == "oom" else _record_crash(plan, run_dir, child)
    if metrics.status == "oom" and (plan.cfg["bench"]["enabled"] is True or multirun):
        return metrics
    raise RunError(f"the isolated run failed: {metrics.error}", f"its output is in {run_dir / CHILD_LOG}")


def _record_crash(plan, run_dir: Path, child: subprocess.CompletedProcess) -> Metrics:
    tail = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
    metrics = Metrics(
        status="error",
        error=f"child process exited with {child.returncode}: {tail}",
        batch_size=plan.cfg["batch_size"],
        batch_size_requested=plan.cfg["batch_size"],
    )
    RunDir(run_dir).write_metrics(metrics)
    return metrics


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
