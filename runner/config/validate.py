"""Check a composed config against schemas/ and turn schema errors into messages a user can act on.

Every message names the key path, the value given and what is allowed, with a "did you mean" for
near misses. Nothing here imports torch or transformers: a bad config fails in well under a second.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from runner.backends import BACKENDS, check_backend
from runner.config.engine import ENGINES
from runner.config.model_location import check_model_location, check_model_package
from runner.core.errors import ConfigError, ConfigErrors, did_you_mean
from runner.core.extras import require
from runner.models.quantization import check_device as check_quantization_device
from runner.core.views import StepView
from runner.models.quantization import MODES, check_int8
from runner.core.paths import SCHEMA_DIR
from runner.tasks import TASKS, all_task_names, canonical_task_id


# Every integer key is at most an int64 unless its schema says less: what the values reach (itertools.islice,
# numpy, torch) takes int64, and a Python int of 10**300 would fail there, deep in a run, instead of here.
INT64_MAX = 2**63 - 1


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    return _cap_integers(json.loads((SCHEMA_DIR / name).read_text()))


def _cap_integers(node):
    """Give each integer-typed subschema without a maximum the int64 one (in place; returns node)."""
    if isinstance(node, dict):
        kind = node.get("type")
        if (kind == "integer" or (isinstance(kind, list) and "integer" in kind)) and "maximum" not in node:
            node["maximum"] = INT64_MAX
        for child in node.values():
            _cap_integers(child)
    elif isinstance(node, list):
        for child in node:
            _cap_integers(child)
    return node


@lru_cache(maxsize=None)
def _validator_class():
    """Draft 2020-12 with stricter types than JSON's: JSON Schema counts 2.0 (and 1e300) as an integer,
    but a float given for a count is a mistake (`batch_size=1e300`), so an integer must be a Python int;
    and a number must be finite (nan passes every minimum/maximum comparison, inf is no setting)."""
    import math

    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many(
        {
            "integer": lambda _, value: isinstance(value, int) and not isinstance(value, bool),
            "number": lambda _, value: (
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            ),
        }
    )
    return jsonschema.validators.extend(base, type_checker=checker)


def config_schema() -> dict:
    """schemas/config.schema.json with the choices that live in code filled in: the task ids (from the
    task definitions), the tiny architectures (from the tiny builders), the backends, the engines, the sources with
    each one's keys (runner.sources.registry) and the output formats (runner.outputs.tables), so no list is copied."""
    from runner.sources.registry import SOURCES
    from runner.outputs.tables import FORMATS

    return _config_schema(tuple(SOURCES), tuple(FORMATS), tuple(ENGINES))


@lru_cache(maxsize=None)
def _config_schema(sources: tuple[str, ...], formats: tuple[str, ...], engines: tuple[str, ...]) -> dict:
    from runner.models.tiny import ARCHS
    from runner.sources.registry import SOURCES

    schema = copy.deepcopy(load_schema("config.schema.json"))
    properties = schema["properties"]
    properties["task"]["properties"]["name"]["enum"] = sorted(TASKS)
    properties["model"]["properties"]["tiny"]["enum"] = ["auto", *ARCHS, None]
    properties["backend"]["properties"]["name"]["enum"] = list(BACKENDS)
    properties["engine"]["properties"]["name"]["enum"] = list(engines)
    dataset = properties["dataset"]
    dataset["properties"]["type"]["enum"] = list(sources)
    every_source = dataset["$defs"]["every_source"]["properties"]
    dataset["allOf"] = [_source_branch(name, every_source, _source_schema(SOURCES[name])) for name in sources]
    output_format = properties["output"]["properties"]["format"]
    one, several = output_format["oneOf"]
    one["enum"] = several["items"]["enum"] = list(formats)
    output_format["description"] = f"{' | '.join(formats)}, or a list of them; predictions.jsonl is always written"
    return schema


def _source_schema(kind) -> dict:
    if kind.schema is None:
        return load_schema(f"sources/{kind.name}.schema.json")
    return _cap_integers(copy.deepcopy(dict(kind.schema)))


def _source_branch(name: str, every_source: dict, own: dict) -> dict:
    """dataset.type=<name>: the keys every source has and its own, nothing else."""
    then = {
        "type": "object",
        "properties": {"type": {"const": name}, **copy.deepcopy(every_source), **copy.deepcopy(own["properties"])},
        "additionalProperties": False,
    }
    if own.get("required"):
        then["required"] = list(own["required"])
    return {"if": {"properties": {"type": {"const": name}}}, "then": then}


def task_schema_name(task_id: str) -> str:
    return f"tasks/{task_id}.schema.json"


