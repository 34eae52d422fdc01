"""Runs tests/fuzz/fuzz_frame.py (the FrameDecoder differential fuzzer) for a bounded time.

With atheris it runs as libFuzzer would from the command line, in a subprocess (libFuzzer ends
its process), for PANTHEON_FUZZ_SECONDS (default 10; the CI budget for all fuzzers is 60 s),
starting from a fresh corpus in a temporary directory. Without atheris (a platform with no
wheel) the harness's random driver runs the same checks in-process, seeded. Either way the
number of inputs tried is reported in the `fuzz` section of the terminal summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pantheon

HARNESS = Path(__file__).with_name("fuzz_frame.py")
SECONDS = float(os.environ.get("PANTHEON_FUZZ_SECONDS", "10"))


def _has_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _harness():
    sys.path.insert(0, str(HARNESS.parent))
    try:
        import fuzz_frame
    finally:
        sys.path.remove(str(HARNESS.parent))
    return fuzz_frame


def test_random_driver(fuzz_report) -> None:
    """The harness's checks in-process on a fixed set of seeded inputs (quick, deterministic)."""
    started = time.monotonic()
    tried = _harness().random_campaign(60, seed=1, max_inputs=2000)
    assert tried == 2000
    fuzz_report("fuzz_frame (seeded)", tried, time.monotonic() - started, "random driver, seed 1")


def test_fuzz_frame_decoder(tmp_path: Path, fuzz_report) -> None:
    started = time.monotonic()
    if not _has_atheris():
        tried = _harness().random_campaign(SECONDS, seed=20240601)
        fuzz_report("fuzz_frame", tried, time.monotonic() - started, "random driver, atheris not installed")
        return
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = dict(os.environ)
    package_parent = str(Path(pantheon.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [
            sys.executable, str(HARNESS),
            f"-max_total_time={max(1, round(SECONDS))}",
            "-timeout=20", "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}{os.sep}",
            str(corpus),
        ],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=SECONDS + 120, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    runs = re.search(r"^Done (\d+) runs in (\d+) second", output, re.MULTILINE)
    assert runs, output[-3000:]
    seed = re.search(r"Seed: (\d+)", output)
    fuzz_report(
        "fuzz_frame", int(runs[1]), time.monotonic() - started,
        f"atheris/libFuzzer, -seed={seed[1] if seed else '?'}, {len(list(corpus.iterdir()))} corpus entries",
    )
