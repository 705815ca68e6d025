"""The GPU check's throughput part: the runner against raw `transformers.pipeline` in float16 on CUDA,
same saved model (distilbert-base's shape, random weights), same 1000 mixed-length texts
(benchmarks/throughput.texts, log-uniform 3-250 words) and batch size, rounds interleaved.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.common import Ratio, interleaved
from benchmarks.throughput import texts, time_raw, time_runner

ROWS, ROUNDS = 1000, 3


def runner_vs_raw(folder: Path, work: Path, device: str = "cuda", rows: int = ROWS, rounds: int = ROUNDS) -> list[str]:
    """Ratio lines in a code block; device/rows/rounds only change for a CPU try of the code."""
    import torch
    from transformers import pipeline

    work.mkdir(parents=True, exist_ok=True)
    data = texts(rows)
    data_file = work / "texts.jsonl"
    data_file.write_text("".join(json.dumps({"text": t}) + "\n" for t in data))
    pipe = pipeline("text-classification", model=str(folder), device=device, dtype=torch.float16)
    pipe.tokenizer.model_max_length = 512
    fp16 = ["dtype=float16", f"device={device}"]
    ratios = []
    for batch_size in (8, 64):
        values = interleaved(
            rounds,
            lambda: time_raw(pipe, data, batch_size),
            lambda: time_runner(data_file, batch_size, work / f"b{batch_size}", fp16, str(folder)),
        )
        ratios.append((f"runner vs raw, fp16, batch {batch_size}", 0.98, values))
    bucketed = [*fp16, "batching.sort_by_length=true"]
    values = interleaved(
        rounds,
        lambda: time_raw(pipe, data, 64),
        lambda: time_runner(data_file, 64, work / "bucketed", bucketed, str(folder)),
    )
    ratios.append(("runner bucketed vs raw, fp16, batch 64", None, values))
    lines = [f"{rows} texts of 3-250 words (log-uniform), {rounds} interleaved rounds after a warm-up each.", "", "```"]
    for name, target, (rounds, base, ours) in ratios:
        ratio = Ratio(
            name,
            rounds,
            target=target,
            detail=f"items/s raw {[round(r, 1) for r in base]}, runner {[round(r, 1) for r in ours]}",
        )
        lines.append(ratio.line())
    return [*lines, "```"]
