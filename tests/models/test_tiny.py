"""Tiny offline models: every (task, arch) pair builds, loads by path through a plain
`transformers.pipeline(task, model=folder)` and gives the task's real output structure; builds are
deterministic per seed, cached, atomic and safe against concurrent builders.

The file runs under transformers 5.x (REPO/.venv) and 4.x (REPO/.venv4). The tasks transformers 5
removed (summarization, translation, text2text-generation, question-answering,
visual-question-answering) go through the native pipelines on 4.x and through the Auto classes on
5.x. A parity test loads folders built by the other venv's transformers in this one, and the other
way round."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded; set before transformers is imported
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import hashlib
import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from runner.models import tiny
from runner.models.tiny import registry
from runner.models.tiny.common import VQA_LABELS
from runner.models.tiny.seq2seq import SEQ2SEQ_MAX_LENGTH
from runner.tasks import TASKS

REPO_ROOT = Path(__file__).resolve().parents[2]
TEXT = "John lives in Paris and loves this great movie."
# A row that failed on transformers 4.x with "IndexError: index out of range in self" (the 4.x
# pipelines' default of 256 new tokens ran past GPT-2's 256 positions).
LONG_PROMPT = "The delivery arrived two weeks late and the box was broken."
CONTEXT = "The Eiffel Tower is a wrought-iron tower in Paris, France. It was built in 1889 for the World's Fair."
PAIRS = [(task, arch) for arch, tasks in tiny.ARCHS.items() for task in tasks]


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


def _make_audio():
    import numpy as np

    t = np.arange(16000, dtype=np.float32) / 16000
    return {"raw": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), "sampling_rate": 16000}


def _make_image():
    import numpy as np
    from PIL import Image

    pixels = (np.random.RandomState(0).rand(40, 50, 3) * 255).astype("uint8")  # 40 high, 50 wide
    return Image.fromarray(pixels, mode="RGB")


@pytest.fixture(scope="module")
def audio():
    return _make_audio()


@pytest.fixture(scope="module")
def image():
    return _make_image()


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
    # The generation defaults: the model's 8 new tokens, on 4.x too (there via task_specific_params).
    p = _pipeline("text-generation", folder)
    ids = p(LONG_PROMPT, return_tensors=True)[0]["generated_token_ids"]
    prompt_len = len(p.tokenizer(LONG_PROMPT)["input_ids"])
    assert prompt_len < len(ids) <= prompt_len + 8


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
    # An image with a prompt that lacks <image>: transformers 5.24 refuses (the processor counts tokens);
    # 4.57 gets as far as the model: "Image features and image tokens do not match: tokens: 0, features 512".
    try:
        lacking = p(images=image, text="what is this?")
    except ValueError as err:
        assert "<image>" in str(err) or "image tokens do not match" in str(err)
    else:
        assert isinstance(lacking[0]["generated_text"], str)


def _seq2seq_check_5x(folder, prompt_prefix=""):
    """transformers 5 has no pipeline for these tasks: the folder loads with the Auto classes and generates."""
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSeq2SeqLM.from_pretrained(str(folder))
    enc = tok([prompt_prefix + LONG_PROMPT, prompt_prefix + "hello world"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**enc)
    assert out.shape[0] == 2 and out.shape[1] <= SEQ2SEQ_MAX_LENGTH
    texts = tok.batch_decode(out, skip_special_tokens=True)
    assert [type(t) for t in texts] == [str, str]
    return AutoConfig.from_pretrained(str(folder))


def _seq2seq_check_4x(task, folder, key):
    p = _pipeline(task, folder)
    out = p(LONG_PROMPT)
    assert isinstance(out, list) and set(out[0]) == {key} and isinstance(out[0][key], str)
    batch = p([LONG_PROMPT, "hello world"], batch_size=2)
    assert [set(r) for r in batch] == [{key}, {key}]  # one dict per input, not a list of them
    # the model's short greedy generation, not the 4.x pipeline defaults (256 new tokens, 4 beams)
    assert (p.generation_config.max_length, p.generation_config.num_beams) == (SEQ2SEQ_MAX_LENGTH, 1)
    return p


def _check_summarization(folder, audio, image):
    if _transformers_major() >= 5:
        config = _seq2seq_check_5x(folder)
        assert "summarization" in config.task_specific_params
        return
    p = _seq2seq_check_4x("summarization", folder, "summary_text")
    if p.model.config.model_type == "t5":
        assert p.prefix == "summarize: "


def _check_translation(folder, audio, image):
    if _transformers_major() >= 5:
        config = _seq2seq_check_5x(folder)
        assert any(k.startswith("translation_") for k in config.task_specific_params)
        return
    # plain "translation" takes the first translation_XX_to_YY of task_specific_params
    p = _seq2seq_check_4x("translation", folder, "translation_text")
    if p.model.config.model_type == "t5":
        assert p.prefix == "translate English to German: "
        fr = _seq2seq_check_4x("translation_en_to_fr", folder, "translation_text")
        assert fr.prefix == "translate English to French: "


def _check_text2text(folder, audio, image):
    if _transformers_major() >= 5:
        _seq2seq_check_5x(folder)
        return
    _seq2seq_check_4x("text2text-generation", folder, "generated_text")


def _check_question_answering(folder, audio, image):
    long_context = " ".join([CONTEXT] * 30)
    question = "Where is the Eiffel Tower?"
    if _transformers_major() >= 5:
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForQuestionAnswering.from_pretrained(str(folder))
        enc = tok(
            question,
            long_context,
            truncation="only_second",
            max_length=384,
            stride=128,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        windows = enc["input_ids"].shape[0]
        assert windows > 1 and enc["input_ids"].shape[1] == 384
        with torch.no_grad():
            out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        assert out.start_logits.shape == out.end_logits.shape == (windows, 384)
        return
    p = _pipeline("question-answering", folder)
    out = p({"question": question, "context": CONTEXT})
    assert {"score", "start", "end", "answer"} == set(out) and _is_score(out["score"])
    assert out["answer"] == CONTEXT[out["start"] : out["end"]]
    # longer than max_seq_len=384 tokens: the pipeline splits it into windows with doc_stride
    assert len(p.tokenizer(question, long_context)["input_ids"]) > 384 * 2
    answers = p(question=question, context=long_context, top_k=3)
    assert len(answers) == 3
    for answer in answers:
        assert answer["answer"] == long_context[answer["start"] : answer["end"]] and _is_score(answer["score"])
    small = p(question=question, context=long_context, max_seq_len=64, doc_stride=16)
    assert small["answer"] == long_context[small["start"] : small["end"]]


def _check_visual_question_answering(folder, audio, image):
    labels = set(VQA_LABELS)
    if _transformers_major() >= 5:
        import torch
        from transformers import AutoModelForVisualQuestionAnswering, AutoProcessor

        processor = AutoProcessor.from_pretrained(str(folder))
        model = AutoModelForVisualQuestionAnswering.from_pretrained(str(folder))
        enc = processor(images=image, text="What color is the shape?", return_tensors="pt")
        assert min(enc["pixel_values"].shape[-2:]) == 64  # shortest_edge=64
        with torch.no_grad():
            logits = model(**enc).logits
        assert logits.shape == (1, len(labels)) and set(model.config.id2label.values()) == labels
        return
    p = _pipeline("visual-question-answering", folder)
    out = p(image=image, question="What color is the shape?", top_k=2)
    assert len(out) == 2 and {r["answer"] for r in out} <= labels and all(_is_score(r["score"]) for r in out)
    default = p({"image": image, "question": "What is in this picture?"})
    assert {r["answer"] for r in default} == labels  # top_k=5 by default, capped at the label count


def _check_object_detection(folder, audio, image):
    p = _pipeline("object-detection", folder)
    out = p(image, threshold=0.0)
    assert len(out) == 5  # num_detection_tokens
    for det in out:
        assert det["label"] in {"person", "car", "dog"} and _is_score(det["score"])
        assert set(det["box"]) == {"xmin", "ymin", "xmax", "ymax"}
        assert all(isinstance(v, int) for v in det["box"].values())


def _check_zero_shot_image_classification(folder, audio, image):
    out = _pipeline("zero-shot-image-classification", folder)(image, candidate_labels=["cat", "dog", "car"])
    assert sorted(r["label"] for r in out) == ["car", "cat", "dog"]
    assert abs(sum(r["score"] for r in out) - 1.0) < 1e-4  # softmax over the candidate labels


def _check_zero_shot_object_detection(folder, audio, image):
    out = _pipeline("zero-shot-object-detection", folder)(image, candidate_labels=["cat", "dog"], threshold=0.0)
    assert out, "with threshold 0 every proposed box comes back"
    for det in out:
        assert det["label"] in {"cat", "dog"} and _is_score(det["score"])
        assert set(det["box"]) == {"xmin", "ymin", "xmax", "ymax"}


def _check_depth_estimation(folder, audio, image):
    import numpy as np

    out = _pipeline("depth-estimation", folder)(image)
    assert out["depth"].size == image.size and out["depth"].mode == "L"
    depth = out["predicted_depth"].numpy()
    assert depth.shape == (image.size[1], image.size[0]) and np.isfinite(depth).all()
    assert depth.max() > depth.min()  # not constant: the pipeline's min-max scaling would give NaNs


def _check_image_segmentation(folder, audio, image):
    from runner.models.tiny.vision import SEGMENT_LABELS

    out = _pipeline("image-segmentation", folder)(image)
    assert out and {s["label"] for s in out} <= set(SEGMENT_LABELS)
    assert all(s["mask"].size == image.size and s["score"] is None for s in out)  # semantic: no score


def _check_document_question_answering(folder, audio, image):
    words = ["invoice", "total", "12.50", "eur"]
    boxes = [(w, [100 + 200 * i, 100, 250 + 200 * i, 180]) for i, w in enumerate(words)]
    out = _pipeline("document-question-answering", folder)({"question": "What is the total?", "word_boxes": boxes})
    assert out and all(_is_score(a["score"]) for a in out)
    assert all(a["answer"] == " ".join(words[a["start"] : a["end"] + 1]) for a in out)


def _check_text_to_audio(folder, audio, image):
    import numpy as np

    out = _pipeline("text-to-audio", folder)("hello tiny world")
    assert out["sampling_rate"] == 16000
    samples = np.asarray(out["audio"]).squeeze()
    assert samples.ndim == 1 and samples.size > 1000 and np.isfinite(samples).all()


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
    "summarization": _check_summarization,
    "translation": _check_translation,
    "text2text-generation": _check_text2text,
    "question-answering": _check_question_answering,
    "visual-question-answering": _check_visual_question_answering,
    "zero-shot-image-classification": _check_zero_shot_image_classification,
    "zero-shot-object-detection": _check_zero_shot_object_detection,
    "depth-estimation": _check_depth_estimation,
    "image-segmentation": _check_image_segmentation,
    "document-question-answering": _check_document_question_answering,
    "text-to-audio": _check_text_to_audio,
}


def test_every_task_has_a_check():
    assert set(CHECKS) == set(tiny.DEFAULT_ARCH)


@pytest.mark.parametrize(("task", "arch"), PAIRS, ids=[f"{a}-{t}" for t, a in PAIRS])
def test_pipeline_runs_on_tiny_model(task, arch, cache, audio, image):
    if arch == "marian":
        pytest.importorskip("sentencepiece", reason="MarianTokenizer needs sentencepiece")
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
def test_every_task_tiny_arch_is_registered_and_serves_the_task():
    for spec in TASKS.values():
        assert spec.tiny_arch in tiny.ARCHS, f"{spec.id}: tiny_arch {spec.tiny_arch!r} has no @builds builder"
        assert spec.id in tiny.ARCHS[spec.tiny_arch], f"{spec.tiny_arch!r} does not list task {spec.id!r}"
        assert tiny.resolve_arch(spec.id) == spec.tiny_arch


def test_every_registered_arch_serves_known_tasks():
    assert set(registry.BUILDERS) == set(tiny.ARCHS)
    for arch, tasks in tiny.ARCHS.items():
        assert tasks, arch
        assert set(tasks) <= set(TASKS), f"{arch!r} lists tasks runner.tasks does not know"
        assert len(set(tasks)) == len(tasks), arch
    assert "automatic-speech-recognition" in tiny.ARCHS["wav2vec2"]  # a second arch for a task


def test_an_arch_cannot_be_registered_twice_or_without_tasks():
    with pytest.raises(ValueError, match="registered twice"):
        registry.builds("gpt2", tasks=("text-generation",))(lambda task, out, seed: None)
    with pytest.raises(ValueError, match="at least one task"):
        registry.builds("nothing", tasks=())
    assert "nothing" not in tiny.ARCHS


def test_auto_arch_and_folder_name(cache):
    folder = tiny.tiny_model_dir("text-classification", "auto", seed=0, cache_dir=cache)
    assert folder == tiny.tiny_model_dir("text-classification", "distilbert", seed=0, cache_dir=cache)
    name = folder.name
    for part in ("distilbert", "text-classification", "seed0", f"b{tiny.BUILDER_VERSION}"):
        assert part in name


def test_unknown_arch_raises_naming_allowed_archs(tmp_path):
    with pytest.raises(ValueError) as err:
        tiny.tiny_model_dir("text-generation", arch="no-such-arch", cache_dir=tmp_path)
    for arch in tiny.ARCHS:
        assert repr(arch) in str(err.value)
    assert not any(tmp_path.iterdir())


def test_arch_that_cannot_serve_task_raises(tmp_path):
    with pytest.raises(ValueError, match=r"'vit'.*cannot serve task 'text-generation'.*'gpt2'"):
        tiny.tiny_model_dir("text-generation", arch="vit", cache_dir=tmp_path)


def test_arch_that_cannot_serve_task_names_every_arch_that_can(tmp_path):
    with pytest.raises(ValueError) as err:
        tiny.resolve_arch("automatic-speech-recognition", arch="vit")
    able = [arch for arch, tasks in tiny.ARCHS.items() if "automatic-speech-recognition" in tasks]
    assert len(able) >= 2
    for arch in able:
        assert repr(arch) in str(err.value)


def test_unknown_task_and_bad_seed_raise(tmp_path):
    with pytest.raises(ValueError, match="Allowed tasks"):
        tiny.tiny_model_dir("no-such-task", cache_dir=tmp_path)
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
        "assert t.DEFAULT_ARCH and t.ARCHS; "
        "t.tiny_folder_name('text-generation'); "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


# ------------------------------------------------------------------------------------------
# Parity: a folder built under transformers 5.x loads under 4.x, and the other way round
# ------------------------------------------------------------------------------------------
# Every pair of the architectures for the tasks transformers 5 removed, plus one task of each other
# architecture (GPT-2 and the captioner had generation-length trouble on 4.x; Whisper, LLaVA and T5
# have the additional special tokens whose 5.x tokenizer_config.json 4.x could not read).
_NEW_ARCHS = ("bart", "t5", "marian", "distilbert_qa", "vilt")
_HAVE_SENTENCEPIECE = importlib.util.find_spec("sentencepiece") is not None
PARITY_PAIRS = [(t, a) for t, a in PAIRS if a in _NEW_ARCHS and (a != "marian" or _HAVE_SENTENCEPIECE)] + [
    (tasks[0], arch) for arch, tasks in tiny.ARCHS.items() if arch not in _NEW_ARCHS
]


def _other_venv_python() -> Path | None:
    """REPO/.venv holds transformers 5.x, REPO/.venv4 transformers 4.x: the python of the other one."""
    other = REPO_ROOT / (".venv4" if _transformers_major() >= 5 else ".venv") / "bin" / "python"
    return other if other.is_file() else None


def _run_checks(items) -> list[dict]:
    """CHECKS on (task, arch, folder) items; one result per item, failures as tracebacks."""
    import traceback

    audio, image = _make_audio(), _make_image()
    results = []
    for task, arch, folder in items:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                CHECKS[task](Path(folder), audio, image)
            results.append({"task": task, "arch": arch, "ok": True})
        except Exception:  # reported back to the calling test
            results.append({"task": task, "arch": arch, "ok": False, "error": traceback.format_exc()[-3000:]})
    return results


def _parity_main(request_file: str) -> int:
    """Entry point of the other venv's python: build `build` into `cache`, run CHECKS on `check`."""
    import torch
    import transformers

    torch.set_num_threads(1)
    request = json.loads(Path(request_file).read_text())
    built = [
        [task, arch, str(tiny.tiny_model_dir(task, arch, seed=0, cache_dir=request["cache"]))]
        for task, arch in request["build"]
    ]
    result = {"transformers": transformers.__version__, "built": built, "checks": _run_checks(request["check"])}
    Path(request["result"]).write_text(json.dumps(result))
    return 0


