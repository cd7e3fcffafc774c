"""The C heap policy of a video job: buffers reused with their pages resident, and resident
memory that does not creep with the input's length.

A video job allocates and frees the same large buffers (decoded frames, every layer's output, SR
frames, encoder pictures) thousands of times from several threads. Two glibc behaviours pull in
opposite directions:

* served from fresh mappings (glibc's mmap threshold), a freed buffer goes back to the system at
  once and its pages fault in, zeroed by the kernel, on the next use: resident memory follows
  what is alive, but a third of the CPU time goes to the kernel and the job runs at half speed;
* served from the heap, a freed buffer is reused with its pages resident, but the holes that
  buffers of many sizes and lifetimes leave fragment it: resident memory keeps the most any
  moment ever left behind and steps up over a long input.

Policies (``SLIMVSR_HEAP``), measured side by side by ``benchmarks/heap_policy.py``
(docs/performance.md):

``trim`` (default)
    Everything from the heap (no mappings: even the HR-sized buffers above glibc's 32 MiB
    threshold cap are reused), one arena per two cores so the job's threads share free lists,
    and ``malloc_trim`` once per chunk (``release_heap``): the pages are re-faulted once per
    chunk, not once per layer.
``heap``
    The same without the trim.
``mmap``
    A fixed 128 KiB threshold, every large buffer its own mapping (the policy before).
``glibc``
    glibc's own defaults, untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from ..errors import ConfigError

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
M_ARENA_MAX = -8

POLICIES = ("trim", "heap", "mmap", "glibc")
_TRIMMED = ("trim",)  # policies whose freed memory is handed back once per chunk
DEFAULT = "trim"

_done: str | None = None
_libc: ctypes.CDLL | None = None


def _settings(policy: str) -> list[tuple[int, int]]:
    if policy == "mmap":
        return [(M_MMAP_THRESHOLD, 128 * 1024)]
    if policy in ("heap", "trim"):
        return [
            (M_MMAP_MAX, 0),  # no mappings at all
            (M_TRIM_THRESHOLD, 256 * 1024 * 1024),  # no trimming on free (trim: once per chunk)
            (M_ARENA_MAX, max(1, (os.cpu_count() or 2) // 2)),
        ]
    return []


def heap_policy() -> str:
    """The policy this process uses: ``SLIMVSR_HEAP`` or the default; a typo is an error."""
    policy = os.environ.get("SLIMVSR_HEAP", DEFAULT)
    if policy not in POLICIES:
        raise ConfigError(f"SLIMVSR_HEAP={policy!r} is not a heap policy; use one of {', '.join(POLICIES)}")
    return policy


def bound_heap() -> str | None:
    """Apply the heap policy once per process; the policy applied, or None where the C library
    is not glibc (musl and others have no mallopt) or a setting was refused."""
    global _done, _libc
    if _done is None:
        policy = heap_policy()
        _done = ""
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if all(libc.mallopt(k, v) for k, v in _settings(policy)):
                    _done, _libc = policy, libc
            except (OSError, AttributeError):
                pass
    return _done or None


def release_heap() -> None:
    """Between chunks: hand the heap's free pages back to the system (``malloc_trim``) under the
    policies that do, so resident memory is what the next chunk uses and not the most any chunk
    ever left fragmented."""
    if _libc is not None and _done in _TRIMMED:
        _libc.malloc_trim(0)
