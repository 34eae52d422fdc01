"""Embedding a whole Pantheon node in a gevent WSGI application: one process, one hub.

`Node(config)` runs its peers, sync and relay in greenlets of its own; the application reads it
between requests without locks (greenlets switch only where they wait) and reacts to new blocks
through `node.events.block_connected`. Nothing is monkey-patched, and no server of the node's own
(JSON-RPC, metrics) is started: the page is the application's. The page at `/` is the node's sync status and
tip; `/blocks.json` lists the blocks this process has seen connected, newest first; `/status/` is
the node's own status page (`pantheon.status.StatusPage`, what `--statusport` serves), mounted in
this app like any WSGI app: the prefix moves from PATH_INFO to SCRIPT_NAME.

    python examples/node_in_wsgi.py --datadir /tmp/pantheon-demo --http 127.0.0.1:8080 \\
        -- --network regtest --addnode 127.0.0.1:18444
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from typing import Any, Callable, Iterable, Sequence

import gevent.pywsgi

from pantheon.config import load_config
from pantheon.hashing import hash_to_hex
from pantheon.node import Node
from pantheon.primitives import Block
from pantheon.status import StatusPage

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
STATUS_PREFIX = "/status"


def make_app(node: Node, keep: int = 100) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app over `node`; it remembers the last `keep` blocks connected."""
    seen: deque[dict[str, Any]] = deque(maxlen=keep)

    def remember(block: Block, height: int) -> None:
        seen.appendleft({"height": height, "hash": hash_to_hex(block.hash), "txs": len(block.transactions)})

    node.events.block_connected.subscribe(remember)
    status_page = StatusPage(node)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == STATUS_PREFIX or path.startswith(STATUS_PREFIX + "/"):
            mounted = dict(environ, SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + STATUS_PREFIX,
                           PATH_INFO=path[len(STATUS_PREFIX):])
            return status_page(mounted, start_response)
        if path == "/":
            status = node.sync_status()
            body = {"network": node.network.name, "height": status.height, "target": status.target,
                    "progress": round(status.progress, 2), "tip": hash_to_hex(node.chain.tip),
                    "peers": len(node.peers()), "mempool": len(node.mempool)}
        elif path == "/blocks.json":
            body = list(seen)
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    return app


def serve(node_args: Sequence[str], http: tuple[str, int]) -> tuple[Node, gevent.pywsgi.WSGIServer]:
    """Start a node from pantheon-gevent's flags, and the page server beside it."""
    node = Node(load_config(node_args)).start()
    server = gevent.pywsgi.WSGIServer(http, make_app(node), log=None)
    server.start()
    return node, server


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", required=True)
    parser.add_argument("--http", default="127.0.0.1:8080")
    parser.add_argument("node_flags", nargs="*", help="pantheon-gevent flags, after --")
    args = parser.parse_args(argv)
    host, _, port = args.http.rpartition(":")
    node, server = serve(["--datadir", args.datadir, *args.node_flags], (host, int(port)))
    try:
        node.wait_stopped()
    finally:
        server.stop(timeout=1)


if __name__ == "__main__":
    main()
