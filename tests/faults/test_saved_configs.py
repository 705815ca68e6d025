"""A saved config is data: rerun= evaluates no resolver from it, and settings in it that reach outside the
process need the command line's consent; secrets are redacted whatever their type (issue 29, class 3)."""

from __future__ import annotations

import json
import shutil

import pytest

from runner.core.errors import ConfigError
from runner.core.redact import REDACTED, redact
from runner.repro.rerun import _apply_overrides
from runner.repro.untrusted import check_saved_config
from tests.conftest import run_job

SECRET = "leaked-secret-value-4242"


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("SECRET_X", SECRET)


@pytest.mark.parametrize(
    "value",
    [
        "${oc.env:SECRET_X}",
        "${oc.env:SECRET_X,fallback}",
        "prefix ${oc.env:SECRET_X} suffix",
        "${oc.decode:'${oc.env:SECRET_X}'}",
        "${model.id}",
        "\\${oc.env:SECRET_X}",
        "${oc.create:{a: ${oc.env:SECRET_X}}}",
    ],
)
def test_a_saved_interpolation_stays_text(secret_env, value):
    from runner.config.search import ConfigSearch, ConfigSession

    saved = {"model": {"id": "tiny", "revision": value}, "tags": [value], "seed": 0}
    for overrides in ([], ["seed=3"]):  # with and without overrides of its own beside rerun=
        back = _apply_overrides(saved, overrides, ConfigSession(ConfigSearch()))
        assert back == {**saved, "seed": 3 if overrides else 0} and SECRET not in json.dumps(back)


