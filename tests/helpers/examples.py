"""Testing examples/: import a script (`load_example`), GET its page (`get`), catch its `serve` calls."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from helpers.http import request


def load_example(path: Path) -> ModuleType:
    """An example script imported as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get(port: int, path: str) -> tuple[str, bytes]:
    """A plain HTTP/1.0 GET (`helpers.http.request`): (status, e.g. "200 OK", body)."""
    reply = request(port, path, timeout=3)
    return reply.status, reply.body


def record_serve(example: ModuleType, monkeypatch) -> list[tuple]:
    """Wrap the example's `serve` so a test can reach what `main` started: the list fills with
    each call's result."""
    started: list[tuple] = []
    real_serve = example.serve

    def serve(*args):
        started.append(real_serve(*args))
        return started[-1]

    monkeypatch.setattr(example, "serve", serve)
    return started
