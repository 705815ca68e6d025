"""Token-budget batching (`batching.max_tokens`) against raw `transformers.pipeline` at raw's best batch size.

    .venv/bin/python benchmarks/token_budget.py                   # both parts, 3 rounds
    .venv/bin/python benchmarks/token_budget.py --parts minilm --max-tokens 1024 --cap 64 --rounds 5
    .venv/bin/python benchmarks/token_budget.py --smoke           # tiny models, a few rows: seconds

Parts (issue 17, item 2):
  minilm      real all-MiniLM-L6-v2 with a text-classification head (as benchmarks/throughput.py), 400
              log-uniform texts of 3-250 words (throughput.texts)                         target >= 1.5x
  generation  the tiny GPT-2 (model=tiny), 240 prompts of 1-25 words, greedy, 16 new tokens    target >= 1.3x

Both sides run in this process with the same thread count (torch.set_num_threads for raw, `threads=`
for the runner; 1 by default, the setting the issue measured). Raw's best batch size of 1, 8 and 32
is picked in a first pass over all three (which also warms both sides up: the runner loads its
model there, once, into a PipelineCache every round shares); then rounds alternate raw at that size
and the runner with the token budget. The runner side is `engine.execute` on a composed plan: reading
the file, preparing rows, counting tokens, the pipeline calls, writing predictions.jsonl and
metrics.json; composing the config stays outside the timer (start-up is benchmarks/startup.py's).
Peak memory: one pass per side, each in a fresh process (in one process the allocator keeps what an
earlier pass freed), model loaded first, the RSS high-water mark reset just before the pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.common import Ratio, RunnerPlan, interleaved  # noqa: E402
from benchmarks.throughput import VOCAB, texts  # noqa: E402

RAW_SIZES = (1, 8, 32)


@dataclass
class Part:
    name: str
    target: float
    rows: list[str]
    make_raw: object  # () -> pipeline
    raw_params: dict
    runner_overrides: list[str]
    max_tokens: int
    cap: int  # batch_size: the most rows a token-budget batch may hold
    key: str = ""  # the part's name on the command line
    smoke: bool = False


def prompts(count: int) -> list[str]:
    """1-25 words, log-uniform (the tiny GPT-2 has 256 positions: the longest prompt plus 16 new tokens fit)."""
    import random

    rng = random.Random(1)
    return [
        " ".join(VOCAB[(i * 13 + k * 5) % len(VOCAB)] for k in range(round(25 ** rng.random()))) for i in range(count)
    ]


def minilm_part(smoke: bool, max_tokens: int | None, cap: int | None) -> Part:
    if smoke:  # the tiny text-classification model: code paths only
        from runner.models.tiny import tiny_model_dir

        folder = str(tiny_model_dir("text-classification"))
        rows = [" ".join(VOCAB[: 1 + i % 20]) for i in range(24)]
    else:
        from benchmarks.throughput import model_dir

        folder, rows = model_dir(), texts(400)

    def make_raw():
        from transformers import pipeline

        return pipeline("text-classification", model=folder, truncation=True)

    params = {"truncation": True, "max_length": 512}
    overrides = [
        "+task=text-classification",
        f"model.id={folder}",
        "task.params.truncation=true",
        "task.params.max_length=512",
    ]
    return Part(
        "minilm" if not smoke else "minilm (smoke: tiny model)",
        1.5,
        rows,
        make_raw,
        params,
        overrides,
        max_tokens or 256,
        cap or 64,
        "minilm",
        smoke,
    )


def generation_part(smoke: bool, max_tokens: int | None, cap: int | None) -> Part:
    from runner.models.tiny import tiny_model_dir

    folder = str(tiny_model_dir("text-generation"))
    new_tokens = 16

    def make_raw():
        from transformers import pipeline

        pipe = pipeline("text-generation", model=folder)
        pipe.tokenizer.padding_side = "left"  # what transformers' docs say batched decoder-only generation needs
        if pipe.tokenizer.pad_token is None:
            pipe.tokenizer.pad_token = pipe.tokenizer.eos_token
        return pipe

    params = {"max_new_tokens": new_tokens, "do_sample": False}
    overrides = [
        "+task=text-generation",
        "model=tiny",
        f"task.params.max_new_tokens={new_tokens}",
        "task.params.do_sample=false",
    ]
    return Part(
        "generation (tiny GPT-2)",
        1.3,
        prompts(12 if smoke else 240),
        make_raw,
        params,
        overrides,
        max_tokens or 4096,
        cap or 128,
        "generation",
        smoke,
    )


def time_raw(pipe, part: Part, batch_size: int) -> tuple[float, list]:
    """(items/s, outputs) of one raw pass."""
    started = time.perf_counter()
    outputs = list(pipe(part.rows, batch_size=batch_size, **part.raw_params))
    return len(part.rows) / (time.perf_counter() - started), outputs


def runner_side(part: Part, folder: Path, threads: int) -> RunnerPlan:
    """The runner at the part's token budget and row cap, over the part's rows."""
    data = folder / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in part.rows))
    return RunnerPlan(
        [
            *part.runner_overrides,
            "dataset=file",
            f"dataset.path={data}",
            f"threads={threads}",
            f"batch_size={part.cap}",
            "batching.sort_by_length=true",
            f"batching.max_tokens={part.max_tokens}",
        ],
        folder,
    )


def measure_part(part: Part, rounds: int, threads: int, folder: Path) -> list[Ratio]:
    import torch

    torch.set_num_threads(threads)
    pipe = part.make_raw()
    runner = runner_side(part, folder, threads)
    runner()  # warm-up: loads the model once
    # The same weights on both sides (MiniLM's classification head is random, initialised at load).
    pipe.model.load_state_dict(runner.model().state_dict())
    first = {size: time_raw(pipe, part, size)[0] for size in RAW_SIZES}  # picks raw's best; warms it up
    best = max(RAW_SIZES, key=first.get)
    speed, raw_rates, our_rates = [], [], []
    for _ in range(rounds):
        torch.set_num_threads(threads)
        raw_rate, raw_out = time_raw(pipe, part, best)
        our_rate = runner()
        assert runner.rows == len(part.rows), (runner.rows, len(part.rows))
        our_out = runner.outputs()
        speed.append(our_rate / raw_rate)
        raw_rates.append(raw_rate), our_rates.append(our_rate)
    same = sum(_same(a, b) for a, b in zip(our_out, raw_out))
    settings = f"max_tokens={part.max_tokens}, batch_size={part.cap} (row cap), threads={threads}"
    first_pass = ", ".join(f"b{size} {first[size]:.1f}" for size in RAW_SIZES)
    return [
        Ratio(
            f"token budget vs raw best: {part.name}",
            speed,
            part.target,
            detail=(
                f"runner {settings}: median {statistics.median(our_rates):.1f} items/s; raw batch {best} (best of "
                f"first pass: {first_pass} items/s): median {statistics.median(raw_rates):.1f} items/s; "
                f"{len(part.rows)} rows; outputs equal to raw's (labels/text; scores 1e-5): {same}/{len(part.rows)}"
            ),
        ),
        *([forward_ceiling(part, pipe, rounds)] if not part.runner_overrides[0].endswith("generation") else []),
        peak_memory_ratio(part, best, threads),
    ]


def forward_ceiling(part: Part, pipe, rounds: int) -> Ratio:
    """What cutting by tokens can gain at most here: the model's forward passes alone (tokenized in
    advance, no pipeline), the rows in the budget's batches vs one row at a time (raw's batch 1: no
    padding at all). When this is near the runner's ratio, the runner adds nothing to undo."""
    import torch

    from runner.engine.budget import pack_by_tokens, token_lengths

    lengths = token_lengths(pipe, part.rows)
    encode = dict(padding=True, truncation=True, max_length=512, return_tensors="pt")
    batched = [
        pipe.tokenizer([part.rows[i] for i in batch], **encode)
        for batch in pack_by_tokens(lengths, part.max_tokens, part.cap)
    ]
    single = [pipe.tokenizer([row], **encode) for row in part.rows]

    def forward_rate(batches) -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            for inputs in batches:
                pipe.model(**inputs)
        return len(part.rows) / (time.perf_counter() - started)

    ratios, singles, budgets = interleaved(rounds, lambda: forward_rate(single), lambda: forward_rate(batched))
    return Ratio(
        f"forward passes only, token budget vs one row: {part.name}",
        ratios,
        detail=(
            f"the ceiling of any batching here: model forward passes alone, median {statistics.median(budgets):.1f} "
            f"rows/s in budget batches vs {statistics.median(singles):.1f} one row at a time"
        ),
    )


