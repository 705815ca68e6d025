"""Every bad config exits 2 with a message naming the key, before torch/transformers load."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

CASES = [
    # (overrides, text the message must contain)
    (["+task=sentimnt"], "did you mean 'sentiment'"),
    (["+task=text-classification", "dtype=float8"], "dtype"),
    (["+task=text-classification", "batch_size=0"], "batch_size: must be >= 1"),
    (["+task=text-classification", "batch_size=abc"], "batch_size: expected integer"),
    (["+task=text-classification", "dataset=file"], "dataset.path: is required"),
    (
        ["+task=text-classification", "dataset=file", "dataset.path=nowhere.csv"],
        "dataset.path: 'nowhere.csv' does not exist",
    ),
    (["+task=text-classification", "dataset.fields.image=pic"], "dataset.fields.image"),
    (["+task=text-classification", "device=gpu"], "device: 'gpu' is not valid"),
    (["+task=text-classification", "device=cuda"], "device: 'cuda' requested but this machine has no CUDA device"),
    (["+task=text-classification", "device=cpu", "device_map=auto"], "device_map"),
    (["+task=zero-shot-classification"], "task.params.candidate_labels: is required"),
    (["+task=asr", "task.params.return_timestamps=sentence"], "task.params.return_timestamps"),
    (["+task=text-classification", "model=tinny"], "did you mean 'tiny'"),
    (["+task=text-classification", "quantization=3bit"], "quantization"),
    (["+task=text-classification", "model=tiny", "model.id=gpt2"], "model.tiny"),
    (["+task=text-generation", "task.params.max_new_tokens=-3"], "task.params.max_new_tokens: must be >= 1"),
    (["+task=text-generation", "+task.params.max_tokens=3"], "did you mean 'max_new_tokens'"),
    (["dataset=sample"], "task: no task given"),
    # the added tasks' parameters, and the choices filled in from code (task ids, tiny architectures)
    (["+task=zero-shot-image-classification"], "task.params.candidate_labels: is required"),
    (["+task=segmentation", "task.params.subtask=everything"], "task.params.subtask"),
    (["+task=tts", "+task.params.speed=2"], "task.params.speed: unknown key"),
    (["+task=ner", "model=tiny", "model.tiny=gpt3"], "model.tiny: 'gpt3' is not allowed"),
    # mistakes Hydra itself catches while composing, turned into config errors too
    (["+task=text-generation", "task.params.max_tokens=3"], "did you mean 'max_new_tokens'"),
    (["+task=text-generation", "datset.path=x"], "datset: unknown key"),
    (["+task=text-classification", "batchsize=4"], "did you mean 'batch_size'"),
    (["-m", "+task=text-classification", "batch_size=1,2", "seeed=3"], "did you mean 'seed'"),
    (["+task=text-generation", "batch_size=[1"], "batch_size: cannot parse"),
    # the sweep report's quality settings (runner/sweep/quality.py), alone and in a sweep
    (["+task=text-classification", "sweep.min_agreement=2"], "sweep.min_agreement: must be <= 1"),
    (["+task=text-classification", "sweep.min_agreement=x"], "sweep.min_agreement: expected number or null"),
    (["-m", "+task=text-classification", "batch_size=1,2", "sweep.min_agreement=2"], "sweep.min_agreement"),
    (["+task=text-classification", 'sweep.reference="batch_size 1"'], "allowed: null (the first job), a job number"),
]


@pytest.mark.parametrize("overrides,expected", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_config_exits_2_naming_the_key(tmp_path, capfd, run_in_process, overrides, expected):
    code = run_in_process([*overrides, f"hydra.run.dir={tmp_path}/out"], tmp_path)
    stderr = capfd.readouterr().err
    assert code == 2, stderr
    assert expected in stderr
    assert "Traceback" not in stderr


# A few through a real subprocess: what a shell sees (the rest run the same entry in this process).
@pytest.mark.parametrize(
    "overrides,expected",
    [CASES[0], CASES[5], CASES[23], CASES[26]],
    ids=lambda c: " ".join(c) if isinstance(c, list) else None,
)
def test_bad_config_through_the_command(tmp_path, overrides, expected):
    result = run_cli(*overrides, f"hydra.run.dir={tmp_path}/out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_field_mapping_column_names_the_key(tmp_path):
    (tmp_path / "faq.csv").write_text("question,answer\nhow?,so\n")
    result = run_cli(
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        "dataset.path=faq.csv",
        "dataset.column=query",
        f"hydra.run.dir={tmp_path}/out",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "dataset.column: column 'query' is not in the data" in result.stderr
    assert "question, answer" in result.stderr


def test_config_errors_do_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from runner.config.compose import compose_config\n"
        "from runner.config import validate_config\n"
        "from runner.core.errors import ConfigError\n"
        "try:\n"
        "    validate_config(compose_config(['+task=text-classification', 'batch_size=0']))\n"
        "except ConfigError as e:\n"
        "    print('rejected', e.key)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["rejected", "batch_size", "False", "False"]


def test_help_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runner", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "+task=" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "transformers" not in imported
