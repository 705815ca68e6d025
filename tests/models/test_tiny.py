"""Tiny offline models: every (task, arch) pair builds, loads by path through a plain
`transformers.pipeline(task, model=folder)` and gives the task's real output structure; builds are
deterministic per seed, cached, atomic and safe against concurrent builders."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded; set before transformers is imported
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from runner.models import tiny
from runner.tasks import TASKS

REPO_ROOT = Path(__file__).resolve().parents[2]
TEXT = "John lives in Paris and loves this great movie."
PAIRS = [(task, arch) for arch, tasks in tiny.TINY_ARCHS.items() for task in tasks]


# ------------------------------------------------------------------------------------------
# Fixtures and inputs
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine a second OpenMP thread
    makes runs up to ~50x slower whenever another process is busy (measured with Whisper)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One cache for the module: each (task, arch) is built once and shared by the tests."""
    return tmp_path_factory.mktemp("tiny-cache")


@pytest.fixture(scope="module")
def audio():
    import numpy as np

    t = np.arange(16000, dtype=np.float32) / 16000
    return {"raw": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), "sampling_rate": 16000}


@pytest.fixture(scope="module")
def image():
    import numpy as np
    from PIL import Image

    pixels = (np.random.RandomState(0).rand(40, 50, 3) * 255).astype("uint8")  # 40 high, 50 wide
    return Image.fromarray(pixels, mode="RGB")


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def _pipeline(task: str, folder: Path, **kwargs):
    from transformers import pipeline

    return pipeline(task, model=str(folder), **kwargs)


def _is_score(x) -> bool:
    return isinstance(float(x), float) and 0.0 <= float(x) <= 1.0


# ------------------------------------------------------------------------------------------
# Every (task, arch) pair through a plain pipeline
# ------------------------------------------------------------------------------------------
def _check_text_generation(folder, audio, image):
    out = _pipeline("text-generation", folder)("Hello there", max_new_tokens=4)
    assert isinstance(out, list) and isinstance(out[0]["generated_text"], str)
    assert out[0]["generated_text"].startswith("Hello there")
    batch = _pipeline("text-generation", folder)(["hi", "a longer prompt"], batch_size=2)  # needs pad_token
    assert [type(r[0]["generated_text"]) for r in batch] == [str, str]


def _check_text_classification(folder, audio, image):
    import transformers

    out = _pipeline("text-classification", folder)(TEXT)
    assert out[0]["label"] in {"NEGATIVE", "POSITIVE"} and _is_score(out[0]["score"])
    assert isinstance(transformers.AutoConfig.from_pretrained(str(folder)).id2label, dict)


def _check_fill_mask(folder, audio, image):
    p = _pipeline("fill-mask", folder)
    out = p(f"this movie is {p.tokenizer.mask_token}.")
    assert len(out) == 5
    assert {"score", "token", "token_str", "sequence"} <= set(out[0])


def _check_token_classification(folder, audio, image):
    labels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
    # ignore_labels=[]: keep "O" too, so a random head can never give an empty list
    grouped = _pipeline("token-classification", folder, aggregation_strategy="simple")(TEXT, ignore_labels=[])
    assert grouped
    for entity in grouped:
        assert {"entity_group", "score", "word", "start", "end"} <= set(entity)
        assert entity["entity_group"] in {"O", "PER", "LOC", "ORG"} and _is_score(entity["score"])
        assert 0 <= entity["start"] < entity["end"] <= len(TEXT)  # offsets come from the fast tokenizer
    raw = _pipeline("token-classification", folder)(TEXT, ignore_labels=[])
    assert {r["entity"] for r in raw} <= labels and len(raw) >= len(TEXT.split())
    assert {"entity", "score", "index", "word", "start", "end"} <= set(raw[0])


def _check_feature_extraction(folder, audio, image):
    out = _pipeline("feature-extraction", folder)(TEXT)
    assert len(out) == 1 and len(out[0]) > 3 and len(out[0][0]) == 32  # [1, n_tokens, hidden=32]


def _check_zero_shot(folder, audio, image):
    out = _pipeline("zero-shot-classification", folder)(TEXT, candidate_labels=["sports", "cinema", "food"])
    assert sorted(out["labels"]) == ["cinema", "food", "sports"]
    assert abs(sum(out["scores"]) - 1.0) < 1e-4 and out["sequence"] == TEXT


