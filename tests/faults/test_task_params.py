"""Every parameter a task schema lists works (issue 29, item 6): each one, with a valid value, runs
through the runner on the task's tiny model and 2 sample rows, every row ok, and it reaches the
pipeline call (its keyword arguments) or changes the outputs.

The cases are read from schemas/tasks/*.schema.json: a parameter added there without a sample value
below fails `test_every_listed_parameter_has_a_sample_value` until it has one. One task's runs share
its loaded model (one Invocation, whose pipeline cache keeps it between runs) and its composed config
(composed by Hydra once; each case sets its parameter in a copy, which validation then checks as
it checks any config), so a case costs a run of 2 rows, not a model load and a composition."""

from __future__ import annotations

import copy
from contextlib import contextmanager
import json
from pathlib import Path
from typing import Any

import pytest

from runner.core.errors import ConfigError
from runner.core.paths import PACKAGE_DIR, SCHEMA_DIR

# The generation parameters the three encoder-decoder text tasks list alike.
SEQ2SEQ: dict[str, Any] = {
    "max_length": 4,
    "min_length": 3,
    "max_new_tokens": 2,
    "num_beams": 2,
    "do_sample": True,
    "temperature": 0.5,
    "top_k": 5,
    "top_p": 0.5,
    "no_repeat_ngram_size": 1,
    "length_penalty": 2.0,
    "early_stopping": True,
    "truncation": True,
    "clean_up_tokenization_spaces": False,
    "generate_kwargs": {"max_new_tokens": 2},
}

# A valid value for every task parameter: chosen, where the tiny model allows, to change its outputs.
SAMPLES: dict[str, dict[str, Any]] = {
    "audio-classification": {"top_k": 1, "function_to_apply": "sigmoid"},
    "automatic-speech-recognition": {
        "return_timestamps": True,
        "chunk_length_s": 3.0,
        "stride_length_s": [0.2, 0.2],
        "return_language": True,
        "max_new_tokens": 2,
        "generate_kwargs": {"max_new_tokens": 2},
        "beam_size": 2,
        "vad_filter": True,
        "temperature": [0.0, 0.5],
    },
    "depth-estimation": {"timeout": 5.0},
    "document-question-answering": {
        "top_k": 2,
        "max_answer_len": 1,
        "max_seq_len": 64,
        "doc_stride": 4,
        "padding": "max_length",
        "handle_impossible_answer": True,
        "lang": "eng",
        "tesseract_config": "--psm 6",
        "timeout": 5.0,
    },
    "feature-extraction": {
        "pooling": "cls",
        "normalize": True,
        "truncation": True,
        "tokenize_kwargs": {"truncation": True, "max_length": 4},
    },
    "fill-mask": {"top_k": 2, "targets": ["capital", "city"]},
    "image-classification": {"top_k": 1, "function_to_apply": "sigmoid", "timeout": 5.0},
    "image-segmentation": {
        "subtask": "semantic",
        "threshold": 0.1,
        "mask_threshold": 0.1,
        "overlap_mask_area_threshold": 0.1,
        "timeout": 5.0,
    },
    "image-text-to-text": {
        "max_new_tokens": 2,
        "generate_kwargs": {"max_new_tokens": 2},
        "return_full_text": False,
        "prompt": "Describe it.",
        "timeout": 5.0,
    },
    "image-to-text": {
        "max_new_tokens": 2,
        "generate_kwargs": {"max_new_tokens": 2},
        "prompt": "a photo of",
        "timeout": 5.0,
    },
    "object-detection": {"threshold": 0.0, "timeout": 5.0},
    "question-answering": {
        "top_k": 2,
        "doc_stride": 4,
        "max_answer_len": 1,
        "max_seq_len": 64,
        "max_question_len": 4,
        "handle_impossible_answer": True,
        "align_to_words": False,
    },
    "summarization": SEQ2SEQ,
    "text-classification": {"top_k": 2, "function_to_apply": "sigmoid", "truncation": True, "max_length": 4},
    "text-generation": {
        "max_new_tokens": 2,
        "do_sample": True,
        "temperature": 0.5,
        "top_k": 5,
        "top_p": 0.5,
        "num_beams": 2,
        "num_return_sequences": 2,
        "repetition_penalty": 1.5,
        "generate_kwargs": {"max_new_tokens": 2},
        "return_full_text": False,
        "truncation": True,
        "max_length": 40,
    },
    "text-to-audio": {
        "forward_params": {"do_sample": False},
        "generate_kwargs": {"max_new_tokens": 2},
        "preprocess_params": {"max_length": 8},
    },
    "text2text-generation": SEQ2SEQ,
    "token-classification": {"aggregation_strategy": "simple", "ignore_labels": [], "stride": 2},
    "translation": {**SEQ2SEQ, "src_lang": "en", "tgt_lang": "fr"},
    "visual-question-answering": {"top_k": 2, "max_new_tokens": 2, "timeout": 5.0},
    "zero-shot-classification": {
        "candidate_labels": ["good", "bad"],
        "hypothesis_template": "It is {}.",
        "multi_label": True,
    },
    "zero-shot-image-classification": {
        "candidate_labels": ["cat", "dog"],
        "hypothesis_template": "a photo of a {}",
        "timeout": 5.0,
    },
    "zero-shot-object-detection": {
        "candidate_labels": ["cat", "dog"],
        "threshold": 0.0,
        "top_k": 1,
        "timeout": 5.0,
    },
}


