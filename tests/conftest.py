"""Shared fixtures: the two wire twins, the vectors directory, a LevelDB store, a clock, and bcoin.

Every wire test takes `wire_impl` and so runs against both twins: `cy` (the compiled
`pantheon._wire`, marked `compiled`) and `py` (`pantheon._wire_py`). The `cy` param imports the
compiled module by name, so a missing build is an error, never a silent second pure run.
`--no-compiled` deselects everything marked `compiled` (CI's PANTHEON_NO_EXTENSIONS=1 run).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import pantheon.wire
from helpers.bcoin import BcoinNode
from helpers.clock import Clock
from helpers.vectors import VECTORS
from pantheon.store import Store

_TWINS = {"cy": "pantheon._wire", "py": "pantheon._wire_py"}


@dataclass(frozen=True)
class WireImpl:
    """One wire twin: `name` is the param id ("cy" or "py"), `module` the imported module."""

    name: str
    module: ModuleType


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-compiled",
        action="store_true",
        default=False,
        help="deselect tests marked `compiled` (those that need the compiled pantheon._wire)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--no-compiled"):
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("compiled") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(
    scope="session",
    params=[pytest.param("cy", marks=pytest.mark.compiled), "py"],
)
def wire_impl(request: pytest.FixtureRequest) -> WireImpl:
    return WireImpl(request.param, importlib.import_module(_TWINS[request.param]))


@pytest.fixture(scope="session")
def wire_twins() -> list[ModuleType]:
    """Both twins where the compiled one is built (test_wire_loaded guards that), else the pure one:
    for a test that runs one connection per twin at the same time instead of once per twin."""
    names = ["py", "cy"] if pantheon.wire.IMPLEMENTATION == "cython" else ["py"]
    return [importlib.import_module(_TWINS[name]) for name in names]


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """tests/vectors: real wire data copied from shared/vectors (see its README for provenance)."""
    return VECTORS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A LevelDB store in the test's own directory, closed after it."""
    with Store.open(tmp_path) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    """A clock at `helpers.clock.NOW` that moves only when the test moves it."""
    return Clock()


@pytest.fixture(scope="module")
def start_bcoin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., BcoinNode]]:
    """Start a bcoin 1.0.2 on regtest (`BcoinNode`'s options) for the module; every one started is
    stopped at its end. Without bcoin, a skip with the reason (a failure under CI=true)."""
    nodes: list[BcoinNode] = []

    def start(name: str = "bcoin", **options: object) -> BcoinNode:
        node = BcoinNode(tmp_path_factory.mktemp(name), **options)  # type: ignore[arg-type]
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture(scope="module")
def bcoin(start_bcoin: Callable[..., BcoinNode]) -> BcoinNode:
    """One bcoin for the module's tests."""
    return start_bcoin()