def _check_asr(folder, audio, image):
    p = _pipeline("automatic-speech-recognition", folder)
    out = p(dict(audio))
    assert set(out) == {"text"} and isinstance(out["text"], str)
    if p.model.config.model_type == "whisper":
        with_ts = p(dict(audio), return_timestamps=True)
        assert isinstance(with_ts["text"], str) and isinstance(with_ts["chunks"], list)
        for chunk in with_ts["chunks"]:
            start, end = chunk["timestamp"]  # random weights: any times, but real numbers
            assert isinstance(chunk["text"], str) and float(start) >= 0.0
            assert end is None or float(end) >= 0.0
        words = p(dict(audio), return_timestamps="word")  # needs alignment_heads
        assert all(len(c["timestamp"]) == 2 for c in words["chunks"])
    else:
        chars = p(dict(audio), return_timestamps="char")
        assert all({"text", "timestamp"} <= set(c) for c in chars["chunks"])


def _check_audio_classification(folder, audio, image):
    out = _pipeline("audio-classification", folder)(dict(audio))
    assert {r["label"] for r in out} == {"yes", "no", "up", "down"}
    assert all(_is_score(r["score"]) for r in out)


def _check_image_classification(folder, audio, image):
    out = _pipeline("image-classification", folder)(image)
    assert {r["label"] for r in out} == {"cat", "dog", "bird"} and all(_is_score(r["score"]) for r in out)


def _check_image_to_text(folder, audio, image):
    if _transformers_major() < 5:
        out = _pipeline("image-to-text", folder)(image)
    else:
        # transformers 5 removed image-to-text: captioning goes through image-text-to-text, which
        # insists on a text argument; "" captions the image from scratch (the prompt is just <bos>).
        p = _pipeline("image-text-to-text", folder)
        out = p(images=image, text="")
        assert out[0]["input_text"] == ""
        batch = p(images=[image, image], text=["", ""])
        assert len(batch) == 2 and batch[0]["generated_text"] == out[0]["generated_text"]
    assert isinstance(out[0]["generated_text"], str) and out[0]["generated_text"]


def _check_image_text_to_text(folder, audio, image):
    p = _pipeline("image-text-to-text", folder)
    out = p(images=image, text="<image> what is this?")
    assert out[0]["input_text"] == "<image> what is this?"
    assert isinstance(out[0]["generated_text"], str) and out[0]["generated_text"].startswith("<image> what is this?")
    chat = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "what?"}]}]
    reply = p(text=chat)[0]["generated_text"]
    assert reply[-1]["role"] == "assistant" and isinstance(reply[-1]["content"], str)
    text_only = p(text="what is this?")  # no image at all: a plain language-model run
    assert isinstance(text_only[0]["generated_text"], str)
    # An image with a prompt that lacks <image>: transformers 5.24 refuses (the processor counts tokens).
    try:
        lacking = p(images=image, text="what is this?")
    except ValueError as err:
        assert "<image>" in str(err)
    else:
        assert isinstance(lacking[0]["generated_text"], str)


def _check_object_detection(folder, audio, image):
    p = _pipeline("object-detection", folder)
    out = p(image, threshold=0.0)
    assert len(out) == 5  # num_detection_tokens
    for det in out:
        assert det["label"] in {"person", "car", "dog"} and _is_score(det["score"])
        assert set(det["box"]) == {"xmin", "ymin", "xmax", "ymax"}
        assert all(isinstance(v, int) for v in det["box"].values())


CHECKS = {
    "text-generation": _check_text_generation,
    "text-classification": _check_text_classification,
    "fill-mask": _check_fill_mask,
    "token-classification": _check_token_classification,
    "feature-extraction": _check_feature_extraction,
    "zero-shot-classification": _check_zero_shot,
    "automatic-speech-recognition": _check_asr,
    "audio-classification": _check_audio_classification,
    "image-classification": _check_image_classification,
    "image-to-text": _check_image_to_text,
    "image-text-to-text": _check_image_text_to_text,
    "object-detection": _check_object_detection,
}


