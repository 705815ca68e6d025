"""dtype, device_map and quantization reach the loaded model (checked on what was loaded, not what was asked)."""

from __future__ import annotations

import pytest

from runner.api import run

BASE = [
    "+task=text-generation",
    "model=tiny",
    "task.params.max_new_tokens=3",
    "dataset.limit=2",
    "batch_size=2",
    "progress=false",
]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_dtype_is_applied(tmp_path, dtype):
    result = run([*BASE, f"dtype={dtype}", "device=cpu"], output_dir=tmp_path)
    assert result.metrics["dtype"] == dtype and result.metrics["device"] == "cpu"
    assert result.metrics["rows_out"] == 2 and result.errors == []


def test_device_map_auto_places_with_accelerate(tmp_path):
    import torch

    result = run([*BASE, "device_map=auto"], output_dir=tmp_path)
    placed = ["cuda:0"] if torch.cuda.is_available() else ["cpu"]  # accelerate fills the first GPU first
    assert result.metrics["device_map"] == "auto" and result.metrics["parameter_devices"] == placed
    assert result.metrics["rows_out"] == 2


def test_8bit_model_is_quantized_and_placed_by_device_map(tmp_path):
    pytest.importorskip("bitsandbytes")
    result = run([*BASE, "quantization=8bit", "device=cpu"], output_dir=tmp_path)
    assert result.metrics["quantized"] is True and result.metrics["device_map"] == "cpu"
    assert result.metrics["rows_out"] == 2


@pytest.mark.gpu
@pytest.mark.parametrize(
    "extra", [["dtype=float16", "device=cuda"], ["quantization=4bit", "device=cuda:0"], ["device_map=auto"]]
)
def test_cuda_paths(tmp_path, extra):
    result = run([*BASE, *extra], output_dir=tmp_path)
    assert result.metrics["rows_out"] == 2 and result.metrics["cuda_max_allocated_mb"] > 0
