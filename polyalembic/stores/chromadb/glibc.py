"""glibc's malloc during a Chroma copy: large buffers in their own mappings, returned when freed."""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # mallopt() parameter, from glibc's <malloc.h>
MMAP_THRESHOLD = 1 << 20  # bytes: every allocation from 1 MiB up is mmap()ed, and munmap()ed when freed

_pinned = False


def pin_mmap_threshold() -> bool:
    """Keep glibc from serving a copy's large buffers from its heap, where they linger; True if set.

    A copy page's JSON bodies (tens of MB, as bytes and as text, in and out) are allocated and
    freed once per page. glibc serves allocations above its mmap threshold (128 KiB) with their
    own mappings, but raises the threshold to the size of every such block freed (up to 32 MiB):
    from the second page on, the bodies come from the heap, which cannot give memory back below a
    block still in use, so a copy's peak RSS rose after its first pages (figures in
    bench/README.md, "Chroma"). A fixed threshold (``mallopt``)
    ends the raising. It is process-wide and stays (glibc has no way back to the moving
    threshold): allocations of 1 MiB and more cost an mmap each, which nothing a migration
    does after a copy notices. Other C libraries (musl, macOS) are left alone.
    """
    global _pinned
    if _pinned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # not glibc: no such name, or no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _pinned = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return _pinned