# Other values every run of a task starts from: generation capped (a tiny model with random weights
# writes until its maximum length otherwise), the labels a zero-shot task needs.
CAP = {"max_new_tokens": 3}
LABELS = {"candidate_labels": ["positive", "negative"]}
BASE: dict[str, dict[str, Any]] = {
    **dict.fromkeys(
        (
            "automatic-speech-recognition",
            "image-text-to-text",
            "image-to-text",
            "summarization",
            "text-generation",
            "text2text-generation",
            "translation",
            "visual-question-answering",
        ),
        CAP,
    ),
    **dict.fromkeys(
        ("zero-shot-classification", "zero-shot-image-classification", "zero-shot-object-detection"), LABELS
    ),
}
# The base's cap would hide these (max_new_tokens wins over max_length; a key given both ways takes
# task.params' value over generate_kwargs').
UNCAPPED = ("max_length", "max_new_tokens", "generate_kwargs")
# Values a parameter needs beside it to be valid.
WITH = {("text-generation", "num_return_sequences"): {"do_sample": True}}
# Parameters the tiny model cannot take: the run must stop before any row with a config error naming it.
REFUSED_BY_THE_TINY_MODEL = {("text-to-audio", "generate_kwargs"): "VITS makes audio in one forward pass"}


def listed_params() -> list[tuple[str, str]]:
    return [
        (path.name.removesuffix(".schema.json"), name)
        for path in sorted((SCHEMA_DIR / "tasks").glob("*.schema.json"))
        for name in json.loads(path.read_text())["properties"]
    ]


def test_every_listed_parameter_has_a_sample_value():
    listed = listed_params()
    missing = [f"{task}: task.params.{name}" for task, name in listed if name not in SAMPLES.get(task, {})]
    assert not missing, f"add a valid sample value to SAMPLES in {__file__} for {missing}"
    stale = {(task, name) for task, params in SAMPLES.items() for name in params} - set(listed)
    assert not stale, f"SAMPLES names parameters no schema lists: {sorted(stale)}"


def backend_of(task: str, name: str) -> str:
    """The backend that reads a parameter only it reads (the default reads the rest)."""
    from runner.backends import BACKENDS

    owners = [b.name for b in BACKENDS.values() if name in b.own_params.get(task, ())]
    return owners[0] if owners else "transformers"


