"""The node's HTTP servers (JSON-RPC, metrics) on gevent.pywsgi, with what a bare `WSGIServer`
lacks: a bounded handler pool, which is also what `stop(timeout)` joins (with the default spawn,
kept-alive connections outlive the server), an idle timeout per connection (Core's
-rpcservertimeout: a client that sends nothing is let go), and a listener that is closed when
binding fails (gevent's own leaks its socket then)."""

from __future__ import annotations

import logging
import socket
from typing import Any, Callable, Iterable

import gevent.pool
import gevent.pywsgi
import gevent.socket

__all__ = ["HttpServer", "WsgiApp"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _IdleTimeoutServer(gevent.pywsgi.WSGIServer):
    """A WSGIServer whose connections time out when idle: pywsgi closes a connection whose read
    of the next request fails, and a socket timeout is such a failure."""

    idle_timeout: float | None = None

    def handle(self, sock: gevent.socket.socket, address: Any) -> None:
        sock.settimeout(self.idle_timeout)
        # pywsgi writes a reply's headers and body in separate sends: with Nagle's algorithm the
        # body waits for the client's delayed ACK (40 ms), which caps a kept-alive client at 25 calls/s.
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class HttpServer:
    """Serve `app` on (host, port) with at most `connections` at once; `start()` binds."""

    def __init__(self, app: WsgiApp, host: str, port: int, *, connections: int, log: logging.Logger,
                 backlog: int = 128, idle_timeout: float | None = None) -> None:
        self._app = app
        self._idle_timeout = idle_timeout
        self._endpoint = (host, port)
        self._connections = connections
        self._log = log
        self._backlog = backlog
        self._server: _IdleTimeoutServer | None = None

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
        self._server = _IdleTimeoutServer(listener, self._app, log=None, error_log=self._log,
                                          spawn=gevent.pool.Pool(self._connections))
        self._server.idle_timeout = self._idle_timeout
        self._server.start()
        return self.address

    def stop(self, timeout: float) -> None:
        """Stop accepting, give open connections `timeout` seconds, then close them."""
        if self._server is not None:
            self._server.stop(timeout=timeout)
            self._server = None
