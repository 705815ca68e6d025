"""TEMPORARY stand-in until the issue5-parts branch lands (do not commit)."""
import gc
import os
import sys


def is_oom(error):
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()


def release_memory():
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def check_injected_oom(batch_len):
    limit = os.environ.get("RUNNER_INJECT_OOM_ABOVE")
    if limit and batch_len > int(limit):
        import torch
        raise torch.OutOfMemoryError(f"CUDA out of memory (injected: RUNNER_INJECT_OOM_ABOVE={limit})")