class Runs:
    """Runs of one task with one parameter set each, sharing one Invocation (whose pipeline cache keeps
    the task's model loaded between them) and one composition per task and backend: composed by Hydra
    with every sample value given as the Python API writes it (runner.config.overrides.leaves), so each
    value went through the override grammar; a run takes its own value from there into a copy of the
    base config, which planning then validates as any config."""

    def __init__(self, root: Path):
        from runner.api import _session
        from runner.job.invocation import Invocation

        self.root, self.invocation, self.composed, self.baselines, self.count = root, Invocation(), {}, {}, 0
        self.session = _session(None)  # one for every composition: it registers the task group once

    def overrides(self, task: str, backend: str) -> list[str]:
        given = ["model=tiny", "dataset=sample", "dataset.limit=2", "batch_size=2", "progress=false", "threads=1"]
        if task == "image-text-to-text":  # rows without a text of their own, which task.params.prompt gives
            rows = self.root / "images.jsonl"
            images = PACKAGE_DIR / "sample_data" / "images"
            rows.write_text("".join(json.dumps({"image": str(images / f"image{i}.png")}) + "\n" for i in range(2)))
            given += ["dataset=file", f"dataset.path={rows}"]
        return [f"+task={task}", *given, f"backend={backend}"]

    def base(self, task: str, backend: str):
        """(composed base config, the sample values as composed, session, overrides)."""
        from runner.config.compose import compose_run
        from runner.config.overrides import leaves

        key = (task, backend)
        if key not in self.composed:
            session, overrides = self.session, self.overrides(task, backend)
            composed = compose_run([*overrides, *leaves("task.params", SAMPLES[task])], session=session)
            samples = composed.cfg["task"]["params"]
            composed.cfg["task"]["params"] = dict.fromkeys(samples)
            self.composed[key] = (composed, samples, session, overrides)
        return self.composed[key]

    def run(self, task: str, name: str | None, backend: str, value: Any = None) -> tuple[list, list[dict]]:
        """(outputs, the keyword arguments of each pipeline, tokenizer or decoder call) of a run with
        task.params.<name> set to its sample value, or to `value` (name None: the base values only).
        Every row must succeed."""
        outputs, errors, calls = self.run_rows(task, name, backend, value)
        assert not errors, [error["error"] for error in errors]
        return outputs, calls

    def run_rows(self, task: str, name: str | None, backend: str, value: Any = None) -> tuple[list, list, list]:
        """(outputs, errors, calls) of a run that finished, whatever its rows did."""
        from runner.job.app import Job, run_job
        from runner.config.compose import Composed

        composed, samples, session, overrides = self.base(task, backend)
        cfg = copy.deepcopy(composed.cfg)
        base = {k: v for k, v in BASE.get(task, {}).items() if not (name in UNCAPPED and k in CAP)}
        own = {name: samples[name] if value is None else value} if name else {}
        params = {**base, **WITH.get((task, name), {}), **own}
        cfg["task"]["params"].update(params)
        self.count += 1
        run_dir = self.root / f"run{self.count}"
        run_dir.mkdir()
        keep = {"predictions": [], "errors": []}
        job = Job(
            Composed(cfg, composed.conf),
            session,
            ["test"],
            self.root,
            overrides,
            claim_run_dir=lambda plan: run_dir,
            keep=keep,
        )
        calls = []
        with spied(calls):
            outcome = run_job(job, self.invocation)
        assert outcome.exit_code == (4 if keep["errors"] else 0)
        return [p["output"] for p in keep["predictions"]], keep["errors"], calls

    def baseline(self, task: str, backend: str) -> list:
        if (task, backend) not in self.baselines:
            self.baselines[task, backend] = self.run(task, None, backend)[0]
        return self.baselines[task, backend]


# The calls a parameter may reach: a transformers pipeline's (its subclasses' __call__ hand their
# keywords on to it), a tokenizer's (feature-extraction's pooled path tokenizes itself), faster-whisper's.
SPIED = (
    ("transformers", "Pipeline", "__call__"),
    ("transformers", "PreTrainedTokenizerBase", "__call__"),
    ("faster_whisper", "WhisperModel", "transcribe"),
    ("faster_whisper", "BatchedInferencePipeline", "transcribe"),
)


@contextmanager
def spied(calls: list):
    """Record the keyword arguments of every call in SPIED while the block runs."""
    import sys

    patched = []
    for module_name, class_name, method in SPIED:
        owner = getattr(sys.modules.get(module_name), class_name, None)  # a module not loaded has no calls
        if owner is None:
            continue
        original = owner.__dict__[method]

        def recording(*args, _original=original, **kwargs):
            calls.append(kwargs)
            return _original(*args, **kwargs)

        setattr(owner, method, recording)
        patched.append((owner, method, original))
    try:
        yield
    finally:
        for owner, method, original in patched:
            setattr(owner, method, original)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return Runs(tmp_path_factory.mktemp("params"))


def reached(name: str, value, calls: list[dict]) -> bool:
    """Some call got the parameter (or, for generate_kwargs spread among the pipeline's keywords, each of its keys)."""
    for kwargs in calls:
        if kwargs.get(name) == value:
            return True
        if isinstance(value, dict) and all(kwargs.get(k) == v for k, v in value.items()):
            return True
    return False


@pytest.mark.parametrize(("task", "name"), listed_params())
def test_each_listed_parameter_runs_and_reaches_the_pipeline(runs, task, name):
    if name not in SAMPLES.get(task, {}):
        pytest.fail(f"no sample value for {task}: task.params.{name} (test_every_listed_parameter_has_a_sample_value)")
    backend = backend_of(task, name)
    if backend == "ctranslate2":
        pytest.importorskip("faster_whisper")
    if (task, name) in REFUSED_BY_THE_TINY_MODEL:
        with pytest.raises(ConfigError) as refused:
            runs.run(task, name, backend)
        assert refused.value.key == f"task.params.{name}", refused.value.render()
        return
    outputs, calls = runs.run(task, name, backend)
    assert len(outputs) == 2
    value = SAMPLES[task][name]
    assert reached(name, value, calls) or outputs != runs.baseline(task, backend), (
        f"task.params.{name}={value!r} neither reached a call ({calls}) nor changed the outputs"
    )


