"""The node's five proofs against bcoin 1.0.2 (tests/helpers/bcoin.py; skipped without bcoin, a
failure under CI=true), on bcoin's regtest rules (`--testactivationheight`, as bcoin activates CSV
and segwit at 432 and buries BIP34/65/66 elsewhere):

1. bcoin mines 500 blocks with wallet transactions; Pantheon, given `--addnode`, reaches its tip.
2. Pantheon mines 100 more with its own generatetoaddress; bcoin, dialling Pantheon, follows.
3. A bcoin wallet payment reaches Pantheon's mempool; a transaction given to Pantheon's
   sendrawtransaction reaches bcoin's.
4. Three Pantheon nodes and bcoin, split in two, mine apart and converge when reconnected.
5. A peer that leaves mid-download and one that answers getdata with notfound do not stall sync.
6. New blocks of 200 mempool transactions cross as BIP152 compact blocks both ways: with nothing
   missing, and with 10 transactions held back from the receiver (a getblocktxn for exactly those).
"""

from __future__ import annotations

from typing import Any, Callable

import gevent
import pytest
from helpers.bcoin import BCOIN_RULE_ARGS, BcoinChain, BcoinNode
from helpers.chain import P2WSH_TRUE, prevouts_of, spend
from helpers.node import proxy
from helpers.p2p import RawClient
from helpers.waiting import NODE_WAIT, in_thread, wait_for

from pantheon import wire
from pantheon.chain.addresses import address_to_script
from pantheon.hashing import hash_to_hex, hex_to_hash
from pantheon.protocol import MSG_BLOCK, MSG_WITNESS_FLAG, NODE_NETWORK, NODE_WITNESS
from pantheon.net.peer import PeerState
from pantheon.node import Node
from pantheon.primitives import BlockTxnRequest, Tx, TxOut

CHAIN_BLOCKS = 500
CORE_ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
SYNC_WAIT = 120.0


@pytest.fixture(scope="module")
def chain(bcoin: BcoinNode) -> BcoinChain:
    return bcoin.build_chain(CHAIN_BLOCKS, tx_every=10)


@pytest.fixture
def pantheon(make_node: Callable[..., Node]) -> Callable[..., Node]:
    """`make_node` on bcoin's regtest rules, with RPC user u, password p."""

    def start(name: str, *extra: str, rpc: bool = False) -> Node:
        return make_node(name, "--rpcuser", "u", "--rpcpassword", "p", *BCOIN_RULE_ARGS, *extra, rpc=rpc)

    return start


def synced(node: Node, tip: str, timeout: float = SYNC_WAIT) -> None:
    wait_for(lambda: hash_to_hex(node.chain.tip) == tip, timeout, f"Pantheon at {tip[:16]}")


def test_1_2_pantheon_syncs_from_bcoin_then_bcoin_from_pantheon(
        bcoin: BcoinNode, chain: BcoinChain, pantheon: Callable[..., Node]) -> None:
    node = pantheon("p", "--addnode", f"127.0.0.1:{bcoin.p2p_port}", rpc=True)
    synced(node, chain.tip)
    assert node.chain.height == CHAIN_BLOCKS
    assert node.chain.scripts_verified
    # -v2transport is on by default: bcoin (v1 only) dropped our BIP324 key and we came back on v1.
    assert [peer.transport_protocol for peer in node.peers()] == ["v1"]
    mined_txids = {hex_to_hash(txid) for txid in chain.txids}
    found = {tx.txid for height in range(101, CHAIN_BLOCKS + 1)
             for tx in node.chain.read_block(node.chain.headers.ancestor(node.chain.tip, height)).transactions}
    assert mined_txids <= found  # every wallet transaction bcoin mined is in our chain
    # 2: our own generatetoaddress, then bcoin dials us and follows.
    hashes = in_thread(proxy(node).generatetoaddress, 100, CORE_ADDRESS)
    assert len(hashes) == 100
    bcoin.connect_to("127.0.0.1", node.manager.address[1])
    assert bcoin.wait_for_height(CHAIN_BLOCKS + 100, timeout=SYNC_WAIT) == hashes[-1]
    assert bcoin.block_hex(hashes[-1]) == wire.encode_block(node.chain.read_block(hex_to_hash(hashes[-1]))).hex()
    assert all(p.state is PeerState.CONNECTED for p in node.peers())  # bcoin kept us
    assert sorted((p.inbound, p.transport_protocol) for p in node.peers()) == [(False, "v1"), (True, "v1")]


