"""model.no_weights: the model's real config with random weights, through the same pipeline path.

The model folders are tiny builds made with seed 0 and the runs use seed 1, so a model built from the
config gets other weights than the saved ones: outputs differ while their shape and label set agree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from runner.api import compose, run
from runner.core.views import StepView
from runner.models.loading import load_pipeline
from runner.models.tiny import tiny_model_dir
from runner.tasks import TASKS
from tests.conftest import read_jsonl, run_cli


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from threads on a shared 2-core machine
    yield
    torch.set_num_threads(before)


def load(task: str, no_weights: bool, *overrides: str):
    from transformers import set_seed

    cfg = compose(
        [
            f"+task={task}",
            f"model.id={tiny_model_dir(task)}",
            f"model.no_weights={str(no_weights).lower()}",
            "seed=1",
            *overrides,
        ]
    )
    set_seed(cfg["seed"])  # as execute() does before loading
    return load_pipeline(StepView.from_config(cfg), TASKS[cfg["task"]["name"]]).pipe


def linear_weights(pipe) -> list[torch.Tensor]:
    """Randomly initialised matrices (positional tables and norms are deterministic in both)."""
    return [m.weight.detach() for m in pipe.model.modules() if isinstance(m, torch.nn.Linear)]


def test_cli_run_without_weights(tmp_path):
    folder = tiny_model_dir("text-classification")
    common = ["+task=text-classification", f"model.id={folder}", "seed=1", "dtype=bfloat16", "dataset.limit=3"]
    out = tmp_path / "no-weights"
    result = run_cli(*common, "model.no_weights=true", "progress=false", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "random weights" in result.stderr
    random_preds = read_jsonl(out / "predictions.jsonl")
    real = run(common, output_dir=tmp_path / "weights")

    labels = set(json.loads((folder / "config.json").read_text())["id2label"].values())
    assert [p["id"] for p in random_preds] == [p["id"] for p in real.predictions]
    assert {p["output"]["label"] for p in random_preds + real.predictions} <= labels
    assert [p["output"]["score"] for p in random_preds] != [p["output"]["score"] for p in real.predictions]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["dtype"], metrics["parameter_devices"], metrics["rows_out"]) == ("bfloat16", ["cpu"], 3)


@pytest.mark.parametrize(
    "task,dtype,call",
    [
        ("text-generation", "float32", lambda p: p("Hello there", max_new_tokens=4, do_sample=False)),
        ("summarization", "bfloat16", lambda p: p("The cat sat on the mat all day long.", max_new_tokens=4)),
        (
            "automatic-speech-recognition",
            "float32",
            lambda p: p({"raw": np.sin(np.arange(8000, dtype=np.float32) / 9), "sampling_rate": 16000}),
        ),
    ],
)
def test_same_architecture_and_outputs_shape_other_weights(task, dtype, call):
    real, random = load(task, False, f"dtype={dtype}"), load(task, True, f"dtype={dtype}")
    assert type(random) is type(real) and type(random.model) is type(real.model)
    assert random.model.config.to_dict() == real.model.config.to_dict()
    assert random.model.dtype == getattr(torch, dtype) and random.model.device.type == "cpu"
    assert not random.model.training
    assert sum(p.numel() for p in random.model.parameters()) == sum(p.numel() for p in real.model.parameters())
    assert not any(torch.equal(a, b) for a, b in zip(linear_weights(random), linear_weights(real)))
    if hasattr(real.model, "generation_config"):  # the saved generation_config.json, not one derived from the config
        assert random.model.generation_config.to_dict() == real.model.generation_config.to_dict()
    ours, theirs = call(random), call(real)
    ours, theirs = (ours[0] if isinstance(ours, list) else ours), (theirs[0] if isinstance(theirs, list) else theirs)
    assert set(ours) == set(theirs)


def test_config_attributes_from_model_kwargs_apply():
    pipe = load("text-generation", True, "+model.kwargs.n_layer=1")
    assert pipe.model.config.n_layer == 1 and len(pipe.model.transformer.h) == 1
