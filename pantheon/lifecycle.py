"""The life cycle gevent's servers have, for the node and its service: `start()` returns at once,
`serve_forever()` blocks until `stop()` has finished, `wait_stopped(timeout)` waits for it, and a
`with` block starts and stops. Subclasses write `_start()` and `_stop(timeout)`; each runs once."""

from __future__ import annotations

from typing import Any, TypeVar

import gevent.event

__all__ = ["Lifecycle"]

Self = TypeVar("Self", bound="Lifecycle")


class Lifecycle:
    def __init__(self) -> None:
        self.started = False
        self._stopped = gevent.event.Event()

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self, timeout: float) -> None:
        raise NotImplementedError

    def start(self: Self) -> Self:
        """Start (once) and return at once."""
        if not self.started:
            self.started = True
            self._start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop, waiting up to about `timeout` seconds for what is running to finish; then kill
        what is left. Safe to call twice."""
        if self._stopped.is_set():
            return
        self._stop(timeout)
        self._stopped.set()

    def serve_forever(self) -> None:
        """Start (if not started) and block this greenlet until `stop()` has finished."""
        self.start()
        self._stopped.wait()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block this greenlet until `stop()` has finished (the `stop` RPC, a signal)."""
        return self._stopped.wait(timeout)

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
