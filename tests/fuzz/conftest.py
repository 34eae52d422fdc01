"""Fuzzers run from pytest for a bounded time: each reports how many inputs it tried, shown in
a `fuzz` section of the terminal summary (and as a junit property)."""

from __future__ import annotations

from typing import Callable

import pytest

_RESULTS = pytest.StashKey[list[str]]()


@pytest.fixture
def fuzz_report(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Callable[[str, int, float, str], None]:
    """Record one campaign: fuzzer name, inputs tried, seconds, how it was driven."""

    def report(name: str, inputs: int, seconds: float, driver: str) -> None:
        record_property(f"{name}_inputs", inputs)
        line = f"{name}: {inputs:,} inputs in {seconds:.1f} s ({driver})"
        print(line)
        request.config.stash.setdefault(_RESULTS, []).append(line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_RESULTS, [])
    if lines:
        terminalreporter.section("fuzz")
        for line in lines:
            terminalreporter.write_line(line)
