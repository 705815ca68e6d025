"""What a run read: a fingerprint of its source, recorded in run.json (`source`) so that `resume=` can tell
when the input changed between the stop and the resume (rows inserted at the top would otherwise be done
twice, and as many others never).

A file's fingerprint is its size, its mtime and the sha256 of sampled blocks (the whole file up to
SAMPLED_BYTES; else BLOCKS blocks spread evenly, the first and the last among them), so a 10 GB file
costs about 1 MiB of reading. A folder's is its file count, total size and the sha256 of each file's
relative path, size and mtime. Other sources (hf, python, inline, sample) get none: resume cannot check
them. Two fingerprints differ when the size, the sampled hash or (for a folder) the listing differ; an
mtime or a path alone (a file touched, copied, or read from another directory) is said as a warning.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 64 * 1024
BLOCKS = 16
SAMPLED_BYTES = BLOCK * BLOCKS


def fingerprint(source) -> dict | None:
    """The source's fingerprint (a plain dict for run.json), or None for sources without one."""
    path = getattr(source, "path", None)
    if path is None:
        return None
    path = Path(path)
    if path.is_file():
        return file_fingerprint(path)
    if path.is_dir() and hasattr(source, "_files"):
        return folder_fingerprint(path, source._files())
    return None


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
    for key in ("size", "files", "sha256_sampled", "sha256_listing"):
        if key in before or key in now:
            if before.get(key) != now.get(key):
                said.append(
                    f"{key} {before.get(key)} then, {now.get(key)} now"
                    if key in ("size", "files")
                    else "its content differs"
                    if key == "sha256_sampled"
                    else "its files differ"
                )
    return said


def touched_only(before: dict, now: dict) -> bool:
    return not changes(before, now) and before.get("mtime_ns") != now.get("mtime_ns")


__all__ = ["fingerprint", "changes", "touched_only"]
