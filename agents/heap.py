"""The C heap under the worker: how much of it is free, and handing free pages back to the system.

Most of a worker's memory is small Python objects (the window tallies) and RocksDB's buffers, all
allocated with glibc's malloc. RocksDB's background threads (memtable flushes, compactions) each
allocate from their own malloc arena; what they free stays in that arena, so the resident size of
the process can step up at flushes while the memory actually in use does not. `trim_heap` asks
glibc to return free pages to the system (`malloc_trim`); the snapshot service calls it after each
run. `heap_usage` reports in-use and free bytes (`mallinfo2`), which the soak benchmark records.
Where the C library is not glibc (or too old) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import cache


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@dataclass(frozen=True, slots=True)
class HeapUsage:
    in_use: int  # bytes handed out by malloc and not yet freed
    free: int  # bytes free inside malloc's arenas, still counted in the resident size until trimmed


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def trim_heap() -> bool:
    """Return free heap pages to the system; False where that is not available. Blocking (tens of
    milliseconds for a heap of gigabytes), without the GIL: run it in a thread."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def heap_usage() -> HeapUsage | None:
    """Bytes in use and free in malloc's arenas (all of them), or None where unavailable."""
    libc = _libc()
    if libc is None:
        return None
    info = libc.mallinfo2()
    return HeapUsage(in_use=info.uordblks + info.hblkhd, free=info.fordblks)
