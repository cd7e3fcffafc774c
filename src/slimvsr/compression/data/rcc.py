"""Read files out of a Qt binary resource bundle (``.rcc``), as gcompris-qt-data ships its photos.

The format (Qt's rcc.cpp, versions 1-3): a header ``qres``, version, and the offsets of the tree,
data and names sections (big-endian u32); version 3 adds a flags word. The tree is an array of
nodes: name offset (u32), flags (u16), then for a directory its child count and first child
(u32, u32), for a file its locale (u16, u16) and data offset (u32); versions >= 2 add a u64
modification time. A name is u16 length, u32 hash, UTF-16BE characters. A file's data is a u32
size and the bytes, zlib-compressed with a u32 uncompressed size in front when flag 1 is set, or
zstd-compressed when flag 4 is set.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_COMPRESSED, _DIRECTORY, _ZSTD = 1, 2, 4


class RccError(ValueError):
    """Not a Qt resource bundle this reader understands."""


class Rcc:
    def __init__(self, data: bytes) -> None:
        if data[:4] != b"qres":
            raise RccError("not a Qt resource bundle (no 'qres' magic)")
        self.data = data
        self.version, self.tree, self.payload, self.names = struct.unpack(">IIII", data[4:20])
        if self.version not in (1, 2, 3):
            raise RccError(f"Qt resource format version {self.version} is not supported")
        self.node_size = 14 if self.version == 1 else 22

    @classmethod
    def open(cls, path: Path) -> Rcc:
        return cls(Path(path).read_bytes())

    def _name(self, off: int) -> str:
        p = self.names + off
        (n,) = struct.unpack(">H", self.data[p : p + 2])
        return self.data[p + 6 : p + 6 + 2 * n].decode("utf-16-be")

    def _node(self, i: int) -> tuple[str, int, int, int]:
        p = self.tree + i * self.node_size
        name_off, flags = struct.unpack(">IH", self.data[p : p + 6])
        a, b = struct.unpack(">II", self.data[p + 6 : p + 14])
        return (self._name(name_off) if i else ""), flags, a, b

    def files(self) -> Iterator[tuple[str, int]]:
        """(path inside the bundle, node index) of every file."""
        stack = [(0, "")]
        while stack:
            i, prefix = stack.pop()
            name, flags, a, b = self._node(i)
            path = f"{prefix}/{name}" if name else prefix
            if flags & _DIRECTORY:
                stack.extend((b + k, path) for k in range(a))
            else:
                yield path.lstrip("/"), i

    def read(self, node: int) -> bytes:
        _, flags, _, off = self._node(node)
        p = self.payload + off
        (size,) = struct.unpack(">I", self.data[p : p + 4])
        blob = self.data[p + 4 : p + 4 + size]
        if flags & _COMPRESSED:
            return zlib.decompress(blob[4:])
        if flags & _ZSTD:
            raise RccError("zstd-compressed resources are not supported")
        return blob

    def extract(self, inner: str, dest: Path) -> Path:
        """Write the file at ``inner`` (a path inside the bundle) to ``dest``."""
        for path, node in self.files():
            if path == inner:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(self.read(node))
                return dest
        raise RccError(f"{inner}: not in the bundle")
