"""The Python API for notebooks and scripts: the job `run` does, with Python values for a command line.

    import runner
    result = runner.run("text-classification", model="distilbert_sst2", inputs=["great", "awful"], batch_size=8)
    result.predictions            # [{"id", "index", "input", "output"}, ...] in input order, in memory
    result.to_pandas(), result.errors, result.metrics, result.run_dir, result.config

Keyword arguments are config keys. They are written as Hydra override strings and go through the same
composition (`compose_run`), validation, plan and execution as `run` on the command line, so presets,
error messages, run.json and run.log agree; failures raise runner.core.errors.ConfigError (exit code 2 on
the command line) and RunError (exit code 1) instead. Rows given as Python objects (`inputs=`) never
enter the config: it records what they were (dataset.type=python, kind, fingerprint), and the objects
themselves travel beside it to the source (runner/sources/python.py).

Nothing heavy is imported with this module: composing imports Hydra, running imports torch.
"""

from __future__ import annotations

import itertools
import os
import shutil
from contextlib import ExitStack
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import functools
import re

from runner.config.overrides import choice, group_mapping, leaves, strings, value
from runner.core.errors import ConfigError, ConfigErrors
from runner.job.invocation import Invocation
from runner.outputs.rundir import LOG, MEDIA, RECORD, STAGES, WRITTEN, Metrics, RunDir
from runner.outputs.runlog import RunLog

# Keyword spellings of dotted config keys (a keyword argument cannot hold a dot).
KEY_ALIASES = {"task_params": "task.params"}


@dataclass
class RunResult:
    """A finished run. `predictions` and `errors` were collected as they were written, so they stay
    this run's own even if its files change later. `run_dir` is None only for graph={"show": True}."""

    run_dir: Path | None
    metrics: dict
    config: dict  # the validated config, as in run.json
    predictions: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    # The command's exit code for this run: 0, 3 (a rerun that differs) or 4 (rows failed beyond
    # max_error_fraction, or none written). Failed rows do not raise: their outputs are here and in errors.
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_pandas(self):
        """The predictions as a DataFrame, one row each: `id`, `index`, `input_<field>` for the text
        inputs, then the output as Python objects (predictions.parquet keeps one `output` column instead): a
        mapping output spreads over `output_<key>` columns (`output_label`, `output_score`; one per
        step of a chain), any other output (a list: top_k labels, entities) is one `output` column."""
        import pandas as pd

        if not self.predictions:
            return pd.DataFrame(columns=["id", "index", "output"])
        return pd.DataFrame([_table_row(record) for record in self.predictions])


def _table_row(record: dict) -> dict:
    row = {"id": record.get("id"), "index": record.get("index")}
    row.update({f"input_{name}": value for name, value in (record.get("input") or {}).items()})
    output = record.get("output")
    if isinstance(output, dict):
        row.update({f"output_{name}": value for name, value in output.items()})
    else:
        row["output"] = output
    return row


