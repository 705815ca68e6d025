"""dataset.prefetch: rows decoded in a background thread while the model runs, against the same runner
decoding in line (dataset.prefetch=0) and against a raw `transformers.pipeline` loop over the same files.

    .venv/bin/python benchmarks/prefetch.py                 # 300 images + 200 clips, 5 rounds
    .venv/bin/python benchmarks/prefetch.py --smoke          # a few files: only checks the code runs
    .venv/bin/python benchmarks/prefetch.py --parts images --rounds 7 --threads 2

Data (generated once per call, deterministic): a folder of photo-like JPEGs of varied sizes (320x240 to
1024x768, smooth colour fields with grain, so decoding costs what a photo's does), and a folder of wav
clips of 1-4 s, half at 44.1 kHz (resampled to the model's 16 kHz) and half at 16 kHz. Models: model=tiny
(ViT image-classification, wav2vec2 audio-classification): their forward pass is cheap, so decoding is
most of the work, which is the case prefetch is for.

Sides, one of each per round, in turn (off, on, raw, off, on, raw ...), rows/s over the whole folder:
  off   the runner with dataset.prefetch=0 (decoding on the model's thread)
  on    the runner with dataset.prefetch=auto (2 batches ahead)
  raw   transformers.pipeline(task, model=<the same tiny folder>), batch_size as the runner's:
        images: given the list of file paths (the pipeline opens them with Pillow itself);
        audio: given a generator that reads each file with soundfile and resamples it with soxr (a raw
        pipeline given a path needs a system ffmpeg, which a user without one replaces so)
Two more figures, to read the first ones by:
  worker     the same look-ahead decoded by a worker thread or a worker process (why a thread)
  mechanism  the runner's prefetcher decoding the JPEGs beside a stand-in forward pass that uses no CPU
             (a sleep, as a GPU forward is for the CPU): what overlap gives when a core is free
The runner side is the whole run_plan (reading the folder, decoding, the pipeline, writing predictions,
metrics and run.json); only config composition is outside the timer, and its model stays loaded across
rounds (as in a sweep). Both sides run under the same torch thread count (--threads, default 1: the
other core is the decoding thread's).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.common import Ratio  # noqa: E402

BATCH_SIZE = 8
PARTS = {  # part -> (task, files made by, count, smoke count)
    "images": ("image-classification", "make_images", 300, 12),
    "audio": ("audio-classification", "make_clips", 200, 8),
}


def make_images(folder: Path, count: int, smoke: bool) -> None:
    """Photo-like JPEGs: a smooth random colour field (bicubic from 6x8) with grain, sizes varying."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(160, 120)] if smoke else [(320, 240), (640, 480), (800, 600), (1024, 768)]
    for i in range(count):
        width, height = sizes[i % len(sizes)]
        field = Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
        grain = rng.normal(0, 12, (height, width, 3))
        pixels = np.clip(np.asarray(field, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:04d}.jpg", quality=90)


def make_clips(folder: Path, count: int, smoke: bool) -> None:
    """Tones with noise, 1-4 s (0.3 s in smoke mode); odd clips at 44.1 kHz, even ones at 16 kHz."""
    import numpy as np
    import soundfile

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rate = 44100 if i % 2 else 16000
        seconds = 0.3 if smoke else 1 + 3 * rng.random()
        t = np.arange(int(seconds * rate)) / rate
        wave = 0.3 * np.sin(2 * np.pi * (200 + 10 * i) * t) + 0.05 * rng.standard_normal(t.size)
        soundfile.write(folder / f"{i:04d}.wav", wave.astype(np.float32), rate, subtype="PCM_16")


class Sides:
    """The three ways of running one folder: each call returns rows/s."""

    def __init__(self, task: str, folder: Path, out: Path, threads: int):
        from transformers import pipeline

        from runner.job.invocation import Invocation
        from runner.models.tiny import tiny_model_dir

        self.task, self.folder, self.out, self.threads = task, folder, out, threads
        self.files = sorted(str(p) for p in folder.iterdir())
        self.invocation = Invocation()  # the runner's model, loaded once for every round
        self.pipe = pipeline(task, model=str(tiny_model_dir(task)), device="cpu")
        self.rounds = 0

    def runner(self, prefetch) -> float:
        from runner.config.compose import compose_config
        from runner.plan import make_plan
        from runner.job.policies import run_plan

        plan = make_plan(
            compose_config(
                [
                    f"+task={self.task}",
                    "model=tiny",
                    "dataset=folder",
                    f"dataset.path={self.folder}",
                    f"batch_size={BATCH_SIZE}",
                    f"threads={self.threads}",
                    "progress=false",
                    f"dataset.prefetch={prefetch}",
                ]
            )
        )
        self.rounds += 1
        started = time.perf_counter()
        metrics = run_plan(
            plan, self.out / f"{self.rounds}", argv=["benchmark"], cwd=Path.cwd(), invocation=self.invocation
        ).to_json()
        elapsed = time.perf_counter() - started - (0 if metrics["model_reused"] else metrics["model_load_seconds"])
        assert metrics["rows_out"] == len(self.files), metrics
        return metrics["rows_out"] / elapsed

    def raw(self) -> float:
        import torch

        torch.set_num_threads(self.threads)
        started = time.perf_counter()
        inputs = self.files if self.task.startswith("image") else _decoded_clips(self.files, self.pipe)
        outputs = list(self.pipe(inputs, batch_size=BATCH_SIZE))
        assert len(outputs) == len(self.files)
        return len(outputs) / (time.perf_counter() - started)


def _decoded_clips(files: list[str], pipe):
    """What a user without ffmpeg writes: soundfile to read, soxr to reach the model's rate."""
    import soundfile
    import soxr

    rate = pipe.feature_extractor.sampling_rate
    for path in files:
        samples, file_rate = soundfile.read(path, dtype="float32")
        if file_rate != rate:
            samples = soxr.resample(samples, file_rate, rate)
        yield {"raw": samples, "sampling_rate": rate}


def measure_part(part: str, smoke: bool, rounds: int, threads: int) -> list[Ratio]:
    task, maker, count, smoke_count = PARTS[part]
    count = smoke_count if smoke else count
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / part
        globals()[maker](folder, count, smoke)
        sides = Sides(task, folder, Path(tmp) / "runs", threads)
        calls = {"off": lambda: sides.runner(0), "on": lambda: sides.runner("auto"), "raw": sides.raw}
        for call in calls.values():  # warm-up: lazy imports, the runner's model load, first-call caches
            call()
        rates = {name: [] for name in calls}
        names = list(calls)
        for turn in range(rounds):  # each round starts with the next side, so no side always goes first
            for name in names[turn % 3 :] + names[: turn % 3]:
                rates[name].append(calls[name]())
    unit = f"{count} {part} files, batch {BATCH_SIZE}, threads={threads}, model=tiny ({task})"
    figures = ", ".join(f"{name} median {sorted(r)[len(r) // 2]:.1f}" for name, r in rates.items())
    detail = f"{unit}; rows/s: {figures}"
    return [
        Ratio(
            f"prefetch {part}: on vs off (runner)",
            _ratios(rates["on"], rates["off"]),
            detail=detail,
            extra={"rows_per_second": rates},
        ),
        Ratio(
            f"prefetch {part}: runner (prefetch on) vs raw",
            _ratios(rates["on"], rates["raw"]),
            detail="raw: " + ("file paths" if part == "images" else "soundfile+soxr generator") + " into pipeline()",
        ),
        Ratio(f"prefetch {part}: runner (prefetch off) vs raw", _ratios(rates["off"], rates["raw"])),
    ]


def measure_worker(smoke: bool, rounds: int, threads: int) -> Ratio:
    """Why a thread: the same bounded look-ahead (16 images) decoded by one worker thread or by one worker
    process (forked once, outside the timer), while this thread runs the pipeline on decoded images."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    import torch
    from transformers import pipeline

    from runner.models.tiny import tiny_model_dir

    torch.set_num_threads(threads)
    count = 12 if smoke else 300
    with tempfile.TemporaryDirectory() as tmp:
        make_images(Path(tmp), count, smoke)
        files = sorted(str(p) for p in Path(tmp).iterdir())
        pipe = pipeline("image-classification", model=str(tiny_model_dir("image-classification")), device="cpu")
        with (
            ThreadPoolExecutor(1) as thread,
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as process,
        ):
            process.submit(_load_rgb, files[0]).result()  # the fork happens here, not in a timed round
            rates = {"thread": [], "process": []}
            for turn in range(rounds + 1):  # round 0 is a warm-up
                for name, pool in (
                    (("thread", thread), ("process", process))
                    if turn % 2
                    else (("process", process), ("thread", thread))
                ):
                    rate = _overlapped(pool, files, pipe)
                    if turn:
                        rates[name].append(rate)
    figures = ", ".join(f"{name} median {sorted(r)[len(r) // 2]:.1f}" for name, r in rates.items())
    return Ratio(
        "prefetch images: worker process vs thread",
        _ratios(rates["process"], rates["thread"]),
        detail=f"{count} images, batch {BATCH_SIZE}, threads={threads}; rows/s: {figures} "
        "(below 1: the thread is the better choice)",
    )


def measure_overlap(smoke: bool, rounds: int) -> Ratio:
    """The mechanism alone, as on a GPU: the runner's prefetcher decoding the JPEGs while the consumer
    waits for a stand-in forward pass that uses no CPU (a sleep as long as decoding the batch took
    inline). Ideal overlap halves the time (ratio 2.0); a saturated CPU cannot hide that wait."""
    from runner.engine.prefetch import prefetched
    from runner.engine.rows import Item
    from runner.sources import Row
    from runner.sources.decode import decode_image

    count = 12 if smoke else 200
    with tempfile.TemporaryDirectory() as tmp:
        make_images(Path(tmp), count, smoke)
        files = sorted(str(p) for p in Path(tmp).iterdir())
        started = time.perf_counter()
        for path in files:
            decode_image(path)
        wait = (time.perf_counter() - started) / count * BATCH_SIZE  # per batch: the decode time, inline

        def rows_per_second(depth: int) -> float:
            items = (Item(Row(i, {"image": path}, index=i)) for i, path in enumerate(files))
            started = time.perf_counter()
            with prefetched(
                items, lambda item: item.ahead.setdefault("decoded", decode_image(item.row.fields["image"])), depth
            ) as decoded:
                for position, _ in enumerate(decoded, 1):
                    if position % BATCH_SIZE == 0:
                        time.sleep(wait)
            return count / (time.perf_counter() - started)

        rates = {0: [], 2 * BATCH_SIZE: []}
        for turn in range(rounds + 1):  # round 0 is a warm-up
            for depth in (0, 2 * BATCH_SIZE) if turn % 2 else (2 * BATCH_SIZE, 0):
                rate = rows_per_second(depth)
                if turn:
                    rates[depth].append(rate)
    return Ratio(
        "prefetch mechanism: decode beside a CPU-free wait",
        _ratios(rates[2 * BATCH_SIZE], rates[0]),
        detail=f"{count} JPEGs, a {wait * 1000:.0f} ms sleep per batch of {BATCH_SIZE} standing in for a GPU "
        "forward; prefetch 2 batches vs inline (ideal 2.0)",
    )


def _load_rgb(path: str):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def _overlapped(pool, files: list[str], pipe, ahead: int = 16) -> float:
    """rows/s of the pipeline over `files`, decoded by `pool` at most `ahead` images in advance."""
    from collections import deque

    started = time.perf_counter()
    queued = iter(files)
    pending = deque(pool.submit(_load_rgb, path) for _, path in zip(range(ahead), queued))
    batch, done = [], 0
    while pending:
        batch.append(pending.popleft().result())
        following = next(queued, None)
        if following is not None:
            pending.append(pool.submit(_load_rgb, following))
        if len(batch) == BATCH_SIZE or not pending:
            done += len(pipe(batch, batch_size=BATCH_SIZE))
            batch = []
    assert done == len(files)
    return done / (time.perf_counter() - started)


def _ratios(ours: list[float], base: list[float]) -> list[float]:
    return [o / b for o, b in zip(ours, base)]


def measure(smoke: bool, rounds: int, parts=tuple(PARTS), threads: int = 1, worker: bool = True) -> list[Ratio]:
    results = []
    for part in parts:
        results += measure_part(part, smoke, max(1, rounds), threads)
    if worker:
        results.append(measure_worker(smoke, max(1, rounds), threads))
    results.append(measure_overlap(smoke, max(1, rounds)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same on every side")
    parser.add_argument("--no-worker", action="store_true", help="leave out the thread vs process comparison")
    args = parser.parse_args()
    for ratio in measure(args.smoke, 1 if args.smoke else args.rounds, args.parts, args.threads, not args.no_worker):
        print(ratio.line(), flush=True)


if __name__ == "__main__":
    main()
