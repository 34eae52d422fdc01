"""One plain HTTP/1.0 request over a gevent socket (`request`): the status line, headers and
body exactly as a server sent them, for tests of the node's small web servers."""

from __future__ import annotations

from dataclasses import dataclass

import gevent.socket


@dataclass(frozen=True)
class Reply:
    status: str  # the status line's code and reason, e.g. "404 Not Found"
    headers: dict[str, str]  # names lower-cased
    body: bytes


def request(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None,
            timeout: float = 5.0) -> Reply:
    lines = [f"{method} {path} HTTP/1.0", "Host: localhost",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    with gevent.socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return Reply(status_line.split(" ", 1)[1], {name.lower(): value for name, value in fields.items()}, body)
