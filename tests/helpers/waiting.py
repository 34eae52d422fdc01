"""Waiting without blocking the hub: `wait_for` a condition, `in_thread` for a blocking client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent

#: Seconds to wait: for a loopback exchange that takes milliseconds; for an exchange with bcoin, a
#: separate process that answers on its own schedule; for whole nodes syncing, relaying, reorganising.
WAIT = 3.0
BCOIN_WAIT = 15.0
NODE_WAIT = 20.0
POLL = 0.01  # s between polls: a Python condition costs nothing, bcoin answers a cheap RPC in ~0.5 ms


def wait_for(condition: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    """Poll `condition` (yielding to gevent) until it returns something truthy; returns it. After
    `timeout` seconds, TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        gevent.sleep(POLL)


def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking client in a native thread so the server's greenlets keep running; its
    exception is raised here (not reported by the thread pool)."""
    def capture() -> tuple[bool, Any]:
        try:
            return True, function(*args)
        except Exception as error:
            return False, error

    ok, value = gevent.get_hub().threadpool.apply(capture)
    if not ok:
        raise value
    return value
