"""Testing examples/: import a script (`load_example`), GET its page (`get`), catch its `serve` calls."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import gevent.socket


def load_example(path: Path) -> ModuleType:
    """An example script imported as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get(port: int, path: str) -> tuple[str, bytes]:
    """A plain HTTP/1.0 GET over a gevent socket: (status line, body)."""
    with gevent.socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


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
