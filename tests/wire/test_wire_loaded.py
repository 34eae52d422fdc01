"""Guards for the selector: the compiled twin really loads, the twins share one set of public
names with a codec pair for every command, and `pantheon.wire` and `pantheon.net` stay free of
construct (the hot path never calls the spec)."""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest

from helpers.process import run_python
import pantheon
import pantheon.wire
from pantheon import _wire_py, limits

SWITCHED_OFF = os.environ.get("PANTHEON_NO_EXTENSIONS", "") not in ("", "0")


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


def test_every_command_has_codecs() -> None:
    expected = {f"{direction}_{command}" for command in limits.COMMANDS for direction in ("decode", "encode")}
    assert expected <= set(_wire_py.__all__)


@pytest.mark.parametrize("module", ["pantheon.wire", "pantheon.net.peer", "pantheon.net.gossip"])
def test_hot_path_does_not_import_construct(module: str) -> None:
    loaded = run_python(
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'construct' or m == 'pantheon.spec'))"
    )
    assert loaded == "[]"


def test_switch_forces_pure_twin() -> None:
    assert run_python(
        "import pantheon.wire; print(pantheon.wire.IMPLEMENTATION)", PANTHEON_NO_EXTENSIONS="1"
    ) == "python"


@pytest.mark.compiled
@pytest.mark.parametrize("value", [None, "", "0"], ids=["unset", "empty", "zero"])
def test_switch_off_values_keep_compiled_twin(value: str | None) -> None:
    assert run_python(
        "import pantheon.wire; print(pantheon.wire.IMPLEMENTATION)", PANTHEON_NO_EXTENSIONS=value
    ) == "cython"
