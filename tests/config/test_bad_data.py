"""Data that cannot give a run anything is a config error found while planning, before any model
loads: no rows (an empty file, a header only, an empty or unmatched folder, skip/shard leaving
nothing), none of the first rows readable, a column missing from the first rows, or a column whose
first values are all of the wrong kind for the task. Each case: ConfigError naming its key, < 3 s,
and the model loader never called."""

from __future__ import annotations

import json
import time

import pytest

import runner
from runner.core.errors import ConfigError, RunError
from tests.conftest import write_png, write_wav


def _texts(n: int) -> str:
    return "".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(n))


def _saved_dataset(path, rows: dict, split: str | None = None):
    import datasets

    dataset = datasets.Dataset.from_dict(rows)
    (datasets.DatasetDict({split: dataset}) if split else dataset).save_to_disk(str(path))


# (name, files to write {relative path: str | bytes | callable(path)}, overrides, key, text in the message)
CASES = [
    (
        "empty folder",
        {"pics/": None},
        ["+task=image-classification", "dataset=folder", "dataset.path=pics"],
        "dataset.path",
        "no .png/",
    ),
    (
        "folder without the task's files",
        {"pics/a.txt": "x", "pics/b.txt": "y"},
        ["+task=image-classification", "dataset=folder", "dataset.path=pics"],
        "dataset.path",
        "no .png/",
    ),
    (
        "folder whose files are only in subfolders, not recursive",
        {"clips/sub/a.wav": write_wav},
        ["+task=asr", "dataset=folder", "dataset.path=clips", "dataset.recursive=false"],
        "dataset.path",
        "not searched",
    ),
    (
        "folder of images none of which decodes",
        {f"pics/{i}.png": b"not a png" for i in range(6)},
        ["+task=image-classification", "dataset=folder", "dataset.path=pics"],
        "dataset.extensions",
        "does not hold an image",
    ),
    (
        "empty csv",
        {"d.csv": ""},
        ["+task=text-classification", "dataset=file", "dataset.path=d.csv"],
        "dataset.path",
        "'d.csv' is empty",
    ),
    (
        "csv with a header only",
        {"d.csv": "id,text\n"},
        ["+task=text-classification", "dataset=file", "dataset.path=d.csv"],
        "dataset.path",
        "'d.csv' has no rows",
    ),
    (
        "jsonl of blank lines",
        {"d.jsonl": "\n\n  \n"},
        ["+task=text-classification", "dataset=file", "dataset.path=d.jsonl"],
        "dataset.path",
        "'d.jsonl' has no rows",
    ),
    (
        "json empty array",
        {"d.json": "[]"},
        ["+task=text-classification", "dataset=file", "dataset.path=d.json"],
        "dataset.path",
        "has no rows",
    ),
    (
        "txt of blank lines",
        {"d.txt": "\n \n\n"},
        ["+task=text-classification", "dataset=file", "dataset.path=d.txt"],
        "dataset.path",
        "'d.txt' has no rows",
    ),
    (
        "skip past the end",
        {"d.jsonl": _texts(3)},
        ["+task=text-classification", "dataset=file", "dataset.path=d.jsonl", "dataset.skip=3"],
        "dataset.skip",
        "leaves no rows",
    ),
    (
        "a shard past the end",
        {"d.jsonl": _texts(3)},
        ["+task=text-classification", "dataset=file", "dataset.path=d.jsonl", "shard.index=4", "shard.count=5"],
        "shard.index",
        "shard 4 of 5 gets no rows",
    ),
    (
        "csv in latin-1",
        {"d.csv": "text\ncaf\xe9\nna\xefve\n".encode("latin-1")},
        ["+task=text-classification", "dataset=file", "dataset.path=d.csv"],
        "dataset.path",
        "is not UTF-8",
    ),
    (
        "jsonl of broken lines",
        {"d.jsonl": '{"text": \n{"text": "x"\n'},
        ["+task=text-classification", "dataset=file", "dataset.path=d.jsonl"],
        "dataset.path",
        "invalid JSON",
    ),
    (
        "column absent from the first jsonl rows",
        {"d.jsonl": _texts(60)},
        ["+task=text-classification", "dataset=file", "dataset.path=d.jsonl", "dataset.column=sentence"],
        "dataset.column",
        "'sentence' is not in the first 50 rows",
    ),
    (
        "a field that only later rows have",
        {"d.jsonl": "".join(json.dumps({"id": i} if i < 60 else {"id": i, "text": "late"}) + "\n" for i in range(70))},
        ["+task=text-classification", "dataset=file", "dataset.path=d.jsonl", "dataset.column=text"],
        "dataset.column",
        "not in the first 50 rows",
    ),
    (
        "csv column empty in the first rows",
        {"d.csv": "id,text\n" + "".join(f"{i},\n" for i in range(8))},
        ["+task=text-classification", "dataset=file", "dataset.path=d.csv", "dataset.column=text"],
        "dataset.column",
        "empty text",
    ),
    (
        "text column fed to an image task",
        {"d.csv": "caption\na red circle\na blue square\n"},
        ["+task=image-classification", "dataset=file", "dataset.path=d.csv", "dataset.column=caption"],
        "dataset.column",
        "does not hold an image",
    ),
    (
        "text column fed to speech recognition",
        {"d.jsonl": _texts(4)},
        ["+task=asr", "dataset=file", "dataset.path=d.jsonl", "dataset.column=text"],
        "dataset.column",
        "does not hold audio",
    ),
    (
        "audio paths fed as the image of a two-input task",
        {"d.jsonl": "".join(json.dumps({"clip": "a.wav", "q": "what?"}) + "\n" for _ in range(3)), "a.wav": write_wav},
        ["+task=vqa", "dataset=file", "dataset.path=d.jsonl", "dataset.fields.image=clip", "dataset.fields.question=q"],
        "dataset.fields.image",
        "cannot decode image",
    ),
    (
        "saved dataset without the split",
        {"saved": lambda p: _saved_dataset(p, {"text": ["a"]}, split="test")},
        ["+task=text-classification", "dataset=hf", "dataset.name=saved"],
        "dataset.split",
        "'train' is not a split",
    ),
    (
        "saved dataset whose column holds numbers",
        {"saved": lambda p: _saved_dataset(p, {"text": [1, 2, 3]})},
        ["+task=text-classification", "dataset=hf", "dataset.name=saved"],
        "dataset.column",
        "expected text, got int",
    ),
    (
        "skip past the end of a saved dataset",
        {"saved": lambda p: _saved_dataset(p, {"text": ["a", "b"]})},
        ["+task=text-classification", "dataset=hf", "dataset.name=saved", "dataset.skip=2"],
        "dataset.skip",
        "leaves no rows",
    ),
]


