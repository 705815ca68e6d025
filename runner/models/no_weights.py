"""model.no_weights: the model's real architecture with random weights, so a 7B model's throughput
and memory can be measured without downloading its weights.

Only the small files are read from the model id or folder (config.json, generation_config.json,
tokenizer and processor files, with the same revision and trust_remote_code); the model is built
from its config by the Auto class transformers' pipeline registry lists for the task, directly in
the requested dtype and on the requested device (no full-size float32 copy on the CPU first), and
handed to `transformers.pipeline` with those components: everything after that is the usual path.

Quantization and device_map need loaded weights (bitsandbytes quantizes them as they load,
accelerate places them), so the config check rejects them together with model.no_weights.
"""

from __future__ import annotations

import importlib
import logging

from runner.core.errors import RunError

log = logging.getLogger(__name__)

# pipeline() keyword -> (the pipeline class flag saying whether it needs one, Auto class that loads it)
COMPONENTS = {
    "tokenizer": ("_load_tokenizer", "AutoTokenizer"),
    "feature_extractor": ("_load_feature_extractor", "AutoFeatureExtractor"),
    "image_processor": ("_load_image_processor", "AutoImageProcessor"),
    "processor": ("_load_processor", "AutoProcessor"),
}
# pipeline_kwargs() entries this module handles itself; any other (src_lang, tgt_lang) goes to pipeline()
_HANDLED = {"model", "dtype", "device", "device_map", "revision", "trust_remote_code", "model_kwargs", "token"}


def build_without_weights(task_name: str, kwargs: dict, location: str, revision: str | None):
    """What `transformers.pipeline(task=task_name, **kwargs)` builds, with a randomly initialised model."""
    from transformers import pipeline

    hub = {
        "trust_remote_code": kwargs["trust_remote_code"],
        **({"revision": revision} if revision else {}),
        **({"token": kwargs["token"]} if kwargs.get("token") else {}),
    }
    config = load_config(location, hub, dict(kwargs.get("model_kwargs") or {}))
    pipeline_class, model_classes = pipeline_parts(task_name)
    model = random_model(model_classes, config, kwargs["dtype"], kwargs["device"], hub["trust_remote_code"])
    attach_generation_config(model, location, hub)
    components = load_components(pipeline_class, location, hub)
    extra = {k: v for k, v in kwargs.items() if k not in _HANDLED}
    return pipeline(
        task=task_name,
        model=model,
        device=kwargs["device"],
        trust_remote_code=hub["trust_remote_code"],
        **components,
        **extra,
    )


def load_config(location: str, hub: dict, model_kwargs: dict):
    """The model's config; +model.kwargs entries that are config attributes (num_hidden_layers=2 ...)
    apply to it, as they would in from_pretrained. Others need weights being loaded: warned and ignored."""
    from transformers import AutoConfig

    config, unused = AutoConfig.from_pretrained(location, return_unused_kwargs=True, **hub, **model_kwargs)
    if unused:
        log.warning(
            "model.no_weights: model.kwargs %s do not apply to a model built from its config; ignored", sorted(unused)
        )
    return config


def pipeline_parts(task_name: str) -> tuple[type, tuple]:
    """The pipeline class for the task and the Auto model classes it loads models with."""
    from transformers.pipelines import check_task

    _, targeted, _ = check_task(task_name)
    impl = targeted["impl"]
    if isinstance(impl, str):  # transformers 5 names the class "package.module.Class" and imports it lazily
        module, _, name = impl.rpartition(".")
        impl = getattr(importlib.import_module(module), name)
    return impl, tuple(targeted.get("pt") or ())


def random_model(model_classes: tuple, config, dtype: str, device: str, trust_remote_code: bool):
    """The task's model built from its config with random weights, in dtype, created on device."""
    import torch

    auto_class = _auto_class_for(model_classes, config)
    options = {} if dtype == "auto" else {"dtype": getattr(torch, dtype)}  # auto: the config's own dtype
    if getattr(config, "auto_map", None):
        options["trust_remote_code"] = trust_remote_code
    with torch.device(device):  # parameters are allocated there directly
        model = auto_class.from_config(config, **options)
    return model.eval()  # from_config leaves training mode (dropout) on; from_pretrained does not


def _auto_class_for(model_classes: tuple, config):
    remote = getattr(config, "auto_map", None) or {}  # trust_remote_code models name their classes here
    for auto_class in model_classes:
        if type(config) in auto_class._model_mapping or auto_class.__name__ in remote:
            return auto_class
    names = ", ".join(c.__name__ for c in model_classes) or "none"
    raise RunError(
        f"model.no_weights: no model class for a {type(config).__name__} among this task's ({names})",
        "check that the model is made for this task, or run it with its weights (model.no_weights=false)",
    )


def attach_generation_config(model, location: str, hub: dict) -> None:
    """from_config derives generation settings from the model config; the saved generation_config.json
    (Whisper's language and timestamp tokens, pad/eos ids, lengths) is what from_pretrained would use."""
    if not (hasattr(model, "can_generate") and model.can_generate()):
        return
    from transformers import GenerationConfig

    try:
        model.generation_config = GenerationConfig.from_pretrained(location, **_without(hub, "trust_remote_code"))
    except OSError:  # the model ships none: keep the one derived from its config
        pass


def load_components(pipeline_class: type, location: str, hub: dict) -> dict:
    """Tokenizer, feature extractor, image processor and processor as pipeline() would load them for a
    model given by name: required ones (flag True) must load, optional ones (None) are kept if they do."""
    import transformers

    components = {}
    for keyword, (flag_name, auto_name) in COMPONENTS.items():
        flag = getattr(pipeline_class, flag_name, None)
        if flag is False:
            continue
        try:
            component = getattr(transformers, auto_name).from_pretrained(location, **hub)
            if keyword == "processor" and not isinstance(component, transformers.ProcessorMixin):
                raise TypeError(f"AutoProcessor gave a {type(component).__name__}, not a processor")
        except Exception as error:  # an optional component the model does not ship
            if flag:
                raise RunError(f"model.no_weights: cannot load the {keyword} of {location!r} ({error})") from error
            continue
        components[keyword] = component
    return components


def _without(options: dict, key: str) -> dict:
    return {k: v for k, v in options.items() if k != key}
