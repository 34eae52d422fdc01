"""The node's HTTP server (pantheon/httpserver.py): replies on a kept-alive connection are not held
back by Nagle's algorithm waiting for the client's delayed ACK."""

from __future__ import annotations

import http.client
import logging
import time
from typing import Any, Callable, Iterable

import gevent
import gevent.threadpool

from pantheon.httpserver import HttpServer


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"result":0}']


def test_kept_alive_replies_are_not_delayed() -> None:
    server = HttpServer(_app, "127.0.0.1", 0, connections=2, log=logging.getLogger("test"))
    host, port = server.start()

    def twenty_requests() -> float:
        client = http.client.HTTPConnection(host, port, timeout=5)
        started = time.monotonic()
        for _ in range(20):
            client.request("POST", "/", body=b'{"method":"getblockcount"}')
            assert client.getresponse().read() == b'{"result":0}'
        client.close()
        return time.monotonic() - started

    try:
        elapsed = gevent.get_hub().threadpool.spawn(twenty_requests).get(timeout=30)
    finally:
        server.stop(timeout=1)
    # Delayed ACK holds each reply's body ~40 ms behind its headers: 20 requests would take 0.8 s.
    assert elapsed < 0.4
