"""pantheon/status/page.py and snapshot.py over real HTTP: the routes and their errors, the
snapshot's content read from a real node, the once-a-second cache, auth, the mount under a
prefix, the package data, and 50 viewers polling while the node syncs."""

from __future__ import annotations

import base64
import json
import time
import tomllib
from pathlib import Path
from typing import Any, Iterator

import gevent
import pytest

from helpers.chain import P2WSH_TRUE, prevouts_of, spend
from helpers.clock import Clock
from helpers.http import request
from helpers.node import FAST, settings
from helpers.waiting import NODE_WAIT, wait_for
from pantheon.net.address import PeerAddress
from pantheon.node import Node
from pantheon.rpc.server import RpcAuth
from pantheon.status import StatusPage, StatusServer
from pantheon.status.page import SNAPSHOT_INTERVAL, VIEWERS
from pantheon.status.snapshot import FEE_RATE_BUCKETS

ROOT = Path(__file__).parents[2]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    node = Node(settings(tmp_path / "node"), tuning=FAST, script_workers=0).start()
    yield node
    node.stop()


def _serve(page: StatusPage) -> tuple[StatusServer, int]:
    server = StatusServer(page, "127.0.0.1", 0).start()
    return server, server.address[1]


def _json(port: int) -> dict[str, Any]:
    reply = request(port, "/status.json")
    assert reply.status == "200 OK" and reply.headers["content-type"] == "application/json"
    return json.loads(reply.body)


def test_routes_and_clean_errors(node: Node) -> None:
    server, port = _serve(StatusPage(node))
    try:
        page = request(port, "/")
        assert page.status == "200 OK" and page.headers["content-type"].startswith("text/html")
        assert b'src="status.js"' in page.body and b'href="status.css"' in page.body  # relative: mountable
        assert b"http" not in page.body.replace(b"http-equiv", b"")  # nothing fetched from elsewhere
        assert request(port, "/status.js").headers["content-type"].startswith("text/javascript")
        assert request(port, "/status.css").headers["content-type"].startswith("text/css")
        assert request(port, "/nothing").status == "404 Not Found"
        assert request(port, "/status.json/../x").status == "404 Not Found"
        refused = request(port, "/status.json", method="POST")
        assert refused.status == "405 Method Not Allowed" and refused.headers["allow"] == "GET"
        assert request(port, "/", method="DELETE").status == "405 Method Not Allowed"
        assert _json(port)["network"] == "regtest"
    finally:
        server.stop()


def test_the_snapshot_reads_the_node(node: Node, tmp_path: Path) -> None:
    other = Node(settings(tmp_path / "other"), tuning=FAST, script_workers=0).start()
    page = StatusPage(node)  # traffic is counted from here on
    try:
        mined = node.generate(103, P2WSH_TRUE)
        for block_hash, fee in zip(mined, (300, 3_000, 30_000)):  # 3, 30 and 300 sat/vB: 100 vB each
            coinbase = node.chain.read_block(block_hash).transactions[0]
            assert node.submit_transaction(spend(prevouts_of(coinbase)[:1], fee=fee)) == "accepted"
        node.ban(PeerAddress.from_ip("10.0.0.1"), duration=3600)
        other.add_peer(*node.manager.address)
        wait_for(lambda: len(node.peers()) == 1 and node.peers()[0].remote is not None, NODE_WAIT, what="a peer")
        snapshot = json.loads(page.snapshot())
        sync = snapshot["sync"]
        assert (sync["height"], sync["headers"], sync["target"], sync["progress"]) == (103, 103, 103, 100.0)
        assert sync["eta_seconds"] is None and sync["curve"][-1][1] == 103
        [peer] = snapshot["peers"]
        assert peer["direction"] == "inbound" and peer["user_agent"] == other.user_agent
        # BIP324 is on by default in both nodes
        assert peer["transport"] == "v2" and peer["misbehaviour"] == 0 and peer["bytes_received"] > 0
        mempool = snapshot["mempool"]
        assert mempool["count"] == 3 and mempool["bytes"] > 0
        counts = {bar["from"]: bar["count"] for bar in mempool["histogram"] if bar["count"]}
        assert sorted(counts) == [3, 30, 200] and [bar["from"] for bar in mempool["histogram"]] == list(FEE_RATE_BUCKETS)
        assert [ban["address"] for ban in snapshot["bans"]] == ["10.0.0.1/32"]
        commands = {entry["command"]: entry for entry in snapshot["traffic"]["commands"]}
        assert commands["version"]["received"] > 0 and commands["version"]["sent"] > 0
    finally:
        page.stop()
        other.stop()


