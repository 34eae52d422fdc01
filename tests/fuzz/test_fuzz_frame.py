"""Runs tests/fuzz/fuzz_frame.py (the FrameDecoder differential fuzzer) for a bounded time.

With atheris it runs as libFuzzer would from the command line, in a subprocess (libFuzzer ends
its process; see conftest.py for the budget), starting from a fresh corpus. The harness's
seeded random driver also runs in-process on a fixed set of inputs, on every platform.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest
from helpers.fuzzing import load_harness, random_campaign

HARNESS = Path(__file__).with_name("fuzz_frame.py")


def test_random_driver(fuzz_report) -> None:
    """The harness's checks in-process on a fixed set of seeded inputs (quick, deterministic)."""
    started = time.monotonic()
    tried = random_campaign(load_harness(HARNESS).test_one_input, 60, seed=1, max_inputs=2000)
    assert tried == 2000
    fuzz_report("fuzz_frame (seeded)", tried, time.monotonic() - started, "random driver, seed 1")


@pytest.mark.compiled
def test_fuzz_frame_decoder(fuzz_campaign: Callable[..., int]) -> None:
    fuzz_campaign("fuzz_frame", HARNESS, seconds=8)
