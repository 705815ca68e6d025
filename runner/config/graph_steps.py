"""The steps of a run, each as a complete single-task config.

A run without `graph.steps` is a one-step graph named "main" made of the top-level keys. With
`graph.steps`, each step names its task and may name its own model (a preset, or a mapping of
model keys laid over the default preset: composing resolves both into a mapping, config/presets.py),
params, input, batch_size, device, device_map, dtype and quantization (a preset, resolved the same
way); what it leaves out comes from the top level. Each step's config
is checked with the same schema and rules as a single-task run, and its error keys are renamed to
point at the step (graph.steps.<name>.<key>), so a step fails as clearly as a top-level key.
"""

from __future__ import annotations

from runner.config.validate import check_config
from runner.core.errors import ConfigError, ConfigErrors
from runner.core.views import StepView

SINGLE_STEP = "main"
SOURCE = "source"
# Top-level keys a step may override, as they are spelled in a step.
OVERRIDABLE = ("batch_size", "device", "device_map", "dtype")


def step_configs(cfg: dict) -> dict[str, dict]:
    """{step name: single-task config}, in the order written, from a checked top-level config; each
    step is checked here, once, and carries `step` meta: input, output."""
    steps = (cfg.get("graph") or {}).get("steps")
    if not steps:
        single = dict(cfg)
        single["step"] = {"name": SINGLE_STEP, "input": None, "output": SINGLE_STEP}
        return {SINGLE_STEP: single}
    result, errors = {}, []
    for position, (name, step) in enumerate(steps.items()):
        if name == SOURCE:
            errors.append(
                ConfigError(f"graph.steps.{name}", f"'{SOURCE}' is reserved for the dataset", "rename the step")
            )
            continue
        try:
            result[name] = _step_config(cfg, name, step or {}, first=position == 0)
        except ConfigErrors as error:
            errors.extend(error.errors)
        except ConfigError as error:
            errors.append(error)
    _check_output_names(steps, errors)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return result


def given_as_one_task(steps: dict[str, StepView]) -> bool:
    """A run given as `+task=...` rather than graph.steps: a one-step graph whose source fields are named
    by the task's inputs and whose predictions hold the step's output as it is (a chain names fields by
    column and outputs by step). The graph records the answer (Graph.one_task); the rest ask the graph."""
    return len(steps) == 1 and next(iter(steps.values())).meta.input is None


def _step_config(cfg: dict, name: str, step: dict, first: bool) -> dict:
    prefix = f"graph.steps.{name}"
    single = {k: v for k, v in cfg.items() if k not in ("task", "graph")}
    if not first:  # dataset.column/fields map columns to the first step's inputs; later steps name theirs
        single["dataset"] = {**cfg["dataset"], "column": None, "fields": {}}
    single["graph"] = {**cfg["graph"], "steps": None}
    single["task"] = {"name": step.get("task"), "params": dict(step.get("params") or {})}
    if step.get("model") is not None:
        single["model"] = _preset_mapping(step["model"], f"{prefix}.model")
    if step.get("quantization") is not None:
        single["quantization"] = _preset_mapping(step["quantization"], f"{prefix}.quantization")
    for key in OVERRIDABLE:
        if step.get(key) is not None:
            single[key] = step[key]
    try:
        checked = check_config(single)
    except ConfigErrors as error:
        raise ConfigErrors([_rekey(e, prefix) for e in error.errors]) from None
    except ConfigError as error:
        raise _rekey(error, prefix) from None
    checked["step"] = {"name": name, "input": step.get("input"), "output": step.get("output") or name}
    return checked


def _rekey(error: ConfigError, prefix: str) -> ConfigError:
    """task.params.x -> graph.steps.s.params.x, model.id -> graph.steps.s.model.id, and so on."""
    key = error.key
    for old, new in (("task.name", "task"), ("task.params", "params"), ("task", "task")):
        if key == old or key.startswith(old + "."):
            key = new + key[len(old) :]
            break
    if key.split(".")[0] in ("task", "params", "model", "quantization", *OVERRIDABLE):
        key = f"{prefix}.{key}"
    return ConfigError(key, error.message, error.hint)


def _preset_mapping(value, key: str) -> dict:
    """A step's model/quantization, which composing turned into a mapping (config/presets.py)."""
    if not isinstance(value, dict):
        raise ConfigError(
            key,
            f"expected a mapping, got the preset name {value!r}",
            "presets named in graph.steps are resolved when the config is composed "
            "(run, runner.run, or runner.config.compose.compose_run)",
        )
    return dict(value)


def _check_output_names(steps: dict, errors: list) -> None:
    seen: dict[str, str] = {}
    for name, step in steps.items():
        output = (step or {}).get("output") or name
        if output in seen:
            errors.append(
                ConfigError(
                    f"graph.steps.{name}.output",
                    f"'{output}' is already the output of step '{seen[output]}'",
                    "give each step its own output name",
                )
            )
        seen[output] = name
