"""The JSON-RPC server: Bitcoin Core's HTTP JSON-RPC dialect on gevent.pywsgi.

What clients written for Core (bitcoin-cli, python-bitcoinlib's `Proxy`, curl) rely on, and so
what this reproduces (Core's `httprpc.cpp`, `rpc/request.cpp`):

- POST only (405 otherwise); HTTP Basic auth against `rpcuser`/`rpcpassword` or the cookie file
  `DATADIR/.cookie` holding `__cookie__:<hex>` (created at start with mode 0600, removed at stop);
  a failed attempt waits 250 ms before its 401, as Core does, to slow guessing.
- Requests without `"jsonrpc": "2.0"` get Core's legacy replies: `result` and `error` both present,
  HTTP 500 on error (400 for an invalid request, 404 for an unknown method). Requests with it get
  JSON-RPC 2.0 replies: `result` or `error`, always HTTP 200, and notifications (no `id`) get
  nothing (204 when nothing at all is left to send).
- A batch is a JSON array; each element is answered as above, in order.
- Named (`{...}`) and positional (`[...]`) params. A method raising `RpcError` becomes that error;
  anything else becomes -32603 with the exception's text: the traceback goes to the log, never to
  the client.

Methods are plain callables registered by name (`RpcServer(methods=...)`); `rpc.methods` builds
the node's table from its groups. The server knows nothing of the node.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hmac
import inspect
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import gevent

from pantheon.httpserver import HttpServer
from pantheon.rpc.errors import (
    RPC_INTERNAL_ERROR,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    RpcError,
)

log = logging.getLogger("pantheon.rpc")

__all__ = ["RpcAuth", "RpcServer", "Dispatcher", "Method", "COOKIE_USER", "request_uri"]

COOKIE_USER = "__cookie__"
COOKIE_FILE = ".cookie"
#: The largest request body read; a bigger one is refused with 413 before it is read.
MAX_BODY = 32 * 1024 * 1024
#: Core's pause before answering a failed authentication.
AUTH_FAILURE_DELAY = 0.25
#: Requests Core queues beyond those its -rpcthreads serve (-rpcworkqueue): connections open at once
#: are the threads plus this; more wait in the listen backlog.
WORK_QUEUE = 16

#: The HTTP path of the request being answered (Core's JSONRPCRequest.URI): `/wallet/<name>` picks
#: the wallet a wallet method acts on. Each request runs in its own greenlet, hence its own context.
request_uri: contextvars.ContextVar[str] = contextvars.ContextVar("request_uri", default="/")

_LEGACY_STATUS = {RPC_INVALID_REQUEST: "400 Bad Request", RPC_METHOD_NOT_FOUND: "404 Not Found"}
_JSON = [("Content-Type", "application/json")]

Method = Callable[..., Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class RpcAuth:
    """Who may call: a configured user and password, and/or a cookie written into the datadir."""

    def __init__(self, user: str | None = None, password: str | None = None,
                 cookie_dir: str | os.PathLike[str] | None = None) -> None:
        if (user is None) != (password is None):
            raise ValueError("rpcuser and rpcpassword go together")
        self._accepted: list[bytes] = []
        if user is not None and password is not None:
            if ":" in user:
                raise ValueError("rpcuser must not contain ':'")
            self._accepted.append(f"{user}:{password}".encode())
        self.cookie_path: Path | None = None
        if cookie_dir is not None:
            self.cookie_path = Path(cookie_dir) / COOKIE_FILE
        elif not self._accepted:
            raise ValueError("RPC needs rpcuser/rpcpassword or a datadir for the cookie")

    def write_cookie(self) -> str | None:
        """Create the cookie file (0600) with a fresh password; returns its `user:password`."""
        if self.cookie_path is None:
            return None
        secret = f"{COOKIE_USER}:{secrets.token_hex(32)}"
        temporary = self.cookie_path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        os.replace(temporary, self.cookie_path)
        self._accepted.append(secret.encode())
        return secret

    def remove_cookie(self) -> None:
        if self.cookie_path is not None:
            self.cookie_path.unlink(missing_ok=True)

    def allows(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries accepted credentials (constant-time compare)."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return any(hmac.compare_digest(given, accepted) for accepted in self._accepted)


class Dispatcher:
    """Turns one parsed JSON-RPC request (object or batch) into its reply: pure, no HTTP."""

    def __init__(self, methods: Mapping[str, Method]) -> None:
        self.methods = dict(methods)

    def handle(self, request: Any, uri: str = "/") -> tuple[str, Any]:
        """(HTTP status, reply JSON or None for no body) for a parsed request body sent to `uri`."""
        token = request_uri.set(uri)
        try:
            return self._handle(request)
        finally:
            request_uri.reset(token)

    def _handle(self, request: Any) -> tuple[str, Any]:
        if isinstance(request, list):
            if not request:
                return "200 OK", _reply(None, None, RpcError(RPC_INVALID_REQUEST, "empty batch"), v2=True)
            replies = [reply for reply in (self._one(item)[1] for item in request) if reply is not None]
            return ("200 OK", replies) if replies else ("204 No Content", None)
        return self._one(request)

    def _one(self, request: Any) -> tuple[str, Any]:
        if not isinstance(request, dict):
            error = RpcError(RPC_INVALID_REQUEST, "Invalid Request object")
            return _LEGACY_STATUS[RPC_INVALID_REQUEST], _reply(None, None, error, v2=False)
        v2 = request.get("jsonrpc") == "2.0"
        request_id = request.get("id")
        try:
            result = self._call(request)
            error = None
        except RpcError as failure:
            result, error = None, failure
        if v2 and "id" not in request:
            return "204 No Content", None  # a notification: answered with nothing
        if error is not None and not v2:
            return _LEGACY_STATUS.get(error.code, "500 Internal Server Error"), _reply(request_id, None, error, v2)
        return "200 OK", _reply(request_id, result, error, v2)

    def _call(self, request: dict[str, Any]) -> Any:
        method_name = request.get("method")
        if not isinstance(method_name, str):
            raise RpcError(RPC_INVALID_REQUEST, "Method must be a string")
        params = request.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, (list, dict)):
            raise RpcError(RPC_INVALID_REQUEST, "Params must be an array or object")
        method = self.methods.get(method_name)
        if method is None:
            raise RpcError(RPC_METHOD_NOT_FOUND, "Method not found")
        if isinstance(params, list):
            args, kwargs = params, {}
        else:  # named; Core takes positional arguments given beside named ones as "args"
            kwargs = dict(params)
            args = kwargs.pop("args", [])
            if not isinstance(args, list):
                raise RpcError(RPC_INVALID_REQUEST, "args must be an array")
        try:
            inspect.signature(method).bind(*args, **kwargs)
        except TypeError as error:
            raise RpcError(RPC_MISC_ERROR, f"{method_name}: {error}") from None
        try:
            return method(*args, **kwargs)
        except RpcError:
            raise
        except Exception as error:  # a bug must not reach the client as a traceback
            log.exception("RPC %s failed", method_name)
            raise RpcError(RPC_INTERNAL_ERROR, f"{type(error).__name__}: {error}") from None


def _reply(request_id: Any, result: Any, error: RpcError | None, v2: bool) -> dict[str, Any]:
    if not v2:
        return {"result": result, "error": None if error is None else error.to_json(), "id": request_id}
    if error is None:
        return {"jsonrpc": "2.0", "result": result, "id": request_id}
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": request_id}


class RpcServer:
    """Core's JSON-RPC over HTTP on a gevent WSGI server; `start()` returns at once."""

    def __init__(self, methods: Mapping[str, Method], auth: RpcAuth, host: str = "127.0.0.1",
                 port: int = 8332, *, threads: int = 4, idle_timeout: float | None = 30.0) -> None:
        """`threads` and `idle_timeout`: Core's -rpcthreads and -rpcservertimeout."""
        self.dispatcher = Dispatcher(methods)
        self.auth = auth
        self._server = HttpServer(self.app, host, port, connections=threads + WORK_QUEUE, log=log,
                                  idle_timeout=idle_timeout)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    def start(self) -> RpcServer:
        self._server.start()
        self.auth.write_cookie()
        log.info("JSON-RPC listening on %s:%d", *self.address)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, give open connections `timeout` seconds, then close them."""
        self._server.stop(timeout=timeout)
        self.auth.remove_cookie()

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application: HTTP checks, then the dispatcher."""
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", b"JSONRPC server handles only POST requests")
        if not self.auth.allows(environ.get("HTTP_AUTHORIZATION")):
            gevent.sleep(AUTH_FAILURE_DELAY)
            log.warning("RPC authentication failed from %s", environ.get("REMOTE_ADDR"))
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="jsonrpc"'),
                                                ("Content-Length", "0")])
            return [b""]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return _plain(start_response, "413 Request Entity Too Large", b"request body too large or unsized")
        body = environ["wsgi.input"].read(length)
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            status, reply = "500 Internal Server Error", _reply(None, None, RpcError(RPC_PARSE_ERROR, "Parse error"),
                                                                v2=False)
        else:
            status, reply = self.dispatcher.handle(request, _decoded_path(environ))
        if reply is None:
            start_response(status, [("Content-Length", "0")])
            return [b""]
        try:
            data = json.dumps(reply).encode() + b"\n"
        except (TypeError, ValueError) as error:  # a method returned something JSON cannot carry
            log.error("RPC reply not serialisable: %s", error)
            status = "500 Internal Server Error"
            data = json.dumps(_reply(None, None, RpcError(RPC_INTERNAL_ERROR, "reply not serialisable"),
                                     v2=False)).encode() + b"\n"
        start_response(status, _JSON + [("Content-Length", str(len(data)))])
        return [data]


def _decoded_path(environ: dict[str, Any]) -> str:
    """The request's path with its %-escapes decoded as UTF-8 (WSGI hands it over as latin-1)."""
    path = environ.get("PATH_INFO") or "/"
    return path.encode("latin-1", "replace").decode("utf-8", "replace")


def _plain(start_response: StartResponse, status: str, text: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]
