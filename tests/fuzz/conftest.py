"""Bounded fuzz campaigns from pytest, all run the same way by the `fuzz_campaign` fixture.

Each harness in this folder is a libFuzzer target (atheris) that also runs on its own for longer
campaigns (`python tests/fuzz/fuzz_<area>.py -max_total_time=600`). From pytest a campaign runs
in a subprocess (libFuzzer ends the process it runs in) for the seconds its test asks for; the
CI budget for all campaigns together is 60 s, and PANTHEON_FUZZ_SCALE multiplies every
campaign's time for a longer local run. Campaigns compare the compiled twin with the pure one,
so their tests are marked `compiled` and run once, in CI's accelerated job. Inputs tried are
listed in the `fuzz` section of the terminal summary and recorded as junit properties.
atheris ships wheels for Linux x86-64 only: elsewhere campaigns skip with the reason (under
CI=true they fail, as CI must fuzz).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable

import pytest

import pantheon

SCALE = float(os.environ.get("PANTHEON_FUZZ_SCALE", "1"))
_RESULTS = pytest.StashKey[list[str]]()


def _report(request: pytest.FixtureRequest, record_property: Callable[[str, object], None], name: str, inputs: int, seconds: float, driver: str) -> None:
    record_property(f"{name}_inputs", inputs)
    request.config.stash.setdefault(_RESULTS, []).append(f"{name}: {inputs:,} inputs in {seconds:.1f} s ({driver})")


@pytest.fixture
def fuzz_report(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Callable[[str, int, float, str], None]:
    """Record a campaign run in-process (a harness's seeded random driver)."""
    return lambda name, inputs, seconds, driver: _report(request, record_property, name, inputs, seconds, driver)


@pytest.fixture
def fuzz_campaign(request: pytest.FixtureRequest, record_property: Callable[[str, object], None], tmp_path: Path) -> Callable[..., int]:
    """Run `harness` under libFuzzer for `seconds` from a corpus of `seeds`; assert it found
    nothing and tried at least `min_inputs`; return and report the inputs tried."""

    def run(name: str, harness: Path, *args: str, seconds: float, seeds: Iterable[bytes] = (), min_inputs: int = 200) -> int:
        if importlib.util.find_spec("atheris") is None:
            reason = "atheris (Linux x86-64 wheels only) is not installed"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        corpus = tmp_path / f"corpus-{name}"
        corpus.mkdir()
        for number, seed in enumerate(seeds):
            (corpus / f"seed-{number}").write_bytes(seed)
        budget = max(1, round(seconds * SCALE))
        env = dict(os.environ)
        package_parent = str(Path(pantheon.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
        done = subprocess.run(
            [sys.executable, str(harness), *args, f"-max_total_time={budget}", "-timeout=20",
             "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}{os.sep}", str(corpus)],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=budget + 120, check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-6000:]
        finished = re.search(r"^Done (\d+) runs in (\d+) second", output, re.MULTILINE)
        assert finished, output[-3000:]
        inputs = int(finished[1])
        seed = re.search(r"Seed: (\d+)", output)
        _report(request, record_property, name, inputs, float(finished[2]), f"libFuzzer -seed={seed[1] if seed else '?'}")
        assert inputs >= min_inputs
        return inputs

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_RESULTS, [])
    if lines:
        terminalreporter.section("fuzz")
        for line in lines:
            terminalreporter.write_line(line)
