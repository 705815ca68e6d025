"""The typed config views (runner/core/views.py): built from every preset, their keys and fallbacks
agreeing with the schema and the conf YAML, and the config's dict reads outside them only going down."""

from __future__ import annotations

import ast
import json
from collections import Counter
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from runner.core import views
from runner.config.checked import check_run
from runner.config.compose import compose_run
from runner.config.engine import EngineSettings
from runner.config.search import ConfigSearch, ConfigSession
from runner.config.validate import config_schema
from runner.engine.settings import Settings
from runner.tracking.settings import TrackingSettings

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
RUNNER = ROOT / "runner"
GROUPS = ("model", "dataset", "quantization", "output", "tracking", "engine")
# What a dataset preset needs before it validates (a null path, name or rows is a config error).
DATASET_NEEDS = {
    "file": ["dataset.path=rows.csv"],
    "folder": ["dataset.path=clips"],
    "hf": ["dataset.name=imdb"],
    "inline": ["dataset.rows=[a,b]"],
}


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _preset_cases() -> list[list[str]]:
    """Every option of every config group at least once (the groups' options zipped, the shorter lists
    cycled), the ctranslate2 backend on its own task, and every experiment."""
    options = {group: _options(group) for group in GROUPS}
    cases = []
    for i in range(max(len(o) for o in options.values())):
        chosen = {group: names[i % len(names)] for group, names in options.items()}
        overrides = ["+task=text-classification", *(f"{g}={name}" for g, name in chosen.items())]
        cases.append(overrides + DATASET_NEEDS.get(chosen["dataset"], []))
    backends = [name for name in _options("backend") if name != "transformers"]
    assert backends == ["ctranslate2"], "a new backend: add a case for it here"
    cases.append(
        ["+task=automatic-speech-recognition", "model=whisper_tiny_en", "backend=ctranslate2", "quantization=int8"]
    )
    cases += [[f"+experiment={name}"] for name in _options("experiment")]
    return cases


@pytest.fixture(scope="module")
def session():
    return ConfigSession(ConfigSearch())


def _expected(view_type: type, section: dict, key: str):
    """What the view should hold for `key`, as the config gives it."""
    value = section[key]
    if view_type is views.QuantizationView and key == "skip_modules":
        return None if value is None else tuple(value)
    if view_type is views.DatasetView and key == "fields":
        return {k: v for k, v in (value or {}).items() if v}
    return value


@pytest.mark.parametrize("overrides", _preset_cases(), ids=" ".join)
def test_every_view_is_built_from_every_preset_and_holds_the_configs_values(overrides, session):
    checked = check_run(compose_run(overrides, session=session).cfg)
    for cfg in [checked.cfg, *checked.steps.values()]:
        for view_type in views.VIEWS:
            if view_type is views.TaskView and "task" not in cfg:
                continue  # a graph's top level: each step names its task
            view = view_type.from_config(cfg)
            section = cfg if view_type.SECTION is None else cfg.get(view_type.SECTION) or {}
            for key in views.config_keys(view_type):
                if key in section:
                    assert getattr(view, key) == _expected(view_type, section, key), (view_type.__name__, key)
    assert checked.views == views.ConfigViews.from_config(checked.cfg)  # built once, by check_run
    for name, step in checked.steps.items():
        assert checked.step_views[name] == views.StepView.from_config(step)
        assert checked.step_views[name].task.name == step["task"]["name"]
        assert checked.step_views[name].output == step["step"]["output"]  # the meta, added after validation
    settings = Settings.from_config(checked.cfg, bench=True)
    assert settings.warmup_batches == checked.cfg["bench"]["warmup_batches"]
    EngineSettings.from_config(checked.cfg)
    TrackingSettings.from_config(checked.cfg)


def _schema_keys(node: dict) -> set[str]:
    """Property names a schema node allows: its own, and those of its allOf/then branches and $defs."""
    keys = set(node.get("properties", {}))
    for branch in node.get("allOf", []):
        keys |= _schema_keys(branch.get("then", {}))
    for shared in node.get("$defs", {}).values():
        keys |= _schema_keys(shared)
    return keys


def test_every_key_a_view_reads_is_in_the_schema():
    schema = config_schema()
    top = _schema_keys(schema)
    for view_type in views.VIEWS:
        if view_type.SECTION is None:
            allowed = top
        elif view_type is views.TaskView:
            allowed = {"name", "params"}  # task.params: schemas/tasks/<id>.schema.json
        else:
            allowed = _schema_keys(schema["properties"][view_type.SECTION])
        assert set(views.config_keys(view_type)) <= allowed, view_type.__name__


def _conf(path: str) -> dict:
    return yaml.safe_load((CONF / path).read_text())


def _fallbacks(view_type: type) -> dict:
    """The defaults a view falls back to when a validated config lacks the key."""
    return {f.name: f.default for f in fields(view_type) if f.name not in getattr(view_type, "DERIVED", ())}