def test_the_snapshot_is_built_at_most_once_a_second(node: Node) -> None:
    clock = Clock(100.0)
    page = StatusPage(node, clock=clock)
    first = page.snapshot()
    node.generate(1, P2WSH_TRUE)
    assert page.snapshot() is first and page.builds == 1  # the cached bytes, though the chain moved
    clock.now += SNAPSHOT_INTERVAL
    assert json.loads(page.snapshot())["sync"]["height"] == 1 and page.builds == 2
    page.stop()


def test_auth_asks_for_the_rpc_credentials(node: Node) -> None:
    server, port = _serve(StatusPage(node, auth=RpcAuth("u", "p")))
    try:
        started = time.monotonic()
        refused = request(port, "/status.json")
        assert refused.status == "401 Unauthorized" and time.monotonic() - started >= 0.2  # Core's pause
        assert refused.headers["www-authenticate"].startswith("Basic ")
        wrong = base64.b64encode(b"u:wrong").decode()
        assert request(port, "/", headers={"Authorization": f"Basic {wrong}"}).status == "401 Unauthorized"
        right = base64.b64encode(b"u:p").decode()
        assert request(port, "/", headers={"Authorization": f"Basic {right}"}).status == "200 OK"
    finally:
        server.stop()


def test_mounted_under_a_prefix_the_bare_prefix_redirects(node: Node) -> None:
    page = StatusPage(node)
    replies: list[tuple[str, list[tuple[str, str]]]] = []
    body = page({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/status", "PATH_INFO": ""},
                lambda status, headers: replies.append((status, headers)))
    assert b"".join(body) == b"" and replies[0][0] == "301 Moved Permanently"
    assert ("Location", "/status/") in replies[0][1]
    page.stop()


def test_a_taken_port_leaves_nothing_subscribed(node: Node) -> None:
    server, port = _serve(StatusPage(node))
    try:
        second = StatusPage(node)
        with pytest.raises(OSError):
            StatusServer(second, "127.0.0.1", port).start()
        assert len(node.events.message) == 1  # the first page's only
    finally:
        server.stop()
    assert len(node.events.message) == 0


def test_the_page_files_are_package_data() -> None:
    """pyproject ships static/ (the page would 500 from a wheel without it)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    static = ROOT / "pantheon" / "status" / "static"
    shipped = {path for pattern in patterns["pantheon.status"] for path in (ROOT / "pantheon" / "status").glob(pattern)}
    assert shipped == set(static.iterdir()) and len(shipped) == 3


def test_fifty_viewers_poll_while_the_node_syncs(node: Node, tmp_path: Path) -> None:
    source = Node(settings(tmp_path / "source"), tuning=FAST, script_workers=0).start()
    server, port = _serve(StatusPage(node))
    viewers = 50
    assert viewers < VIEWERS
    try:
        source.generate(600, P2WSH_TRUE)
        answers: list[tuple[str, int]] = []
        seen_by: list[list[int]] = [[] for _ in range(viewers)]  # each viewer's heights, in its order
        done = gevent.event.Event()

        def viewer(seen: list[int]) -> None:
            while not done.is_set():
                reply = request(port, "/status.json", timeout=10)
                height = json.loads(reply.body)["sync"]["height"]
                answers.append((reply.status, height))
                seen.append(height)
                gevent.sleep(0.1)

        started = time.monotonic()
        greenlets = [gevent.spawn(viewer, seen) for seen in seen_by]
        node.add_peer(*source.manager.address)
        wait_for(lambda: node.chain.height == 600, NODE_WAIT * 3, what="the sync of 600 blocks")
        wait_for(lambda: any(height == 600 for _, height in answers[-viewers:]), NODE_WAIT, what="viewers seeing 600")
        done.set()
        gevent.joinall(greenlets, timeout=10, raise_error=True)
        elapsed = time.monotonic() - started
        assert {status for status, _ in answers} == {"200 OK"}
        assert len(answers) > 2 * viewers  # everyone was served, repeatedly
        assert server.page.builds <= elapsed / SNAPSHOT_INTERVAL + 1  # never more than once a second
        # The page followed the sync. Each viewer saw heights only rise; across viewers, one may
        # append an older snapshot after another appended a newer one.
        assert min(height for _, height in answers) < 600
        assert all(seen == sorted(seen) for seen in seen_by)
    finally:
        server.stop()
        source.stop()
