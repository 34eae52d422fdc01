"""examples/peers_page.py: a NetworkManager embedded in a gevent WSGI server serves its peers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gevent

from helpers.examples import get, load_example, record_serve
from pantheon import params
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import USER_AGENT, PeerConfig

EXAMPLE = Path(__file__).parents[2] / "examples" / "peers_page.py"
PEER = PeerConfig(network=params.REGTEST)


def test_the_page_lists_the_connected_peers() -> None:
    example = load_example(EXAMPLE)
    remote = NetworkManager(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0))).start()
    manager, server = example.serve(ManagerConfig(peer=PEER), ("127.0.0.1", 0), [remote.address])
    try:
        deadline = time.monotonic() + 3
        while not (peers := json.loads(get(server.server_port, "/peers.json")[1])) or peers[0]["state"] != "connected":
            assert time.monotonic() < deadline
            gevent.sleep(0.01)
        assert peers[0]["subver"] == USER_AGENT and peers[0]["inbound"] is False
        status, page = get(server.server_port, "/")
        assert status.endswith("200 OK") and b"<h1>1 peers</h1>" in page
        assert f"127.0.0.1:{remote.address[1]}".encode() in page
        assert get(server.server_port, "/nothing")[0].endswith("404 Not Found")
    finally:
        server.stop(timeout=1)
        manager.stop(timeout=1)
        remote.stop(timeout=1)


def test_main_runs_until_the_manager_stops(monkeypatch) -> None:
    example = load_example(EXAMPLE)
    started = record_serve(example, monkeypatch)
    runner = gevent.spawn(example.main, ["--network", "regtest", "--http", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
    while not started:
        gevent.sleep(0.01)
    manager, server = started[0]
    assert get(server.server_port, "/")[0].endswith("200 OK")
    manager.stop(timeout=1)
    runner.join(3)
    assert runner.dead and runner.exception is None
