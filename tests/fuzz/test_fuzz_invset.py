"""Runs tests/fuzz/fuzz_invset.py: the compiled and pure InventorySet side by side (they must
agree), against the reference model and the spec's inv grammar."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

HARNESS = Path(__file__).with_name("fuzz_invset.py")


@pytest.mark.compiled
def test_fuzz_invset(fuzz_campaign: Callable[..., int]) -> None:
    fuzz_campaign("fuzz_invset", HARNESS, "--twins=cy,py", "-seed=1", seconds=4)