def check_config(cfg: dict) -> dict:
    """Return a checked copy of one level of config (task id canonical, null task params dropped) or raise
    ConfigError. With graph.steps the top level carries no task; its steps are checked one by one
    (config/graph_steps.py: each as a single-task config, through this function)."""
    cfg = dict(cfg)
    has_steps = bool((cfg.get("graph") or {}).get("steps"))
    if has_steps and cfg.get("task") is not None:
        raise ConfigError(
            "task",
            "a task is given and graph.steps too",
            "graph.steps names each step's task; drop +task=... (or drop graph.steps for a single-task run)",
        )
    if not has_steps and cfg.get("task") is None:
        raise ConfigError(
            "task",
            "no task given",
            f"append one with +task=<name>, e.g. +task=text-classification. Tasks: {', '.join(sorted(TASKS))}",
        )
    errors = []
    if not has_steps:
        task = dict(cfg["task"])
        task_id = canonical_task_id(str(task.get("name")))
        if task_id is None:
            raise _unknown_choice("task.name", task.get("name"), all_task_names())
        task["name"] = task_id
        task["params"] = {k: v for k, v in (task.get("params") or {}).items() if v is not None}
        cfg["task"] = task
        errors += schema_errors(task["params"], load_schema(task_schema_name(task_id)), prefix="task.params")
    errors = schema_errors(cfg, config_schema(), prefix="") + errors
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    if has_steps:
        check_shard(cfg)
    else:
        check_consistency(cfg)
    return cfg


def schema_errors(instance: Any, schema: dict, prefix: str) -> list[ConfigError]:
    validator = _validator_class()(schema)  # jsonschema is imported lazily: `run --help` does not pay for it
    found = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    leaves = list(_leaf_errors(found))
    # A value of the wrong type fails its bounds too (1e300 is above any maximum): say the type only.
    mistyped = {tuple(e.absolute_path) for e in leaves if e.validator == "type"}
    leaves = [e for e in leaves if e.validator == "type" or tuple(e.absolute_path) not in mistyped]
    errors, seen = [], set()
    for error in leaves:
        converted = _to_config_error(error, prefix)
        if converted.render() not in seen:
            seen.add(converted.render())
            errors.append(converted)
    return errors


def _leaf_errors(errors):
    """Descend into if/then and oneOf wrappers so the message points at the real culprit."""
    for error in errors:
        if error.validator in ("allOf", "anyOf", "oneOf") and error.context:
            by_path = sorted(error.context, key=lambda e: -len(e.absolute_path))
            deepest = [e for e in by_path if len(e.absolute_path) == len(by_path[0].absolute_path)]
            if error.validator == "allOf":
                yield from _leaf_errors(deepest)
            else:  # a branch the value's type fits says best what is wrong with it ([csv, csv]: twice)
                mistyped = {e.relative_schema_path[0] for e in error.context if e.validator == "type"}
                telling = [
                    e
                    for e in deepest
                    if e.validator not in ("type", "enum", "const") and e.relative_schema_path[0] not in mistyped
                ]
                yield from _leaf_errors((telling or deepest)[:1])
        else:
            yield error


def _key(prefix: str, path) -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in path]
    return ".".join(parts)


