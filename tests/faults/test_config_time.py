"""Config-time failures end in exit 2 naming the key, never a traceback: `???` anywhere, a run dir that
cannot be made, a model folder without a model, out-of-range generation arguments; and generate_kwargs
as the schema lists it works (issue 29, class 4)."""

from __future__ import annotations

import pytest

from runner.core.errors import ConfigError
from tests.conftest import read_jsonl, run_job
from tests.faults.conftest import BASE, write_rows


def _config_error(*overrides: str, cwd, **kwargs) -> ConfigError:
    import os

    import runner

    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with pytest.raises(ConfigError) as caught:
            runner.run(list(overrides), **kwargs)
    finally:
        os.chdir(previous)
    return caught.value


# -- ??? ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override,key",
    [
        ("+tracking.tags.owner=???", "tracking.tags.owner"),
        ("+task.params.top_k=???", "task.params.top_k"),
        ("+model.kwargs.revision=???", "model.kwargs.revision"),
        ("dataset.id_column=???", "dataset.id_column"),
    ],
)
def test_a_mandatory_missing_value_names_its_key(tmp_path, override, key):
    write_rows(tmp_path, 1)
    error = _config_error(*BASE, override, cwd=tmp_path)
    assert error.key == key and "???" in error.message


def test_missing_values_in_an_experiment_file_name_the_first_and_count_the_rest(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ntracking:\n  tags:\n    owner: ???\n    team: ???\n"
    )
    write_rows(tmp_path, 1)
    error = _config_error(*BASE, "+experiment=mine", cwd=tmp_path, config_dir=tmp_path)
    assert error.key == "tracking.tags.owner" and "tracking.tags.team" in error.message


def test_a_missing_value_on_the_command_line_is_exit_2_without_a_traceback(tmp_path, run_command, capsys):
    write_rows(tmp_path, 1)
    code = run_command(*BASE, "+tracking.tags.owner=???", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "tracking.tags.owner" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# -- the run dir ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["file", "under_a_file", "long_name"])
def test_a_run_dir_that_cannot_be_made_is_exit_2(tmp_path, shape):
    from runner.outputs.rundir_lock import check_run_dir

    (tmp_path / "afile").write_text("x")
    target = {
        "file": tmp_path / "afile",
        "under_a_file": tmp_path / "afile" / "run",
        "long_name": tmp_path / ("n" * 300),
    }[shape]
    with pytest.raises(ConfigError) as caught:
        check_run_dir(target, "hydra.run.dir")
    assert caught.value.key == "hydra.run.dir"
    assert (tmp_path / "afile").read_text() == "x"


def test_an_unwritable_run_dir_parent_is_exit_2(tmp_path, monkeypatch):
    import os

    from runner.outputs.rundir_lock import check_run_dir

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as on a read-only filesystem (root ignores modes)
    with pytest.raises(ConfigError, match="not writable"):
        check_run_dir(tmp_path / "new" / "run", "hydra.run.dir")


def test_the_command_with_a_file_as_its_run_dir_is_exit_2(tmp_path, run_command, capsys):
    write_rows(tmp_path, 1)
    (tmp_path / "taken").write_text("mine\n")
    code = run_command(*BASE, f"hydra.run.dir={tmp_path / 'taken'}", cwd=tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "is an existing file" in err and "Traceback" not in err
    assert (tmp_path / "taken").read_text() == "mine\n"


def test_the_api_with_a_file_as_its_output_dir_is_a_config_error(tmp_path):
    import runner

    (tmp_path / "taken").write_text("mine\n")
    with pytest.raises(ConfigError) as caught:
        runner.run("text-classification", model="tiny", inputs=["a"], output_dir=tmp_path / "taken")
    assert caught.value.key == "output_dir"


# -- model folders --------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [(), ("notes.txt",), ("weights/",), ("tokenizer.json",)])
def test_a_folder_without_a_model_is_exit_2_before_loading(tmp_path, content):
    folder = tmp_path / "models" / "mine"
    folder.mkdir(parents=True)
    for name in content:
        (folder / name.rstrip("/")).mkdir() if name.endswith("/") else (folder / name).write_text("{}")
    write_rows(tmp_path, 1)
    out = tmp_path / "out"
    result = run_job(*BASE[:1], "model.id=./models/mine", *BASE[2:], f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 2 and not out.exists()


@pytest.mark.parametrize("marker", ["config.json", "model/config.json", "adapter_config.json", "weights.gguf"])
def test_a_folder_with_a_model_marker_passes_the_check(tmp_path, marker):
    from runner.config.model_location import check_model_location

    (tmp_path / "m" / marker).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "m" / marker).write_text("{}")
    check_model_location(str(tmp_path / "m"))


# -- generation arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "task,override,key",
    [
        (
            "text-generation",
            "+task.params.generate_kwargs={max_new_tokens: -3}",
            "task.params.generate_kwargs.max_new_tokens",
        ),
        ("text-generation", "+task.params.generate_kwargs={num_beams: 0}", "task.params.generate_kwargs.num_beams"),
        ("text-generation", "+task.params.generate_kwargs={top_p: 1.5}", "task.params.generate_kwargs.top_p"),
        ("text-generation", "+task.params.generate_kwargs={temperature: 0}", "task.params.generate_kwargs.temperature"),
        (
            "summarization",
            "+task.params.generate_kwargs={max_new_tokens: 0}",
            "task.params.generate_kwargs.max_new_tokens",
        ),
        ("translation", "+task.params.generate_kwargs={min_length: -1}", "task.params.generate_kwargs.min_length"),
        (
            "translation",
            "+task.params.generate_kwargs={no_repeat_ngram_size: 2000000}",
            "task.params.generate_kwargs.no_repeat_ngram_size",
        ),
        (
            "automatic-speech-recognition",
            "+task.params.generate_kwargs={max_new_tokens: 0}",
            "task.params.generate_kwargs.max_new_tokens",
        ),
        ("text-generation", "task.params.max_new_tokens=0", "task.params.max_new_tokens"),
    ],
)
def test_out_of_range_generation_arguments_are_exit_2_naming_the_key(tmp_path, task, override, key):
    write_rows(tmp_path, 1)
    error = _config_error(
        f"+task={task}", "model=tiny", "dataset=file", "dataset.path=rows.jsonl", override, cwd=tmp_path
    )
    assert error.key == key


@pytest.mark.parametrize("task", ["text-generation", "text2text-generation"])
def test_generate_kwargs_reach_generate(tmp_path, task):
    write_rows(tmp_path, 2)
    out = tmp_path / "out"
    result = run_job(
        f"+task={task}",
        "model=tiny",
        "dataset=file",
        "dataset.path=rows.jsonl",
        "progress=false",
        "+task.params.generate_kwargs={max_new_tokens: 3, do_sample: false}",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert len(read_jsonl(out / "predictions.jsonl")) == 2 and not (out / "errors.jsonl").read_text()
