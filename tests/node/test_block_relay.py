"""Blocks between the node and its peers as Core's net_processing moves them: announcements by
headers or inv depending on what the peer is known to have (BIP130, PeerHasHeader), direct fetch
of announced headers, getheaders with an empty locator, and the anti-DoS rules for blocks nobody
asked for (unconnected, less work, too little chain work), and low-work headers (ignored,
presynced, or taken from a noban peer)."""

from __future__ import annotations

import logging
from typing import Callable

import pytest
from helpers.chain import P2WSH_TRUE, block_on, header_on
from helpers.p2p import RawClient, assert_nothing_asked

from pantheon import limits, wire
from pantheon.node import Node
from pantheon.primitives import Block, BlockHeader, InvVect, Locator
from pantheon.protocol import MSG_BLOCK, NODE_NETWORK, NODE_WITNESS

Dial = Callable[..., RawClient]


def fork(node: Node, parent: bytes, count: int, tag: bytes = b"fork") -> list[Block]:
    """`count` valid blocks on `parent` (not given to the node)."""
    tree = node.chain.headers
    header, height = tree.header(parent), tree.height_of(parent)
    blocks = []
    for _ in range(count):
        height += 1
        blocks.append(block_on(header, height, node.network, extra=tag))
        header = blocks[-1].header
    return blocks


def connected(raw_client: Dial, node: Node, services: int) -> RawClient:
    """A raw peer whose handshake the node has finished (it answered a ping after our verack)."""
    client = raw_client(node, services)
    assert_nothing_asked(client, "none")
    return client


def announced(client: RawClient, since: int) -> tuple[str, list[bytes]]:
    """The first block announcement after frame `since`: ("inv"|"headers", the hashes)."""
    assert_nothing_asked(client, "none", since)  # everything sent before the pong is in
    for frame in client.received[since:]:
        if frame.command == "inv":
            return "inv", [item.hash for item in wire.decode_inv(frame.payload)]
        if frame.command == "headers":
            return "headers", [header.hash for header in wire.decode_headers(frame.payload)]
    raise AssertionError("no block announcement")


def getheaders(client: RawClient, hashes: list[bytes], stop: bytes = bytes(32)) -> None:
    client.send("getheaders", wire.encode_getheaders(Locator(70016, tuple(hashes), stop)))


def test_headers_announce_what_connects_for_the_peer_else_an_inv_until_it_catches_up(
        make_node: Callable[..., Node], raw_client: Dial) -> None:
    node = make_node("n")
    node.generate(10, P2WSH_TRUE)
    peer = connected(raw_client, node, NODE_WITNESS)
    mark = len(peer.received)
    tip = node.generate(1, P2WSH_TRUE)[0]
    assert announced(peer, mark) == ("inv", [tip])  # no sendheaders yet

    peer.send("sendheaders")
    getheaders(peer, [tip])  # nothing after our tip: an empty answer, but now it has our tip
    peer.receive("headers")
    mark = len(peer.received)
    tip = node.generate(1, P2WSH_TRUE)[0]
    assert announced(peer, mark) == ("headers", [tip])

    # A reorganisation to nine new blocks: more than 8, so the first one announced (the second
    # new block) has a parent the peer lacks: an inv of the tip.
    fork_point = node.chain.headers.ancestor(tip, node.chain.height - 8)
    branch = fork(node, fork_point, 9)
    mark = len(peer.received)
    for block in branch:
        node.process_block(block)
    assert node.chain.tip == branch[-1].hash
    assert announced(peer, mark) == ("inv", [branch[-1].hash])
    mark = len(peer.received)
    tip = node.generate(1, P2WSH_TRUE)[0]
    assert announced(peer, mark) == ("inv", [tip])  # it still has not got the new branch's headers

    peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, tip)]))  # now it says it has the tip
    mark = len(peer.received)
    assert_nothing_asked(peer, "none", mark)
    tip = node.generate(1, P2WSH_TRUE)[0]
    assert announced(peer, mark) == ("headers", [tip])


