"""The node's HTTP servers (JSON-RPC, metrics) on gevent.pywsgi, with what a bare `WSGIServer`
lacks: a bounded handler pool, which is also what `stop(timeout)` joins (with the default spawn,
kept-alive connections outlive the server), and a listener that is closed when binding fails
(gevent's own leaks its socket then)."""

from __future__ import annotations

import logging
import socket
from typing import Any, Callable, Iterable

import gevent.pool
import gevent.pywsgi
import gevent.socket

__all__ = ["HttpServer", "WsgiApp"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HttpServer:
    """Serve `app` on (host, port) with at most `connections` at once; `start()` binds."""

    def __init__(self, app: WsgiApp, host: str, port: int, *, connections: int, log: logging.Logger,
                 backlog: int = 128) -> None:
        self._app = app
        self._endpoint = (host, port)
        self._connections = connections
        self._log = log
        self._backlog = backlog
        self._server: gevent.pywsgi.WSGIServer | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise ValueError("the server is not started")
        host, port = self._server.address[:2]
        return host, port

    def start(self) -> tuple[str, int]:
        """Bind and serve; returns the bound address. Raises OSError (nothing left open) when
        the address cannot be bound."""
        family = gevent.socket.AF_INET6 if ":" in self._endpoint[0] else gevent.socket.AF_INET
        listener = gevent.socket.socket(family, gevent.socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(self._endpoint)
            listener.listen(self._backlog)
        except OSError:
            listener.close()
            raise
        self._server = gevent.pywsgi.WSGIServer(listener, self._app, log=None, error_log=self._log,
                                                spawn=gevent.pool.Pool(self._connections))
        self._server.start()
        return self.address

    def stop(self, timeout: float) -> None:
        """Stop accepting, give open connections `timeout` seconds, then close them."""
        if self._server is not None:
            self._server.stop(timeout=timeout)
            self._server = None
