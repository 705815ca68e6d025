"""`python -m runner.sweep <multirun dir>`: rebuild the sweep report from the job folders' files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.sweep.report import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.sweep", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("sweep_dir", type=Path, help="the multirun folder (hydra.sweep.dir)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"not a folder: {args.sweep_dir}", file=sys.stderr)
        return 2
    report = write_report(args.sweep_dir)
    if not report.points:
        print(
            f"no job folders (with metrics.json, run.json or .hydra/overrides.yaml) under {args.sweep_dir}",
            file=sys.stderr,
        )
        return 1
    print("\n".join(report.summary_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