# -- the two entry points ---------------------------------------------------------------------------
def _in_api_terms(function):
    """ConfigErrors reach a Python caller in its own terms: the settings it passed, not "the command line",
    and hints that say which argument to pass rather than what to type after `run`."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ConfigError as error:
            raise api_error(error) from None

    return call


_HINT_WORDING = (
    (re.compile(r"write (\+[\w.\-]+)=\.\.\."), r"""pass overrides=["\1=..."]"""),
    (re.compile(r"set it with ([\w.\-]+)=\.\.\."), r"""set it with runner.run(..., **{"\1": ...})"""),
    (re.compile(r"add its dir with -cd (\S+) \(run -cd [^)]*\)"), r'pass config_dir="\1"'),
)


def api_error(error: ConfigError) -> ConfigError:
    """The same error, worded for runner.run / runner.compose."""
    if isinstance(error, ConfigErrors):
        return ConfigErrors([api_error(e) for e in error.errors])
    where = error.where
    if where and where.startswith("the command line: "):
        where = "the call's settings, as the override " + where.removeprefix("the command line: ")
    hint = error.hint
    for pattern, wording in _HINT_WORDING:
        hint = pattern.sub(wording, hint) if hint else hint
    if (where, hint) == (error.where, error.hint):
        return error
    return ConfigError(error.key, error.message, hint, where=where)


@_in_api_terms
def run(
    task=None,
    /,
    *,
    model=None,
    inputs=None,
    dataset=None,
    experiment=None,
    overrides=(),
    config_dir=None,
    output_dir=None,
    overwrite: bool = False,
    invocation=None,
    **config,
) -> RunResult:
    """Run a job and return its outputs.

    task: a task id or alias (optional when `experiment=` or `graph={"steps": ...}` names the steps).
    model: a preset name on the search path ("tiny", "minilm", one of config_dir's), else a hub id or a
        local folder (model.id; a Path is always a folder), or a mapping of model keys laid over the
        `default` preset, as in a graph step.
    inputs: the rows as Python objects: a list (of values, or of {field: value}), an iterator (read
        once, lazily), a pandas DataFrame or a datasets.Dataset. Or instead dataset=: a preset name
        ("sample", "file", ...) or a mapping ({"type": "file", "path": "x.csv"}); with inputs=, a
        mapping without `type` sets column, fields, id_column, limit, skip.
    experiment: an experiment name; config_dir: a folder (or a list) of your own configs (experiment/,
        model/ ...), searched after the runner's own, like `run -cd <dir>`.
    **config: any other config key: batch_size=8, device="cpu", task_params={"top_k": 2},
        bench={"max_rows": 10}, or dotted: **{"dataset.limit": 3}. overrides: raw Hydra override
        strings, applied last.
    output_dir: where to write (default: a new outputs/api/<date>/<time> under the cwd per call); a
        dir that already holds a run (run.json) is refused unless overwrite=True.
    invocation: a runner.job.invocation.Invocation to share between calls (a batch-size sweep in a loop
        skips the batch sizes above one that ran out of memory); by default each call has its own.

    Raises ConfigError before any model loads when the config is wrong, RunError when the run fails
    (the traceback is in <run_dir>/run.log). The older form, a list of override strings as the first
    argument (run(["+task=ner", "model=tiny"])), still works."""
    request = _request(
        task, inputs, config_dir, overrides, {"model": model, "dataset": dataset, "experiment": experiment}, config
    )
    target = _checked_output_dir(output_dir, overwrite)
    with RunLog() as run_log, ExitStack() as held:

        def claim_run_dir(plan) -> Path:  # once the plan is checked: a bad config leaves no dir behind
            run_dir = _claim_run_dir(target, overwrite, held, ["runner.api.run", *request.overrides])
            run_log.to_file(run_dir / LOG)
            return run_dir

        return _run(request, claim_run_dir, invocation or Invocation())


@_in_api_terms
def compose(
    task=None, /, *, model=None, inputs=None, dataset=None, experiment=None, overrides=(), config_dir=None, **config
) -> dict:
    """The validated config that run(...) with the same arguments would use, without running anything
    (raises ConfigError). Also takes a list of override strings: compose(["+task=ner", "model=tiny"])."""
    from runner.config import validate_config
    from runner.config.provenance import annotate

    request = _request(
        task, inputs, config_dir, overrides, {"model": model, "dataset": dataset, "experiment": experiment}, config
    )
    composed = _composed(request)
    try:
        return validate_config(composed.cfg)
    except ConfigError as error:
        raise annotate(error, composed.conf) from None


# -- from arguments to override strings ------------------------------------------------------------
@dataclass
class _Request:
    overrides: list[str]
    rows: Any  # inputs=, handed to the source beside the config
    session: Any  # runner.config.search.ConfigSession


def _request(task, inputs, config_dir, overrides, named: dict, config: dict) -> _Request:
    session = _session(config_dir)
    built = _build_overrides(task, inputs, named, config, session)
    return _Request([*built, *strings(overrides, "overrides")], inputs, session)


def _session(config_dir):
    """Hydra's config loader for the runner's conf/ plus the caller's dirs (the CLI's -cd)."""
    from runner.config.search import ConfigSearch, ConfigSession

    dirs = (
        [] if config_dir is None else [config_dir] if isinstance(config_dir, (str, os.PathLike)) else list(config_dir)
    )
    return ConfigSession(ConfigSearch.from_dirs(dirs))


def _build_overrides(task, inputs, named: dict, config: dict, session) -> list[str]:
    built = []
    if isinstance(task, (list, tuple)):  # the older form: override strings
        built, task = strings(task, "task"), None
    if task is not None:
        built.append(choice("task", task))
    if named["experiment"] is not None:
        built.append(choice("experiment", named["experiment"]))
    built += _model_overrides(named["model"], session)
    built += _dataset_overrides(named["dataset"], inputs)
    for key, given in config.items():
        built += _config_overrides(KEY_ALIASES.get(key, key), given, session)
    return built


def _model_overrides(model, session) -> list[str]:
    """A preset on the search path wins over a folder of the same name; anything else is model.id."""
    if model is None:
        return []
    if isinstance(model, Mapping):
        return ["model=default", *leaves("model", model)]
    if isinstance(model, str) and model in session.options("model"):
        return [f"model={model}"]
    if isinstance(model, (str, os.PathLike)):
        return ["model=default", f"model.id={value(str(model), 'model')}"]
    raise ConfigError("model", f"expected a preset name, a hub id, a folder or a mapping, got {type(model).__name__}")


def _dataset_overrides(dataset, inputs) -> list[str]:
    """dataset= alone picks a source; with inputs=, the rows' description (never the rows) goes in."""
    from runner.sources.python import SIZED, fingerprint, kind_of

    if inputs is None:
        if dataset is None:
            return []
        return [choice("dataset", dataset)] if isinstance(dataset, str) else group_mapping("dataset", dataset)
    if isinstance(dataset, str) or (isinstance(dataset, Mapping) and dataset.get("type") not in (None, "python")):
        raise ConfigError(
            "dataset",
            "inputs= and dataset= both give the rows",
            "keep one; beside inputs=, dataset={...} may set column, fields, id_column, limit, skip",
        )
    kind = kind_of(inputs)
    if kind in SIZED and len(inputs) == 0:
        raise ConfigError("inputs", "is empty", "give at least one row")
    keys = {k: v for k, v in (dataset or {}).items() if k not in ("type", "kind", "fingerprint")}  # ours to say
    return [
        "dataset=python",
        *leaves("dataset", keys),
        f"dataset.kind={value(kind, 'dataset.kind')}",
        f"dataset.fingerprint={value(fingerprint(inputs, kind), 'dataset.fingerprint')}",
    ]


