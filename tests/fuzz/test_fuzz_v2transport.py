"""Runs tests/fuzz/fuzz_v2transport.py (BIP324's transport fed what a peer could send) for a
bounded time: about 5 s of the CI fuzz budget (see conftest.py), libFuzzer in a subprocess
from a fresh corpus, and the harness's seeded random driver in-process on every platform."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest
from helpers.fuzzing import load_harness, random_campaign

HARNESS = Path(__file__).with_name("fuzz_v2transport.py")


def test_random_driver(fuzz_report) -> None:
    """The harness's checks in-process on a fixed set of seeded inputs (quick, deterministic)."""
    started = time.monotonic()
    tried = random_campaign(load_harness(HARNESS).test_one_input, 60, seed=1, max_inputs=1500)
    assert tried == 1500
    fuzz_report("fuzz_v2transport (seeded)", tried, time.monotonic() - started, "random driver, seed 1")


@pytest.mark.compiled  # run once, in CI's accelerated job, as every campaign (the transport is pure Python)
def test_fuzz_v2transport(fuzz_campaign: Callable[..., int]) -> None:
    fuzz_campaign("fuzz_v2transport", HARNESS, "-max_len=8192", seconds=4, min_inputs=1_000)
