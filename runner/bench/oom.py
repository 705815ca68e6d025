"""Out-of-memory detection, memory release, and fault injection for testing OOM paths without a GPU.

torch is never imported here: an OOM of a torch type can only happen once torch is imported, so the
exception types are looked up in `sys.modules`. The fault injection raises the real
`torch.OutOfMemoryError` (which *is* `torch.cuda.OutOfMemoryError`), so every handler sees exactly
what a CUDA OOM gives it.

Fault injection: set RUNNER_INJECT_OOM_ABOVE=N and `check_injected_oom(len(batch))` raises for any
batch of more than N rows (the runner calls it right before each pipeline call).
"""

from __future__ import annotations

import gc
import os
import sys

INJECT_ENV = "RUNNER_INJECT_OOM_ABOVE"

# Lower-cased fragments of out-of-memory messages that arrive as plain RuntimeErrors:
# CUDA/HIP/XPU ("CUDA out of memory."), MPS ("MPS backend out of memory"), the CPU allocator,
# cuBLAS/cuDNN failing to get workspace, and Habana's device allocator.
_OOM_MESSAGES = (
    "out of memory",
    "defaultcpuallocator: can't allocate memory",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "pt_devmem allocation failed",
)


def is_oom(error: BaseException) -> bool:
    """True when `error`, or any exception it was raised from (__cause__/__context__), is an OOM."""
    types = _oom_types()
    for link in _chain(error):
        if isinstance(link, MemoryError) or (types and isinstance(link, types)):
            return True
        if isinstance(link, RuntimeError) and any(m in str(link).lower() for m in _OOM_MESSAGES):
            return True
    return False


def _chain(error: BaseException):
    seen: set[int] = set()
    pending = [error]
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        pending += [link.__cause__, link.__context__]


def _oom_types() -> tuple[type, ...]:
    torch = sys.modules.get("torch")
    if torch is None:
        return ()
    found = [getattr(torch, "OutOfMemoryError", None)]
    for backend in ("cuda", "xpu", "mps"):
        found.append(getattr(getattr(torch, backend, None), "OutOfMemoryError", None))
    return tuple({t for t in found if isinstance(t, type)})


def release_memory() -> None:
    """Give memory back after an OOM so the next attempt starts clean: collect the failed batch's
    tensors, return cached device blocks to the driver, and reset peak statistics so the next
    measurement is not polluted by the failed one."""
    from runner.bench.memory import reset_peak_memory

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.empty_cache()
            torch.cuda.ipc_collect()
        xpu = getattr(torch, "xpu", None)
        if xpu is not None and xpu.is_available():
            xpu.empty_cache()
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            torch.mps.empty_cache()
    reset_peak_memory()


def injected_oom_limit() -> int | None:
    """The batch-length limit set by RUNNER_INJECT_OOM_ABOVE, or None when it is unset or empty."""
    raw = os.environ.get(INJECT_ENV, "").strip()
    if not raw:
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise ValueError(f"{INJECT_ENV} must be a non-negative integer, got {raw!r}") from None
    if limit < 0:
        raise ValueError(f"{INJECT_ENV} must be a non-negative integer, got {raw!r}")
    return limit


def check_injected_oom(batch_len: int, limit: int | None = None) -> None:
    """Raise torch.OutOfMemoryError when batch_len exceeds the limit (default: RUNNER_INJECT_OOM_ABOVE)."""
    if limit is None:
        limit = injected_oom_limit()
    if limit is None or batch_len <= limit:
        return
    import torch

    # Worded like CUDA's own message, so message-based checks (accelerate's included) match it too.
    raise torch.OutOfMemoryError(
        f"CUDA out of memory. Tried to allocate memory for a batch of {batch_len} rows (injected: {INJECT_ENV}={limit})"
    )
