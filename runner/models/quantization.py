"""The `quantization` modes: what each needs and where it runs, and quantization=int8 itself.

Two families. bitsandbytes' 8bit/4bit quantize the weights while they load (a BitsAndBytesConfig
passed to from_pretrained, the model placed through device_map): the CUDA path. `int8` quantizes
the loaded float32 model afterwards: the nn.Linear layers become dynamically quantized int8 layers
(int8 weights with a scale per output channel; activations quantized per batch as they come), the CPU path.

Why torch's own `torch.ao.quantization.quantize_dynamic` and not torchao, for torch 2.13 (measured on
this project's 2-core x86 CPU machine, all-MiniLM-L6-v2, 6 sample sentences):

- torchao (0.18, the maintained successor that torch's deprecation warning points to) installs and
  runs, but its `Int8DynamicActivationInt8WeightConfig` has no eager int8 kernel on CPU: each Linear
  dequantizes and multiplies in float, 16x slower than float32; under torch.compile it was still 10x
  slower, after a 66 s compile. Its CPU kernels target ARM and need a source build. It also logs
  failures loading its CUDA-only libraries on a CPU build of torch.
- `quantize_dynamic` runs fbgemm/x86 int8 GEMM kernels in eager mode: faster than float32 on the same
  machine with no compile step (1.5-1.7x at batch 1, 1.1-1.2x at batch 6 on this AVX2 CPU without
  VNNI; the `onednn` quantized engine was no faster than float32 there, so torch's default `x86` stays). It is deprecated (`torch.ao.quantization` warns that it will be
  removed), yet still shipped and working in 2.13; the warning is logged once per run and the version
  that did the work is recorded in run.json. When a torch release removes it, loading says so
  (RunError) instead of running unquantized.

Weights are the only change: the model's non-Linear layers (embeddings, LayerNorm, attention's
softmax) stay float32, so dtype must be float32 (dtype=auto loads float32 under int8).
Torch is imported inside functions, never at module import.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from runner.core.views import QuantizationView, StepView
from runner.core.errors import ConfigError, RunError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mode:
    """What a quantization mode needs: the library it imports (an optional extra, or None), the
    device kinds it runs on, and whether it quantizes while the weights load (bitsandbytes) rather
    than after (int8)."""

    library: str | None
    devices: tuple[str, ...]
    while_loading: bool
    elsewhere: str  # the hint when the device is not one of `devices`


MODES = {
    "none": Mode(None, ("cpu", "cuda", "mps"), False, ""),
    "8bit": Mode(
        "bitsandbytes", ("cpu", "cuda"), True, "use device=cpu or cuda with quantization, or quantization=none on mps"
    ),
    "4bit": Mode(
        "bitsandbytes", ("cpu", "cuda"), True, "use device=cpu or cuda with quantization, or quantization=none on mps"
    ),
    "int8": Mode(
        None,
        ("cpu",),
        False,
        "int8 is dynamic int8 for CPU: on CUDA use quantization=8bit or quantization=4bit (bitsandbytes); "
        "or device=cpu",
    ),
}

# dtypes quantization=int8 loads with: its int8 Linear layers take float32 activations.
INT8_DTYPES = ("auto", "float32")


def check_device(quant_mode: str, device: str) -> None:
    """ConfigError on `quantization` when its mode cannot run on `device` (cpu, cuda:N, mps; not auto)."""
    mode = MODES.get(quant_mode)
    kind = device.split(":")[0]
    if mode is None or kind in mode.devices or kind == "auto":
        return
    reason = (
        f"quantization={quant_mode} needs bitsandbytes, which has no {kind} backend"
        if mode.library
        else f"quantization={quant_mode} runs on cpu only, not on device={device}"
    )
    raise ConfigError("quantization", reason, mode.elsewhere)


def check_int8(step: StepView) -> None:
    """quantization=int8's own rules, found before any model loads."""
    if step.quantization.mode != "int8":
        return
    run = step.run
    if run.dtype not in INT8_DTYPES:
        raise ConfigError(
            "dtype",
            f"dtype={run.dtype} cannot be combined with quantization=int8: its int8 Linear layers "
            "take float32 activations",
            "use dtype=float32 (or auto) with quantization=int8, or quantization=none",
        )
    if run.device_map is not None:
        raise ConfigError(
            "quantization",
            f"quantization=int8 cannot be combined with device_map={run.device_map!r}: "
            "int8 runs the whole model on cpu",
            "drop device_map (device=cpu or auto)",
        )


@dataclass
class Int8Applied:
    """What quantization=int8 did to a loaded model: run.json and metrics.json's `quantization`."""

    record: dict  # mode, method, library, version, layers_quantized, layers_kept
    reference: object | None  # the float32 model it started from, kept for the probe (None: not kept)


def quantize_int8(model, quant: QuantizationView, keep_reference: bool) -> tuple[object, Int8Applied]:
    """The int8 copy of `model` (its nn.Linear layers dynamically quantized), and what was done.
    quantize_dynamic copies the model before it swaps layers, so the float32 original is there to
    keep as the probe's reference at no extra load; with keep_reference False it is dropped."""
    import torch

    skipped = quant.skip_modules or ()
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not _under(name, skipped)
    ]
    kept = sum(isinstance(m, torch.nn.Linear) for m in model.modules()) - len(names)
    with warnings.catch_warnings(record=True) as caught:  # torch.ao's deprecation, said once below
        warnings.simplefilter("always")
        quantize_dynamic, dynamic_linear = _quantize_dynamic()
        # Per output channel: one scale per row of each weight. Same speed as one per tensor here, and
        # MiniLM's mean cosine to float32 went from 0.928 (min 0.884) to 0.966 (min 0.956).
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        quantized = quantize_dynamic(model, {name: qconfig for name in names}, dtype=torch.qint8, inplace=False)
    deprecations = sorted({str(w.message).splitlines()[0] for w in caught if "deprecated" in str(w.message)})
    if deprecations:
        log.info(
            "quantization=int8: torch %s marks torch.ao.quantization deprecated; it is still the eager int8 "
            "CPU path (runner/models/quantization.py says why)",
            torch.__version__,
        )
    for message in deprecations:
        log.debug("torch warned: %s", message)
    quantized.eval()
    done = sum(isinstance(m, dynamic_linear) for m in quantized.modules())
    record = {
        "mode": "int8",
        "method": "dynamic int8 (int8 weights per output channel, activations per batch)",
        "library": "torch.ao.quantization.quantize_dynamic",
        "version": torch.__version__,
        "engine": torch.backends.quantized.engine,
        "layers_quantized": done,
        "layers_kept": kept,
    }
    log.info("quantization=int8: %d Linear layers dynamically quantized (%d kept in float32)", done, kept)
    return quantized, Int8Applied(record, model if keep_reference else None)


def _quantize_dynamic():
    """torch's quantize_dynamic and the layer class it swaps in; RunError once a torch release drops them."""
    try:
        from torch.ao.nn.quantized.dynamic import Linear
        from torch.ao.quantization import quantize_dynamic
    except ImportError as error:
        import torch

        raise RunError(
            f"quantization=int8: torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic",
            "use torch 2.13 (constraints.txt), or quantization=none",
        ) from error
    return quantize_dynamic, Linear


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") or name.endswith("." + p) for p in prefixes)
