"""backend=ctranslate2: automatic-speech-recognition on Whisper through faster-whisper (CTranslate2).

The model: a CTranslate2 Whisper folder is loaded as it is (model=whisper_tiny_en ships one); a
transformers Whisper folder (model.id=<folder>, model=tiny) is converted once by CTranslate2's own
converter and cached (runner.models.convert.ct2_folder). Hub ids are not converted: nothing is downloaded.

The call: `FasterWhisperPipeline` is called like the transformers ASR pipeline and answers in its
format: {"text"}, plus "chunks" [{"timestamp": (start, end), "text"}] with return_timestamps=true
(segments) or "word" (words). Audio of any length is transcribed whole, window after window
(faster-whisper's sequential long-form). batch_size > 1 runs faster-whisper's BatchedInferencePipeline,
which cuts a recording at the pauses its VAD finds and decodes those pieces in batches (a short clip is
one piece: batching helps long recordings). Decoding: greedy (beam_size 1) at temperature 0, as the
transformers backend decodes, unless task.params beam_size / temperature / vad_filter say otherwise.

Settings: compute_type from dtype and quantization (backend.compute_type overrides), `threads` as
CTranslate2's cpu_threads, device cpu / cuda[:N] / auto. ctranslate2 and faster_whisper are imported
inside functions, never at module import.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from runner.backends.base import Backend
from runner.core.views import ModelView, StepView
from runner.core.errors import ConfigError, RunError

log = logging.getLogger(__name__)

ASR = "automatic-speech-recognition"
# transformers-pipeline parameters with no faster-whisper counterpart -> what to do instead
_REFUSED = {
    "chunk_length_s": "backend=ctranslate2 transcribes long audio whole (sequential long-form); drop chunk_length_s",
    "stride_length_s": "stride_length_s goes with chunk_length_s, which backend=ctranslate2 does not use; drop it",
    "return_language": "drop return_language with backend=ctranslate2 (or use backend=transformers)",
}
_GENERATE_KWARGS = ("language", "task")  # generate_kwargs keys passed on to faster-whisper's transcribe()
_COMPUTE_FOR_DTYPE = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


class CTranslate2(Backend):
    def check(self, step: StepView) -> None:
        params, run = step.task.params, step.run
        for key, hint in _REFUSED.items():
            if key in params:
                raise ConfigError(f"task.params.{key}", "is not available with backend=ctranslate2", hint)
        if params.get("return_timestamps") == "char":
            raise ConfigError(
                "task.params.return_timestamps",
                "'char' is not available with backend=ctranslate2",
                "use true (segments) or word",
            )
        for key in params.get("generate_kwargs") or {}:
            if key not in _GENERATE_KWARGS:
                raise ConfigError(
                    f"task.params.generate_kwargs.{key}",
                    "is not read by backend=ctranslate2",
                    f"it reads {', '.join(_GENERATE_KWARGS)}; decoding options are task.params "
                    "beam_size, temperature, vad_filter, max_new_tokens",
                )
        batch_size = run.batch_size
        if batch_size == "auto":
            raise ConfigError(
                "batch_size",
                "batch_size=auto is not available with backend=ctranslate2 (its search measures torch's memory)",
                "give a number, e.g. batch_size=8",
            )
        if batch_size > 1 and params.get("vad_filter") is False:
            raise ConfigError(
                "task.params.vad_filter",
                "false cannot go with batch_size > 1 on backend=ctranslate2: "
                "the batched pipeline cuts recordings at the pauses the VAD finds",
                "drop vad_filter (it is on when batched), or use batch_size=1",
            )
        mode = step.quantization.mode
        if mode not in ("none", "int8"):
            raise ConfigError(
                "quantization",
                f"quantization={mode} (bitsandbytes) is for backend=transformers",
                "use quantization=int8 (CTranslate2's int8) or none with backend=ctranslate2",
            )
        if mode == "int8" and step.backend.compute_type != "auto":
            raise ConfigError(
                "backend.compute_type",
                "is set and quantization=int8 too",
                "keep one: quantization=int8 means compute_type int8",
            )
        if run.device_map is not None:
            raise ConfigError(
                "device_map",
                "accelerate's placement is for backend=transformers",
                "drop device_map; use device=cpu or cuda[:N]",
            )
        if str(run.device).startswith("mps"):
            raise ConfigError("device", "CTranslate2 has no mps backend", "use device=cpu with backend=ctranslate2")
        model = step.model
        if model.no_weights:
            raise ConfigError("model.no_weights", "is for backend=transformers", "drop it with backend=ctranslate2")
        if model.tiny not in (None, "auto", "whisper"):
            raise ConfigError(
                "model.tiny",
                f"'{model.tiny}' is not a Whisper: backend=ctranslate2 runs Whisper",
                "use model=tiny (Whisper for speech recognition)",
            )
        if not (model.tiny or model.package or _is_local(model.id)):
            raise ConfigError(
                "model.id" if model.id else "model",
                f"backend=ctranslate2 loads a local Whisper folder, not the hub id {model.id!r}"
                if model.id
                else "backend=ctranslate2 needs a Whisper model (the task's default is not one)",
                "use model=whisper_tiny_en, or model.id=<a CTranslate2 or transformers Whisper folder>",
            )

    def identity(self, step: StepView) -> dict:
        """CTranslate2 takes its thread count and compute type when the model loads."""
        return {"backend": self.name, "threads": step.run.threads, "compute_type": step.backend.compute_type}

    def load(self, step: StepView, spec):
        import ctranslate2
        from faster_whisper import WhisperModel

        from runner.models.loading import LoadedPipeline, ModelRef

        started = time.perf_counter()
        run = step.run
        ref = ModelRef(str(model_folder(step.model, spec, run.seed)), None, _origin(step.model))
        device, index = _device(run.device)
        compute = compute_type(step, device)
        threads = run.threads or 0
        log.info(
            "loading %s model %s for %s on CTranslate2 (%s, compute_type %s)",
            ref.origin,
            ref.location,
            spec.id,
            device,
            compute,
        )
        ctranslate2.set_random_seed(run.seed)  # temperature fallback samples
        try:
            model = WhisperModel(
                ref.location,
                device=device,
                device_index=index,
                compute_type=compute,
                cpu_threads=threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise RunError(
                f"backend=ctranslate2 could not load {ref.location}: {error}",
                "give a CTranslate2 Whisper folder or a transformers Whisper folder",
            ) from error
        pipe = FasterWhisperPipeline(model, compute)
        kwargs = {"model": ref.location, "device": pipe.device, "compute_type": compute, "cpu_threads": threads}
        quantization = None
        if step.quantization.mode == "int8":
            quantization = {
                "mode": "int8",
                "method": f"CTranslate2 compute_type {compute}",
                "library": "ctranslate2",
                "version": ctranslate2.__version__,
            }
        return LoadedPipeline(pipe, ref, ASR, time.perf_counter() - started, kwargs, quantization, None)


def _is_local(model_id: str | None) -> bool:
    return bool(model_id) and Path(model_id).expanduser().is_dir()


def _origin(model: ModelView) -> str:
    return "tiny" if model.tiny else "package" if model.package else "path"


def model_folder(model: ModelView, spec, seed: int) -> Path:
    """The CTranslate2 folder for the model config: a package's or a local folder, converted when needed."""
    from runner.models.convert import ct2_folder
    from runner.models.loading import package_model_dir

    if model.tiny:
        from runner.models.tiny import tiny_model_dir

        folder = tiny_model_dir(spec.id, model.tiny, seed=seed)
    elif model.package:
        folder = package_model_dir(model.package)
    else:
        folder = Path(model.id).expanduser()
    try:
        return ct2_folder(folder)
    except ValueError as error:
        raise RunError(
            f"backend=ctranslate2: {error}", "give a CTranslate2 Whisper folder or a transformers Whisper folder"
        ) from error