def _config_overrides(key: str, given, session) -> list[str]:
    if "." not in key and session.is_group(key):
        return [choice(key, given)] if isinstance(given, str) else group_mapping(key, given)
    return leaves(key, given)


# -- compose, plan, run ------------------------------------------------------------------------------
def _composed(request: _Request):
    from runner.config.compose import compose_run

    composed = compose_run(request.overrides, session=request.session)
    for key, use in (("rerun", "run rerun=<run dir>"), ("merge", "run merge=<multirun dir>")):
        if composed.cfg.get(key):
            raise ConfigError(key, "is not a job the Python API runs", f"use the command line: {use}")
    return composed


def _run(request: _Request, claim_run_dir, invocation: Invocation) -> RunResult:
    """runner.job.app.run_job, the path the command line takes; its exceptions reach the caller."""
    from runner.job.app import Job, run_job

    from runner.tracking.api import tracked

    keep = {"predictions": [], "errors": []}
    composed = _composed(request)
    with tracked(composed.cfg, claim_run_dir) as tracking:  # tracking=mlflow: as the command's callback does
        job = Job(
            composed,
            request.session,
            ["runner.api.run", *request.overrides],
            Path.cwd(),
            request.overrides,
            claim_run_dir=tracking.claim,
            rows=request.rows,
            keep=keep,
        )
        outcome = run_job(job, invocation)
        tracking.exit_code = outcome.exit_code
    if outcome.run_dir is None:  # graph={"show": True}: like the command line, the graph printed, nothing run
        return RunResult(None, {"status": "shown", "graph": outcome.plan.describe()}, outcome.plan.cfg)
    return _result(outcome.plan, outcome.metrics, outcome.run_dir, keep, outcome.exit_code)


def _result(plan, metrics: Metrics, run_dir: Path, keep: dict, exit_code: int = 0) -> RunResult:
    """The outputs kept as they were written; a resumed run (whose earlier rows were written before)
    or a run in a child process is read back from its files, once."""
    from runner.outputs.sinks import iter_jsonl

    done = RunDir(metrics.run_dir or run_dir)
    if plan.views.run.resume or plan.views.bench.isolation == "process":
        keep = {
            name: list(iter_jsonl(path)) if path.is_file() else []
            for name, path in (("predictions", done.predictions), ("errors", done.errors))
        }
    return RunResult(done.path, metrics.to_json(), plan.cfg, keep["predictions"], keep["errors"], exit_code)


# -- run dirs ---------------------------------------------------------------------------------------
def _checked_output_dir(output_dir, overwrite: bool) -> Path | None:
    """A named dir that holds a run is refused before anything runs: its predictions would be lost."""
    if output_dir is None:
        return None
    path = Path(output_dir).expanduser()
    from runner.outputs.rundir_lock import check_run_dir

    check_run_dir(path, "output_dir")
    if (path / RECORD).is_file() and not overwrite:
        raise ConfigError(
            "output_dir",
            f"'{output_dir}' already holds a run (run.json)",
            "pass overwrite=True to replace it, or another output_dir (or none: each call gets its own)",
        )
    return path


def _claim_run_dir(target: Path | None, overwrite: bool, held: ExitStack, argv: list[str]) -> Path:
    """The run dir, held for this call (runner.outputs.rundir_lock) before anything in it is cleared or written;
    one that holds a run (written since _checked_output_dir looked) is refused unless overwrite=True."""
    from runner.outputs.rundir_lock import RunDirLock, refuse_written

    if target is None:
        target = _new_run_dir(Path.cwd() / "outputs" / "api")
    held.enter_context(RunDirLock(target, "output_dir", argv))
    if not overwrite:
        refuse_written(target, "output_dir")
    else:
        for name in WRITTEN:
            (target / name).unlink(missing_ok=True)
        for folder in (STAGES, MEDIA):
            shutil.rmtree(target / folder, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _new_run_dir(base: Path) -> Path:
    """<base>/<date>/<time with microseconds>, created exclusively: two calls in the same microsecond,
    in this process or another, get two dirs (the later one with a -1, -2 ... suffix)."""
    now = datetime.now()
    stamp = base / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S-%f")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    for attempt in itertools.count():
        candidate = stamp if attempt == 0 else stamp.with_name(f"{stamp.name}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
