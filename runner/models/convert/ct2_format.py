"""Read a CTranslate2 `model.bin` (format version 6) into numpy arrays, with numpy alone.

The layout, little-endian: uint32 version, a string (the spec's name, e.g. WhisperSpec), uint32 spec
revision, uint32 variable count; per variable a string (its name), uint8 rank, uint32 per dimension,
uint8 dtype, uint32 byte count, the bytes; then uint32 alias count and (alias, target) string pairs.
A string is a uint16 length counting its trailing NUL, then the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# CTranslate2's DataType enum, in its order.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
SUPPORTED_VERSION = 6


class Ct2FormatError(ValueError):
    pass


@dataclass
class Ct2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """A variable by name, following an alias (the output projection tied to the embeddings)."""
        return self.variables[self.aliases.get(name, name)]


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def unpack(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string(self) -> str:
        length = self.unpack("H")
        text = self.data[self.offset : self.offset + length - 1].decode("utf-8")
        self.offset += length
        return text

    def raw(self, count: int) -> bytes:
        if self.offset + count > len(self.data):
            raise Ct2FormatError(f"truncated file: {count} bytes wanted at offset {self.offset} of {len(self.data)}")
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk


def spec_name(path: Path) -> str | None:
    """The spec a CTranslate2 file holds (its first few bytes), or None when it is not one."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
        reader = _Reader(head)
        if reader.unpack("I") != SUPPORTED_VERSION:
            return None
        name = reader.string()
        return name if name.isidentifier() else None
    except (OSError, struct.error, UnicodeDecodeError):
        return None


def read_ct2(path: Path) -> Ct2Model:
    reader = _Reader(Path(path).read_bytes())
    try:
        version = reader.unpack("I")
        if version != SUPPORTED_VERSION:
            raise Ct2FormatError(f"{path}: CTranslate2 format version {version}, this reader knows {SUPPORTED_VERSION}")
        model = Ct2Model(reader.string(), reader.unpack("I"))
        for _ in range(reader.unpack("I")):
            name = reader.string()
            rank = reader.unpack("B")
            shape = tuple(reader.unpack("I") for _ in range(rank))
            dtype_code, size = reader.unpack("B"), reader.unpack("I")
            if dtype_code not in _DTYPES:
                raise Ct2FormatError(
                    f"{path}: variable {name} has dtype code {dtype_code}, not one of {sorted(_DTYPES)}"
                )
            array = np.frombuffer(reader.raw(size), dtype=_DTYPES[dtype_code])
            model.variables[name] = array.reshape(shape) if shape else array.reshape(())
        for _ in range(reader.unpack("I")):
            alias = reader.string()
            model.aliases[alias] = reader.string()
    except struct.error as error:
        raise Ct2FormatError(f"{path}: truncated or not a CTranslate2 file ({error})") from error
    return model
