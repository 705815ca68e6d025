"""Every config key rejects a bad value with a ConfigError naming that key (the CLI turns it into exit 2,
see test_bad_configs.py)."""

from __future__ import annotations

import copy
import json

import pytest

from runner.api import compose
from runner.config import validate_config
from runner.config.compose import compose_config
from runner.core.errors import ConfigError
from runner.core.paths import SCHEMA_DIR
from runner.tasks import TASKS

BAD_VALUES = [
    (["device=gpu"], "device"),
    (["device_map=5"], "device_map"),
    (["dtype=half"], "dtype"),
    (["batch_size=0"], "batch_size"),
    (["seed=-1"], "seed"),
    (["progress=maybe"], "progress"),
    (["verbose=maybe"], "verbose"),
    (["graph.show=maybe"], "graph.show"),
    (["model.id=''"], "model.id"),
    (["model.revision=''"], "model.revision"),
    (["model.trust_remote_code=maybe"], "model.trust_remote_code"),
    (["model.tiny=resnet"], "model.tiny"),
    (["model.package=1bad"], "model.package"),
    (["+model.colour=blue"], "model.colour"),
    (["dataset.column=''"], "dataset.column"),
    (["dataset.limit=0"], "dataset.limit"),
    (["dataset.id_column=''"], "dataset.id_column"),
    (["dataset.fields.text=5"], "dataset.fields.text"),
    (["dataset=file", "dataset.path=x.csv", "dataset.format=xls"], "dataset.format"),
    (["dataset=file", "dataset.path=''"], "dataset.path"),
    (["dataset=folder", "dataset.path=x", "dataset.extensions=[wav]"], "dataset.extensions.0"),
    (["dataset=folder", "dataset.path=x", "dataset.recursive=maybe"], "dataset.recursive"),
    (["dataset=folder"], "dataset.path"),
    (["dataset=hf"], "dataset.name"),
    (["dataset=hf", "dataset.name=csv", "dataset.streaming=maybe"], "dataset.streaming"),
    (["dataset=hf", "dataset.name=csv", "dataset.split=''"], "dataset.split"),
    (["dataset=hf", "dataset.name=csv", "dataset.data_files=5"], "dataset.data_files"),
    (["dataset=inline"], "dataset.rows"),
    (["dataset=inline", "dataset.rows=[5]"], "dataset.rows.0"),
    (["quantization=4bit", "quantization.quant_type=int3"], "quantization.quant_type"),
    (["quantization=4bit", "quantization.compute_dtype=int8"], "quantization.compute_dtype"),
    (["quantization=4bit", "quantization.double_quant=maybe"], "quantization.double_quant"),
    (["quantization=8bit", "quantization.llm_int8_threshold=-1"], "quantization.llm_int8_threshold"),
    (["quantization=8bit", "quantization.skip_modules=lm_head"], "quantization.skip_modules"),
    (["output.format=xlsx"], "output.format"),
    (["output.format=[jsonl,xlsx]"], "output.format.1"),
    (["output.steps=first"], "output.steps"),
    (["batch_size=biggest"], "batch_size"),
    (["on_error=ignore"], "on_error"),
    (["max_error_fraction=1.5"], "max_error_fraction"),
    (["max_error_fraction=some"], "max_error_fraction"),
    (["resume=''"], "resume"),
    (["batching.sort_by_length=maybe"], "batching.sort_by_length"),
    (["batching.window_batches=0"], "batching.window_batches"),
    (["bench.enabled=sometimes"], "bench.enabled"),
    (["bench.warmup_batches=-1"], "bench.warmup_batches"),
    (["bench.max_rows=0"], "bench.max_rows"),
    (["bench.max_seconds=0"], "bench.max_seconds"),
    (["bench.max_batch_size=0"], "bench.max_batch_size"),
    (["bench.probe_rows=0"], "bench.probe_rows"),
    (["bench.skip_after_oom=maybe"], "bench.skip_after_oom"),
    (["bench.isolation=thread"], "bench.isolation"),
    (["graph.free_finished_models=maybe"], "graph.free_finished_models"),
    (["~task", "graph.steps=5"], "graph.steps"),
    (["output.include_inputs=maybe"], "output.include_inputs"),
    (["+colour=blue"], "colour"),
    (["dataset.skip=-1"], "dataset.skip"),
    (["shard.count=0"], "shard.count"),
    (["shard.index=-1"], "shard.index"),
    (["shard.count=2", "shard.index=2"], "shard.index"),
    (["quantization=8bit", "device=mps"], "quantization"),
    (["model.no_weights=maybe"], "model.no_weights"),
    (["model.no_weights=true", "quantization=4bit"], "model.no_weights"),
    (["model.no_weights=true", "device_map=auto"], "model.no_weights"),
    (["deterministic=maybe"], "deterministic"),
    (["threads=0"], "threads"),
    (["rerun=''"], "rerun"),
    (["merge=''"], "merge"),
    (["objective=speed"], "objective"),
    (["sweep.min_agreement=1.5"], "sweep.min_agreement"),
    (["sweep.min_agreement=some"], "sweep.min_agreement"),
    (["sweep.reference=-1"], "sweep.reference"),
    (["sweep.reference=[1]"], "sweep.reference"),
    (["sweep.resume=5"], "sweep.resume"),
    (["sweep.resume=[a]"], "sweep.resume"),
    (["+sweep.colour=blue"], "sweep.colour"),
    (["dataset.fields.reference=5"], "dataset.fields.reference"),
    (["bench.min_batches=0"], "bench.min_batches"),
    (["bench.auto_until=forever"], "bench.auto_until"),
    (["tracking.backend=wandb"], "tracking.backend"),
    (["tracking.log_predictions=maybe"], "tracking.log_predictions"),
    (["tracking.experiment=''"], "tracking.experiment"),
    (["+tracking.tags.team=[a,b]"], "tracking.tags.team"),
    (["engine.name=spark"], "engine.name"),
    (["engine=ray", "engine.address=''"], "engine.address"),
    (["engine=ray", "engine.actors=0"], "engine.actors"),
    (["engine=ray", "engine.cpus_per_actor=0"], "engine.cpus_per_actor"),
    (["engine=ray", "engine.gpus_per_actor=-1"], "engine.gpus_per_actor"),
    (["engine=ray", "engine.num_cpus=0"], "engine.num_cpus"),
    (["engine=ray", "engine.max_restarts=-1"], "engine.max_restarts"),
    (["+engine.colour=blue"], "engine.colour"),
]


