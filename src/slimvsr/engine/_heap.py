"""Keep the C heap from growing with the input's length.

A video job allocates and frees the same large buffers (decoded frames, SR frames, encoder
pictures) thousands of times from several threads. glibc serves a freed block above its mmap
threshold from the heap next time and raises that threshold as it goes (up to 32 MiB), so those
buffers end up in per-thread arenas whose freed space fragments instead of returning to the
system: resident memory then creeps up frame after frame. Fixing the threshold at 128 KiB (which
also turns off the dynamic raise) makes every large buffer its own mapping, released on free.
Measured with ``benchmarks/engine_throughput.py`` (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024

_done: bool | None = None


def bound_heap() -> bool:
    """Set glibc's mmap threshold once per process; False where the C library is not glibc."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
            except (OSError, AttributeError):  # musl and others: no mallopt (stays False)
                pass
    return _done