def test_3_transactions_flow_both_ways(bcoin: BcoinNode, chain: BcoinChain, pantheon: Callable[..., Node]) -> None:
    height, tip = bcoin.tip()
    node = pantheon("p", "--addnode", f"127.0.0.1:{bcoin.p2p_port}", rpc=True)
    synced(node, tip)
    bcoin.connect_to("127.0.0.1", node.manager.address[1])
    paid = bcoin.send(address_to_script(CORE_ADDRESS, node.network), 150_000)
    wait_for(lambda: node.mempool.get(hex_to_hash(paid)) is not None, 30, "bcoin's payment in our mempool")
    txid, tx_hex = bcoin.create_tx(address_to_script(CORE_ADDRESS, node.network), 250_000)
    assert in_thread(proxy(node).sendrawtransaction, tx_hex) == txid
    bcoin.wait_for_mempool(txid, timeout=30)  # relayed by our trickle, fetched by bcoin
    assert bcoin.raw_tx(txid) == tx_hex


def test_4_partitioned_nodes_converge_on_most_work(
        bcoin: BcoinNode, chain: BcoinChain, pantheon: Callable[..., Node]) -> None:
    _, tip = bcoin.tip()
    first = pantheon("p1", "--addnode", f"127.0.0.1:{bcoin.p2p_port}")
    second = pantheon("p2")
    third = pantheon("p3")
    synced(first, tip)
    second.add_peer(*first.manager.address)
    third.add_peer(*second.manager.address)
    synced(second, tip)
    synced(third, tip)
    bcoin.connect_to("127.0.0.1", first.manager.address[1])
    # Split: {bcoin, first} | {second, third}
    for peer in second.peers():
        if peer.address == first.manager.address:
            peer.close("test: partition")
    wait_for(lambda: len(first.peers()) == 2 and len(second.peers()) == 1, NODE_WAIT,
             what="partition")  # first: bcoin both ways
    bcoin.mine(2)
    light = bcoin.tip()[1]
    synced(first, light)
    heavy = third.generate(4, CORE_ADDRESS)[-1]
    synced(second, hash_to_hex(heavy))
    assert first.chain.tip != second.chain.tip
    # Heal: second dials first again; everyone moves to the four-block branch.
    second.add_peer(*first.manager.address)
    for node in (first, second, third):
        synced(node, hash_to_hex(heavy))
    bcoin.wait_for_tip(hash_to_hex(heavy), timeout=SYNC_WAIT)
    assert bcoin.tip()[1] == hash_to_hex(heavy)


class HeadersOnlyPeer:
    """A raw inbound peer that announces the chain's headers, then fails every block request:
    `mode` "notfound" answers getdata with notfound, "leave" disconnects at the first getdata."""

    def __init__(self, node: Node, headers: list[Any], mode: str) -> None:
        self.client = RawClient(node.manager.address[1], wire)
        self.client.send("version", self.client.version(services=NODE_NETWORK | NODE_WITNESS))
        self.client.receive("verack")
        self.client.send("verack")
        self.headers = headers
        self.mode = mode
        self.asked: list[bytes] = []
        self.task = gevent.spawn(self._serve)

    def _serve(self) -> None:
        client = self.client
        try:
            while True:
                frame = client.receive("getdata", timeout=SYNC_WAIT)
                blocks = [item for item in wire.decode_getdata(frame.payload)
                          if (item.type & ~MSG_WITNESS_FLAG) == MSG_BLOCK]
                self.asked.extend(item.hash for item in blocks)
                if self.mode == "leave" and blocks:
                    client.close()
                    return
                if blocks:
                    client.send("notfound", wire.encode_notfound(blocks))
        except (OSError, ConnectionError):
            return

    def announce(self) -> None:
        for start in range(0, len(self.headers), 2000):
            self.client.send("headers", wire.encode_headers(self.headers[start:start + 2000]))

    def close(self) -> None:
        self.task.kill()
        self.client.close()


def test_5_notfound_and_a_peer_leaving_mid_download_do_not_stall(
        bcoin: BcoinNode, chain: BcoinChain, pantheon: Callable[..., Node]) -> None:
    height, tip = bcoin.tip()
    reference = pantheon("ref", "--addnode", f"127.0.0.1:{bcoin.p2p_port}")
    synced(reference, tip)
    tree = reference.chain.headers
    headers = [tree.header(tree.ancestor(reference.chain.tip, h)) for h in range(1, height + 1)]
    node = pantheon("syncer")
    liar = HeadersOnlyPeer(node, headers, "notfound")
    quitter = HeadersOnlyPeer(node, headers, "leave")
    try:
        liar.announce()
        quitter.announce()
        wait_for(lambda: liar.asked and quitter.asked, 30, "both bad peers asked for blocks")
        node.add_peer("127.0.0.1", bcoin.p2p_port)
        synced(node, tip)
        assert liar.asked and quitter.asked
        assert node.chain.height == height
    finally:
        liar.close()
        quitter.close()