def test_a_rerun_of_a_tampered_record_writes_no_secret(secret_env, finished_run, tmp_path, run_command):
    original = tmp_path / "original"
    shutil.copytree(finished_run, original)
    shutil.copy(finished_run.parent / "rows.jsonl", tmp_path / "rows.jsonl")
    record = json.loads((original / "run.json").read_text())
    record["config"]["model"]["revision"] = "${oc.env:SECRET_X}"
    (original / "run.json").write_text(json.dumps(record))
    out = tmp_path / "rerun"
    code = run_command(f"rerun={original}", "progress=false", f"hydra.run.dir={out}", cwd=tmp_path)
    assert code in (0, 3)
    assert not [p for p in out.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert json.loads((out / "run.json").read_text())["config"]["model"]["revision"] == "${oc.env:SECRET_X}"


@pytest.mark.parametrize(
    "path,value",
    [
        ("engine.address", "ray://attacker.example:10001"),
        ("engine.address", "auto"),
        ("tracking.tracking_uri", "http://attacker.example:5000"),
        ("tracking.tracking_uri", "file:///etc/mlruns"),
        ("model.kwargs.offload_folder", "/tmp/elsewhere"),
        ("model.kwargs.cache_dir", "/home/someone/.cache"),
    ],
)
def test_a_saved_setting_that_reaches_outside_needs_consent(path, value):
    saved = {
        "model": {"id": "tiny", "kwargs": {}},
        "engine": {"name": "ray", "address": None},
        "tracking": {"backend": "mlflow", "tracking_uri": None},
    }
    node = saved
    *parents, leaf = path.split(".")
    for name in parents:
        node = node[name]
    node[leaf] = value
    with pytest.raises(ConfigError) as caught:
        check_saved_config(saved, [], "run.json")
    assert caught.value.key == path and f"{path}={value}" in caught.value.hint
    check_saved_config(saved, [f"+{path}={value}"], "run.json")  # the command line's own choice


def test_null_outside_settings_need_nothing():
    check_saved_config({"engine": {"name": "ray", "address": None}, "tracking": {"tracking_uri": None}}, [], "r")


def test_a_rerun_of_a_record_pointing_at_a_cluster_is_refused(finished_run, tmp_path, run_command, capsys):
    original = tmp_path / "original"
    shutil.copytree(finished_run, original)
    record = json.loads((original / "run.json").read_text())
    record["config"]["engine"] = {**record["config"].get("engine", {}), "name": "ray", "address": "ray://evil:10001"}
    (original / "run.json").write_text(json.dumps(record))
    code = run_command(f"rerun={original}", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert code == 2 and "engine.address" in capsys.readouterr().err
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


@pytest.mark.parametrize("key", ["token", "password", "api_key", "hf_token", "clientSecret"])
@pytest.mark.parametrize("value", [987654321098765, 3.25, ["k1", "k2"], {"user": "me", "pin": 1234}, "s3cr3t-v4lue"])
def test_a_secret_key_is_redacted_whatever_its_value_type(key, value):
    assert redact({"model": {"kwargs": {key: value}}}) == {"model": {"kwargs": {key: REDACTED}}}


@pytest.mark.parametrize("value", [None, True, False, [], "${oc.env:HF_TOKEN}", "<your token>"])
def test_values_that_hold_no_secret_stay(value):
    assert redact({"token": value}) == {"token": value}


def test_hydra_copies_redact_numbers_too():
    from omegaconf import OmegaConf

    from runner.outputs.hydra_files import _yaml_text

    text = _yaml_text(
        OmegaConf.create(
            {"model": {"kwargs": {"token": 987654321098765}}, "tracking": {"tags": {"password": 31415926}}}
        )
    )
    assert "987654321098765" not in text and "31415926" not in text and text.count(REDACTED) == 2


def test_a_numeric_secret_never_reaches_run_json(tmp_path):
    from tests.faults.conftest import BASE, write_rows

    write_rows(tmp_path, 2)
    out = tmp_path / "out"
    result = run_job(*BASE, "+tracking.tags.password=31415926535", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not [p.name for p in out.rglob("*") if p.is_file() and b"31415926535" in p.read_bytes()]


def test_interpolations_in_a_users_own_file_are_recorded_resolved_in_run_json_and_as_written_in_hydra(
    tmp_path, monkeypatch, run_command
):
    """What docs/security.md says: run.json's config holds the values the run used (resolved, so that
    rerun= and resume= reproduce and compare them, not today's environment), with secrets redacted;
    .hydra/config.yaml keeps the file's interpolations as written; run.json's conf names the file
    and its sha256."""
    import hashlib

    from tests.faults.conftest import write_rows

    monkeypatch.setenv("RUNNER_TEST_OWNER", "alice")
    monkeypatch.setenv("RUNNER_TEST_TOKEN", SECRET)
    mine = tmp_path / "mine" / "experiment" / "owned.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text(
        "# @package _global_\n"
        "seed: ${oc.decode:${oc.env:RUNNER_TEST_SEED,7}}\n"
        "model:\n  kwargs:\n    token: ${oc.env:RUNNER_TEST_TOKEN}\n"
        "tracking:\n  tags:\n    owner: ${oc.env:RUNNER_TEST_OWNER}\n    seed_was: ${seed}\n"
    )
    write_rows(tmp_path, 2)
    out = tmp_path / "run"
    argv = ("-cd", str(mine.parents[1]), "+experiment=owned", "+task=text-classification", "model=tiny")
    argv += ("dataset=file", "dataset.path=rows.jsonl", "progress=false", f"hydra.run.dir={out}")
    assert run_command(*argv, cwd=tmp_path) == 0
    record = json.loads((out / "run.json").read_text())
    config = record["config"]
    assert config["seed"] == 7 and config["tracking"]["tags"] == {"owner": "alice", "seed_was": 7}
    assert config["model"]["kwargs"]["token"] == REDACTED and SECRET not in (out / "run.json").read_text()
    written = (out / ".hydra" / "config.yaml").read_text()
    assert "owner: ${oc.env:RUNNER_TEST_OWNER}" in written and "token: ${oc.env:RUNNER_TEST_TOKEN}" in written
    assert SECRET not in written
    read = {entry["file"]: entry["sha256"] for entry in record["conf"]["files"]}
    assert read[str(mine)] == hashlib.sha256(mine.read_bytes()).hexdigest()
