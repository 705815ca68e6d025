"""`rerun=<run dir>`: byte-identical predictions are confirmed, differences are named, the original is untouched."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from runner.core.errors import ConfigError
from runner.config.provenance import describe, file_sha256
from runner.config.search import ConfigSearch, ConfigSession
from runner.core.paths import CONF_DIR
from runner.repro.record import run_warnings
from runner.repro.rerun import DIFFERS, _apply_overrides, compare
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A finished run of the sampled-generation experiment: the seed decides its text."""
    root = tmp_path_factory.mktemp("rerun")
    result = run_cli("+experiment=tiny_generation", "progress=false", f"hydra.run.dir={root / 'original'}", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "original"


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_rerun_gives_identical_predictions_and_says_so(original, tmp_path):
    before = _snapshot(original)
    result = run_cli(f"rerun={original}", "progress=false", f"hydra.run.dir={tmp_path / 'again'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predictions identical, byte for byte" in result.stderr
    assert (tmp_path / "again" / "predictions.jsonl").read_bytes() == (original / "predictions.jsonl").read_bytes()
    verdict = json.loads((tmp_path / "again" / "rerun.json").read_text())
    assert verdict["identical"] is True and verdict["config_differences"] == []
    record = json.loads((tmp_path / "again" / "run.json").read_text())
    assert record["config"]["rerun"] == str(original)
    assert record["config_hash"] == json.loads((original / "run.json").read_text())["config_hash"]
    assert _snapshot(original) == before  # only read


def test_rerun_with_another_seed_reports_the_difference(original, tmp_path):
    result = run_cli(
        f"rerun={original}", "seed=1", "progress=false", f"hydra.run.dir={tmp_path / 'seed1'}", cwd=tmp_path
    )
    assert result.returncode == DIFFERS, result.stderr[-3000:]
    assert "predictions DIFFER" in result.stderr and "seed: 7 -> 1" in result.stderr
    verdict = json.loads((tmp_path / "seed1" / "rerun.json").read_text())
    assert verdict["identical"] is False
    assert {"key": "seed", "original": 7, "rerun": 1} in verdict["config_differences"]
    assert verdict["lines"]["differing_lines"] >= 1 and verdict["lines"]["first_difference"]["line"] >= 1


def test_environment_differences_are_named(original, tmp_path):
    """An original made elsewhere (other transformers, bfloat16): compare names those facts."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(original, elsewhere)
    record = json.loads((elsewhere / "run.json").read_text())
    record["versions"]["transformers"] = "4.57.6"
    (elsewhere / "run.json").write_text(json.dumps(record))
    metrics = json.loads((elsewhere / "metrics.json").read_text())
    metrics["dtype"] = "bfloat16"
    (elsewhere / "metrics.json").write_text(json.dumps(metrics))
    keys = {d["key"] for d in compare(elsewhere, original)["environment_differences"]}
    assert {"versions.transformers", "placement.dtype"} <= keys


def test_rerun_of_a_dir_without_run_json_is_a_config_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli(f"rerun={tmp_path / 'empty'}", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "rerun: '" in result.stderr and "has no run.json" in result.stderr


def test_rerun_override_of_a_key_the_defaults_lack_gets_a_hint(original, tmp_path):
    result = run_cli(f"rerun={original}", "task.params.top_k=3", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "task: unknown key" in result.stderr and "+task.params.top_k=3" in result.stderr


def test_rerun_overrides_set_keys_and_refuse_group_choices():
    cfg = {"seed": 0, "task": {"name": "text-generation", "params": {"top_k": 5, "top_p": 0.9}}}
    session = ConfigSession()
    changed = _apply_overrides(
        cfg, ["rerun=x", "seed=3", "task.params.top_k=9", "+task.params.temperature=0.5", "~task.params.top_p"], session
    )
    assert changed["seed"] == 3 and changed["task"]["params"] == {"top_k": 9, "temperature": 0.5}
    with pytest.raises(ConfigError) as caught:
        _apply_overrides(cfg, ["model=tiny"], session)
    assert caught.value.key == "rerun" and "config group" in caught.value.message


def _conf_entry(conf_dir):
    conf = describe(ConfigSession(ConfigSearch.from_dirs([conf_dir])), [])
    return conf, next(e for e in conf["search_path"] if e["dir"] == str(conf_dir.resolve()))


def test_uncommitted_conf_changes_warn(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "base.yaml").write_text("# @package _global_\nseed: 0\n")
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", "conf")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "conf")
    conf, entry = _conf_entry(tmp_path / "conf")
    assert entry["git"]["dirty"] is False and entry["git"]["commit"] and entry["provider"] == "command-line"
    assert not any(str(tmp_path) in warning for warning in run_warnings(conf))
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text("seed: 1\n")  # new, not yet in git
    conf, entry = _conf_entry(tmp_path / "conf")
    assert entry["git"]["dirty"] is True and entry["git"]["changes"] == ["conf/experiment/mine.yaml"]
    assert any("conf/experiment/mine.yaml" in warning for warning in run_warnings(conf))


def test_run_record_holds_the_config_files_it_was_composed_from(original):
    record = json.loads((original / "run.json").read_text())
    main = record["conf"]["search_path"][0]
    assert main["provider"] == "main" and main["dir"] == str(CONF_DIR)
    files = {entry["config"]: entry for entry in record["conf"]["files"]}
    experiment = files["experiment/tiny_generation"]
    assert experiment["file"] == str(CONF_DIR / "experiment" / "tiny_generation.yaml")
    assert experiment["sha256"] == file_sha256(CONF_DIR / "experiment" / "tiny_generation.yaml")
    assert {"config", "model/tiny"} <= set(files)
    assert "task/text-generation" not in files  # built from runner/tasks, recorded through the runner's version
    assert record["conf"]["overrides"][0] == "+experiment=tiny_generation"
