"""predictions.parquet with native types (runner/outputs/tables.py) against the previous export (the output as
JSON text), on feature-extraction-shaped rows: [1][tokens][384] floats per row, int ids.

    .venv/bin/python benchmarks/tables.py [--rows 2000] [--rounds 5]

Three ratios, ours / base per interleaved round: the export's seconds (ours infers and merges the
schema per row group, base writes strings), the file's size, and the seconds to get the embeddings
back as Python floats (ours: read the column; base: read it and json.loads every cell).
`measure(smoke, rounds)` gives them to benchmarks/run.py; smoke uses 200 rows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import Ratio, interleaved  # noqa: E402
from runner.outputs.tables import export_table  # noqa: E402

HIDDEN = 384  # all-MiniLM-L6-v2's width


def write_predictions(path: Path, rows: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as f:
        for i in range(rows):
            tokens = 4 + (i * 7919) % 13
            output = [[[rng.uniform(-2, 2) for _ in range(HIDDEN)] for _ in range(tokens)]]
            f.write(json.dumps({"id": i, "index": i, "input": {"text": f"row {i}"}, "output": output}) + "\n")


def export_as_json_text(predictions: Path, target: Path, rows_per_group: int = 2048) -> None:
    """The previous export: id as a string, the output as JSON text, row groups of 2,048."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [("id", pa.string()), ("index", pa.int64()), ("input_text", pa.string()), ("output", pa.string())]
    )
    with pq.ParquetWriter(target, schema) as writer, open(predictions) as f:
        group = []
        for line in f:
            record = json.loads(line)
            group.append(
                {
                    "id": str(record["id"]),
                    "index": record["index"],
                    "input_text": record["input"]["text"],
                    "output": json.dumps(record["output"]),
                }
            )
            if len(group) >= rows_per_group:
                writer.write_table(pa.Table.from_pylist(group, schema=schema))
                group = []
        if group:
            writer.write_table(pa.Table.from_pylist(group, schema=schema))


def _seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(smoke: bool = False, rounds: int = 5, rows: int | None = None) -> list[Ratio]:
    import pyarrow.parquet as pq

    rows = rows or (200 if smoke else 2000)
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as folder:
        predictions = Path(folder) / "predictions.jsonl"
        write_predictions(predictions, rows)
        base_file, ours_file = Path(folder) / "base.parquet", predictions.with_suffix(".parquet")
        export, base_s, ours_s = interleaved(
            rounds,
            lambda: _seconds(lambda: export_as_json_text(predictions, base_file)),
            lambda: _seconds(lambda: export_table(predictions, "parquet")),
        )
        size = ours_file.stat().st_size / base_file.stat().st_size
        read, read_base, read_ours = interleaved(
            rounds,
            lambda: _seconds(lambda: [json.loads(c) for c in pq.read_table(base_file).column("output").to_pylist()]),
            lambda: _seconds(lambda: pq.read_table(ours_file).column("output").to_pylist()),
        )
    detail = f"{rows} rows of [1][4..16][{HIDDEN}] floats"
    return [
        Ratio(
            "parquet export time, typed / JSON text",
            export,
            lower_is_better=True,
            detail=f"{detail}; median base {sorted(base_s)[len(base_s) // 2]:.2f} s, ours {sorted(ours_s)[len(ours_s) // 2]:.2f} s",
        ),
        Ratio("parquet file size, typed / JSON text", [size], lower_is_better=True, detail=detail),
        Ratio(
            "embeddings back as floats, typed / JSON text",
            read,
            lower_is_better=True,
            detail=f"{detail}; median base {sorted(read_base)[len(read_base) // 2]:.2f} s, ours {sorted(read_ours)[len(read_ours) // 2]:.2f} s",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for ratio in measure(rounds=args.rounds, rows=args.rows):
        print(ratio.line())


if __name__ == "__main__":
    main()
