"""glibc's allocator, the one place this project talks to it (through ``ctypes``; nothing where there is no glibc).

Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``), which
also switches glibc's dynamic mmap threshold off: every activation tensor is then a fresh mmap whose pages the
kernel zeroes again, and training ran 2.7 times slower (2 cores). Workers the project starts get Dask's own knob
instead (``explorer.engine.client.WORKER_ENVIRON``); ``keep_freed_memory`` is the fallback for workers started by
hand. ``release_freed_memory`` is the opposite need: a web server whose threads keep freed heaps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

TRIM_ENV = "MALLOC_TRIM_THRESHOLD_"  # what Dask's nanny sets
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its dynamic threshold (64-bit): tensors come from the heap
TRIM_THRESHOLD = 256 << 20  # freed memory the heap keeps for the next step before handing it back


@functools.cache
def libc():
    """glibc, or None (macOS, musl)."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        lib.mallopt, lib.malloc_trim  # noqa: B018 - glibc's own functions, or AttributeError
    except (OSError, AttributeError):
        return None
    return lib


def keep_freed_memory() -> bool:
    """Let this process keep and reuse freed memory up to glibc's own thresholds, as a plain Python process does
    (``mallopt``, at run time: for workers whose environment Dask's nanny set). False where there is no glibc."""
    lib = libc()
    if lib is None:
        return False
    return bool(lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(lib.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release_freed_memory() -> bool:
    """Hand the memory freed in every heap of this process back to the system (``malloc_trim(0)``)."""
    lib = libc()
    if lib is None:
        return False
    lib.malloc_trim(0)
    return True