def test_a_block_is_not_announced_back_to_a_peer_that_announced_it(make_node: Callable[..., Node],
                                                                    raw_client: Dial) -> None:
    node = make_node("n")
    node.generate(2, P2WSH_TRUE)
    sender, other = (connected(raw_client, node, NODE_WITNESS) for _ in range(2))
    block = fork(node, node.chain.tip, 1)[0]
    other.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, block.hash)]))  # before its header is here
    other.receive("getheaders")
    marks = len(sender.received), len(other.received)
    sender.send("headers", wire.encode_headers([block.header]))
    sender.receive("getdata")
    sender.send("block", wire.encode_block(block))
    assert_nothing_asked(sender, "inv", marks[0])
    assert_nothing_asked(other, "inv", marks[1])
    assert node.chain.tip == block.hash


def test_headers_are_fetched_directly_up_to_16_in_flight_and_old_ones_never(make_node: Callable[..., Node],
                                                                           raw_client: Dial) -> None:
    """Core's HeadersDirectFetchBlocks, from a peer that offers no NODE_NETWORK (only the headers
    it sends bring requests): oldest first, before the pong of a following ping."""
    node = make_node("n")
    hashes = node.generate(3, P2WSH_TRUE)
    peer = connected(raw_client, node, NODE_WITNESS)
    mark = len(peer.received)
    peer.send("headers", wire.encode_headers([node.chain.headers.header(h) for h in hashes[1:]]))
    assert_nothing_asked(peer, "getdata", mark)  # blocks we have

    branch = fork(node, node.chain.tip, 18)
    peer.send("headers", wire.encode_headers([block.header for block in branch[:16]]))
    request = wire.decode_getdata(peer.receive("getdata").payload)
    assert [item.hash for item in request] == [block.hash for block in branch[:16]]
    mark = len(peer.received)
    peer.send("headers", wire.encode_headers([branch[16].header]))
    assert_nothing_asked(peer, "getdata", mark)  # 16 in flight already
    for block in branch[:16]:
        peer.send("block", wire.encode_block(block))
    peer.send("headers", wire.encode_headers([branch[17].header]))
    request = wire.decode_getdata(peer.receive("getdata").payload)
    assert [item.hash for item in request] == [block.hash for block in branch[16:]]

    far = fork(node, branch[15].hash, 18, tag=b"far")  # more than 16 blocks off the chain: not direct
    mark = len(peer.received)
    peer.send("headers", wire.encode_headers([block.header for block in far]))
    assert_nothing_asked(peer, "getdata", mark)


def test_getheaders_with_an_empty_locator_answers_only_a_validated_block(make_node: Callable[..., Node],
                                                                         raw_client: Dial) -> None:
    node = make_node("n")
    tip = node.generate(2, P2WSH_TRUE)[-1]
    peer = connected(raw_client, node, NODE_WITNESS)
    getheaders(peer, [], tip)
    assert [h.hash for h in wire.decode_headers(peer.receive("headers").payload)] == [tip]
    header_only = fork(node, tip, 1)[0]
    node.submit_header(header_only.header)
    mark = len(peer.received)
    getheaders(peer, [], header_only.hash)
    assert_nothing_asked(peer, "headers", mark)


