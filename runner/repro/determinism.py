"""Seeds and deterministic algorithms: what makes two runs of one config give the same bytes.

`seed` seeds python, numpy and torch (CPU and every CUDA device) before the model is built, so
tiny model weights, dropout-free inference and sampled generation repeat. `deterministic=true`
also makes torch refuse algorithms that are not reproducible run to run (some CUDA kernels pick
their reduction order at run time); torch is imported lazily so config errors stay fast.
"""

from __future__ import annotations

import os
import random
import sys

# cuBLAS needs a fixed workspace to be deterministic (PyTorch "Reproducibility" notes); it reads
# the variable when its handle is created, so it is set before the first matmul.
CUBLAS_WORKSPACE = ":4096:8"


def seed_all(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    try:
        from transformers import set_seed  # also seeds the other accelerator backends it knows
    except ImportError:
        return
    set_seed(seed)


def configure(deterministic: bool) -> None:
    """Turn deterministic algorithms on or off for this process (a multirun may run both in one)."""
    if not deterministic:
        torch = sys.modules.get("torch")  # not imported yet: its defaults are already off
        if torch is not None:
            torch.use_deterministic_algorithms(False)
            torch.backends.cudnn.deterministic = False
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    import torch

    # Strict, not warn_only: a user who asked for determinism learns which op cannot give it
    # (that row fails with torch's message naming the op) instead of getting silently different bytes.
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
