"""Python's cyclic garbage collector kept off the objects that exist before the rows start.

Once torch, transformers and a model are loaded, the heap holds millions of objects, and a full
(generation 2) collection traverses all of them: ~0.2 s each on this 2-core machine. The row loop
allocates enough short-lived containers (rows, outputs, JSON) to trigger one now and then (measured:
one full collection in two 300-row runs of MiniLM at batch 1, 0.215 s of 6.6 s, where raw
`pipeline()` over the same rows triggered none). `gc.freeze()` moves what exists into the permanent
generation, which collections skip; the loop's own garbage is still collected, and `gc.unfreeze()`
at the end hands everything back, so a model freed later (a sweep switching models) is collected as
before. A process that froze its heap itself (a pre-forking server) is left as it is."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def frozen_heap() -> Iterator[None]:
    if gc.get_freeze_count():  # someone else's freeze: unfreezing would undo theirs
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
