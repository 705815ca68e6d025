"""backend=: selection, refusal (exit 2 naming task and backend, before any model loads), the extra missing,
output format parity with backend=transformers, resume and rerun byte for byte on backend=ctranslate2.

In-process runs on the tiny random Whisper (converted once by CTranslate2's converter); the real
Whisper tiny.en through the CLI is in test_ctranslate2_real.py."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

import runner
from runner.core.errors import ConfigError

ASR = ["+task=asr", "model=tiny", "dataset=sample", "dataset.limit=2", "progress=false", "threads=1"]
CT2 = [*ASR, "backend=ctranslate2"]
needs_ct2 = pytest.mark.skipif(
    not __import__("runner.core.extras", fromlist=["x"]).is_installed("faster_whisper"),
    reason="faster-whisper (extra ctranslate2) not installed",
)


def refused(tmp_path, overrides) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        runner.run(overrides, output_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "run.json").exists()  # found before the run dir, before any model loads
    return caught.value


def test_the_registry_and_the_schema_list_the_same_backends():
    from runner.backends import BACKENDS, DEFAULT
    from runner.config.validate import load_schema
    from runner.core.paths import CONF_DIR

    assert DEFAULT == "transformers" and set(BACKENDS) == {"transformers", "ctranslate2"}
    assert load_schema("config.schema.json")["properties"]["backend"]["properties"]["name"]["enum"] == list(BACKENDS)
    assert {p.stem for p in (CONF_DIR / "backend").glob("*.yaml")} == set(BACKENDS)


def test_a_task_the_backend_does_not_run_is_refused_naming_both(tmp_path):
    error = refused(tmp_path, ["+task=text-classification", "model=tiny", "backend=ctranslate2"])
    assert error.key == "backend"
    assert "backend=ctranslate2" in error.message and "text-classification" in error.message


@pytest.mark.parametrize(
    "override, key",
    [
        ("backend=onnx", "backend"),
        ("+backend.compute_type=int3", "backend.compute_type"),
        ("+task.params.beam_size=0", "task.params.beam_size"),
        ("+task.params.temperature=[2.0]", "task.params.temperature.0"),
        ("+task.params.vad_filter=maybe", "task.params.vad_filter"),
    ],
)
def test_bad_values_name_their_key(tmp_path, override, key):
    error = refused(tmp_path, [*CT2, override])
    assert error.key == key, error.render()


def test_a_parameter_only_ctranslate2_reads_is_refused_on_transformers(tmp_path):
    error = refused(tmp_path, [*ASR, "+task.params.beam_size=5"])
    assert error.key == "task.params.beam_size" and "backend=ctranslate2" in error.render()


def test_the_extra_missing_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # how Python blocks an import
    error = refused(tmp_path, CT2)
    assert error.key == "backend" and "hf-pipeline-runner[ctranslate2]" in error.render()


@needs_ct2
@pytest.mark.parametrize(
    "override, key",
    [
        ("+task.params.chunk_length_s=30", "task.params.chunk_length_s"),
        ("+task.params.return_timestamps=char", "task.params.return_timestamps"),
        ("quantization=8bit", "quantization"),
        ("batch_size=auto", "batch_size"),
        ("model=whisper", "model.id"),
    ],
)
def test_settings_ctranslate2_cannot_honour_are_config_errors(tmp_path, override, key):
    assert refused(tmp_path, [*CT2, override]).key == key


@needs_ct2
def test_batched_without_vad_is_refused(tmp_path):
    assert refused(tmp_path, [*CT2, "batch_size=4", "+task.params.vad_filter=false"]).key == "task.params.vad_filter"


def test_the_default_backend_hashes_as_configs_saved_before_the_key():
    from runner.repro.record import config_hash

    cfg = {"seed": 0, "model": {"tiny": "auto"}}
    assert config_hash({**cfg, "backend": {"name": "transformers"}}) == config_hash(cfg)
    assert config_hash({**cfg, "backend": {"name": "ctranslate2", "compute_type": "auto"}}) != config_hash(cfg)


def _outputs(run_dir):
    return [json.loads(line)["output"] for line in (run_dir / "predictions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ct2_run(tmp_path_factory):
    pytest.importorskip("faster_whisper")
    root = tmp_path_factory.mktemp("ct2")
    runner.run([*CT2, "+task.params.return_timestamps=true"], output_dir=root / "run")
    return root / "run"


@needs_ct2
def test_outputs_have_the_transformers_backends_format(ct2_run, tmp_path):
    runner.run([*ASR, "+task.params.return_timestamps=true"], output_dir=tmp_path / "tf")
    ours, theirs = _outputs(ct2_run), _outputs(tmp_path / "tf")
    assert [set(o) for o in ours] == [set(o) for o in theirs] == [{"text", "chunks"}] * 2
    for output in (*ours, *theirs):
        assert output["chunks"] and all(
            set(c) == {"text", "timestamp"} and len(c["timestamp"]) == 2 for c in output["chunks"]
        )
    record = json.loads((ct2_run / "run.json").read_text())
    assert record["config"]["backend"]["name"] == "ctranslate2" and record["versions"]["ctranslate2"]
    metrics = json.loads((ct2_run / "metrics.json").read_text())
    assert metrics["dtype"] == "float32" and metrics["device"] == "cpu"


@needs_ct2
def test_rerun_and_resume_give_the_same_bytes(ct2_run, tmp_path):
    from runner.repro.rerun import compare

    original = (ct2_run / "predictions.jsonl").read_bytes()
    runner.run([*CT2, "+task.params.return_timestamps=true"], output_dir=tmp_path / "again")
    verdict = compare(ct2_run, tmp_path / "again")  # what `run rerun=<dir>` concludes
    assert verdict["identical"] is True and verdict["config_differences"] == [], verdict
    cut = tmp_path / "cut"
    shutil.copytree(ct2_run, cut)
    (cut / "predictions.jsonl").write_bytes(original.splitlines(keepends=True)[0])  # interrupted after row 0
    runner.run([*CT2, "+task.params.return_timestamps=true", f"resume={cut}"], output_dir=tmp_path / "resumed")
    assert (cut / "predictions.jsonl").read_bytes() == original


@needs_ct2
def test_a_transformers_folder_is_converted_once_and_cached(tmp_path):
    from runner.models.convert import ct2_folder
    from runner.models.tiny import tiny_model_dir

    source = tiny_model_dir("automatic-speech-recognition", "auto", seed=0)
    first = ct2_folder(source, cache_dir=tmp_path)
    assert (first / "model.bin").is_file() and (first / "tokenizer.json").is_file()
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert ct2_folder(source, cache_dir=tmp_path) == first and (first / "model.bin").stat().st_mtime_ns == stamp
    assert ct2_folder(first) == first  # a CTranslate2 folder is used as it is
