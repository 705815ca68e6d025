"""A user's own config dirs: options, presets, experiments and errors come from the search path in force."""

from __future__ import annotations

import pytest

from runner.config.compose import compose_run, first_point, job_overrides
from runner.config.provenance import file_sha256
from runner.config.search import ConfigSearch, ConfigSession
from runner.core.errors import ConfigError, ConfigErrors
from runner.plan import make_plan
from runner.core.paths import CONF_DIR

EXPERIMENT = """# @package _global_
defaults:
  - /task: text-classification
  - override /model: my_tiny
  - _self_
seed: 0
batch_size: 2
task:
  params:
    top_k: 2
"""


@pytest.fixture
def user_conf(tmp_path):
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "model").mkdir()
    (conf / "experiment" / "mine.yaml").write_text(EXPERIMENT)
    (conf / "model" / "my_tiny.yaml").write_text("defaults:\n  - default\n  - _self_\nname: my_tiny\ntiny: auto\n")
    return conf


def _session(conf) -> ConfigSession:
    return ConfigSession(ConfigSearch.from_argv(["-cd", str(conf)]))


def test_user_options_join_ours(user_conf):
    session = _session(user_conf)
    assert {"mine", "tiny_sentiment"} <= set(session.options("experiment"))
    assert {"my_tiny", "tiny", "minilm"} <= set(session.options("model"))
    assert "mine" not in ConfigSession().options("experiment")


def test_search_path_order_follows_hydra(user_conf):
    argv = ["-cd", str(user_conf), "+task=ner", "hydra.searchpath=[file:///elsewhere]"]
    search = ConfigSearch.from_argv(argv)
    assert search.entries == (
        ("command-line", f"file://{user_conf}"),
        ("hydra.searchpath in command-line", "file:///elsewhere"),
    )
    assert job_overrides(argv) == ["+task=ner", "hydra.searchpath=[file:///elsewhere]"]


def test_missing_config_dir_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        ConfigSearch.from_argv(["--config-dir", str(tmp_path / "nope")])
    assert caught.value.key == "--config-dir"


def test_user_experiment_composes_with_provenance(user_conf):
    composed = compose_run(["+experiment=mine"], ConfigSearch.from_dirs([user_conf]))
    assert composed.cfg["model"]["name"] == "my_tiny" and composed.cfg["model"]["tiny"] == "auto"
    assert composed.cfg["batch_size"] == 2 and composed.cfg["task"]["params"]["top_k"] == 2
    files = {entry["config"]: entry for entry in composed.conf["files"]}
    assert files["experiment/mine"]["file"] == str(user_conf / "experiment" / "mine.yaml")
    assert files["experiment/mine"]["sha256"] == file_sha256(user_conf / "experiment" / "mine.yaml")
    assert files["model/my_tiny"]["package"] == "model" and files["config"]["file"] == str(CONF_DIR / "config.yaml")
    providers = [entry["provider"] for entry in composed.conf["search_path"]]
    assert providers == ["main", "command-line"]


def test_unknown_user_option_lists_the_user_options_too(user_conf):
    with pytest.raises(ConfigError) as caught:
        compose_run(["+experiment=mien"], ConfigSearch.from_dirs([user_conf]))
    assert caught.value.key == "experiment" and "did you mean 'mine'" in caught.value.hint


def test_graph_step_presets_come_from_the_search_path(user_conf):
    (user_conf / "experiment" / "chain.yaml").write_text(
        "# @package _global_\ngraph:\n  steps:\n    classify: {task: text-classification, model: my_tiny}\n"
    )
    cfg = compose_run(["+experiment=chain"], ConfigSearch.from_dirs([user_conf])).cfg
    model = cfg["graph"]["steps"]["classify"]["model"]
    assert model["name"] == "my_tiny" and model["tiny"] == "auto" and "revision" in model  # over default
    with pytest.raises(ConfigError) as caught:
        compose_run(["+experiment=chain"])  # our conf alone lacks the experiment
    assert caught.value.key == "experiment"


