"""quantization=int8 on a real (tiny) model: which layers become int8, and the mode rules found before load."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runner.core.views import QuantizationView
from runner.core.errors import ConfigError
from runner.models.quantization import check_device, check_int8, quantize_int8
from runner.models.tiny import tiny_model_dir
from tests.conftest import step_view


def _model(task: str):
    from transformers import AutoModelForSequenceClassification

    assert task == "text-classification"
    return AutoModelForSequenceClassification.from_pretrained(tiny_model_dir(task, "auto", seed=0)).eval()


def _linear_names(model) -> list[str]:
    import torch

    return [name for name, module in model.named_modules() if type(module) is torch.nn.Linear]


def test_every_linear_layer_becomes_dynamic_int8_and_the_float32_original_is_kept():
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    model = _model("text-classification")
    linears = _linear_names(model)
    quantized, applied = quantize_int8(model, QuantizationView(mode="int8"), keep_reference=True)
    assert linears and applied.record["layers_quantized"] == len(linears) and applied.record["layers_kept"] == 0
    assert _linear_names(quantized) == []  # no float Linear left
    assert sum(isinstance(m, DynamicLinear) for m in quantized.modules()) == len(linears)
    assert applied.reference is model and _linear_names(model) == linears  # the original is untouched, float32
    assert applied.record["library"] == "torch.ao.quantization.quantize_dynamic"
    assert applied.record["version"] == torch.__version__
    ids = torch.tensor([[1, 5, 7, 9, 2]])
    with torch.no_grad():
        before, after = model(ids).logits, quantized(ids).logits
    assert not torch.equal(before, after) and torch.allclose(before, after, atol=0.05)  # close, not equal


def test_skip_modules_keeps_those_layers_in_float32_and_no_reference_when_not_asked():
    model = _model("text-classification")
    head = [name for name in _linear_names(model) if name.startswith("classifier")]
    quant = QuantizationView(mode="int8", skip_modules=("classifier",))
    quantized, applied = quantize_int8(model, quant, keep_reference=False)
    assert head and applied.record["layers_kept"] == len(head) and _linear_names(quantized) == head
    assert applied.reference is None


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps"])
def test_int8_on_an_accelerator_is_a_config_error_pointing_to_bitsandbytes(device):
    with pytest.raises(ConfigError) as raised:
        check_device("int8", device)
    assert raised.value.key == "quantization" and "8bit" in raised.value.hint and "4bit" in raised.value.hint


def test_int8_runs_on_cpu_and_auto_is_checked_once_resolved():
    check_device("int8", "cpu")
    check_device("int8", "auto")
    check_device("8bit", "cuda:0")


def _int8_step(**run):
    """A checked quantization=int8 step, with `run` (dtype, device_map) laid over it as the rules see it."""
    step = step_view("+task=text-classification", "model=tiny", "quantization=int8")
    return replace(step, run=replace(step.run, **run))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_int8_takes_float32_only(dtype):
    with pytest.raises(ConfigError) as raised:
        check_int8(_int8_step(dtype=dtype))
    assert raised.value.key == "dtype"
    check_int8(_int8_step(dtype="float32"))
    check_int8(_int8_step(dtype="auto"))


def test_int8_with_device_map_is_a_config_error():
    with pytest.raises(ConfigError) as raised:
        check_int8(_int8_step(device_map="auto"))
    assert raised.value.key == "quantization"


def test_the_load_key_holds_the_quantization_mode_but_not_probe_rows():
    from runner.backends.cache import load_key

    def key(*overrides):
        return load_key(step_view("+task=text-classification", "model=tiny", "device=cpu", *overrides))

    none, int8 = key(), key("quantization=int8", "quantization.probe_rows=16")
    assert none != int8 and int8 == key("quantization=int8", "quantization.probe_rows=0")
    assert int8 != key("quantization=int8", "quantization.probe_rows=16", "quantization.skip_modules=[classifier]")
