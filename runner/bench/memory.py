"""Peak memory of one measured point: reset before it, read after it.

On CPU the peak is the process's peak RSS. Linux lets a process reset its own high-water mark
(writing 5 to /proc/self/clear_refs resets VmHWM and getrusage's ru_maxrss), which matters because
Hydra's basic launcher runs every sweep point in the same process: without the reset, each point
would report the largest point so far. On CUDA the allocator's own peak counters are used.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_memory() -> bool:
    """Start a new peak-memory window; True when the RSS high-water mark could be reset."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:  # not Linux, or /proc not writable: RSS peak stays process-wide
        return False


def peak_memory() -> dict:
    """{"peak_rss_mb", and on CUDA "cuda_max_allocated_mb", "cuda_max_reserved_mb"} since the last reset."""
    memory = {"peak_rss_mb": round(_peak_rss_kb() / 1024, 1)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        memory["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        memory["cuda_max_reserved_mb"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    return memory


def _peak_rss_kb() -> int:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes, Linux kilobytes