def test_a_rust_panic_in_the_tokenizer_fails_its_rows_not_the_run(runs):
    """max_seq_len too short for the question and the default stride: the tokenizers library panics
    (pyo3's PanicException, a BaseException that no `except Exception` caught: the run died with a
    Rust backtrace and run.json "error"). Now each row fails with the panic's message."""
    outputs, errors, _ = runs.run_rows("document-question-answering", "max_seq_len", "transformers", value=16)
    assert outputs == [] and len(errors) == 2
    assert "stride" in errors[0]["error"] and "PanicException" in errors[0]["error"]


def test_a_mapping_parameter_from_the_python_api_replaces_the_null_default():
    """runner.run(task_params={"generate_kwargs": {...}}) wrote one override per leaf, and
    task.params.generate_kwargs.max_new_tokens is no key of a null: "unknown key" (exit 2)."""
    from runner.config.overrides import leaves

    assert leaves("task.params", {"generate_kwargs": {"max_new_tokens": 3}, "top_k": 2}) == [
        "task.params.generate_kwargs=null",
        "++task.params.generate_kwargs={max_new_tokens:3}",
        "task.params.top_k=2",
    ]


# -- numeric bounds --------------------------------------------------------------------------------------
# Numbers that may be any finite value (non-finite ones are refused for every number: validate.py).
UNBOUNDED = {"length_penalty"}  # beam score exponent: negative favours shorter outputs


def numeric_keys(schema: dict, key: str):
    """(dotted key, its schema) of every integer or number under `schema`: its properties, their
    properties (generate_kwargs), the branches of a oneOf and array items (under the same key)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if {"integer", "number"} & set(kinds):
        yield key, schema
    for name, child in (schema.get("properties") or {}).items():
        yield from numeric_keys(child, f"{key}.{name}")
    for child in schema.get("oneOf", []):
        yield from numeric_keys(child, key)
    if isinstance(schema.get("items"), dict):
        yield from numeric_keys(schema["items"], key)


def task_schemas() -> dict[str, dict]:
    return {
        path.name.removesuffix(".schema.json"): json.loads(path.read_text())
        for path in sorted((SCHEMA_DIR / "tasks").glob("*.schema.json"))
    }


def test_every_numeric_parameter_has_its_bounds_in_the_schema():
    """Counts have both bounds (max_new_tokens >= 1 ...), other numbers a lower one at least."""
    loose = []
    for task, schema in task_schemas().items():
        for key, node in numeric_keys(schema, "task.params"):
            lower = "minimum" in node or "exclusiveMinimum" in node
            upper = "maximum" in node or "exclusiveMaximum" in node
            integer = node["type"] == "integer"
            if key.rsplit(".", 1)[-1] not in UNBOUNDED and not (lower and (upper or not integer)):
                loose.append(f"{task}: {key}")
    assert not loose, f"numeric parameters without bounds: {loose}"


def test_a_value_just_outside_each_bound_is_refused_naming_its_key():
    """Every bound of every task schema, from the schema itself: the value just past it is a config
    error (exit code 2) naming the parameter; the bound itself (or just inside it) passes."""
    from runner.config.validate import load_schema, schema_errors

    checked, wrong = 0, []
    for task, raw in task_schemas().items():
        schema = load_schema(f"tasks/{task}.schema.json")
        for key, node in numeric_keys(raw, "task.params"):
            path = key.split(".")[2:]
            if len(path) > 1 and path[0] not in raw["properties"]:
                continue
            step = 1 if node["type"] == "integer" else 1e-6
            for bound, outside, inside in (
                ("minimum", -step, 0),
                ("exclusiveMinimum", 0, step),
                ("maximum", step, 0),
                ("exclusiveMaximum", 0, -step),
            ):
                if bound not in node:
                    continue
                for value, refused in ((node[bound] + outside, True), (node[bound] + inside, False)):
                    params = {**LABELS} if "candidate_labels" in raw["properties"] else {}
                    nested = value
                    for name in reversed(path[1:]):
                        nested = {name: nested}
                    params[path[0]] = nested
                    errors = schema_errors(params, schema, prefix="task.params")
                    checked += 1
                    if refused != bool(errors) or (refused and errors[0].key != key):
                        wrong.append((task, key, value, [e.render() for e in errors]))
    assert not wrong, wrong
    assert checked > 200
