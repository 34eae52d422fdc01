"""BIP152 compact blocks over loopback: a line of Pantheon nodes in high-bandwidth mode, and a raw
peer that sends what a real one would (cmpctblock, blocktxn, getdata(MSG_CMPCT_BLOCK),
getblocktxn) and the bad input Core reacts to: out-of-range prefilled indexes and getblocktxn
indexes (misbehaving), a blocktxn of the wrong length (misbehaving) or unasked (ignored), an index
past 16 bits (the message is dropped), equal short ids and a rebuilt block whose merkle root does
not match (the full block is asked for)."""

from __future__ import annotations

import dataclasses
import urllib.request
from typing import Callable

import pytest
from helpers.chain import P2WSH_TRUE, block_on, prevouts_of, spend
from helpers.node import FAST, link, proxy
from helpers.p2p import RawClient, assert_nothing_asked, free_port
from helpers.waiting import NODE_WAIT, in_thread, wait_for

from pantheon import wire
from pantheon.compactblocks import compact_block
from pantheon.net.peer import PeerState
from pantheon.node import Node
from pantheon.primitives import (
    Block, BlockTxn, BlockTxnRequest, CmpctBlock, InvVect, Locator, PrefilledTx, SendCmpct, Tx,
)
from pantheon.protocol import MSG_CMPCT_BLOCK, MSG_WITNESS_BLOCK, NODE_NETWORK, NODE_WITNESS

Dial = Callable[..., RawClient]


def spends(node: Node, mined: list[bytes], count: int) -> list[Tx]:
    """`count` transactions, each spending one of the first coinbases of `mined`."""
    return [spend(prevouts_of(node.chain.read_block(block_hash).transactions[0])[:1], fee=2_000)
            for block_hash in mined[:count]]


def next_block(node: Node, txs: list[Tx]) -> Block:
    tree = node.chain.headers
    return block_on(tree.header(node.chain.tip), node.chain.height + 1, node.network, txs)


@pytest.fixture
def funded(make_node: Callable[..., Node]) -> tuple[Node, list[Tx]]:
    """A node with a recent tip (direct fetch applies), two transactions in its mempool and
    a third it has never seen: the block on its tip holds all three, in that order."""
    node = make_node("n")
    mined = node.generate(105, P2WSH_TRUE)
    txs = spends(node, mined, 3)
    for tx in txs[:2]:
        assert node.submit_transaction(tx) == "accepted"
    return node, txs


def solicited(raw_client: Dial, node: Node, block: Block) -> RawClient:
    """A raw peer that offered compact blocks (sendcmpct 0, 2) and announced `block` by headers,
    which the node then asked of it as a compact block (low bandwidth): it may send it now."""
    peer = raw_client(node, NODE_WITNESS)
    peer.send("sendcmpct", wire.encode_sendcmpct(SendCmpct(False, 2)))
    peer.send("headers", wire.encode_headers([block.header]))
    assert wire.decode_getdata(peer.receive("getdata").payload) == [InvVect(MSG_CMPCT_BLOCK, block.hash)]
    return peer


def received(node: Node) -> list[tuple[str, int, int]]:
    seen: list[tuple[str, int, int]] = []
    node.events.block_received.subscribe(lambda how, missing, saved: seen.append((how, missing, saved)))
    return seen


def test_a_compact_block_is_rebuilt_from_the_mempool_and_a_getblocktxn(funded, raw_client: Dial) -> None:
    node, txs = funded
    events = received(node)
    block = next_block(node, txs)
    peer = solicited(raw_client, node, block)
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
    request = wire.decode_getblocktxn(peer.receive("getblocktxn").payload)
    assert request == BlockTxnRequest(block.hash, (3,))  # coinbase prefilled, 1 and 2 from the pool
    peer.send("blocktxn", wire.encode_blocktxn(BlockTxn(block.hash, (txs[2],))))
    wait_for(lambda: node.chain.tip == block.hash, NODE_WAIT, what="block rebuilt")
    assert events and events[0][:2] == ("compact", 1) and events[0][2] > 0