def _to_config_error(error, prefix: str) -> ConfigError:
    key = _key(prefix, error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        name = extra[0] if extra else "?"
        return ConfigError(
            _key(prefix, [*error.absolute_path, name]),
            "unknown key",
            did_you_mean(name, allowed) + f"allowed keys: {', '.join(allowed)}",
        )
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        context = (
            f" for {key.split('.')[0]} type '{value.get('type')}'"
            if isinstance(value, dict) and "type" in value
            else ""
        )
        return ConfigError(
            _key(prefix, [*error.absolute_path, missing]), f"is required{context}", _required_hint(key, missing)
        )
    if kind in ("enum", "const"):
        allowed = schema.get("enum") or [error.validator_value]
        return _unknown_choice(key, value, allowed)
    description = schema.get("description")
    if kind == "type" and value is None:
        return ConfigError(
            key, "is required (it is null)", f"set it with {key}=..." + (f" ({description})" if description else "")
        )
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        if isinstance(value, float) and "integer" in expected:  # 2.0, 1e300: Hydra reads them as floats
            whole = "write a whole number without a decimal point or exponent"
            return ConfigError(
                key,
                f"expected {expected}, got the float {value!r}",
                f"{whole} ({description})" if description else whole,
            )
        return ConfigError(key, f"expected {expected}, got {value!r}", description)
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        return ConfigError(
            key, f"must be {op} {error.validator_value}, got {value!r}", _range_hint(schema, description)
        )
    if kind == "pattern":
        return ConfigError(
            key,
            f"{value!r} is not valid",
            f"allowed: {description}" if description else f"must match {error.validator_value}",
        )
    if kind == "uniqueItems":
        return ConfigError(key, f"{value!r} names a value twice", "list each value once")
    if kind in ("minItems", "minLength"):
        return ConfigError(key, f"must not be empty, got {value!r}", description)
    return ConfigError(key, f"{value!r}: {error.message}", description)


def _range_hint(schema: dict, description: str | None) -> str | None:
    """ "allowed: 1..65536" when both bounds are set (the int64 cap alone is not worth saying)."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None or high is None or high == INT64_MAX:
        return description
    return f"allowed: {low}..{high}" + (f" ({description})" if description else "")


def _required_hint(key: str, missing: str) -> str | None:
    if key == "dataset":
        return f"set it with dataset.{missing}=..."
    if key.startswith("task.params"):
        return f"set it with task.params.{missing}=..."
    return None


def _unknown_choice(key: str, value: Any, allowed) -> ConfigError:
    shown = [("null" if a is None else str(a)) for a in allowed]
    return ConfigError(key, f"{value!r} is not allowed", did_you_mean(value, shown) + f"allowed: {', '.join(shown)}")


def check_consistency(cfg: dict) -> None:
    """Rules that span several keys, which JSON Schema expresses poorly."""
    device, device_map = cfg.get("device"), cfg.get("device_map")
    if device_map is not None and device not in (None, "auto"):
        raise ConfigError(
            "device_map",
            f"device_map={device_map!r} and device={device!r} are both set",
            "device_map places the model itself (via accelerate); keep one: device=auto with device_map, or drop device_map",
        )
    step = StepView.from_config(cfg)
    quant_mode = step.quantization.mode
    check_quantization_device(quant_mode, device or "auto")  # device=auto: checked once it is resolved
    check_int8(step)
    check_no_weights(cfg, quant_mode)
    check_quantization_extra(quant_mode)
    model = cfg["model"]
    sources = [k for k in ("id", "tiny", "package") if model.get(k)]
    if len(sources) > 1:
        raise ConfigError(
            f"model.{sources[1]}",
            f"model.{sources[0]} and model.{sources[1]} are both set",
            "a model comes from one place: a hub id or path (model.id), a tiny build (model=tiny) or a package (model.package)",
        )
    check_model_location(model.get("id"))
    check_model_package(model.get("package"))
    check_shard(cfg)
    check_field_mapping(cfg)
    check_backend(step)  # the task/backend pair, its extra, its own rules (runner/backends)


def check_quantization_extra(quant_mode: str) -> None:
    """bitsandbytes for 8bit/4bit; none (torch's own) for int8."""
    library = MODES[quant_mode].library if quant_mode in MODES else None
    if library is not None:
        require(library, "quantization", f"quantization={quant_mode}")


def check_shard(cfg: dict) -> None:
    shard = cfg.get("shard") or {"index": 0, "count": 1}
    if shard["index"] >= shard["count"]:
        raise ConfigError(
            "shard.index",
            f"shard.index={shard['index']} is not below shard.count={shard['count']}",
            f"use shard.index=0..{shard['count'] - 1}",
        )


def check_no_weights(cfg: dict, quant_mode: str) -> None:
    """Quantization and device_map act on weights as they load; model.no_weights loads none."""
    if not cfg["model"].get("no_weights"):
        return
    if quant_mode != "none":
        raise ConfigError(
            "model.no_weights",
            f"cannot be combined with quantization={quant_mode}: quantization acts on loaded "
            "weights (bitsandbytes while loading them, int8 right after), and no_weights builds the model from its config",
            "drop one of them; to measure a smaller footprint without weights use dtype=float16 or bfloat16",
        )
    if cfg.get("device_map") is not None:
        raise ConfigError(
            "model.no_weights",
            f"cannot be combined with device_map={cfg['device_map']!r}: accelerate places loaded "
            "weights, and no_weights builds the model on one device",
            "use device=cuda:N (or cpu) with model.no_weights",
        )


def check_field_mapping(cfg: dict) -> None:
    spec = TASKS[cfg["task"]["name"]]
    dataset = cfg["dataset"]
    for field, column in (dataset.get("fields") or {}).items():
        if column is not None and field not in spec.inputs and field != "reference":  # reference: expected outputs
            raise ConfigError(
                f"dataset.fields.{field}",
                f"'{field}' is not an input of task {spec.id}",
                f"{spec.id} takes: {', '.join(spec.inputs)}",
            )
    if dataset.get("column") and (dataset.get("fields") or {}).get(spec.primary_input):
        raise ConfigError(
            "dataset.column",
            f"dataset.column and dataset.fields.{spec.primary_input} both name the input column",
            "keep one of them",
        )
