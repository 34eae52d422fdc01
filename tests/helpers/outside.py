"""Outside programs the tests drive (bcoin, BDK, Chromium, dnsmasq, ElectrumX, Electrum): where one
is missing a developer's laptop skips the test with the reason, but CI (CI=true), whose `.ci/run`
installs them all, fails it, so a missing program is never a silent pass."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the calling test with `reason`, or fail it under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)