def test_a_block_wholly_in_the_mempool_needs_no_round_trip(funded, raw_client: Dial) -> None:
    node, txs = funded
    block = next_block(node, txs[:2])
    peer = solicited(raw_client, node, block)
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
    wait_for(lambda: node.chain.tip == block.hash, NODE_WAIT, what="block rebuilt")
    assert not any(frame.command == "getblocktxn" for frame in peer.received)


def test_an_orphan_or_a_refused_tx_counts_for_reconstruction(funded, raw_client: Dial) -> None:
    node, txs = funded
    node.extra_txns.add(txs[2])
    block = next_block(node, txs)
    peer = solicited(raw_client, node, block)
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
    wait_for(lambda: node.chain.tip == block.hash, NODE_WAIT, what="block rebuilt")


def test_bad_blocktxn_answers(funded, raw_client: Dial) -> None:
    node, txs = funded
    block = next_block(node, txs)
    peer = solicited(raw_client, node, block)
    peer.send("blocktxn", wire.encode_blocktxn(BlockTxn(block.hash, (txs[2],))))  # no getblocktxn yet: ignored
    assert_nothing_asked(peer, "none")
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
    peer.receive("getblocktxn")
    mark = len(peer.received)
    # The right count but the wrong transaction: the merkle root fails, the block is asked whole.
    peer.send("blocktxn", wire.encode_blocktxn(BlockTxn(block.hash, (txs[0],))))
    getdata = wire.decode_getdata(peer.receive("getdata").payload)
    assert getdata == [InvVect(MSG_WITNESS_BLOCK, block.hash)] and len(peer.received) > mark
    peer.send("block", wire.encode_block(block))
    wait_for(lambda: node.chain.tip == block.hash, NODE_WAIT, what="full block after a failed rebuild")
    assert not peer.is_closed(0.2)
    # A blocktxn with too many transactions for what was asked: misbehaving (a local peer is
    # disconnected, not discouraged).
    block2 = next_block(node, spends(node, [node.chain.headers.ancestor(node.chain.tip, 3)], 1))
    other = solicited(raw_client, node, block2)
    other.send("cmpctblock", wire.encode_cmpctblock(compact_block(block2)))
    other.receive("getblocktxn")
    other.send("blocktxn", wire.encode_blocktxn(BlockTxn(block2.hash, (*block2.transactions[1:], txs[0]))))
    assert other.is_closed()


def test_bad_cmpctblock_messages(funded, raw_client: Dial) -> None:
    node, txs = funded
    block = next_block(node, txs)
    coinbase = block.transactions[0]
    # A prefilled index past the block's end (one transaction in all): misbehaving.
    bad = CmpctBlock(block.header, 1, (), (PrefilledTx(1, coinbase),))
    peer = solicited(raw_client, node, block)
    peer.send("cmpctblock", wire.encode_cmpctblock(bad))
    assert peer.is_closed()
    # An index past 16 bits does not decode (Core's "differential value overflow"): dropped.
    peer = solicited(raw_client, node, block)
    payload = bytearray(wire.encode_cmpctblock(CmpctBlock(block.header, 1, (), (PrefilledTx(0, coinbase),
                                                                                 PrefilledTx(1, coinbase)))))
    raw_coinbase = coinbase.serialize()
    second = payload.rindex(raw_coinbase)
    assert payload[second - 1] == 0  # the second gap
    payload[second - 1:second] = b"\xfd\xff\xff"  # gap 65535 after index 0: index 65536
    peer.send("cmpctblock", bytes(payload))
    assert_nothing_asked(peer, "none")
    # Two equal short ids: a collision, the block is asked for whole.
    good = compact_block(block)
    collided = CmpctBlock(good.header, good.nonce, (good.short_ids[0], *good.short_ids[1:-1], good.short_ids[0]),
                          good.prefilled)
    peer.send("cmpctblock", wire.encode_cmpctblock(collided))
    assert wire.decode_getdata(peer.receive("getdata").payload) == [InvVect(MSG_WITNESS_BLOCK, block.hash)]
    assert node.chain.tip != block.hash and not peer.is_closed(0.2)


