"""dataset.prefetch: read and decode rows ahead of the model, in a background thread.

Decoding a row's audio (soundfile/PyAV, soxr) or image (Pillow) costs about as much as a tiny
model's forward pass; on the model's thread the two take turns. Here one thread reads the source and
decodes each row's source-fed inputs into `Item.ahead` while the model runs the current batch.
Those libraries release the GIL while they decode, so a thread overlaps them with torch without
pickling decoded arrays across a process boundary (a process would copy each image or waveform back).

What stays the same with it on: rows come out in input order; a row that fails to decode keeps its
error (raised again when its row is prepared, so it fails at its place, once); the queue holds at most
`depth` decoded rows (plus the one being decoded), so memory stays bounded. The thread ends with the
run: at the end of the rows, and when the consumer stops early (benchmark budget, on_error=fail, an
exception, Ctrl-C) through `close()`, which the with-block of `prefetched` guarantees.
"""

from __future__ import annotations

import logging
import queue
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from runner.engine.pipeline_step import Failed
from runner.tasks import AUDIO, DATA, IMAGE

if TYPE_CHECKING:
    from runner.engine.rows import Item
    from runner.engine.step_run import StepRun

log = logging.getLogger(__name__)

# dataset.prefetch=auto: this many batches of rows decoded ahead when a step decodes audio or images
# from the source. The loop takes a whole chunk at once, so one batch ahead is what overlaps decoding
# with the forward pass; the second absorbs rows that decode slower than others (a large photo)...
AUTO_BATCHES = 2
# ...but never more rows than this (a bucketing window can be hundreds of rows of decoded images).
AUTO_MAX_ROWS = 64
_POLL_SECONDS = 0.5  # how often a consumer waiting for a row looks whether the producer is still there
_JOIN_SECONDS = 10.0  # a source stuck in a read this long is left to its daemon thread, with a warning


def prefetch_depth(setting: Any, runs: list[StepRun], batch_rows: int) -> int:
    """Rows to decode ahead: the setting itself when a number; for `auto`, a couple of batches when a
    step decodes audio or images from the source (text needs no help: it is decoded in microseconds)."""
    if setting != "auto":
        return int(setting or 0)
    media = any(
        run.spec.inputs[wanted] in (AUDIO, IMAGE)
        for run in runs
        for wanted, (producer, _) in run.inputs.items()
        if producer == "source"
    )
    return min(AUTO_BATCHES * batch_rows, AUTO_MAX_ROWS) if media else 0


def decode_ahead(runs: list[StepRun], item: Item) -> None:
    """Decode the item's source-fed inputs for each step into item.ahead[step][input] (a value, or Failed)."""
    if item.row.error:
        return  # prepare fails it with the source's error, as without prefetch
    for run in runs:
        decoded: dict[str, Any] = {}
        for wanted, (producer, name) in run.inputs.items():
            modality = run.spec.inputs.get(wanted)
            value = item.row.fields.get(name)
            if producer != "source" or modality in (None, DATA) or value is None:
                continue
            try:
                decoded[wanted] = run.step.decode(modality, value)
            except Exception as error:  # this row's own failure: raised again when it is prepared
                decoded[wanted] = Failed(error)
                break
        if decoded:
            item.ahead[run.name] = decoded


@contextmanager
def prefetched(items: Iterator[Item], decode: Callable[[Item], None], depth: int) -> Iterator[Iterator[Item]]:
    """`items`, each passed through `decode`: in a background thread `depth` rows ahead, or (depth 0)
    as they are. The thread is stopped and joined when the with-block ends, however it ends."""
    if depth <= 0:
        yield (_decoded(item, decode) for item in items)
        return
    prefetcher = _Prefetcher(items, decode, depth)
    try:
        yield iter(prefetcher)
    finally:
        prefetcher.close()


def _decoded(item: Item, decode: Callable[[Item], None]) -> Item:
    decode(item)
    return item


_END = object()


class _Raised:
    """What the producer raised (a source that breaks mid-way): raised in the consumer at that place."""

    def __init__(self, error: BaseException):
        self.error = error


class _Prefetcher:
    def __init__(self, items: Iterator[Item], decode: Callable[[Item], None], depth: int):
        self.items, self.decode = items, decode
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="runner-prefetch", daemon=True)
        self.thread.start()

    def __iter__(self) -> Iterator[Item]:
        while True:
            entry = self._get()
            if entry is _END:
                return
            if isinstance(entry, _Raised):
                raise entry.error
            yield entry

    def _get(self):
        while True:
            try:
                return self.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self.thread.is_alive() and self.queue.empty():
                    return _END  # cannot happen unless the thread was killed: never wait forever

    def _produce(self) -> None:
        try:
            for item in self.items:
                if self.stop.is_set():
                    return
                self.decode(item)
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer, which raises it where the rows stopped
            self._put(_Raised(error))

    def _put(self, entry) -> bool:
        """Queue `entry`, waiting for room (close() empties the queue after setting `stop`, so a blocked
        put always ends); False when told to stop."""
        if self.stop.is_set():
            return False
        self.queue.put(entry)
        return not self.stop.is_set()

    def close(self) -> None:
        """Stop the producer (it may be waiting for room, or decoding a row) and wait for it to end."""
        self.stop.set()
        while True:  # free the decoded rows nobody will read, and room for a blocked put
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.thread.join(_JOIN_SECONDS)
        if self.thread.is_alive():
            log.warning(
                "the prefetch thread is still reading the source after %.0f s; leaving it behind", _JOIN_SECONDS
            )