def _write(root, files: dict) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif callable(content):
            content(path) if content is not write_wav else write_wav(path, 0.2)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if anything tries to load a model: these checks must come first."""
    import runner.backends.cache
    import runner.models.loading

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the data was checked")

    monkeypatch.setattr(runner.models.loading, "load_pipeline", refuse)
    monkeypatch.setattr(runner.backends.cache, "load_pipeline", refuse)


@pytest.mark.parametrize("name, files, overrides, key, text", CASES, ids=[case[0] for case in CASES])
def test_bad_data_is_a_config_error_before_the_model(
    tmp_path, monkeypatch, no_model, name, files, overrides, key, text
):
    _write(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        runner.run([*overrides, "model=tiny"], output_dir=tmp_path / "out")
    assert time.perf_counter() - started < 3
    error = caught.value
    assert error.key == key, f"{error.key}: {error.message}"
    assert text in f"{error.message} {error.hint}", f"{error.key}: {error.message} (hint: {error.hint})"


def test_python_inputs_of_the_wrong_kind(no_model):
    with pytest.raises(ConfigError) as caught:
        runner.run("image-classification", model="tiny", inputs=["a cat", "a dog"])
    assert caught.value.key == "dataset.column" and "image file not found: a cat" in caught.value.message


def test_some_bad_first_rows_are_just_bad_rows(tmp_path, monkeypatch, no_model):
    """Only when every one of the first rows fails is it the config's fault: here one decodes."""
    write_png(tmp_path / "pics" / "ok.png")
    for i in range(4):
        (tmp_path / "pics" / f"bad{i}.png").write_bytes(b"broken")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunError, match="a model was loaded"):
        runner.run(
            ["+task=image-classification", "model=tiny", "dataset=folder", "dataset.path=pics"],
            output_dir=tmp_path / "out",
        )
