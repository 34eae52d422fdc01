"""pantheon/allocator.py: with glibc's thresholds set, a message-sized buffer freed and allocated
again reuses the same pages instead of faulting fresh ones in (each case in a fresh interpreter,
as the setting is process-wide and irreversible)."""

from __future__ import annotations

import platform

import pytest

from helpers.process import run_python

_CHURN = """
import resource
from pantheon.allocator import keep_freed_memory
tuned = {tune} and keep_freed_memory()
keep = [bytes(100) for _ in range(1000)]  # something on the heap below the buffers
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):  # three blocks in flight, then all freed, as a peer relaying blocks does
    buffers = [bytearray(1_000_000) for _ in range(3)]
    for buffer in buffers:
        buffer[::4096] = bytes(len(range(0, 1_000_000, 4096)))  # touch every page
    del buffers, buffer
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_freed_megabyte_buffers_are_reused_not_faulted_in_again() -> None:
    tuned, tuned_faults = run_python(_CHURN.format(tune=True)).split()
    default, default_faults = run_python(_CHURN.format(tune=False)).split()
    assert (tuned, default) == ("True", "False")
    # 50 rounds of 3 x 245 pages: glibc's defaults fault most of them in each round; tuned, the first.
    assert int(default_faults) > 50 * 500
    assert int(tuned_faults) < 2 * 3 * 245
