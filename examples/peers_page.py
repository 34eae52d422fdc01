"""Embedding Pantheon's network layer in a gevent WSGI server: one process, one hub.

A `NetworkManager` runs in its own greenlets beside a `gevent.pywsgi.WSGIServer` that serves the
connected peers: `/` as an HTML table, `/peers.json` as Core-like getpeerinfo entries. Nothing is
monkey-patched: both use gevent's own sockets, so the pages never wait on the peers; `make_app`
can as well be handed to gunicorn's gevent worker, with the manager started in the worker.

    python examples/peers_page.py --network regtest --listen 127.0.0.1:18444 \\
        --http 127.0.0.1:8080 --connect 127.0.0.1:18445
"""

from __future__ import annotations

import argparse
import html
import json
from typing import Any, Callable, Iterable, Sequence

import gevent.pywsgi

from pantheon import params
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import PeerConfig

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_COLUMNS = ("id", "addr", "inbound", "state", "subver", "version", "startingheight", "pingtime")


def make_app(manager: NetworkManager) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app showing `manager`'s peers."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        peers = [peer.info() for peer in manager.peers()]
        if path == "/peers.json":
            body = json.dumps(peers, default=str).encode()
            kind = "application/json"
        elif path == "/":
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(info[column]))}</td>" for column in _COLUMNS) + "</tr>"
                for info in peers
            )
            head = "".join(f"<th>{column}</th>" for column in _COLUMNS)
            body = (f"<!doctype html><title>Pantheon peers</title><h1>{len(peers)} peers</h1>"
                    f"<table><tr>{head}</tr>{rows}</table>").encode()
            kind = "text/html; charset=utf-8"
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve(config: ManagerConfig, http: tuple[str, int], connect: Sequence[tuple[str, int]] = ()
          ) -> tuple[NetworkManager, gevent.pywsgi.WSGIServer]:
    """Start the manager, dial `connect`, and start the page server; both run until stopped."""
    manager = NetworkManager(config).start()
    for host, port in connect:
        manager.add_peer(host, port)
    server = gevent.pywsgi.WSGIServer(http, make_app(manager), log=None)
    server.start()
    return manager, server


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="regtest")
    parser.add_argument("--listen", type=_endpoint, default=None)
    parser.add_argument("--http", type=_endpoint, default=("127.0.0.1", 8080))
    parser.add_argument("--connect", type=_endpoint, action="append", default=[])
    args = parser.parse_args(argv)
    config = ManagerConfig(peer=PeerConfig(network=params.network(args.network)), listen=args.listen)
    manager, server = serve(config, args.http, args.connect)
    try:
        manager.serve_forever()
    finally:
        server.stop(timeout=1)


if __name__ == "__main__":
    main()