def test_every_task_has_a_check():
    assert set(CHECKS) == set(tiny.DEFAULT_ARCH)


@pytest.mark.parametrize(("task", "arch"), PAIRS, ids=[f"{a}-{t}" for t, a in PAIRS])
def test_pipeline_runs_on_tiny_model(task, arch, cache, audio, image):
    folder = tiny.tiny_model_dir(task, arch, seed=0, cache_dir=cache)
    assert folder.parent == cache and (folder / "config.json").is_file()
    assert (folder / "model.safetensors").is_file()
    meta = json.loads((folder / tiny.MARKER_FILE).read_text())
    assert (meta["arch"], meta["task"], meta["seed"], meta["builder_version"]) == (arch, task, 0, tiny.BUILDER_VERSION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        CHECKS[task](folder, audio, image)


# ------------------------------------------------------------------------------------------
# API: defaults, names, errors
# ------------------------------------------------------------------------------------------
def test_default_arch_table():
    assert set(tiny.DEFAULT_ARCH) == set(TASKS)
    assert "automatic-speech-recognition" in tiny.TINY_ARCHS["wav2vec2"]
    for task, arch in tiny.DEFAULT_ARCH.items():
        assert task in tiny.TINY_ARCHS[arch]


def test_default_arch_agrees_with_task_table():
    from runner.tasks import TASKS

    assert {spec.id: spec.tiny_arch for spec in TASKS.values()} == tiny.DEFAULT_ARCH


def test_auto_arch_and_folder_name(cache):
    folder = tiny.tiny_model_dir("text-classification", "auto", seed=0, cache_dir=cache)
    assert folder == tiny.tiny_model_dir("text-classification", "distilbert", seed=0, cache_dir=cache)
    name = folder.name
    for part in ("distilbert", "text-classification", "seed0", f"b{tiny.BUILDER_VERSION}"):
        assert part in name


def test_unknown_arch_raises_naming_allowed_archs(tmp_path):
    with pytest.raises(ValueError) as err:
        tiny.tiny_model_dir("text-generation", arch="no-such-arch", cache_dir=tmp_path)
    for arch in tiny.TINY_ARCHS:
        assert repr(arch) in str(err.value)
    assert not any(tmp_path.iterdir())


def test_arch_that_cannot_serve_task_raises(tmp_path):
    with pytest.raises(ValueError, match=r"'vit'.*cannot serve task 'text-generation'.*'gpt2'"):
        tiny.tiny_model_dir("text-generation", arch="vit", cache_dir=tmp_path)


def test_unknown_task_and_bad_seed_raise(tmp_path):
    with pytest.raises(ValueError, match="Allowed tasks"):
        tiny.tiny_model_dir("summarization", cache_dir=tmp_path)
    for seed in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match="seed"):
            tiny.tiny_model_dir("text-generation", seed=seed, cache_dir=tmp_path)


def test_task_aliases_are_accepted(cache):
    assert tiny.tiny_model_dir("sentiment-analysis", cache_dir=cache) == tiny.tiny_model_dir(
        "text-classification", cache_dir=cache
    )


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path))
    assert tiny.default_cache_dir() == tmp_path / "tiny"
    monkeypatch.delenv("RUNNER_CACHE_DIR")
    assert tiny.default_cache_dir() == Path.home() / ".cache" / "hf-pipeline-runner" / "tiny"


def test_uses_default_cache_dir_when_none_given(monkeypatch, tmp_path):
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path))
    folder = tiny.tiny_model_dir("feature-extraction")
    assert folder.parent == tmp_path / "tiny"


def test_import_is_cheap():
    code = (
        "import sys, runner.models.tiny as t; "
        "assert t.DEFAULT_ARCH and t.TINY_ARCHS; "
        "t.tiny_folder_name('text-generation'); "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


# ------------------------------------------------------------------------------------------
# Determinism and caching
# ------------------------------------------------------------------------------------------
def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.parametrize(("task", "arch"), [("text-generation", "gpt2"), ("automatic-speech-recognition", "whisper"),
                                            ("image-text-to-text", "llava"), ("image-to-text", "vit_gpt2")])
def test_same_seed_same_weights_other_seed_other_weights(tmp_path, task, arch):
    first = tiny.tiny_model_dir(task, arch, seed=0, cache_dir=tmp_path / "a")
    again = tiny.tiny_model_dir(task, arch, seed=0, cache_dir=tmp_path / "b")
    other = tiny.tiny_model_dir(task, arch, seed=1, cache_dir=tmp_path / "a")
    assert first != again and first.name == again.name
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)
    assert other.name != first.name and "seed1" in other.name


