"""BIP157 serving (pantheon/cfilters.py) and the filter RPCs through whole nodes: a raw peer asks
for filters, headers and checkpoints and gets what the index holds; every bad request meets Core's
reaction (disconnect, never discouragement) with Core's log words; NODE_COMPACT_FILTERS only when
serving; getblockfilter's and getindexinfo's answers and errors; an existing datadir's index built
in the background."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.node import FAST, proxy, rpc_call_error, settings
from helpers.p2p import RawClient
from helpers.waiting import NODE_WAIT, in_thread, wait_for
from pantheon import wire
from pantheon.cfilters import FilterServer
from pantheon.chain import blockfilter
from pantheon.frames import Frame
from pantheon.hashing import hash_to_hex
from pantheon.node import Node
from pantheon.primitives import CFCheckptRequest, CFRequest
from pantheon.protocol import BASIC_FILTER, NODE_COMPACT_FILTERS
from pantheon.rpc.errors import RPC_INTERNAL_ERROR, RPC_INVALID_ADDRESS_OR_KEY, RPC_MISC_ERROR

PAY_TO = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
SERVING = ("--blockfilterindex", "--peerblockfilters")


def connect(node: Node) -> RawClient:
    client = RawClient(node.manager.address[1], wire)
    client.handshake()
    return client


def cf_request(command: str, start: int, stop: bytes, filter_type: int = BASIC_FILTER) -> bytes:
    return getattr(wire, f"encode_{command}")(CFRequest(filter_type, start, stop))


@pytest.fixture
def serving(make_node: Callable[..., Node]) -> Node:
    node = make_node("serving", *SERVING)
    node.generate(2_010, PAY_TO)
    return node


def test_services_say_whether_filters_are_served(make_node: Callable[..., Node]) -> None:
    assert make_node("a", *SERVING).local_services & NODE_COMPACT_FILTERS
    assert not make_node("b", "--blockfilterindex").local_services & NODE_COMPACT_FILTERS
    assert not make_node("c").local_services & NODE_COMPACT_FILTERS


def test_getcfilters_getcfheaders_getcfcheckpt(serving: Node) -> None:
    chain, index = serving.chain, serving.filter_index
    assert index is not None
    client = connect(serving)
    stop = chain.headers.ancestor(chain.tip, 1_000)
    client.send("getcfilters", cf_request("getcfilters", 1, stop))
    filters = [wire.decode_cfilter(client.receive("cfilter").payload) for _ in range(1_000)]
    assert [f.block_hash for f in filters] == [chain.headers.ancestor(stop, h) for h in range(1, 1_001)]
    for item in (filters[0], filters[-1]):
        block = chain.read_block(item.block_hash)
        spent = [c.script_pubkey for coins in chain.spent_coins(item.block_hash) or [] for c in coins]
        assert item.filter == blockfilter.basic_filter(block, spent) and item.filter_type == BASIC_FILTER

    client.send("getcfheaders", cf_request("getcfheaders", 11, chain.tip))
    headers = wire.decode_cfheaders(client.receive("cfheaders").payload)
    assert headers.stop_hash == chain.tip and len(headers.filter_hashes) == 2_000
    running = headers.previous_filter_header
    assert running == index.lookup(chain.headers.ancestor(chain.tip, 10)).header
    for filter_hash in headers.filter_hashes:
        running = blockfilter.filter_header(filter_hash, running)
    assert running == index.lookup(chain.tip).header

    client.send("getcfheaders", cf_request("getcfheaders", 0, chain.headers.ancestor(chain.tip, 3)))
    assert wire.decode_cfheaders(client.receive("cfheaders").payload).previous_filter_header == bytes(32)

    client.send("getcfcheckpt", wire.encode_getcfcheckpt(CFCheckptRequest(BASIC_FILTER, chain.tip)))
    checkpoint = wire.decode_cfcheckpt(client.receive("cfcheckpt").payload)
    assert checkpoint.filter_headers == tuple(index.lookup(chain.headers.ancestor(chain.tip, h)).header
                                              for h in (1_000, 2_000))
    client.close()


@pytest.mark.parametrize("command, start, stop_height, filter_type, words", [
    ("getcfilters", 0, 1_000, BASIC_FILTER, "requested too many cfilters/cfheaders: 1001 / 1000"),
    ("getcfheaders", 10, 2_010, BASIC_FILTER, "requested too many cfilters/cfheaders: 2001 / 2000"),
    ("getcfilters", 5, 4, BASIC_FILTER, "sent invalid getcfilters/getcfheaders with start height 5 and stop height 4"),
    ("getcfheaders", 0, 4, 1, "requested unsupported block filter type: 1"),
    ("getcfilters", 0, None, BASIC_FILTER, "requested invalid block hash"),
])
def test_bad_requests_disconnect(serving: Node, caplog: pytest.LogCaptureFixture, command: str, start: int,
                                 stop_height: int | None, filter_type: int, words: str) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    chain = serving.chain
    stop = b"\x42" * 32 if stop_height is None else chain.headers.ancestor(chain.tip, stop_height)
    client = connect(serving)
    client.send(command, cf_request(command, start, stop, filter_type))
    assert client.is_closed()
    assert words in caplog.text
    assert serving.discouraged_count == 0  # Core disconnects, it does not discourage
    client.close()


def test_unknown_checkpoint_type_and_no_serving_disconnect(make_node: Callable[..., Node], serving: Node,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    client = connect(serving)
    client.send("getcfcheckpt", wire.encode_getcfcheckpt(CFCheckptRequest(255, serving.chain.tip)))
    assert client.is_closed() and "requested unsupported block filter type: 255" in caplog.text
    client.close()
    index_only = make_node("index-only", "--blockfilterindex")
    client = connect(index_only)
    client.send("getcfcheckpt", wire.encode_getcfcheckpt(CFCheckptRequest(BASIC_FILTER, index_only.chain.tip)))
    assert client.is_closed()
    client.close()


def test_a_stale_block_is_served_and_a_request_beyond_the_index_is_dropped(make_node: Callable[..., Node]) -> None:
    node = make_node("stale", *SERVING)
    node.generate(5, PAY_TO)
    stale = node.chain.tip
    node.invalidate_block(stale)
    node.generate(3, b"\x51")  # a longer branch from height 4, paying elsewhere (a new block 5)
    node.reconsider_block(stale)
    assert not node.chain.contains(stale)
    client = connect(node)
    client.send("getcfilters", cf_request("getcfilters", 5, stale))
    item = wire.decode_cfilter(client.receive("cfilter").payload)
    assert item.block_hash == stale
    index = node.filter_index
    assert index is not None
    index._tip = (node.chain.headers.ancestor(node.chain.tip, 3), 3)  # as if still being built
    client.send("getcfheaders", cf_request("getcfheaders", 1, node.chain.tip))
    client.send("ping", b"\x01" * 8)
    assert client.receive("pong").payload == b"\x01" * 8  # answered nothing, and still connected
    assert not any(frame.command == "cfheaders" for frame in client.received)
    client.close()


def test_getblockfilter_and_getindexinfo(make_node: Callable[..., Node]) -> None:
    node = make_node("rpc", "--rpcuser", "u", "--rpcpassword", "p", "--blockfilterindex=basic", rpc=True)
    node.generate(3, PAY_TO)
    rpc = proxy(node)
    tip = hash_to_hex(node.chain.tip)
    result = in_thread(rpc.getblockfilter, tip)
    entry = node.filter_index.lookup(node.chain.tip)
    assert result == {"filter": entry.filter.hex(), "header": hash_to_hex(entry.header)}
    assert in_thread(rpc.getblockfilter, tip, "basic") == result
    assert rpc_call_error(lambda: rpc.getblockfilter("00" * 32)) == (RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    assert rpc_call_error(lambda: rpc.getblockfilter(tip, "extended")) == (RPC_INVALID_ADDRESS_OR_KEY, "Unknown filtertype")
    assert in_thread(rpc.getindexinfo) == {"basic block filter index": {"synced": True, "best_block_height": 3}}
    assert in_thread(rpc.getindexinfo, "basic block filter index") == in_thread(rpc.getindexinfo)
    assert in_thread(rpc.getindexinfo, "txindex") == {}
    index = node.filter_index
    saved = index._tip
    index._tip, index.synced = (node.chain.headers.ancestor(node.chain.tip, 1), 1), False  # as while building
    assert rpc_call_error(lambda: rpc.getblockfilter(tip)) == (
        RPC_MISC_ERROR, "Filter not found. Block filters are still in the process of being indexed.")
    assert in_thread(rpc.getindexinfo) == {"basic block filter index": {"synced": False, "best_block_height": 1}}
    index.synced = True
    assert rpc_call_error(lambda: rpc.getblockfilter(tip)) == (
        RPC_INTERNAL_ERROR, "Filter not found. This error is unexpected and indicates index corruption.")
    index._tip = saved
    plain = make_node("plain", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    assert rpc_call_error(lambda: proxy(plain).getblockfilter(tip)) == (RPC_MISC_ERROR,
                                                                   "Index is not enabled for filtertype basic")
    assert in_thread(proxy(plain).getindexinfo) == {}


def test_an_existing_datadir_is_indexed_in_the_background(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = Node(settings(tmp_path), tuning=FAST, script_workers=0).start()
    first.generate(300, PAY_TO)
    first.stop()
    caplog.set_level(logging.INFO, "pantheon.chain.filterindex")
    node = Node(settings(tmp_path, "--blockfilterindex"), tuning=FAST, script_workers=0)
    index = node.filter_index
    assert index is not None and not index.synced
    node.start()
    try:
        wait_for(lambda: index.synced, NODE_WAIT, what="the index built")
        assert index.best_height == 300
        assert "Syncing basic block filter index with block chain from height 0" in caplog.text
        assert "basic block filter index is enabled at height 300" in caplog.text
        node.generate(1, PAY_TO)
        assert index.best_height == 301
        header = index.lookup(node.chain.tip).header
    finally:
        node.stop()
    restarted = Node(settings(tmp_path, "--blockfilterindex"), tuning=FAST, script_workers=0).start()
    try:  # a restart finds the index at the chain's tip: nothing to build
        assert restarted.filter_index is not None and restarted.filter_index.synced
        assert restarted.filter_index.lookup(restarted.chain.tip).header == header
    finally:
        restarted.stop()


class _SlowReader:
    """A peer that reads `reads` messages' worth and then stops (wait_writable gives up)."""

    def __init__(self, reads: int) -> None:
        self.reads = reads
        self.sent: list[str] = []
        self.waits: list[float | None] = []

    def wait_writable(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return len(self.sent) < self.reads

    def send(self, command: str, payload: bytes = b"") -> bool:
        self.sent.append(command)
        return True


def test_filters_are_queued_only_as_the_peer_reads(serving: Node) -> None:
    chain = serving.chain
    server = FilterServer(chain, serving.filter_index, serving=True, write_timeout=7.0)
    peer = _SlowReader(reads=300)
    payload = cf_request("getcfilters", 1, chain.headers.ancestor(chain.tip, 1_000))
    frame = Frame("getcfilters", payload, True, None, 24 + len(payload))
    server.handlers()["getcfilters"](peer, frame)  # type: ignore[arg-type]
    assert peer.sent == ["cfilter"] * 300 and peer.waits == [7.0] * 301
    with pytest.raises(ValueError, match="needs the block filter index"):
        FilterServer(chain, None, serving=True, write_timeout=1.0)
