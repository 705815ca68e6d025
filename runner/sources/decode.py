"""Turn a row's raw value into what a pipeline takes: str, {"raw", "sampling_rate"}, or a PIL image.

Audio is decoded with soundfile, or PyAV for what soundfile cannot read (runner.sources.audio), and
resampled with soxr: neither a system ffmpeg nor torchaudio is needed.
Every failure raises ValueError with a message that names the file, so the row's error says why.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from runner.sources import TextFile
from runner.sources.audio import probe_audio_file, read_audio
from runner.tasks import AUDIO, IMAGE, TEXT


def resolve_path(value: str, base_dir: Path | None) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None and (base_dir / path).exists():
        return base_dir / path
    return path


def decode_text(value: Any, base_dir: Path | None = None) -> str:
    if isinstance(value, TextFile):
        try:
            value = Path(value.path).read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read text file {value.path}: {error}") from error
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}: {value!r:.80}")
    if not value.strip():
        raise ValueError("empty text")
    return value


def decode_audio(value: Any, target_rate: int, base_dir: Path | None = None) -> dict:
    """A mono float32 waveform at `target_rate`, as the ASR/audio pipelines take it."""
    import numpy as np

    array, rate = _read_audio(value, base_dir)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 2:  # (frames, channels) -> mono
        array = array.mean(axis=1) if array.shape[1] <= 8 else array.mean(axis=0)
    if array.size == 0:
        raise ValueError("empty audio")
    if rate != target_rate:
        import soxr

        array = soxr.resample(array, rate, target_rate).astype(np.float32)
    return {"raw": array, "sampling_rate": target_rate}


def _read_audio(value: Any, base_dir: Path | None):
    if isinstance(value, dict):
        if value.get("array") is not None:  # datasets' decoded Audio
            return value["array"], int(value["sampling_rate"])
        if value.get("raw") is not None:
            return value["raw"], int(value["sampling_rate"])
        if value.get("bytes"):
            return read_audio(io.BytesIO(value["bytes"]), value.get("path") or "<bytes>")
        if value.get("path"):
            value = value["path"]
    if hasattr(value, "get_all_samples"):  # torchcodec AudioDecoder (datasets >= 4)
        samples = value.get_all_samples()
        return samples.data.numpy().T, int(samples.sample_rate)
    if isinstance(value, (str, Path)):
        path = resolve_path(str(value), base_dir)
        if not path.is_file():
            raise ValueError(f"audio file not found: {path}")
        return read_audio(str(path), str(path))
    raise ValueError(f"expected an audio file path or array, got {type(value).__name__}")


def decode_image(value: Any, base_dir: Path | None = None):
    return _open_image(value, base_dir, load=True)


def _open_image(value: Any, base_dir: Path | None, load: bool):
    """The image as RGB (`load`: decoded now, inside this row), or, without `load`, only its header read."""
    from PIL import Image

    if isinstance(value, Image.Image):
        return value.convert("RGB") if load else value
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        value = io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"]
    if isinstance(value, (str, Path)):
        value = resolve_path(str(value), base_dir)
        if not value.is_file():
            raise ValueError(f"image file not found: {value}")
    if not isinstance(value, (Path, io.BytesIO)):
        raise ValueError(f"expected an image file path or image, got {type(value).__name__}")
    try:
        with Image.open(value) as image:
            return image.convert("RGB") if load else image.size
    except Exception as error:  # PIL raises UnidentifiedImageError, OSError, SyntaxError...
        raise ValueError(f"cannot decode image {value}: {error}") from error


def probe(modality: str, value: Any, base_dir: Path | None = None) -> None:
    """Raise ValueError (why) unless `value` can be decoded as `modality`, cheaply: of a file, only its
    header is read. The plan asks this of the first rows, before a model loads."""
    if modality == AUDIO:
        _probe_audio(value, base_dir)
    elif modality == IMAGE:
        _open_image(value, base_dir, load=False)
    elif modality == TEXT:
        decode_text(value, base_dir)


def _probe_audio(value: Any, base_dir: Path | None) -> None:
    if not isinstance(value, (str, Path)):
        _read_audio(value, base_dir)  # an array, or bytes in memory: cheap to decode
        return
    path = resolve_path(str(value), base_dir)
    if not path.is_file():
        raise ValueError(f"audio file not found: {path}")
    probe_audio_file(str(path))
