"""Shell completion (Hydra's `run -sc install=bash`) completes a user's own options: the line being
completed names its config dir (-cd, --config-dir=, hydra.searchpath=), and the query adds it (issue 30)."""

from __future__ import annotations

import pytest

from runner.config.completion import completion_argv


def test_the_lines_config_dirs_join_a_completion_query():
    query = ["-sc", "query=bash"]
    assert completion_argv(query, "run -cd conf +experiment=e") == ["-cd", "conf", *query]
    assert completion_argv(query, "run --config-dir=my/conf model=") == ["-cd", "my/conf", *query]
    assert completion_argv(query, "run hydra.searchpath=[file://x] model=") == [*query, "hydra.searchpath=[file://x]"]
    assert completion_argv(query, 'run -cd conf "dataset.rows=[a') == ["-cd", "conf", *query]  # half-typed quote
    assert completion_argv(["-cd", "other", *query], "run -cd conf m") == ["-cd", "other", *query]
    assert completion_argv(["+task=asr"], "run -cd conf +experiment=e") == ["+task=asr"]  # no query: untouched


@pytest.fixture
def user_conf(tmp_path):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "exp_mine.yaml").write_text("# @package _global_\nbatch_size: 2\n")
    return tmp_path


@pytest.mark.parametrize(
    "line,expected",
    [
        ("run -cd conf +experiment=exp", "+experiment=exp_mine"),
        ("run --config-dir=conf +experiment=exp", "+experiment=exp_mine"),
    ],
)
def test_run_completes_options_from_the_lines_config_dir(user_conf, capfd, monkeypatch, run_in_process, line, expected):
    monkeypatch.setenv("COMP_LINE", line)
    monkeypatch.setenv("COMP_POINT", str(len(line)))
    code = run_in_process(["-sc", "query=bash"], user_conf)
    assert code == 0 and capfd.readouterr().out.split() == [expected]
