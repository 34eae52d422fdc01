"""examples/node_in_wsgi.py: a whole node embedded in a gevent WSGI server, syncing from another
node while the page answers."""

from __future__ import annotations

import json
from pathlib import Path

import gevent

from helpers.examples import get, load_example, record_serve
from helpers.http import request
from helpers.node import FAST, settings
from helpers.waiting import NODE_WAIT, wait_for
from pantheon.node import Node

EXAMPLE = Path(__file__).parents[2] / "examples" / "node_in_wsgi.py"


def test_the_page_follows_the_embedded_nodes_sync(tmp_path: Path, monkeypatch) -> None:
    example = load_example(EXAMPLE)
    source = Node(settings(tmp_path / "source"), tuning=FAST, script_workers=0).start()
    hashes = source.generate(15, "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9")
    host, port = source.manager.address
    node, server = example.serve(["--datadir", str(tmp_path / "embedded"), "--network", "regtest", "--port", "0",
                                  "--bind", "127.0.0.1", "--server", "0", "--dnsseed", "0",
                                  "--connect", f"{host}:{port}"], ("127.0.0.1", 0))
    try:
        wait_for(lambda: json.loads(get(server.server_port, "/")[1])["height"] == 15, NODE_WAIT,
                 what="page shows height 15")
        status = json.loads(get(server.server_port, "/")[1])
        assert status["tip"] == hashes[-1][::-1].hex() and status["peers"] == 1 and status["network"] == "regtest"
        blocks = json.loads(get(server.server_port, "/blocks.json")[1])
        assert [b["height"] for b in blocks] == list(range(15, 0, -1))
        assert get(server.server_port, "/nothing")[0].endswith("404 Not Found")
        # the node's status page, mounted under /status/
        status = json.loads(get(server.server_port, "/status/status.json")[1])
        assert status["sync"]["height"] == 15 and status["peers"][0]["direction"] == "outbound"
        page = request(server.server_port, "/status")
        assert page.status == "301 Moved Permanently" and page.headers["location"] == "/status/"
        assert b'src="status.js"' in get(server.server_port, "/status/")[1]
        assert get(server.server_port, "/status/status.js")[0] == "200 OK"
        assert get(server.server_port, "/status/nothing")[0] == "404 Not Found"
        assert get(server.server_port, "/statusx")[0] == "404 Not Found"
    finally:
        server.stop(timeout=1)
        node.stop()
        source.stop()


def test_main_runs_until_the_node_stops(tmp_path: Path, monkeypatch) -> None:
    example = load_example(EXAMPLE)
    started = record_serve(example, monkeypatch)
    runner = gevent.spawn(example.main, ["--datadir", str(tmp_path), "--http", "127.0.0.1:0", "--", "--network",
                                         "regtest", "--port", "0", "--bind", "127.0.0.1", "--server", "0",
                                         "--dnsseed", "0"])
    wait_for(lambda: started, NODE_WAIT, what="the example started")
    node, server = started[0]
    assert get(server.server_port, "/")[0].endswith("200 OK")
    node.stop()
    runner.join(5)
    assert runner.dead and runner.exception is None
