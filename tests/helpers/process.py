"""`run_python`: code in a fresh interpreter that imports the same `pantheon` as this test run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pantheon


def run_python(code: str, **env_overrides: str | None) -> str:
    """Run `code` in a fresh interpreter that imports the same `pantheon` as this test run (an
    override of None removes that variable); assert it succeeds, return what it printed."""
    env = dict(os.environ)
    package_parent = str(Path(pantheon.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