def test_the_views_fallbacks_are_the_conf_yaml_values():
    """A saved run.json that lacks a key runs as today's conf YAML would have it: the two cannot drift."""
    from dataclasses import MISSING

    top = _conf("config.yaml")
    sections = {
        views.BenchView: top["bench"],
        views.BatchingView: top["batching"],
        views.GraphView: top["graph"],
        views.ModelView: _conf("model/default.yaml"),
        views.OutputView: _conf("output/jsonl.yaml"),
        views.BackendView: {**_conf("backend/ctranslate2.yaml"), "name": _conf("backend/transformers.yaml")["name"]},
    }
    for dataset in _options("dataset"):
        sections[views.DatasetView] = _conf(f"dataset/{dataset}.yaml")
        for view_type, given in sections.items():
            for key, fallback in _fallbacks(view_type).items():
                if fallback is not MISSING:
                    assert given[key] == fallback, (view_type.__name__, key)
    with_fallbacks = {v for v in views.VIEWS if any(d is not MISSING for d in _fallbacks(v).values())}
    assert with_fallbacks <= {*sections, views.QuantizationView}, "a view with fallbacks: compare them here"
    assert {"backend": views.BackendView.name} in top["defaults"]  # a config without `backend` ran on the default
    given = {"mode": _conf("quantization/none.yaml")["mode"]}
    for mode in _options("quantization"):
        given.update({k: v for k, v in _conf(f"quantization/{mode}.yaml").items() if k != "mode"})
    fallbacks = _fallbacks(views.QuantizationView)
    # int8's preset turns its probe on; quantization.mode=int8 set alone (no preset keys) runs without one
    assert given.pop("probe_rows") > 0 and fallbacks.pop("probe_rows") == 0
    assert given == fallbacks


@pytest.mark.parametrize("name", ["file", "folder", "hf"])
def test_a_sources_own_fallbacks_are_its_presets_values(name):
    """runner/sources' own option views (FileOptions ...) fall back to what conf/dataset/<name>.yaml gives."""
    from dataclasses import MISSING

    from runner.sources.files import FileOptions, FolderOptions
    from runner.sources.hf import HfOptions

    options = {"file": FileOptions, "folder": FolderOptions, "hf": HfOptions}[name]
    preset = _conf(f"dataset/{name}.yaml")
    fallbacks = {key: value for key, value in _fallbacks(options).items() if value is not MISSING}
    assert fallbacks and fallbacks == {key: preset[key] for key in fallbacks}
    built = options.from_dataset(preset | {fields(options)[0].name: "x"})  # the preset, its required key given
    assert {key: getattr(built, key) for key in fallbacks} == fallbacks


def test_the_schemas_state_no_defaults_the_conf_yaml_is_their_one_place():
    """Defaults live in the conf YAML (composition always fills them) and, for keys old run.json files lack,
    in the views' fallbacks, which the tests above hold equal to the YAML. A `default` in a schema would be a
    third copy that nothing reads (jsonschema does not fill them in), so none may appear."""
    from runner.core.paths import SCHEMA_DIR

    stated = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                if key == "default" and where.rsplit("/", 1)[-1] != "properties":
                    stated.append(where)
                walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}/{i}")

    files = sorted(SCHEMA_DIR.rglob("*.schema.json"))
    assert len(files) > 20  # config, one per task, one per source
    for path in files:
        walk(json.loads(path.read_text()), path.relative_to(SCHEMA_DIR).as_posix())
    assert not stated, f"a schema states a default; put it in the conf YAML instead: {stated}"


# Modules that read the config as a dict on purpose: the views themselves, those beside their owners
# (engine, tracking), and the checking that runs before a config is valid (validate, graph_steps, presets).
ALLOWED = {
    "runner/core/views.py",
    "runner/config/engine.py",
    "runner/tracking/settings.py",
    "runner/config/validate.py",
    "runner/config/graph_steps.py",
    "runner/config/presets.py",
}
# The config's dict reads left elsewhere, by module, each for a reason: none reads a validated setting that
# a view holds. Converting one to a view lowers its number here.
PINNED = {
    "runner/api.py": 1,  # the composed config before validation: rerun= and merge= are refused
    "runner/cli.py": 4,  # Hydra's composed config before validation: resume, sweep.resume, objective pick the dir
    "runner/job/app.py": 2,  # rerun= before validation: its run.json's config replaces the composed one
    "runner/job/policies.py": 1,  # bench.isolation=process: the child's config is the plan's, isolation off
    "runner/plan/__init__.py": 1,  # a Source is given its dataset node (its own keys are read in runner/sources)
    "runner/sources/__init__.py": 2,  # a source's own keys (dataset.path)
    "runner/sources/inline.py": 1,  # a source's own keys (dataset.rows)
    "runner/sources/sharding.py": 5,  # merge: batch_unit and assignment of the config a shard saved (run.json)
}


def _is_config(node: ast.expr) -> bool:
    """A config dict: a name or attribute called cfg or *_cfg, or a read from one (cfg["model"].get(...))."""
    if isinstance(node, ast.Name):
        return node.id == "cfg" or node.id.endswith("_cfg")
    if isinstance(node, ast.Attribute):
        return node.attr == "cfg" or node.attr.endswith("_cfg")
    return _is_read(node)


def _is_read(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript):
        return _is_config(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return _is_config(node.func.value)
    return False


def config_dict_reads() -> Counter:
    counts = Counter()
    for path in sorted(RUNNER.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name in ALLOWED:
            continue
        tree = ast.parse(path.read_text(), name)
        reads = sum(_is_read(node) and not isinstance(getattr(node, "ctx", None), ast.Store) for node in ast.walk(tree))
        if reads:
            counts[name] = reads
    return counts


def test_config_dict_reads_outside_the_views_only_go_down():
    counts = config_dict_reads()
    grown = {name: (n, PINNED.get(name, 0)) for name, n in counts.items() if n > PINNED.get(name, 0)}
    assert not grown, f"config dict reads grew (module: now, pinned); read a view of runner/core/views.py: {grown}"
    assert sum(counts.values()) <= sum(PINNED.values())
