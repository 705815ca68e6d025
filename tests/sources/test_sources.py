"""Sources read real files lazily, map columns onto task inputs, and fail rows (not runs) on bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from runner.core.errors import ConfigError
from runner.sources import open_source, resolve_mapping
from runner.sources.decode import decode_audio, decode_image
from runner.tasks import TASKS
from tests.conftest import write_png, write_wav

COMMON = {"column": None, "fields": {"text": None, "audio": None, "image": None}, "id_column": None, "limit": None}


def rows_of(cfg, task="text-classification"):
    source = open_source({**COMMON, **cfg}, TASKS[task])
    return list(source.rows(resolve_mapping(source)))


def test_csv_with_column_mapping_and_ids(tmp_path):
    (tmp_path / "faq.csv").write_text('qid,question\nq1,How do I log in?\nq2,"Where, exactly?"\n')
    rows = rows_of(
        {"type": "file", "path": str(tmp_path / "faq.csv"), "format": "auto", "column": "question", "id_column": "qid"}
    )
    assert [(r.id, r.fields) for r in rows] == [
        ("q1", {"text": "How do I log in?"}),
        ("q2", {"text": "Where, exactly?"}),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet", ".txt"])
def test_every_file_format_yields_the_same_rows(tmp_path, suffix):
    texts = ["first line", "second line", "third line"]
    path = tmp_path / f"data{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    elif suffix == ".json":
        path.write_text(json.dumps([{"text": t} for t in texts]))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": texts}), path)
    else:
        path.write_text("\n".join(texts) + "\n\n")
    rows = rows_of({"type": "file", "path": str(path), "format": "auto"})
    assert [r.fields["text"] for r in rows] == texts
    assert [r.id for r in rows] == [0, 1, 2]


def test_limit_stops_early_and_reading_is_lazy(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(1000)) + "{broken\n")
    source = open_source(
        {**COMMON, "type": "file", "path": str(path), "format": "auto", "limit": 3}, TASKS["fill-mask"]
    )
    assert [r.fields["text"] for r in source.rows(resolve_mapping(source))] == ["row 0", "row 1", "row 2"]


def test_a_broken_jsonl_line_becomes_an_error_row(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "ok"}\n{not json\n{"text": "ok again"}\n')
    rows = rows_of({"type": "file", "path": str(path), "format": "auto"})
    assert [r.error is None for r in rows] == [True, False, True]
    assert "d.jsonl:2: invalid JSON" in rows[1].error


def test_missing_column_is_a_config_error_naming_columns(tmp_path):
    (tmp_path / "faq.csv").write_text("question,answer\nq,a\n")
    with pytest.raises(ConfigError) as caught:
        rows_of({"type": "file", "path": str(tmp_path / "faq.csv"), "format": "auto"})
    assert caught.value.key == "dataset.column"
    assert "question, answer" in caught.value.hint


def test_folder_of_audio_sorted_with_relative_ids(tmp_path):
    write_wav(tmp_path / "b" / "two.wav", 0.2)
    write_wav(tmp_path / "one.wav", 0.2)
    (tmp_path / "notes.md").write_text("ignored: not audio")
    rows = rows_of(
        {"type": "folder", "path": str(tmp_path), "extensions": None, "recursive": True}, "automatic-speech-recognition"
    )
    assert [r.id for r in rows] == ["b/two.wav", "one.wav"]
    assert rows[1].fields["audio"] == str(tmp_path / "one.wav")


def test_inline_strings_and_mappings():
    rows = rows_of({"type": "inline", "rows": ["plain string", {"text": "from a mapping"}]})
    assert [r.fields["text"] for r in rows] == ["plain string", "from a mapping"]


def test_sample_source_picks_the_masked_text_for_fill_mask():
    rows = rows_of({"type": "sample"}, "fill-mask")
    assert len(rows) == 6 and all("<mask>" in r.fields["text"] for r in rows)


def test_hf_source_reads_a_local_csv_through_datasets(tmp_path):
    (tmp_path / "d.csv").write_text("sentence,label\nhello there,1\ngood bye,0\n")
    rows = rows_of(
        {
            "type": "hf",
            "name": "csv",
            "config": None,
            "split": "train",
            "data_files": str(tmp_path / "d.csv"),
            "data_dir": None,
            "revision": None,
            "streaming": True,
            "column": "sentence",
        }
    )
    assert [r.fields["text"] for r in rows] == ["hello there", "good bye"]


def test_audio_is_decoded_mono_and_resampled(tmp_path):
    import soundfile

    stereo = np.stack([np.zeros(22050), np.ones(22050) * 0.5], axis=1).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", stereo, 22050)
    audio = decode_audio("s.wav", 16000, base_dir=tmp_path)
    assert audio["sampling_rate"] == 16000
    assert audio["raw"].ndim == 1 and abs(len(audio["raw"]) - 16000) <= 2
    assert abs(float(audio["raw"][8000]) - 0.25) < 0.01


def test_corrupt_files_raise_value_errors_naming_them(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not a wav")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="bad.wav"):
        decode_audio(str(tmp_path / "bad.wav"), 16000)
    with pytest.raises(ValueError, match="bad.png"):
        decode_image(str(tmp_path / "bad.png"))
    with pytest.raises(ValueError, match="not found"):
        decode_image(str(tmp_path / "missing.png"))
    image = decode_image(str(write_png(tmp_path / "ok.png")))
    assert image.size == (40, 30) and image.mode == "RGB"


def test_sizes_known_up_front_feed_the_progress_bar(tmp_path):
    write_wav(tmp_path / "a.wav", 0.1)
    write_wav(tmp_path / "b.wav", 0.1)
    asr = TASKS["automatic-speech-recognition"]
    assert open_source({**COMMON, "type": "folder", "path": str(tmp_path), "extensions": None}, asr).total_rows() == 2
    assert open_source({**COMMON, "type": "sample", "limit": 4}, asr).total_rows() == 4
    assert open_source({**COMMON, "type": "inline", "rows": ["x", "y", "z"]}, TASKS["fill-mask"]).total_rows() == 3
    (tmp_path / "d.csv").write_text("text\nx\n")
    assert (
        open_source(
            {**COMMON, "type": "file", "path": str(tmp_path / "d.csv"), "format": "auto"}, TASKS["fill-mask"]
        ).total_rows()
        is None
    )