def test_same_seed_same_outputs(tmp_path):
    a = tiny.tiny_model_dir("text-classification", seed=3, cache_dir=tmp_path / "a")
    b = tiny.tiny_model_dir("text-classification", seed=3, cache_dir=tmp_path / "b")
    assert _pipeline("text-classification", a)(TEXT) == _pipeline("text-classification", b)(TEXT)


def test_second_call_returns_cached_folder_without_rebuilding(tmp_path, monkeypatch):
    folder = tiny.tiny_model_dir("text-generation", cache_dir=tmp_path)
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def must_not_build(*args):
        raise AssertionError("rebuilt a cached model")

    monkeypatch.setitem(tiny._BUILDERS, "gpt2", must_not_build)
    assert tiny.tiny_model_dir("text-generation", cache_dir=tmp_path) == folder
    assert weights.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no temp folders left


def test_folder_without_marker_is_rebuilt(tmp_path):
    target = tmp_path / tiny.tiny_folder_name("fill-mask")
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # a half-copied leftover
    assert tiny.tiny_model_dir("fill-mask", cache_dir=tmp_path) == target
    assert (target / tiny.MARKER_FILE).is_file() and (target / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_concurrent_builder_that_finishes_first_wins(tmp_path, monkeypatch):
    """While this build runs, another builder completes the same target: ours is discarded."""
    real = tiny._BUILDERS["gpt2"]
    winner: list[Path] = []

    calls: list[Path] = []

    def racing_builder(task, out, seed):
        calls.append(out)
        if len(calls) == 1:  # the "other process": build the same model completely, first
            winner.append(tiny.tiny_model_dir(task, "gpt2", seed, cache_dir=tmp_path))
            (winner[0] / "winner.txt").write_text("first")
        real(task, out, seed)

    monkeypatch.setitem(tiny._BUILDERS, "gpt2", racing_builder)
    folder = tiny.tiny_model_dir("text-generation", cache_dir=tmp_path)
    assert folder == winner[0] and (folder / "winner.txt").read_text() == "first"
    assert len(calls) == 2 and calls[0] != calls[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def broken(task, out, seed):
        (out / "partial").write_text("x")
        raise RuntimeError("boom")

    monkeypatch.setitem(tiny._BUILDERS, "vit", broken)
    with pytest.raises(RuntimeError, match="boom"):
        tiny.tiny_model_dir("image-classification", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_two_processes_build_the_same_model(tmp_path):
    code = (
        "import sys; from runner.models.tiny import tiny_model_dir; "
        "print(tiny_model_dir('text-classification', seed=7, cache_dir=sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO_ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    paths = {out.strip().splitlines()[-1] for out, _ in outs}
    assert len(paths) == 1
    folder = Path(paths.pop())
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
    assert _pipeline("text-classification", folder)(TEXT)[0]["label"] in {"NEGATIVE", "POSITIVE"}


# ------------------------------------------------------------------------------------------
# bitsandbytes on CPU
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [8, 4])
def test_bitsandbytes_text_generation(bits, cache):
    pytest.importorskip("bitsandbytes")
    import torch
    from transformers import BitsAndBytesConfig, pipeline

    if bits == 8:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    else:  # 4-bit generate on CPU needs in_features >= 64: the tiny gpt2 has n_embd=64
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32)
    folder = tiny.tiny_model_dir("text-generation", cache_dir=cache)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "MatMul8bitLt: inputs will be cast from torch.float32 to float16"
        p = pipeline("text-generation", model=str(folder), model_kwargs={"quantization_config": quant, "device_map": "cpu"})
        assert getattr(p.model, f"is_loaded_in_{bits}bit", False)
        out = p("Hello", max_new_tokens=4)
    assert isinstance(out[0]["generated_text"], str) and out[0]["generated_text"].startswith("Hello")
