"""The built-in speech clips with their reference texts, and long recordings made of them.

Clip N of runner/sample_data/audio is espeak-ng reading the `text` of row N of samples.jsonl
(scripts/make_speech_samples.sh), 16 kHz mono. A long recording strings clips together with short
pauses, so its reference is the clips' texts in the same order. Used by benchmarks/asr.py and the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from runner.core.paths import SAMPLE_DIR

RATE = 16000
PAUSE_SECONDS = 0.4


@dataclass(frozen=True)
class SpeechClip:
    path: Path
    text: str


def speech_clips() -> list[SpeechClip]:
    rows = [json.loads(line) for line in (SAMPLE_DIR / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    return [SpeechClip(SAMPLE_DIR / row["audio"], row["text"]) for row in rows]


def read_clip(path: Path):
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32")
    if rate != RATE:
        raise ValueError(f"{path}: {rate} Hz, the sample clips are {RATE} Hz")
    return samples


def write_long_recordings(folder: Path, count: int = 1, repeats: int = 2) -> list[SpeechClip]:
    """`count` wavs of every clip `repeats` times over (rotated by one clip per file, so files differ):
    about 45 s each with the shipped clips, longer than Whisper's 30 s window."""
    import numpy as np
    import soundfile

    clips = speech_clips()
    audio = [read_clip(clip.path) for clip in clips]
    pause = np.zeros(int(PAUSE_SECONDS * RATE), dtype=np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(count):
        order = [(k + j) % len(clips) for j in range(len(clips))] * repeats
        path = folder / f"long{k}.wav"
        soundfile.write(str(path), np.concatenate([np.concatenate([audio[i], pause]) for i in order]), RATE)
        out.append(SpeechClip(path, " ".join(clips[i].text for i in order)))
    return out


def seconds(clips: list[SpeechClip]) -> float:
    import soundfile

    return sum(soundfile.info(str(clip.path)).duration for clip in clips)
