"""Transaction relay (`pantheon.relay.TxRelay`) on its own, without a Node: what it sends to each
peer for each thing peers send it, with a hand-driven clock. The peers here record what they are
sent; the node's own tests (test_node.py) cover the same paths over real sockets."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers.clock import Clock

from pantheon import wire
from pantheon.chain.mempool import MempoolEntry
from pantheon.primitives import InvVect, Tx, TxIn, TxOut
from pantheon.protocol import MSG_BLOCK, MSG_TX, MSG_WITNESS_TX, MSG_WTX
from pantheon.relay import (
    INVENTORY_BROADCAST_MAX,
    MAX_PEER_TX_ANNOUNCEMENTS,
    MAX_PEER_TX_REQUEST_IN_FLIGHT,
    OVERLOADED_PEER_TX_DELAY,
    TxRelay,
)


@dataclass
class Remote:
    relay: bool = True


@dataclass
class RecordingPeer:
    """The part of `net.peer.Peer` relay uses; `sent` holds (command, decoded payload)."""

    id: int
    inbound: bool = False
    wtxid_relay: bool = True
    fee_filter: int = 0
    remote: Remote = field(default_factory=Remote)
    closed: bool = False
    connection_type: str = "outbound-full-relay"
    known_inventory: Any = field(default_factory=lambda: wire.InventorySet(1_000))
    sent: list[tuple[str, list[InvVect]]] = field(default_factory=list)

    def send(self, command: str, payload: bytes = b"") -> bool:
        self.sent.append((command, getattr(wire, f"decode_{command}")(payload)))
        return True

    def take(self) -> list[tuple[str, list[InvVect]]]:
        sent, self.sent = self.sent, []
        return sent


class Pool:
    """A mempool of entries by txid and wtxid, and an orphanage."""

    def __init__(self) -> None:
        self.entries: dict[bytes, MempoolEntry] = {}
        self.orphans: set[bytes] = set()
        self.rejects: set[bytes] = set()

    def add(self, tx: Tx, fee: int = 1_000) -> MempoolEntry:
        entry = MempoolEntry(tx, fee, tx.vsize, 0, 0.0, 1, 0)
        self.entries[tx.txid] = entry
        return entry

    def get(self, txid: bytes) -> MempoolEntry | None:
        return self.entries.get(txid)

    def get_by_wtxid(self, wtxid: bytes) -> MempoolEntry | None:
        return next((entry for entry in self.entries.values() if entry.tx.wtxid == wtxid), None)

    def has_orphan(self, wtxid: bytes) -> bool:
        return wtxid in self.orphans

    def recently_rejected(self, tx_hash: bytes) -> bool:
        return tx_hash in self.rejects

    def ordered(self) -> list[MempoolEntry]:
        return list(self.entries.values())


def tx(n: int, parents: tuple[bytes, ...] = (), witness: bool = True) -> Tx:
    inputs = [TxIn(parent, 0, b"", 0xFFFFFFFF, (b"\x01",) if witness else ()) for parent in parents or (bytes([n]) * 32,)]
    return Tx(2, inputs, [TxOut(10_000 + n, b"\x51")], 0)


@pytest.fixture
def pool() -> Pool:
    return Pool()


@pytest.fixture
def tx_relay(pool: Pool, clock: Clock) -> TxRelay:
    return TxRelay(pool, trickle_outbound=2.0, trickle_inbound=5.0, request_timeout=60.0,
                   rng=random.Random(7), clock=clock)


def connect(tx_relay: TxRelay, *peers: RecordingPeer) -> None:
    for peer in peers:
        tx_relay.add_peer(peer)


def getdata(peer: RecordingPeer) -> list[InvVect]:
    sent = peer.take()
    assert [command for command, _ in sent] == ["getdata"] * len(sent)
    return [item for _, items in sent for item in items]


def test_a_tx_is_asked_of_its_first_announcer_only(tx_relay: TxRelay) -> None:
    first, second, legacy = RecordingPeer(1), RecordingPeer(2), RecordingPeer(3, wtxid_relay=False)
    connect(tx_relay, first, second, legacy)
    t = tx(1)
    tx_relay.announced(first, [InvVect(MSG_WTX, t.wtxid)])
    tx_relay.announced(second, [InvVect(MSG_WTX, t.wtxid)])
    assert getdata(first) == [InvVect(MSG_WTX, t.wtxid)]
    assert second.take() == []
    tx_relay.announced(legacy, [InvVect(MSG_TX, t.txid)])  # another hash: asked as a witness tx
    assert getdata(legacy) == [InvVect(MSG_WITNESS_TX, t.txid)]
    assert tx_relay.in_flight(1) == tx_relay.in_flight(3) == 1


def test_the_other_kind_of_tx_inv_and_block_invs_are_ignored(tx_relay: TxRelay) -> None:
    wtxid_peer, legacy = RecordingPeer(1), RecordingPeer(2, wtxid_relay=False)
    connect(tx_relay, wtxid_peer, legacy)
    t = tx(1)
    tx_relay.announced(wtxid_peer, [InvVect(MSG_TX, t.txid), InvVect(MSG_BLOCK, b"\x07" * 32)])
    tx_relay.announced(legacy, [InvVect(MSG_WTX, t.wtxid)])
    assert wtxid_peer.take() == [] and legacy.take() == []


def test_known_and_refused_txs_are_not_asked(tx_relay: TxRelay, pool: Pool) -> None:
    peer = RecordingPeer(1)
    connect(tx_relay, peer)
    pooled, orphan, refused = tx(1), tx(2), tx(3)
    pool.add(pooled)
    pool.orphans.add(orphan.wtxid)
    pool.rejects.add(refused.wtxid)
    tx_relay.announced(peer, [InvVect(MSG_WTX, t.wtxid) for t in (pooled, orphan, refused)])
    assert peer.take() == []
    assert tx_relay.is_known(pooled.txid) and tx_relay.is_known(pooled.wtxid) and tx_relay.is_known(refused.wtxid)


def test_notfound_timeout_and_disconnect_each_pass_the_request_on(tx_relay: TxRelay, clock: Clock) -> None:
    peers = [RecordingPeer(i) for i in range(1, 5)]
    connect(tx_relay, *peers)
    t = tx(1)
    for peer in peers:
        tx_relay.announced(peer, [InvVect(MSG_WTX, t.wtxid)])
    wanted = [InvVect(MSG_WTX, t.wtxid)]
    assert getdata(peers[0]) == wanted
    tx_relay.not_found(peers[0], [t.wtxid])
    assert getdata(peers[1]) == wanted
    clock.now += 61
    tx_relay.tick()
    assert getdata(peers[2]) == wanted
    tx_relay.remove_peer(peers[2])
    assert getdata(peers[3]) == wanted
    tx_relay.received(peers[3], t)
    tx_relay.not_found(peers[3], [t.wtxid])  # answered already: nobody is asked again
    assert all(peer.take() == [] for peer in peers)
    assert tx_relay.in_flight(4) == 0


def test_a_closed_or_full_announcer_is_skipped(tx_relay: TxRelay) -> None:
    first, closed, busy, last = RecordingPeer(1), RecordingPeer(2), RecordingPeer(3), RecordingPeer(4)
    connect(tx_relay, first, closed, busy, last)
    for n in range(MAX_PEER_TX_REQUEST_IN_FLIGHT):
        tx_relay.announced(busy, [InvVect(MSG_WTX, tx(100 + n).wtxid)])
    assert tx_relay.in_flight(3) == MAX_PEER_TX_REQUEST_IN_FLIGHT
    tx_relay.announced(busy, [InvVect(MSG_WTX, tx(99).wtxid)])  # over the per-peer cap: not asked now
    assert tx_relay.in_flight(3) == MAX_PEER_TX_REQUEST_IN_FLIGHT and tx_relay.waiting(3) == 1
    busy.take()
    t = tx(1)
    for peer in (first, closed, busy, last):
        tx_relay.announced(peer, [InvVect(MSG_WTX, t.wtxid)])
    assert getdata(first) == [InvVect(MSG_WTX, t.wtxid)]
    closed.closed = True
    tx_relay.not_found(first, [t.wtxid])
    assert first.take() == closed.take() == busy.take() == []
    assert getdata(last) == [InvVect(MSG_WTX, t.wtxid)]


def test_orphan_parents_are_asked_of_the_sender(tx_relay: TxRelay, pool: Pool) -> None:
    peer = RecordingPeer(1)
    connect(tx_relay, peer)
    have, missing, refused = tx(1), tx(2), tx(3)
    pool.add(have)
    pool.rejects.add(refused.txid)
    tx_relay.request_parents(peer, tx(9, parents=(have.txid, missing.txid, refused.txid)))
    assert getdata(peer) == [InvVect(MSG_WITNESS_TX, missing.txid)]


def test_trickles_announce_to_every_relaying_peer_but_the_source(tx_relay: TxRelay, pool: Pool, clock: Clock) -> None:
    source, outbound, inbound = RecordingPeer(1), RecordingPeer(2, wtxid_relay=False), RecordingPeer(3, inbound=True)
    quiet, picky = RecordingPeer(4, remote=Remote(relay=False)), RecordingPeer(5, fee_filter=10_000_000)
    connect(tx_relay, source, outbound, inbound, quiet, picky)
    t = tx(1)
    pool.add(t, fee=1_000)
    tx_relay.queue(t, source)
    tx_relay.tick()
    assert all(peer.take() == [] for peer in (source, outbound, inbound, quiet, picky))  # not due yet
    clock.now += 600
    tx_relay.tick()
    assert outbound.take() == [("inv", [InvVect(MSG_TX, t.txid)])]
    assert inbound.take() == [("inv", [InvVect(MSG_WTX, t.wtxid)])]
    assert source.take() == quiet.take() == picky.take() == []  # the source, relay=false, under the feefilter
    tx_relay.queue(t)
    clock.now += 600
    tx_relay.tick()
    assert outbound.take() == inbound.take() == []  # known to have it: never announced twice


def test_a_trickle_is_at_most_1000_txs_and_the_mempool_message_sends_all(
        tx_relay: TxRelay, pool: Pool, clock: Clock) -> None:
    peer, asker = RecordingPeer(1), RecordingPeer(2)
    connect(tx_relay, peer)
    txs = [tx(n % 256, parents=(n.to_bytes(32, "little"),)) for n in range(INVENTORY_BROADCAST_MAX + 5)]
    for t in txs:
        pool.add(t)
        tx_relay.queue(t)
    clock.now += 600
    tx_relay.tick()
    sent = peer.take()
    assert [(command, len(items)) for command, items in sent] == [("inv", INVENTORY_BROADCAST_MAX)]
    clock.now += 600
    tx_relay.tick()
    assert [len(items) for _, items in peer.take()] == [5]
    connect(tx_relay, asker)
    tx_relay.announce_mempool(asker)
    announced = [item.hash for _, items in asker.take() for item in items]
    assert sorted(announced) == sorted(t.wtxid for t in txs)


def test_txs_left_the_pool_before_their_trickle_are_not_announced(tx_relay: TxRelay, pool: Pool, clock: Clock) -> None:
    peer = RecordingPeer(1)
    connect(tx_relay, peer)
    t = tx(1)
    tx_relay.queue(t)  # never in the pool (mined or evicted meanwhile)
    clock.now += 600
    tx_relay.tick()
    assert peer.take() == []


def test_a_busy_peers_further_announcements_wait_and_are_asked_as_its_requests_end(
        tx_relay: TxRelay, clock: Clock) -> None:
    """Core's overloaded-peer delay: beyond 100 requests in flight an announcement is kept, not
    dropped, and asked 2 s later as soon as the peer's window has room; past 5,000 tracked
    announcements a peer's further ones are dropped."""
    busy, other = RecordingPeer(1), RecordingPeer(2)
    connect(tx_relay, busy, other)
    announced = [tx(n, parents=(n.to_bytes(32, "little"),)) for n in range(MAX_PEER_TX_REQUEST_IN_FLIGHT + 150)]
    tx_relay.announced(busy, [InvVect(MSG_WTX, t.wtxid) for t in announced])
    assert getdata(busy) == [InvVect(MSG_WTX, t.wtxid) for t in announced[:MAX_PEER_TX_REQUEST_IN_FLIGHT]]
    assert tx_relay.waiting(1) == 150
    for t in announced[:30]:
        tx_relay.received(busy, t)
    tx_relay.tick()
    assert getdata(busy) == []  # room now, but not before the delay
    tx_relay.announced(other, [InvVect(MSG_WTX, announced[-1].wtxid)])  # also announced elsewhere
    assert getdata(other) == [InvVect(MSG_WTX, announced[-1].wtxid)]
    clock.now += OVERLOADED_PEER_TX_DELAY
    tx_relay.tick()
    assert getdata(busy) == [InvVect(MSG_WTX, t.wtxid) for t in announced[MAX_PEER_TX_REQUEST_IN_FLIGHT:][:30]]
    assert tx_relay.in_flight(1) == MAX_PEER_TX_REQUEST_IN_FLIGHT and tx_relay.waiting(1) == 120
    by_wtxid = {t.wtxid: t for t in announced}
    asked_later: list[Tx] = []
    answered = announced[30:MAX_PEER_TX_REQUEST_IN_FLIGHT + 30]  # the whole window
    while tx_relay.waiting(1):
        for t in answered:
            tx_relay.received(busy, t)
        tx_relay.tick()
        answered = [by_wtxid[item.hash] for item in getdata(busy)]
        assert 0 < len(answered) <= MAX_PEER_TX_REQUEST_IN_FLIGHT
        asked_later += answered
    # Each asked once, in order, but the last, being asked of `other`: `busy` is its next announcer.
    assert asked_later == announced[MAX_PEER_TX_REQUEST_IN_FLIGHT + 30:-1]
    tx_relay.not_found(other, [announced[-1].wtxid])
    assert getdata(busy) == [InvVect(MSG_WTX, announced[-1].wtxid)]

    flood = [tx(n, parents=(n.to_bytes(32, "big"),)) for n in range(1, MAX_PEER_TX_ANNOUNCEMENTS + 10)]
    tx_relay.announced(other, [InvVect(MSG_WTX, t.wtxid) for t in flood])
    assert tx_relay.in_flight(2) + tx_relay.waiting(2) == MAX_PEER_TX_ANNOUNCEMENTS
