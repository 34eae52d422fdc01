"""The status page as a WSGI app (`StatusPage`, mountable anywhere) and the node's own server
for it (`StatusServer`, what `--statusport` starts).

Routes, relative to where the app is mounted: `/` the page, `/status.js` and `/status.css` its
script and style, `/status.json` the snapshot they poll (and scripts may read). Anything else is
404, any method but GET 405, and with `auth` (the JSON-RPC's credentials, `--statusauth`) a
request without them 401 after Core's 250 ms pause. A page request never costs the hub more than
one snapshot a second: the JSON is built at most once per `SNAPSHOT_INTERVAL` and the bytes are
served to every viewer from the cache. The server serves `VIEWERS` connections at once; further
ones wait in the listen backlog, and a viewer that stops polling is let go after `IDLE_TIMEOUT`.
"""

from __future__ import annotations

import json
import logging
import time
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Iterable

import gevent

from pantheon.httpserver import HttpServer
from pantheon.rpc.server import AUTH_FAILURE_DELAY
from pantheon.status.history import StatusHistory
from pantheon.status.snapshot import build_snapshot

if TYPE_CHECKING:
    from pantheon.node import Node
    from pantheon.rpc.server import RpcAuth

__all__ = ["StatusPage", "StatusServer", "SNAPSHOT_INTERVAL", "VIEWERS"]

log = logging.getLogger("pantheon.status")

SNAPSHOT_INTERVAL = 1.0  # seconds a built snapshot is served before the next is built
VIEWERS = 64  # connections the status server serves at once
IDLE_TIMEOUT = 15.0  # seconds a kept-alive viewer may send nothing before it is let go
#: route -> (file in static/, its Content-Type)
_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
          "/status.js": ("status.js", "text/javascript; charset=utf-8"),
          "/status.css": ("status.css", "text/css; charset=utf-8")}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class StatusPage:
    """The WSGI app over `node`; it observes the node's events from now until `stop()`."""

    def __init__(self, node: Node, *, auth: RpcAuth | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node = node
        self.auth = auth
        self._clock = clock
        self.history = StatusHistory(node.events, node.chain.height, clock)
        static = resources.files("pantheon.status") / "static"
        self._files = {route: (static.joinpath(name).read_bytes(), content_type)
                       for route, (name, content_type) in _FILES.items()}
        self._snapshot = b""
        self._built_at = float("-inf")
        self.builds = 0  # snapshots built so far

    def stop(self) -> None:
        """Stop observing the node."""
        self.history.stop()

    def snapshot(self) -> bytes:
        """The snapshot's JSON, rebuilt when the cached one is `SNAPSHOT_INTERVAL` old."""
        now = self._clock()
        if now - self._built_at >= SNAPSHOT_INTERVAL:
            self._snapshot = json.dumps(build_snapshot(self.node, self.history), separators=(",", ":")).encode()
            self._built_at = now
            self.builds += 1
        return self._snapshot

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return _reply(start_response, "405 Method Not Allowed", b"GET only\n", "text/plain", [("Allow", "GET")])
        if self.auth is not None and not self.auth.allows(environ.get("HTTP_AUTHORIZATION")):
            gevent.sleep(AUTH_FAILURE_DELAY)
            log.warning("status page authentication failed from %s", environ.get("REMOTE_ADDR"))
            return _reply(start_response, "401 Unauthorized", b"authentication required\n", "text/plain",
                          [("WWW-Authenticate", 'Basic realm="pantheon status"')])
        path = environ.get("PATH_INFO") or ""
        if path == "":  # mounted at /prefix and asked for /prefix: the page's relative links need the slash
            location = environ.get("SCRIPT_NAME", "") + "/"
            return _reply(start_response, "301 Moved Permanently", b"", "text/plain", [("Location", location)])
        if path == "/status.json":
            return _reply(start_response, "200 OK", self.snapshot(), "application/json")
        if path in self._files:
            body, content_type = self._files[path]
            return _reply(start_response, "200 OK", body, content_type)
        return _reply(start_response, "404 Not Found", b"not found\n", "text/plain")


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), *(extra or [])])
    return [body]


class StatusServer:
    """`page` on its own bounded gevent WSGI server at (host, port); `start()` binds."""

    def __init__(self, page: StatusPage, host: str, port: int) -> None:
        self.page = page
        self._server = HttpServer(page, host, port, connections=VIEWERS, log=log, idle_timeout=IDLE_TIMEOUT)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    def start(self) -> StatusServer:
        """Bind and serve; OSError (nothing left open) when the address cannot be bound."""
        try:
            self._server.start()
        except OSError:
            self.page.stop()
            raise
        log.info("status page on http://%s:%d/", *self.address)
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop serving (open viewers get `timeout` seconds) and stop observing the node."""
        self._server.stop(timeout=timeout)
        self.page.stop()