def _device(device: str) -> tuple[str, int]:
    """(CTranslate2 device, index); auto: cuda when CTranslate2 sees a CUDA device, else cpu."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device.startswith("cuda"):
        return "cuda", int(device.split(":")[1]) if ":" in device else 0
    return device, 0


def compute_type(step: StepView, device: str) -> str:
    """backend.compute_type, or one from dtype and quantization (auto: float32 on cpu, float16 on cuda)."""
    chosen = step.backend.compute_type
    if chosen != "auto":
        return chosen
    if step.quantization.mode == "int8":
        return "int8"
    dtype = step.run.dtype
    if dtype != "auto":
        return _COMPUTE_FOR_DTYPE[dtype]
    return "float16" if device == "cuda" else "float32"


class FasterWhisperPipeline:
    """faster-whisper behind the transformers ASR pipeline's call and output format."""

    type = "ctranslate2_whisper"

    def __init__(self, model, compute: str):
        from types import SimpleNamespace

        self.model = model  # the int8 probe swaps it for a float32 one (runner/engine/probe.py)
        self.compute_type = compute
        self.device = model.model.device
        self.feature_extractor = SimpleNamespace(sampling_rate=model.feature_extractor.sampling_rate)

    def placement(self) -> dict:
        return {
            "device": self.device,
            "dtype": self.compute_type,
            "device_map": None,
            "parameter_devices": [self.device],
            "quantized": self.compute_type.startswith("int"),
        }

    def __call__(
        self,
        inputs: list,
        batch_size: int = 1,
        return_timestamps=False,
        beam_size: int = 1,
        temperature=0.0,
        vad_filter: bool | None = None,
        max_new_tokens: int | None = None,
        generate_kwargs: dict | None = None,
    ) -> list:
        options = {
            "beam_size": beam_size,
            "temperature": temperature,
            "word_timestamps": return_timestamps == "word",
            "max_new_tokens": max_new_tokens,
            **(generate_kwargs or {}),
        }
        outputs = []
        for item in inputs:
            audio = item["raw"] if isinstance(item, dict) else item
            if batch_size > 1:
                from faster_whisper import BatchedInferencePipeline

                segments, _ = BatchedInferencePipeline(self.model).transcribe(
                    audio,
                    batch_size=batch_size,
                    vad_filter=True if vad_filter is None else vad_filter,
                    without_timestamps=not return_timestamps,
                    **options,
                )
            else:
                segments, _ = self.model.transcribe(audio, vad_filter=bool(vad_filter), **options)
            outputs.append(_output(list(segments), return_timestamps))
        return outputs


def _output(segments: list, return_timestamps) -> dict:
    out = {"text": "".join(segment.text for segment in segments)}
    if return_timestamps == "word":
        out["chunks"] = [
            {"text": word.word, "timestamp": (round(word.start, 2), round(word.end, 2))}
            for segment in segments
            for word in segment.words or ()
        ]
    elif return_timestamps:
        out["chunks"] = [
            {"text": segment.text, "timestamp": (round(segment.start, 2), round(segment.end, 2))}
            for segment in segments
        ]
    return out


BACKEND = CTranslate2(
    "ctranslate2", tasks=(ASR,), library="faster_whisper", own_params={ASR: ("beam_size", "temperature", "vad_filter")}
)