def test_compact_blocks_nobody_asked_for_are_ignored(funded, raw_client: Dial) -> None:
    """Core: from a peer that never sent sendcmpct, or unsolicited from one we did not ask to
    announce with them (not high bandwidth), a cmpctblock is ignored."""
    node, txs = funded
    block = next_block(node, txs)
    for offers in (False, True):
        peer = raw_client(node, NODE_WITNESS)
        if offers:
            peer.send("sendcmpct", wire.encode_sendcmpct(SendCmpct(False, 2)))
        peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
        assert_nothing_asked(peer, "getblocktxn")
    assert node.partial_blocks.count() == 0 and node.chain.tip != block.hash


def test_a_compact_block_ignored_is_asked_for_before_the_next_message(make_node: Callable[..., Node],
                                                                     raw_client: Dial) -> None:
    """Core's SendMessages follows every message: an unsolicited cmpctblock from a peer not in
    high-bandwidth mode is ignored, but its header makes the block wanted, and it is asked for
    (whole) at once, not at the next tick of the download. Core's p2p_compactblocks counts on
    it: the copy that peer sends next is then solicited, and is processed."""
    node = make_node("n", tuning=dataclasses.replace(FAST, tick=3600))
    node.generate(1, P2WSH_TRUE)  # a recent tip: the node is out of initial block download
    block = next_block(node, [])
    peer = raw_client(node, NODE_NETWORK | NODE_WITNESS)
    peer.send("sendcmpct", wire.encode_sendcmpct(SendCmpct(False, 2)))
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
    assert wire.decode_getdata(peer.receive("getdata").payload) == [InvVect(MSG_WITNESS_BLOCK, block.hash)]
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))  # now solicited: taken
    wait_for(lambda: node.chain.tip == block.hash, what="the solicited compact block connected")


def test_serving_compact_blocks_and_block_transactions(funded, raw_client: Dial) -> None:
    node, txs = funded
    block = next_block(node, txs)
    node.process_block(block)
    peer = raw_client(node, NODE_WITNESS)
    peer.send("getdata", wire.encode_getdata([InvVect(MSG_CMPCT_BLOCK, block.hash)]))
    cmpct = wire.decode_cmpctblock(peer.receive("cmpctblock").payload)
    assert cmpct.header == block.header and cmpct.prefilled == (PrefilledTx(0, block.transactions[0]),)
    assert len(cmpct.short_ids) == 3
    peer.send("getblocktxn", wire.encode_getblocktxn(BlockTxnRequest(block.hash, (1, 3))))
    answer = wire.decode_blocktxn(peer.receive("blocktxn").payload)
    assert answer == BlockTxn(block.hash, (block.transactions[1], block.transactions[3]))
    # Deeper than 5 blocks for cmpctblock, 10 for getblocktxn: the full block instead.
    node.generate(11, P2WSH_TRUE)
    mark = len(peer.received)
    peer.send("getdata", wire.encode_getdata([InvVect(MSG_CMPCT_BLOCK, block.hash)]))
    assert wire.decode_block(peer.receive("block").payload) == block
    peer.send("getblocktxn", wire.encode_getblocktxn(BlockTxnRequest(block.hash, (1,))))
    assert wire.decode_block(peer.receive("block").payload) == block
    assert not any(frame.command in ("cmpctblock", "blocktxn") for frame in peer.received[mark:])
    # An index past the block's end: misbehaving.
    tip = node.chain.tip
    peer.send("getblocktxn", wire.encode_getblocktxn(BlockTxnRequest(tip, (1,))))
    assert peer.is_closed()


