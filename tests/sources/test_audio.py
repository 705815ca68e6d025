"""Audio that soundfile cannot read (m4a, mp4, webm/opus) decodes through PyAV; a file shorter than its
header says fails its row, never silently shorter. The files are written here with PyAV's encoders."""

from __future__ import annotations

import numpy as np
import pytest

from runner.sources import open_source, resolve_mapping
from runner.sources.decode import decode_audio, probe
from runner.tasks import TASKS
from tests.conftest import write_wav


def write_encoded(path, container: str, codec: str, seconds: float = 1.0, rate: int = 16000):
    """A 440 Hz tone encoded with PyAV (its wheel bundles FFmpeg's encoders: no system ffmpeg needed)."""
    import av

    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32).reshape(1, -1)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=48000 if codec == "libopus" else rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(wave, format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=stream.rate)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return path


def cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "name, container, codec, rate",
    [
        ("clip.m4a", "mp4", "aac", 16000),
        ("clip.mp4", "mp4", "aac", 22050),
        ("clip.webm", "webm", "libopus", 48000),
        ("clip.mp3", "mp3", "libmp3lame", 16000),
    ],
)
def test_compressed_audio_decodes_to_mono_float32_at_the_model_rate(tmp_path, name, container, codec, rate):
    path = write_encoded(tmp_path / name, container, codec, rate=rate)
    probe("audio", str(path))
    decoded = decode_audio(str(path), 16000)
    assert decoded["sampling_rate"] == 16000 and decoded["raw"].dtype == np.float32 and decoded["raw"].ndim == 1
    assert abs(len(decoded["raw"]) - 16000) < 1600  # one second, give or take the codec's padding
    assert 0.1 < np.abs(decoded["raw"]).max() < 0.5  # the tone, not silence


def test_audio_bytes_in_memory_decode_through_pyav_too(tmp_path):
    data = write_encoded(tmp_path / "clip.m4a", "mp4", "aac").read_bytes()
    assert len(decode_audio({"bytes": data, "path": "clip.m4a"}, 16000)["raw"]) > 15000


def test_truncated_wav_fails_its_row_instead_of_decoding_half(tmp_path):
    path = cut_in_half(write_wav(tmp_path / "cut.wav", 1.0))
    with pytest.raises(ValueError, match=r"cut.wav is truncated: its data chunk declares 32000 bytes, the file holds"):
        decode_audio(str(path), 16000)


@pytest.mark.parametrize(
    "name, container, codec",
    [("cut.mp3", "mp3", "libmp3lame"), ("cut.webm", "webm", "libopus"), ("cut.m4a", "mp4", "aac")],
)
def test_truncated_compressed_audio_fails_its_row(tmp_path, name, container, codec):
    path = cut_in_half(write_encoded(tmp_path / name, container, codec))
    with pytest.raises(ValueError, match=r"is truncated|cannot decode audio"):
        decode_audio(str(path), 16000)


def test_a_file_that_is_no_audio_names_both_decoders(tmp_path):
    path = tmp_path / "notes.m4a"
    path.write_text("not audio at all")
    with pytest.raises(ValueError, match=r"cannot decode audio .*notes.m4a: .*; PyAV: "):
        decode_audio(str(path), 16000)
    with pytest.raises(ValueError, match=r"cannot decode audio"):
        probe("audio", str(path))


def test_folder_collects_the_formats_pyav_decodes(tmp_path):
    write_wav(tmp_path / "a.wav", 0.2)
    write_encoded(tmp_path / "b.webm", "webm", "libopus", seconds=0.2)
    write_encoded(tmp_path / "c.mp4", "mp4", "aac", seconds=0.2)
    source = open_source(
        {
            "type": "folder",
            "path": str(tmp_path),
            "extensions": None,
            "recursive": True,
            "column": None,
            "fields": {},
            "id_column": None,
            "limit": None,
        },
        TASKS["automatic-speech-recognition"],
    )
    rows = list(source.rows(resolve_mapping(source)))
    assert [r.id for r in rows] == ["a.wav", "b.webm", "c.mp4"]
    assert all(len(decode_audio(r.fields["audio"], 16000)["raw"]) > 2000 for r in rows)


def test_speech_recognition_over_a_folder_of_mixed_formats_reports_the_truncated_file(tmp_path):
    import json

    from tests.conftest import read_jsonl, run_job

    (tmp_path / "clips").mkdir()
    write_encoded(tmp_path / "clips" / "a.m4a", "mp4", "aac")
    write_encoded(tmp_path / "clips" / "b.webm", "webm", "libopus")
    cut_in_half(write_wav(tmp_path / "clips" / "c.wav", 1.0))
    write_wav(tmp_path / "clips" / "d.wav", 1.0)
    out = tmp_path / "out"
    result = run_job(
        "+task=asr", "model=tiny", "dataset=folder", "dataset.path=clips", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert result.returncode in (0, 4), result.stderr  # 4: rows failed (the engine's exit code of #13)
    assert [p["id"] for p in read_jsonl(out / "predictions.jsonl")] == ["a.m4a", "b.webm", "d.wav"]
    (error,) = read_jsonl(out / "errors.jsonl")
    assert error["id"] == "c.wav" and "is truncated" in error["error"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (4, 3, 1)
