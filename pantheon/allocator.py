"""glibc's allocator, told to keep the memory a node frees and reuses at once.

Why: a node allocates and frees message-sized buffers (1 MB blocks are typical, 4 MB the wire
limit) many times a second. With glibc's defaults a freed buffer at the top of the heap is handed
back to the kernel (the trim threshold follows the mmap threshold, which glibc raises only to the
size of the last large block freed), so the next buffer faults all its pages in again. Over
BIP324, whose cipher makes two more 1 MB temporaries per block than v1, that was ~900 minor page
faults per MB relayed and a quarter of v1's block throughput (`python -m benchmarks v2`); with
these settings both are gone. The price: up to `TRIM_THRESHOLD` of freed heap stays resident.

`pantheon-gevent` calls `keep_freed_memory()` at start; an application embedding the node may call
it too (it changes the whole process's allocator). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import logging

from pantheon.limits import MAX_MESSAGE_SIZE

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

log = logging.getLogger("pantheon.allocator")

# mallopt(3) parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Buffers up to two of the largest default messages come from the heap (and are reused) rather
#: than from mmap (a fresh mapping, faulted in, each time).
MMAP_THRESHOLD = 2 * MAX_MESSAGE_SIZE
#: Free memory at the heap's top is returned to the kernel only beyond this.
TRIM_THRESHOLD = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (which also stops glibc moving them); False where the
    C library has no `mallopt` or refuses the values."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not done:
        log.warning("the C library refused mallopt's thresholds; large buffers are returned to the kernel at free")
    return done
