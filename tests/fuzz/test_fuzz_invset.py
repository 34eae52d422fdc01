"""Runs tests/fuzz/fuzz_invset.py for a bounded time against the twin under test.

The `cy` param fuzzes the compiled and pure twins side by side (they must agree), the `py` param
the pure twin alone; both against the reference model and the spec. Each run gets about
FUZZ_SECONDS (the suite's fuzz budget is 60 s); the harness runs in a subprocess because
libFuzzer ends the process it runs in. With atheris installed the search is coverage-guided,
otherwise random. The number of inputs tried is printed and recorded as a test property.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pantheon

HARNESS = Path(__file__).with_name("fuzz_invset.py")
FUZZ_SECONDS = 3
TWINS = {"cy": "cy,py", "py": "py"}


def test_fuzz_invset(wire_impl, tmp_path, record_property):
    env = dict(os.environ)
    package_parent = str(Path(pantheon.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    command = [sys.executable, str(HARNESS), f"--twins={TWINS[wire_impl.name]}"]
    if importlib.util.find_spec("atheris") is None:
        command += ["--random", f"--seconds={FUZZ_SECONDS}"]
    else:
        # -artifact_prefix keeps a crashing input out of the working tree (its path is printed).
        command += [f"-max_total_time={FUZZ_SECONDS}", "-seed=1", f"-artifact_prefix={tmp_path}/", "-timeout=10"]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, timeout=20 * FUZZ_SECONDS
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6_000:]
    found = re.search(r"^Done (\d+) runs|^fuzz_invset: (\d+) inputs", output, re.MULTILINE)
    assert found, output[-2_000:]
    inputs = int(found.group(1) or found.group(2))
    record_property("fuzz_inputs", inputs)
    print(f"fuzz_invset[{wire_impl.name}]: {inputs} inputs in ~{FUZZ_SECONDS} s")
    assert inputs >= 200