def test_a_block_on_an_unknown_parent_disconnects_its_sender(make_node: Callable[..., Node], raw_client: Dial,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    node = make_node("n")
    node.generate(1, P2WSH_TRUE)
    orphan = fork(node, node.chain.tip, 2)[1]
    peer = connected(raw_client, node, NODE_WITNESS)
    with caplog.at_level(logging.ERROR, "pantheon.chain"):
        peer.send("block", wire.encode_block(orphan))
        assert peer.is_closed()
    assert "ProcessNewBlock: AcceptBlock FAILED (prev-blk-not-found)" in caplog.text
    assert orphan.hash not in node.chain.headers


def test_an_unrequested_less_work_block_keeps_only_its_header(make_node: Callable[..., Node],
                                                               raw_client: Dial) -> None:
    node = make_node("n")
    hashes = node.generate(2, P2WSH_TRUE)
    peer = connected(raw_client, node, NODE_NETWORK | NODE_WITNESS)
    side = fork(node, hashes[0], 1)[0]  # height 2 on 1: as much work as the tip, so kept
    lower = fork(node, node.chain.headers.anchor, 1, tag=b"low")[0]  # height 1: less work
    for block in (side, lower):
        peer.send("block", wire.encode_block(block))
    assert_nothing_asked(peer, "none")
    assert node.chain.has_block(side.hash) and node.chain.tip == hashes[1]
    assert lower.hash in node.chain.headers and not node.chain.has_block(lower.hash)


def test_an_unrequested_block_below_the_anti_dos_work_is_not_even_a_header(
        make_node: Callable[..., Node], raw_client: Dial, caplog: pytest.LogCaptureFixture) -> None:
    """Core's -minimumchainwork raises the anti-DoS threshold: a peer's block whose chain claims
    less is dropped with Core's log line, and its sender stays connected."""
    node = make_node("n", "--minimumchainwork", "0x10")
    node.generate(1, P2WSH_TRUE)
    block = fork(node, node.chain.tip, 1)[0]
    peer = connected(raw_client, node, NODE_NETWORK | NODE_WITNESS)
    with caplog.at_level(logging.DEBUG, "pantheon.chain"):
        peer.send("block", wire.encode_block(block))
        assert_nothing_asked(peer, "none")
    assert ("AcceptBlockHeader: not adding new block header "
            f"{block.hash[::-1].hex()}, missing anti-dos proof-of-work validation") in caplog.text
    assert block.hash not in node.chain.headers and not peer.is_closed(timeout=0.2)


def headers_from_genesis(node: Node, count: int) -> list[BlockHeader]:
    """`count` valid regtest headers on genesis, every one with genesis's time + 1 (presync does
    not look at timestamps; the header tree would refuse most of them)."""
    genesis = node.chain.headers.header(node.chain.headers.anchor)
    headers = [header_on(genesis.hash, genesis.timestamp + 1)]
    while len(headers) < count:
        headers.append(header_on(headers[-1].hash, genesis.timestamp + 1))
    return headers


def test_a_low_work_chain_is_ignored_or_presynced_never_stored(make_node: Callable[..., Node], raw_client: Dial,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Core's TryLowWorkHeadersSync under -minimumchainwork: a short batch claiming too little
    work is ignored with Core's log line; a full one starts a presync (getpeerinfo's
    presynced_headers), which asks on from its last header; an empty answer ends it."""
    node = make_node("n", "--minimumchainwork", "0x100000")
    peer = connected(raw_client, node, NODE_NETWORK | NODE_WITNESS)
    headers = headers_from_genesis(node, limits.MAX_HEADERS)
    with caplog.at_level(logging.DEBUG, "pantheon.node"):
        peer.send("headers", wire.encode_headers(headers[:14]))
        assert_nothing_asked(peer, "none")
    peer_id = node.peers()[0].id
    assert f"Ignoring low-work chain (height=14) from peer={peer_id}" in caplog.text
    assert len(node.chain.headers) == 1

    mark = len(peer.received)
    peer.send("headers", wire.encode_headers(headers))
    request = wire.decode_getheaders(peer.receive("getheaders").payload)
    assert request.hashes[0] == headers[-1].hash
    assert node.peer_presync_height(node.peers()[0]) == limits.MAX_HEADERS
    assert len(node.chain.headers) == 1
    peer.send("headers", wire.encode_headers([]))
    assert_nothing_asked(peer, "none")
    assert node.peer_presync_height(node.peers()[0]) == -1


def test_a_noban_peers_headers_skip_the_anti_dos_check(make_node: Callable[..., Node], raw_client: Dial,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    node = make_node("n", "--minimumchainwork", "0x100000", "--whitelist", "noban@127.0.0.1")
    miner = make_node("miner")
    hashes = miner.generate(5, P2WSH_TRUE)
    peer = connected(raw_client, node, NODE_WITNESS)
    with caplog.at_level(logging.INFO, "pantheon.node"):
        peer.send("headers", wire.encode_headers([miner.chain.headers.header(h) for h in hashes]))
        assert_nothing_asked(peer, "none")
    assert node.chain.headers.tip == hashes[-1]
    assert "Synchronizing blockheaders, height: 5 (~" in caplog.text
