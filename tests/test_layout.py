"""tests/ keeps its shape: nothing imports a test module, and a helper of tests/helpers/ is written
nowhere else under tests/."""

from __future__ import annotations

import ast
import os
from pathlib import Path

TESTS = Path(__file__).parent
HELPERS = TESTS / "helpers"


def _sources() -> dict[Path, ast.Module]:
    """Every Python file under tests/ (bcoin's npm install left out), parsed."""
    found = {}
    for folder, subfolders, files in os.walk(TESTS):
        subfolders[:] = [name for name in subfolders if name != "node_modules"]
        for name in files:
            if name.endswith(".py"):
                path = Path(folder, name)
                found[path] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def _imported_modules(tree: ast.Module) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _defined(tree: ast.Module) -> set[str]:
    """The module's own top-level functions and classes."""
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def test_nothing_imports_a_test_module() -> None:
    """Test modules, conftest.py files and helpers share through tests/helpers/ only (Bitcoin
    Core's `test_framework` package, from ../shared, is another project's library, not ours)."""
    offenders = {str(path.relative_to(TESTS)): sorted(module for module in _imported_modules(tree)
                                                      if module.split(".")[0] != "test_framework"
                                                      and any(part.startswith("test_") for part in module.split(".")))
                 for path, tree in _sources().items()}
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_each_helper_is_written_once() -> None:
    """A function or class of tests/helpers/ is defined in no other file under tests/ (fixtures
    live in conftest.py files and are never imported)."""
    sources = _sources()
    helpers = {path: _defined(tree) for path, tree in sources.items() if path.parent == HELPERS}
    written_twice = {}
    for path, tree in sources.items():
        elsewhere = set().union(*(names for helper, names in helpers.items() if helper != path))
        if again := sorted(elsewhere & _defined(tree)):
            written_twice[str(path.relative_to(TESTS))] = again
    assert written_twice == {}
