"""Reports what the bounded fuzz runs tried, at the end of the pytest session."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    runs = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            properties = dict(getattr(report, "user_properties", ()))
            if getattr(report, "when", None) == "call" and "inputs_tried" in properties:
                runs.append((properties["fuzz_target"], properties["inputs_tried"], properties["fuzz_seconds"]))
    if runs:
        terminalreporter.section("fuzz_codecs")
        for target, tried, seconds in runs:
            terminalreporter.write_line(f"{target:>12}: {tried:>9,} inputs in {seconds} s")
        terminalreporter.write_line(f"{'total':>12}: {sum(run[1] for run in runs):>9,} inputs")