def test_a_high_bandwidth_peer_gets_new_blocks_as_cmpctblock(make_node: Callable[..., Node],
                                                            raw_client: Dial) -> None:
    node = make_node("n", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    node.generate(3, P2WSH_TRUE)
    peer = raw_client(node, NODE_WITNESS)
    peer.send("sendcmpct", wire.encode_sendcmpct(SendCmpct(True, 2)))
    peer.send("getheaders", wire.encode_getheaders(Locator(70016, (node.chain.tip,))))
    peer.receive("headers")  # it has our tip now
    tip = node.generate(1, P2WSH_TRUE)[0]
    cmpct = wire.decode_cmpctblock(peer.receive("cmpctblock").payload)
    assert cmpct.header.hash == tip
    (ours,) = node.peers(PeerState.CONNECTED)
    assert ours.compact_blocks == SendCmpct(True, 2) and not ours.bip152_hb_to
    (info,) = in_thread(proxy(node).getpeerinfo)
    assert info["bip152_hb_from"] is True and info["bip152_hb_to"] is False


def test_a_line_of_five_relays_in_high_bandwidth_mode(make_node: Callable[..., Node]) -> None:
    """The first block each node gets makes its upstream peer a high-bandwidth announcer; then a
    block of mempool transactions crosses the line as cmpctblocks with nothing missing."""
    nodes = [make_node(f"n{i}") for i in range(5)]
    mined = nodes[0].generate(120, P2WSH_TRUE)
    for downstream, upstream in zip(nodes[1:], nodes):
        link(downstream, upstream)
    wait_for(lambda: all(node.chain.tip == mined[-1] for node in nodes), NODE_WAIT, what="synced")
    nodes[0].generate(1, P2WSH_TRUE)  # the block that picks the high-bandwidth peers
    wait_for(lambda: all(node.chain.tip == nodes[0].chain.tip for node in nodes), NODE_WAIT, what="first block")
    for downstream in nodes[1:]:
        wait_for(lambda: any(peer.bip152_hb_to for peer in downstream.peers()), NODE_WAIT, what="sendcmpct(1)")
    events = [received(node) for node in nodes]
    for tx in spends(nodes[0], mined, 20):
        assert nodes[0].submit_transaction(tx) == "accepted"
    wait_for(lambda: all(len(node.mempool) == 20 for node in nodes), NODE_WAIT, what="txs relayed")
    tip = nodes[0].generate(1, P2WSH_TRUE)[0]
    wait_for(lambda: all(node.chain.tip == tip for node in nodes), NODE_WAIT, what="block relayed")
    assert all(seen == [("compact", 0, seen[0][2])] for seen in events[1:]) and events[1][0][2] > 0
    for node in nodes[1:]:
        upstream = [peer for peer in node.peers() if peer.bip152_hb_to]
        assert len(upstream) == 1 and not upstream[0].inbound


def test_metrics_count_compact_blocks(make_node: Callable[..., Node], raw_client: Dial) -> None:
    port = free_port()
    node = make_node("m", "--metrics-port", str(port))
    mined = node.generate(105, P2WSH_TRUE)
    txs = spends(node, mined, 3)
    for tx in txs[:2]:
        assert node.submit_transaction(tx) == "accepted"
    block = next_block(node, txs)
    peer = solicited(raw_client, node, block)
    peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(block)))
    peer.receive("getblocktxn")
    peer.send("blocktxn", wire.encode_blocktxn(BlockTxn(block.hash, (txs[2],))))
    wait_for(lambda: node.chain.tip == block.hash, NODE_WAIT, what="block rebuilt")
    url = f"http://{node.config.rpcbind}:{port}/metrics"
    text = in_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert 'pantheon_blocks_received_total{how="compact"} 1.0' in text
    assert "pantheon_compact_block_missing_transactions_count 1.0" in text
    assert "pantheon_compact_block_missing_transactions_sum 1.0" in text
    saved = next(line for line in text.splitlines() if line.startswith("pantheon_compact_block_bytes_saved_total"))
    assert float(saved.split()[1]) > 0