def peak_memory_ratio(part: Part, raw_batch: int, threads: int) -> Ratio:
    """Peak RSS of one pass in a fresh process per side (in one process, the allocator keeps what an
    earlier pass freed, and no later peak shows), measured from just before the pass."""
    # Smoke: in this process (seconds, numbers meaningless), only to keep the code running.
    measure_side = (
        (lambda side: one_pass_peak(part, side, raw_batch, threads))
        if part.smoke
        else (lambda side: _child_peak(part, side, raw_batch, threads))
    )
    sides = {side: measure_side(side) for side in ("raw", "runner")}
    raw, ours = sides["raw"], sides["runner"]
    return Ratio(
        f"token budget peak RSS vs raw best: {part.name}",
        [ours["peak"] / raw["peak"]],
        1.02,
        lower_is_better=True,
        detail=(
            f"one pass in a fresh process each: peak RSS runner {ours['peak']:.0f} MB vs raw batch "
            f"{raw_batch} {raw['peak']:.0f} MB; rise during the pass: runner {ours['rise']:.1f} MB, raw "
            f"{raw['rise']:.1f} MB (target: the same, within 2% RSS noise, or less)"
        ),
    )


def _child_peak(part: Part, side: str, raw_batch: int, threads: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--peak-rss",
        side,
        "--raw-batch",
        str(raw_batch),
        "--threads",
        str(threads),
        "--parts",
        part.key,
        "--max-tokens",
        str(part.max_tokens),
        "--cap",
        str(part.cap),
    ]
    if part.smoke:
        command.append("--smoke")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_pass_peak(part: Part, side: str, raw_batch: int, threads: int) -> dict:
    """{"peak", "rise"} in MB: one pass of `side`, the RSS high-water mark reset just before it."""
    import torch

    from runner.bench.memory import peak_memory, reset_peak_memory

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = (lambda: time_raw(pipe, part, raw_batch)) if side == "raw" else runner_side(part, Path(tmp), threads)
        if side == "raw":
            pipe = part.make_raw()
        else:  # the model loads inside the first run: load it first, so the pass measured is the second
            run.cache.get(run.plan.step_views["main"], _spec(part))
        reset_peak_memory()
        before = rss_mb()
        run()
        peak = peak_memory()["peak_rss_mb"]
    return {"peak": peak, "rise": peak - before}