def test_6_compact_blocks_both_ways(start_bcoin: Callable[..., BcoinNode], pantheon: Callable[..., Node]) -> None:
    bcoin = start_bcoin("cmpct", wallet=False)
    tip_hex = bcoin.mine(440)[-1]  # bcoin's miner signals segwit: active from 432
    node = pantheon("c", "--addnode", f"127.0.0.1:{bcoin.p2p_port}")
    synced(node, tip_hex)
    mined = node.generate(105, P2WSH_TRUE)  # coinbases we can spend (P2WSH(OP_TRUE))
    bcoin.wait_for_tip(hash_to_hex(mined[-1]), timeout=SYNC_WAIT)
    # Four confirmed fan-outs of 200 outputs: four rounds of 200 independent spends.
    fanouts = [spend(prevouts_of(node.chain.read_block(block_hash).transactions[0])[:1],
                     [TxOut(6_000_000, P2WSH_TRUE)] * 200) for block_hash in mined[:4]]
    for tx in fanouts:
        assert node.submit_transaction(tx) == "accepted"
    tip = node.generate(1, P2WSH_TRUE)[0]
    bcoin.wait_for_tip(hash_to_hex(tip), timeout=SYNC_WAIT)
    rounds = [[spend(prevouts_of(fanout)[i:i + 1], fee=2_000) for i in range(200)] for fanout in fanouts]
    traffic: list[tuple[str, str]] = []
    node.events.message.subscribe(lambda direction, command, size: traffic.append((direction, command)))
    asked: list[BlockTxnRequest] = []
    serve = node.manager.handlers["getblocktxn"]
    node.manager.handlers["getblocktxn"] = lambda peer, frame: (
        asked.append(wire.decode_getblocktxn(frame.payload)), serve(peer, frame))
    received: list[tuple[str, int, int]] = []
    node.events.block_received.subscribe(lambda how, missing, saved: received.append((how, missing, saved)))

    def share(txs: list[Tx], held: list[Tx] = ()) -> None:
        """`txs` into both mempools (relayed to bcoin), `held` into ours only, unannounced."""
        for tx in txs:
            assert node.submit_transaction(tx) == "accepted"
        wait_for(lambda: len(bcoin.mempool()) == len(txs), 60, f"{len(txs)} txs in bcoin's mempool")
        for tx in held:
            with node._lock:
                node.mempool.accept(tx)

    # Pantheon -> bcoin: bcoin asks getdata(MSG_CMPCT_BLOCK) for our announcement.
    share(rounds[0])
    mark = len(traffic)
    tip = node.generate(1, P2WSH_TRUE)[0]
    bcoin.wait_for_tip(hash_to_hex(tip), timeout=30)
    assert ("sent", "cmpctblock") in traffic[mark:] and ("sent", "block") not in traffic[mark:] and not asked
    share(rounds[1][:190], held=rounds[1][190:])
    tip = node.generate(1, P2WSH_TRUE)[0]
    bcoin.wait_for_tip(hash_to_hex(tip), timeout=30)
    block = node.chain.read_block(tip)
    assert len(block.transactions) == 201
    held = {tx.txid for tx in rounds[1][190:]}
    assert asked == [BlockTxnRequest(tip, tuple(i for i, tx in enumerate(block.transactions) if tx.txid in held))]
    # bcoin -> Pantheon: its announcement, our getdata(MSG_CMPCT_BLOCK), its cmpctblock.
    share(rounds[2])
    mark = len(traffic)
    (tip_hex,) = bcoin.mine(1)
    synced(node, tip_hex, 30)
    assert received == [("compact", 0, received[0][2])] and received[0][2] > 15_000
    assert ("sent", "getblocktxn") not in traffic[mark:] and ("received", "block") not in traffic[mark:]
    share(rounds[3])
    for tx in rounds[3][190:]:
        node.mempool.remove_with_descendants(tx.txid)
    (tip_hex,) = bcoin.mine(1)
    synced(node, tip_hex, 30)
    assert len(node.chain.read_block(hex_to_hash(tip_hex)).transactions) == 201
    assert received[1][:2] == ("compact", 10)
    assert node.chain.tip == hex_to_hash(bcoin.tip()[1])