@pytest.mark.parametrize("overrides,key", BAD_VALUES, ids=[" ".join(o) for o, _ in BAD_VALUES])
def test_bad_value_names_its_key(overrides, key):
    with pytest.raises(ConfigError) as caught:
        compose(["+task=text-classification", *overrides])
    keys = [e.key for e in getattr(caught.value, "errors", [caught.value])]
    assert key in keys, caught.value.render()


# Candidate bad values, tried in order until the parameter's schema rejects one.
CANDIDATES = ["nope", -5, 0, 1.5, True, [], {}, [5]]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_parameter_rejects_a_bad_value_naming_it(task):
    base = compose_config([f"+task={task}"])
    schema = json.loads((SCHEMA_DIR / "tasks" / f"{task}.schema.json").read_text())
    for param in schema["properties"]:
        rejected = False
        for value in CANDIDATES:
            cfg = copy.deepcopy(base)
            cfg["task"]["params"]["candidate_labels"] = ["a", "b"]  # zero-shot's required parameter
            if task != "zero-shot-classification":
                del cfg["task"]["params"]["candidate_labels"]
            cfg["task"]["params"][param] = value
            try:
                validate_config(cfg)
            except ConfigError as error:
                keys = [e.key for e in getattr(error, "errors", [error])]
                assert f"task.params.{param}" in keys, error.render()
                rejected = True
                break
        assert rejected, f"{task}: no bad value rejected for {param}"
