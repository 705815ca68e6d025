"""Read an audio file (a path or a file-like of its bytes) into (samples, rate) at the file's own rate.

soundfile (libsndfile) reads wav/flac/ogg/mp3/aiff; what it cannot read (m4a, mp4, webm, opus in
webm, aac...) is decoded with PyAV, whose wheel bundles FFmpeg, so no system ffmpeg is needed.
A file shorter than its header says is an error of its row, never a silently shorter waveform:
libsndfile reads what is there and only notes the mismatch in its header dump, so that is checked.
"""

from __future__ import annotations

import re
from typing import Any

# libsndfile's header dump notes a chunk larger than the file as "data : 32000 (should be 15978)".
_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Streaming writers leave the size unknown in the header: 0 or 0xFFFFFFFF is a placeholder, not a claim.
_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF, 0xFFFFFFFE)
# A container's declared duration is an estimate for some codecs (mp3 without a Xing header):
# decoded audio this much shorter (seconds, and fraction) is a truncated file, not rounding.
_SHORT_SECONDS, _SHORT_FRACTION = 0.25, 0.05


def read_audio(source: Any, name: str) -> tuple[Any, int]:
    """(samples, rate); ValueError naming the file when it cannot be decoded or is truncated."""
    try:
        return _soundfile_read(source, name)
    except _NotForSoundfile as first:
        if hasattr(source, "seek"):
            source.seek(0)
        return _pyav_read(source, name, first.reason)


def probe_audio_file(path: str) -> None:
    """ValueError unless soundfile or PyAV recognises the file as audio (its header only: cheap)."""
    import soundfile

    try:
        soundfile.info(path)
        return
    except Exception as error:  # not a format libsndfile knows
        first = f"{type(error).__name__}: {error}"
    import av

    try:
        with av.open(path, mode="r") as container:
            if any(s.type == "audio" for s in container.streams):
                return
            reason = "it holds no audio stream"
    except Exception as error:  # FFmpegError subclasses, OSError
        reason = f"{first}; PyAV: {type(error).__name__}: {error}"
    raise ValueError(f"cannot decode audio {path}: {reason}")


class Truncated(ValueError):
    """The file holds less audio than it declares."""


class _NoAudio(Exception):
    pass


class _NotForSoundfile(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def _soundfile_read(source: Any, name: str) -> tuple[Any, int]:
    import soundfile

    try:
        with soundfile.SoundFile(source) as f:
            header, rate, declared = f.extra_info, f.samplerate, f.frames
            samples = f.read(dtype="float32", always_2d=False)
    except Exception as error:  # LibsndfileError/RuntimeError/TypeError by format: perhaps PyAV can
        raise _NotForSoundfile(f"{type(error).__name__}: {error}") from error
    _check_whole(header, name)
    if len(samples) < declared:  # e.g. an mp3 whose Xing header counts more frames than are left
        raise Truncated(f"audio {name} is truncated: it declares {declared} frames, {len(samples)} could be read")
    return samples, rate


def _check_whole(header_dump: str, name: str) -> None:
    for chunk, declared, present in _SHORT_CHUNK.findall(header_dump):
        declared, present = int(declared), int(present)
        if declared > present and declared not in _PLACEHOLDER_SIZES:
            raise Truncated(
                f"audio {name} is truncated: its {chunk} chunk declares {declared} bytes, the file holds {present}"
            )


def _pyav_read(source: Any, name: str, soundfile_reason: str) -> tuple[Any, int]:
    import av

    try:
        with av.open(source, mode="r") as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise _NoAudio()
            samples = _decode_mono(container, stream)
            declared = _declared_seconds(container, stream)
    except _NoAudio:
        raise ValueError(f"cannot decode audio {name}: it holds no audio stream") from None
    except Exception as error:  # FFmpegError subclasses, OSError, and whatever a corrupt file brings
        raise ValueError(
            f"cannot decode audio {name}: {soundfile_reason}; PyAV: {type(error).__name__}: {error}"
        ) from error
    _check_duration(samples.size / stream.rate, declared, name)
    return samples, stream.rate


def _decode_mono(container, stream):
    """All of the stream as mono float32 at its own rate (resampling to the model's rate is soxr's job)."""
    import av
    import numpy as np

    resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
    chunks = []
    for frame in container.decode(stream):
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
    chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _check_duration(decoded: float, declared: float | None, name: str) -> None:
    if declared is None or declared <= 0:
        return
    if declared - decoded > max(_SHORT_SECONDS, _SHORT_FRACTION * declared):
        raise Truncated(f"audio {name} is truncated: it declares {declared:.2f} s, {decoded:.2f} s could be decoded")