def test_schema_errors_name_the_file_and_line(user_conf):
    (user_conf / "experiment" / "bad.yaml").write_text(
        EXPERIMENT.replace("batch_size: 2", "batch_size: -1").replace("top_k: 2", "top_k: two")
    )
    composed = compose_run(["+experiment=bad"], ConfigSearch.from_dirs([user_conf]))
    with pytest.raises(ConfigErrors) as caught:
        make_plan(composed.cfg, composed.conf)
    found = {error.key: error.where for error in caught.value.errors}
    bad = user_conf / "experiment" / "bad.yaml"
    assert found == {"batch_size": f"{bad}, line 7", "task.params.top_k": f"{bad}, line 10"}
    assert f"in: {bad}, line 7" in caught.value.render()


def test_override_wins_over_the_file_when_naming_where(user_conf):
    composed = compose_run(["+experiment=mine", "batch_size=0"], ConfigSearch.from_dirs([user_conf]))
    with pytest.raises(ConfigError) as caught:
        make_plan(composed.cfg, composed.conf)
    assert caught.value.where == "the command line: batch_size=0"


def test_unknown_key_in_a_user_preset_names_the_preset_file(user_conf):
    (user_conf / "model" / "typo.yaml").write_text("defaults:\n  - default\n  - _self_\nidd: x\ntiny: auto\n")
    composed = compose_run(["+task=ner", "model=typo"], ConfigSearch.from_dirs([user_conf]))
    with pytest.raises(ConfigError) as caught:
        make_plan(composed.cfg, composed.conf)
    assert caught.value.key == "model.idd" and "did you mean 'id'" in caught.value.hint
    assert caught.value.where == f"{user_conf / 'model' / 'typo.yaml'}, line 4"


def test_yaml_syntax_error_names_the_file(user_conf):
    (user_conf / "experiment" / "broken.yaml").write_text("# @package _global_\ntask:\n  params: [1\n  top_k: 2\n")
    with pytest.raises(ConfigError) as caught:
        compose_run(["+experiment=broken"], ConfigSearch.from_dirs([user_conf]))
    assert caught.value.key == "experiment" and "not valid YAML" in caught.value.message
    # the line where the unclosed "[" opens (the parser notices it one line later)
    assert caught.value.where.startswith(f"{user_conf / 'experiment' / 'broken.yaml'}, line 3")


def test_missing_option_in_an_experiment_names_the_experiment(user_conf):
    (user_conf / "experiment" / "missing.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: my_tiyn\n"
    )
    with pytest.raises(ConfigError) as caught:
        compose_run(["+experiment=missing"], ConfigSearch.from_dirs([user_conf]))
    assert caught.value.key == "model" and "did you mean 'my_tiny'" in caught.value.hint
    assert caught.value.where == f"{user_conf / 'experiment' / 'missing.yaml'}, line 3"


def test_local_conf_not_on_the_search_path_gets_a_hint(user_conf, monkeypatch):
    monkeypatch.chdir(user_conf.parent)
    with pytest.raises(ConfigError) as caught:
        compose_run(["+experiment=mine"])
    assert "-cd conf" in caught.value.hint and "+experiment=mine" in caught.value.hint


def test_key_typo_without_plus_gets_did_you_mean():
    with pytest.raises(ConfigError) as caught:
        compose_run(["+task=ner", "batchsize=4"])
    assert caught.value.key == "batchsize" and caught.value.hint.startswith("did you mean 'batch_size'")


def test_first_point_of_a_sweep():
    assert first_point(["+task=ner", "batch_size=1,8,auto", "+experiment=a,b"]) == [
        "+task=ner",
        "batch_size=1",
        "+experiment=a",
    ]
    assert first_point(["shard.index=range(4)"]) == ["shard.index=0"]
    assert first_point(["x=glob(*)"]) is None