def _spec(part: Part):
    from runner.tasks import TASKS

    return TASKS[part.runner_overrides[0].split("=", 1)[1]]


def rss_mb() -> float:
    """The process's resident memory now (the floor a pass's peak starts from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _same(ours, raw) -> bool:
    """A runner output equals raw's: text and labels exactly, scores to 1e-5."""
    if isinstance(raw, list) and len(raw) == 1 and not isinstance(ours, list):
        raw = raw[0]
    if isinstance(ours, list) and len(ours) == 1 and not isinstance(raw, list):
        ours = ours[0]
    if isinstance(raw, dict) and isinstance(ours, dict):
        return raw.keys() == ours.keys() and all(_same(ours[k], raw[k]) for k in raw)
    if isinstance(raw, float):
        return abs(float(ours) - raw) <= 1e-5
    if isinstance(raw, list) and isinstance(ours, list):
        return len(raw) == len(ours) and all(_same(a, b) for a, b in zip(ours, raw))
    return ours == raw


def measure(
    smoke: bool,
    rounds: int,
    parts=("minilm", "generation"),
    threads: int = 1,
    max_tokens: dict | None = None,
    cap: dict | None = None,
) -> list[Ratio]:
    builders = {"minilm": minilm_part, "generation": generation_part}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in parts:
            part = builders[name](smoke, (max_tokens or {}).get(name), (cap or {}).get(name))
            folder = Path(tmp) / name
            folder.mkdir()
            results += measure_part(part, 1 if smoke else rounds, threads, folder)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", nargs="+", default=["minilm", "generation"], choices=["minilm", "generation"])
    parser.add_argument("--max-tokens", type=int, help="batching.max_tokens for every part given")
    parser.add_argument("--cap", type=int, help="batch_size (rows per batch at most) for every part given")
    parser.add_argument("--peak-rss", choices=["raw", "runner"], help=argparse.SUPPRESS)  # the memory child
    parser.add_argument("--raw-batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_rss:
        builder = {"minilm": minilm_part, "generation": generation_part}[args.parts[0]]
        part = builder(args.smoke, args.max_tokens, args.cap)
        print(json.dumps(one_pass_peak(part, args.peak_rss, args.raw_batch, args.threads)))
        return
    tuned = {name: args.max_tokens for name in args.parts} if args.max_tokens else None
    caps = {name: args.cap for name in args.parts} if args.cap else None
    for ratio in measure(args.smoke, args.rounds, args.parts, args.threads, tuned, caps):
        print(ratio.line(), flush=True)


if __name__ == "__main__":
    main()