@pytest.fixture(scope="module")
def other_version(cache, tmp_path_factory):
    """One run of the other venv: it builds PARITY_PAIRS and checks the folders this venv built."""
    python = _other_venv_python()
    if python is None:
        pytest.skip(
            f"no other venv to compare with: {REPO_ROOT}/.venv (transformers 5) and "
            f"{REPO_ROOT}/.venv4 (transformers 4) must both exist"
        )
    work = tmp_path_factory.mktemp("parity")
    here = [[task, arch, str(tiny.tiny_model_dir(task, arch, seed=0, cache_dir=cache))] for task, arch in PARITY_PAIRS]
    request = {"build": PARITY_PAIRS, "cache": str(work / "cache"), "check": here, "result": str(work / "result.json")}
    (work / "request.json").write_text(json.dumps(request))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_tiny; sys.exit(test_tiny._parity_main(sys.argv[2]))"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(REPO_ROOT),
    }
    proc = subprocess.run(
        [str(python), "-c", code, str(Path(__file__).parent), str(work / "request.json")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((work / "result.json").read_text())


@pytest.mark.v4
@pytest.mark.slow
def test_folders_built_here_run_under_the_other_transformers(other_version):
    import transformers

    assert other_version["transformers"].split(".")[0] != transformers.__version__.split(".")[0]
    failed = [
        f"{r['task']}/{r['arch']} under transformers {other_version['transformers']}:\n{r['error']}"
        for r in other_version["checks"]
        if not r["ok"]
    ]
    assert not failed, "\n".join(failed)
    assert len(other_version["checks"]) == len(PARITY_PAIRS)


@pytest.mark.v4
@pytest.mark.slow
def test_folders_built_by_the_other_transformers_run_here(other_version):
    built = other_version["built"]
    assert [(task, arch) for task, arch, _ in built] == [tuple(pair) for pair in PARITY_PAIRS]
    for _, _, folder in built:
        assert (
            json.loads((Path(folder) / tiny.MARKER_FILE).read_text())["transformers"] == other_version["transformers"]
        )
    failed = [f"{r['task']}/{r['arch']}:\n{r['error']}" for r in _run_checks(built) if not r["ok"]]
    assert not failed, "\n".join(failed)


# ------------------------------------------------------------------------------------------
# Determinism and caching
# ------------------------------------------------------------------------------------------
def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("task", "arch"),
    [
        ("text-generation", "gpt2"),
        ("automatic-speech-recognition", "whisper"),
        ("image-text-to-text", "llava"),
        ("image-to-text", "vit_gpt2"),
        ("translation", "t5"),
        ("visual-question-answering", "vilt"),
        ("translation", "marian"),
    ],
)
def test_same_seed_same_weights_other_seed_other_weights(tmp_path, task, arch):
    if arch == "marian":  # the SentencePiece training must be deterministic too
        pytest.importorskip("sentencepiece", reason="MarianTokenizer needs sentencepiece")
    first = tiny.tiny_model_dir(task, arch, seed=0, cache_dir=tmp_path / "a")
    again = tiny.tiny_model_dir(task, arch, seed=0, cache_dir=tmp_path / "b")
    other = tiny.tiny_model_dir(task, arch, seed=1, cache_dir=tmp_path / "a")
    assert first != again and first.name == again.name
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)
    assert other.name != first.name and "seed1" in other.name
    for name in ("tokenizer.json", "vocab.json", "source.spm"):  # vocabularies do not depend on the seed
        if (first / name).exists():
            assert (first / name).read_bytes() == (again / name).read_bytes() == (other / name).read_bytes()


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

    monkeypatch.setitem(registry.BUILDERS, "gpt2", must_not_build)
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
    real = registry.BUILDERS["gpt2"]
    winner: list[Path] = []

    calls: list[Path] = []

    def racing_builder(task, out, seed):
        calls.append(out)
        if len(calls) == 1:  # the "other process": build the same model completely, first
            winner.append(tiny.tiny_model_dir(task, "gpt2", seed, cache_dir=tmp_path))
            (winner[0] / "winner.txt").write_text("first")
        real(task, out, seed)

    monkeypatch.setitem(registry.BUILDERS, "gpt2", racing_builder)
    folder = tiny.tiny_model_dir("text-generation", cache_dir=tmp_path)
    assert folder == winner[0] and (folder / "winner.txt").read_text() == "first"
    assert len(calls) == 2 and calls[0] != calls[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def broken(task, out, seed):
        (out / "partial").write_text("x")
        raise RuntimeError("boom")

    monkeypatch.setitem(registry.BUILDERS, "vit", broken)
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
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
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
        p = pipeline(
            "text-generation", model=str(folder), model_kwargs={"quantization_config": quant, "device_map": "cpu"}
        )
        assert getattr(p.model, f"is_loaded_in_{bits}bit", False)
        out = p("Hello", max_new_tokens=4)
    assert isinstance(out[0]["generated_text"], str) and out[0]["generated_text"].startswith("Hello")
