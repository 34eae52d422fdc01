"""Guards for the selector: the compiled twin really loads, the twins share one set of public
names, and `pantheon.wire` stays free of construct (the hot path never calls the spec)."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pantheon
import pantheon.wire
from pantheon import _wire_py

SWITCHED_OFF = os.environ.get("PANTHEON_NO_EXTENSIONS", "") not in ("", "0")


def _run_python(code: str, **env_overrides: str | None) -> str:
    """Run `code` in a fresh interpreter that imports the same `pantheon` as this test run."""
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


def _stub_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.skipif(SWITCHED_OFF, reason="PANTHEON_NO_EXTENSIONS is set: the pure twin is expected")
def test_compiled_twin_loaded() -> None:
    assert pantheon.wire.IMPLEMENTATION == "cython"


def test_one_backend() -> None:
    backend = {"cython": "pantheon._wire", "python": "pantheon._wire_py"}[pantheon.wire.IMPLEMENTATION]
    module = importlib.import_module(backend)
    assert pantheon.wire.__all__ == ["IMPLEMENTATION", *_wire_py.__all__]
    for name in _wire_py.__all__:
        assert getattr(pantheon.wire, name) is getattr(module, name), name


@pytest.mark.compiled
def test_public_names_match() -> None:
    compiled = importlib.import_module("pantheon._wire")
    contract = set(_wire_py.__all__)
    assert len(contract) == len(_wire_py.__all__), "duplicate names in _wire_py.__all__"
    assert {name for name in dir(compiled) if not name.startswith("_")} == contract
    assert _stub_names(Path(pantheon.__file__).parent / "_wire.pyi") == contract
    assert all(callable(getattr(_wire_py, name)) for name in contract)


def test_wire_does_not_import_construct() -> None:
    loaded = _run_python(
        "import sys, pantheon.wire; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'construct'))"
    )
    assert loaded == "[]"


def test_switch_forces_pure_twin() -> None:
    assert _run_python(
        "import pantheon.wire; print(pantheon.wire.IMPLEMENTATION)", PANTHEON_NO_EXTENSIONS="1"
    ) == "python"


@pytest.mark.compiled
@pytest.mark.parametrize("value", [None, "", "0"], ids=["unset", "empty", "zero"])
def test_switch_off_values_keep_compiled_twin(value: str | None) -> None:
    assert _run_python(
        "import pantheon.wire; print(pantheon.wire.IMPLEMENTATION)", PANTHEON_NO_EXTENSIONS=value
    ) == "cython"
