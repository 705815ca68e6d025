"""tracking=mlflow without the [mlflow] extra: a config error (exit code 2) naming the extra, before any
run dir exists, for a run and for a sweep. The extra's absence is simulated in a real `run` process
(importlib.util.find_spec answers None for mlflow), so this runs whether or not the extra is installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner.tracking.settings import check_tracking

HIDE_MLFLOW = (
    "import importlib.util as u, sys; real = u.find_spec; "
    "u.find_spec = lambda name, *a, **k: None if name.split('.')[0] == 'mlflow' else real(name, *a, **k); "
    "sys.argv = ['run', *sys.argv[1:]]; from runner.cli import main; main()"
)


def _run_without_mlflow(*args: str, cwd):
    return subprocess.run(
        [sys.executable, "-c", HIDE_MLFLOW, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_tracking_mlflow_without_the_extra_is_a_config_error(tmp_path, sweep):
    args = ["+task=feature-extraction", "model=tiny", "tracking=mlflow"]
    result = _run_without_mlflow(*(["-m", *args, "batch_size=1,2"] if sweep else args), cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "config error" in result.stderr and "tracking" in result.stderr
    assert "pip install 'hf-pipeline-runner[mlflow]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()
    assert not (tmp_path / "mlruns").exists()


def test_tracking_none_needs_nothing(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    check_tracking({"tracking": {"backend": "none"}})  # nothing to import, nothing raised
    with pytest.raises(Exception) as raised:
        check_tracking({"tracking": {"backend": "mlflow"}})
    assert raised.value.key == "tracking"


def test_config_errors_and_help_never_import_mlflow(tmp_path):
    """The callback module and the settings load without mlflow: only a tracked job that starts imports it."""
    probe = (
        "import sys; sys.argv = ['run', *sys.argv[1:]]\n"
        "from runner.cli import main\n"
        "try:\n    main()\nexcept SystemExit as done:\n"
        "    print('exit', done.code, 'mlflow' in sys.modules, 'torch' in sys.modules, file=sys.stderr)\n"
    )
    for args in (
        ["+task=feature-extraction", "model=tiny", "tracking=mlflow", "batch_size=0"],
        ["--help"],
        ["-m", "+task=feature-extraction", "model=tiny", "tracking=mlflow", "tracking.experment=x", "batch_size=1,2"],
    ):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        code = "0" if args == ["--help"] else "2"
        assert f"exit {code} False False" in result.stderr, (args, result.stderr[-2000:])
