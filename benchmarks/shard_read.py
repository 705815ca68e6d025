"""A shard's read of its rows: one shard of 4 (shard.index=1) over a 20,000-row file, against the
read every shard did before issue 15 (parse every row, keep every 4th).

    .venv/bin/python benchmarks/shard_read.py               # 20,000 rows, 7 rounds
    .venv/bin/python benchmarks/shard_read.py --smoke       # 400 rows, 1 round: only checks the code runs

Sides, in turn per round (before, now, before, now ...), seconds to list the shard's Rows 10 times
through Source.rows (what the run's RowReader calls), the files already in the page cache:
  before  every record parsed (csv dicts, json.loads, every Parquet batch to Python), then p % 4 == 1 kept
  now     the source's own shard read: CSV/JSON Lines rows of other shards counted, not parsed;
          Parquet: only the row groups holding the shard's block (20 row groups of 1,000 rows)
Data: short review-like texts with an id, written once per call under a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Ratio, interleaved  # noqa: E402

SHARD = {"index": 1, "count": 4}
FORMATS = ("csv", "jsonl", "parquet")


def _write(folder: Path, fmt: str, rows: int) -> Path:
    texts = [
        f"review {i}: the film was {'good' if i % 3 else 'bad'}, the music {'loud' if i % 5 else 'soft'}"
        for i in range(rows)
    ]
    path = folder / f"data.{fmt}"
    if fmt == "csv":
        path.write_text("id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(texts)))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"id": list(range(rows)), "text": texts}), path, row_group_size=max(1, rows // 20))
    return path


def _source(path: Path):
    from runner.sources import open_source
    from runner.tasks import TASKS

    cfg = {
        "type": "file",
        "path": str(path),
        "format": "auto",
        "column": "text",
        "fields": {},
        "id_column": None,
        "limit": None,
        "skip": 0,
    }
    return open_source(cfg, TASKS["text-classification"])


def _before(source):
    """The source as it read before: every record parsed, the generic round-robin filter after."""
    from runner.sources import Source
    from runner.sources.files import FileSource

    source.records_where = lambda wanted: FileSource.records_where(source, None)
    source.shard_records = lambda shard: Source.shard_records(source, shard)
    return source


def _timed(source, repeat: int) -> float:
    """Seconds for `repeat` reads of the shard in a row: one read of 20,000 rows takes milliseconds,
    too short a figure to measure on shared cores."""
    started = time.perf_counter()
    for _ in range(repeat):
        assert sum(1 for _ in source.rows({"text": "text"}, SHARD)) > 0
    return time.perf_counter() - started


def measure(smoke: bool = False, rounds: int = 7) -> list[Ratio]:
    rows = 400 if smoke else 20000
    rounds = 1 if smoke else rounds
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            path = _write(Path(folder), fmt, rows)
            before, now = _before(_source(path)), _source(path)
            assert [r.index for r in before.rows({"text": "text"}, SHARD)] == [
                r.index for r in now.rows({"text": "text"}, SHARD)
            ] or fmt == "parquet"  # parquet: blocks
            repeat = 1 if smoke else 10
            per_round, base, ours = interleaved(rounds, lambda: _timed(before, repeat), lambda: _timed(now, repeat))
            ratios.append(
                Ratio(
                    f"shard 1 of 4 read, {fmt} ({rows} rows): now/before",
                    per_round,
                    lower_is_better=True,
                    detail=f"seconds for {repeat} reads, median before {sorted(base)[len(base) // 2]:.4f}, now {sorted(ours)[len(ours) // 2]:.4f}",
                )
            )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for ratio in measure(args.smoke, args.rounds):
        print(ratio.line())


if __name__ == "__main__":
    main()
