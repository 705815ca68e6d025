"""What a run read: a fingerprint of its source, recorded in run.json (`source`) so that `resume=` can tell
when the input changed between the stop and the resume (rows inserted at the top would otherwise be done
twice, and as many others never).

A file's fingerprint is its size, its mtime and the sha256 of sampled blocks (the whole file up to
SAMPLED_BYTES; else BLOCKS blocks spread evenly, the first and the last among them), so a 10 GB file
costs about 1 MiB of reading. A folder's is its file count, total size and the sha256 of each file's
relative path, size and mtime. A source read as rows rather than bytes (hf, python, inline, sample) gets
the fingerprint of its row stream: its row count where known and the sha256 of its first SAMPLE_ROWS
rows as the runner reads them (each value in a canonical form: JSON, or dtype, shape and a hash of the
bytes for an array or an image); an hf dataset instead its row count and datasets' own fingerprint of
its data (no row read twice, so a shard still reads only its own; a streaming one gets none), so rows inserted, removed or edited among the first ones, or a count
that changed, are seen without reading a large dataset twice; an edit further down at the same count is
not. A one-pass iterator (runner.run(inputs=<generator>)) cannot be read twice: it gets none, and resume
cannot check it. Two fingerprints differ when the size, the sampled hash or (for a folder) the listing
differ; an mtime or a path alone (a file touched, copied, or read from another directory) is said as a
warning.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

BLOCK = 64 * 1024
BLOCKS = 16
SAMPLED_BYTES = BLOCK * BLOCKS


SAMPLE_ROWS = 64


def fingerprint(source) -> dict | None:
    """The source's fingerprint (a plain dict for run.json), or None for sources without one."""
    path = getattr(source, "path", None)
    if path is None:
        return rows_fingerprint(source)
    path = Path(path)
    if path.is_file():
        return file_fingerprint(path)
    if path.is_dir() and hasattr(source, "_files"):
        return folder_fingerprint(path, source._files())
    return None


def rows_fingerprint(source) -> dict | None:
    """The row stream's: its size where known and the sha256 of its first SAMPLE_ROWS records; or what
    the source says identifies it without reading rows (an hf dataset: datasets' own fingerprint)."""
    import itertools

    own = getattr(source, "stream_identity", None)
    if own is not None:
        return own()
    if not source.rereadable():
        return None
    digest, sampled = hashlib.sha256(), 0
    for position, fields in itertools.islice(source.records(), SAMPLE_ROWS):
        digest.update(json.dumps([position, fields], sort_keys=True, default=_canonical).encode() + b"\n")
        sampled += 1
    return {
        "rows_of": source.describe(),
        "size": source.size(),
        "sha256_first_rows": digest.hexdigest(),
        "sampled_rows": sampled,
    }


def _canonical(value):
    """A value JSON cannot hold, as something that changes when it does: an array's or an image's dtype
    (mode), shape and the hash of its bytes; bytes by their hash; anything else by its type (stable
    across processes, unlike its repr)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if hasattr(value, "tobytes") and hasattr(value, "shape"):  # numpy arrays, torch tensors
        return {"dtype": str(value.dtype), "shape": list(value.shape), "sha256": _sha(value.tobytes())}
    if hasattr(value, "tobytes") and hasattr(value, "mode") and hasattr(value, "size"):  # a PIL image
        return {"mode": value.mode, "size": list(value.size), "sha256": _sha(value.tobytes())}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": _sha(bytes(value))}
    return {"type": type(value).__name__}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_fingerprint(path: Path) -> dict:
    info = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        if info.st_size <= SAMPLED_BYTES:
            digest.update(f.read())
            sampled = "whole file"
        else:
            for number in range(BLOCKS):  # the first block at 0, the last at size - BLOCK: both ends read
                f.seek(number * (info.st_size - BLOCK) // (BLOCKS - 1))
                digest.update(f.read(BLOCK))
            sampled = f"{BLOCKS} blocks of {BLOCK} bytes"
    return {
        "path": str(path.resolve()),
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
        "sha256_sampled": digest.hexdigest(),
        "sampled": sampled,
    }


def folder_fingerprint(folder: Path, files: list[Path]) -> dict:
    digest = hashlib.sha256()
    total = 0
    for path in files:
        info = path.stat()
        total += info.st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return {"path": str(folder.resolve()), "files": len(files), "size": total, "sha256_listing": digest.hexdigest()}


def changes(before: dict, now: dict) -> list[str]:
    """What differs between two fingerprints that changes which rows the source gives, in words."""
    said = []
    rows = "rows_of" in before or "rows_of" in now
    for key in ("size", "files", "sha256_sampled", "sha256_listing", "sha256_first_rows", "datasets_fingerprint"):
        if key in before or key in now:
            if before.get(key) != now.get(key):
                said.append(
                    f"{'rows' if rows and key == 'size' else key} {before.get(key)} then, {now.get(key)} now"
                    if key in ("size", "files")
                    else "its content differs"
                    if key == "sha256_sampled"
                    else "its files differ"
                    if key == "sha256_listing"
                    else f"its first {now.get('sampled_rows')} rows differ"
                    if key == "sha256_first_rows"
                    else "its datasets fingerprint differs"
                )
    return said


def named(fingerprint: dict) -> str:
    """The source as a message names it: its path, or what its rows are."""
    return fingerprint.get("path") or fingerprint.get("rows_of") or "the source"


def touched_only(before: dict, now: dict) -> bool:
    return not changes(before, now) and before.get("mtime_ns") != now.get("mtime_ns")


__all__ = ["fingerprint", "changes", "touched_only", "named"]
