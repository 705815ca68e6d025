"""Model folders of realistic size for the GPU check, built offline from the project's tiny models.

Each folder takes a tiny model's tokenizer files (byte-level GPT-2: one token per byte; a small
WordPiece for DistilBERT) and writes a config with a real model's dimensions, so nothing is
downloaded. `model.no_weights=true` needs only that config; `random_weights_folder` also saves
random weights, for runs that load weights (raw `pipeline()`, bitsandbytes quantization).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# gpt2-large's shape (774M parameters with its 50k vocabulary; ~710M here with the byte vocabulary).
GPT2_LARGE = {"n_embd": 1280, "n_head": 20, "n_layer": 36, "n_inner": None, "n_positions": 1024}
# distilbert-base-uncased's shape (66M parameters with its vocabulary).
DISTILBERT_BASE = {"dim": 768, "n_heads": 12, "n_layers": 6, "hidden_dim": 3072, "max_position_embeddings": 512}


def config_folder(task: str, shape: dict, out: Path) -> Path:
    """A copy of the task's tiny model folder, weights left out, its config resized to `shape`."""
    from runner.models.tiny import tiny_model_dir

    tiny = tiny_model_dir(task)
    out.mkdir(parents=True, exist_ok=True)
    for path in tiny.iterdir():
        if path.suffix in {".json", ".txt", ".model"} and path.name != "tiny_model.json":
            shutil.copy(path, out / path.name)
    config = json.loads((out / "config.json").read_text())
    config.update(shape)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    return out


def random_weights_folder(task: str, shape: dict, out: Path, seed: int = 0) -> Path:
    """config_folder plus random weights saved in float32 (deterministic for a seed)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    if (out / "model.safetensors").is_file():
        return out
    config_folder(task, shape, out)
    auto = AutoModelForCausalLM if task == "text-generation" else AutoModelForSequenceClassification
    torch.manual_seed(seed)
    model = auto.from_config(AutoConfig.from_pretrained(out), dtype=torch.float32)
    model.save_pretrained(out)
    return out


def prompt(tokens: int) -> str:
    """A text of exactly `tokens` tokens for the byte-level GPT-2 tokenizer (one token per byte)."""
    words = "the quick brown fox jumps over the lazy dog ".encode() * (tokens // 44 + 1)
    return words[:tokens].decode()
