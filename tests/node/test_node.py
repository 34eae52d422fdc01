"""The node (`pantheon.node.Node`) end to end over loopback: Pantheon nodes syncing from each other
headers-first, relaying transactions and blocks, reorganising, serving JSON-RPC to python-bitcoinlib,
restarting where they stopped, and reacting to a peer's invalid block or headers as DESIGN.md says.
Scripts are verified (Core's interpreter) wherever py-bitcoinkernel is installed."""

from __future__ import annotations

import dataclasses
import logging
import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import gevent
import pytest
from bitcoin.core import CTransaction
from bitcoin.rpc import JSONRPCError, Proxy
from helpers.chain import P2WSH_TRUE, block_on, prevouts_of, spend
from helpers.decodescript import P2PKH_SPEND, P2PKH_SPEND_SCRIPT_SIG_ASM
from helpers.node import FAST, link, proxy, rpc_url, settings
from helpers.p2p import RawClient, assert_nothing_asked, free_port
from helpers.waiting import NODE_WAIT, in_thread, wait_for

from pantheon import params, wire
from pantheon.chain import scripts
from pantheon.chain.miner import block_template, mine
from pantheon.config import load_config
from pantheon.net.address import PeerAddress, TimedAddress
from pantheon.hashing import hash_to_hex, merkle_root
from pantheon.protocol import (
    MSG_BLOCK,
    MSG_FILTERED_BLOCK,
    MSG_TX,
    MSG_WITNESS_TX,
    MSG_WTX,
    NODE_NETWORK,
    NODE_WITNESS,
)
from pantheon.net.peer import PeerState
from pantheon.node import WALLETS_DIRNAME, Node, NodeTuning
from pantheon.service import NodeService
from pantheon.chain.pow import check_proof_of_work
from pantheon.primitives import Block, BlockHeader, Endpoint, InvVect, OutPoint, Tx, TxOut, Version
from pantheon.store import DatadirInUse

def test_a_node_syncs_relays_and_follows_a_reorg(make_node: Callable[..., Node]) -> None:
    a = make_node("a")
    mined = a.generate(110, P2WSH_TRUE)
    b = make_node("b", "--listen", "0")
    link(b, a)
    wait_for(lambda: b.chain.tip == a.chain.tip, NODE_WAIT, what="b synced to a")
    assert b.chain.height == 110
    # A transaction submitted to a reaches b's mempool through the trickle.
    coinbase = a.chain.read_block(mined[0]).transactions[0]
    tx = spend(prevouts_of(coinbase)[:1], fee=5_000)
    assert a.submit_transaction(tx) == "accepted"
    wait_for(lambda: b.mempool.get(tx.txid) is not None, NODE_WAIT, what="tx relayed to b")
    # b mines it; a gets the block (a headers announcement: a sent sendheaders) and empties its pool.
    block_hash = b.generate(1, P2WSH_TRUE)[0]
    wait_for(lambda: a.chain.tip == block_hash, NODE_WAIT, what="block relayed to a")
    assert a.mempool.get(tx.txid) is None
    assert tx.txid in {t.txid for t in a.chain.read_block(block_hash).transactions}
    # Split: each mines alone; b's branch is longer; reconnected, a reorganises to it and the
    # transaction, mined only on a's losing branch, is back in a's mempool.
    for peer in b.peers():
        peer.close("test: partition")
    wait_for(lambda: not a.peers() and not b.peers(), NODE_WAIT, what="partition")
    tx2 = spend(prevouts_of(a.chain.read_block(mined[1]).transactions[0])[:1], fee=4_000)
    a.submit_transaction(tx2)
    a.generate(1, P2WSH_TRUE)
    assert a.mempool.get(tx2.txid) is None
    b.generate(3, P2WSH_TRUE)
    link(b, a)
    wait_for(lambda: a.chain.tip == b.chain.tip, NODE_WAIT, what="a reorganised to b's branch")
    assert a.chain.height == 114
    wait_for(lambda: a.mempool.get(tx2.txid) is not None, NODE_WAIT, what="tx2 back in a's mempool")


def test_restart_resumes_and_a_second_node_on_the_datadir_is_refused(tmp_path: Path) -> None:
    node = Node(settings(tmp_path / "n"), tuning=FAST, script_workers=0).start()
    tip = node.generate(12, P2WSH_TRUE)[-1]
    with pytest.raises(DatadirInUse):
        Node(settings(tmp_path / "n"), tuning=FAST, script_workers=0)
    node.stop()
    again = Node(settings(tmp_path / "n"), tuning=FAST, script_workers=0).start()
    try:
        assert (again.chain.height, again.chain.tip) == (12, tip)
    finally:
        again.stop()


def test_a_datadir_cut_down_as_cores_cache_starts_with_its_chain(tmp_path: Path) -> None:
    """Core's functional tests build a chain once, then keep only the directories blocks,
    chainstate and indexes of the network's datadir (removing `wallets`, which must be there and
    empty, with os.rmdir, and every other entry with os.remove) and copy that to each node."""
    node = Node(settings(tmp_path / "cache"), tuning=FAST, script_workers=0).start()
    tip = node.generate(5, P2WSH_TRUE)[-1]
    node.stop()
    network_dir = node.datadir
    (network_dir / WALLETS_DIRNAME).rmdir()
    for entry in network_dir.iterdir():
        if entry.name not in ("blocks", "chainstate", "indexes"):
            entry.unlink()  # raises for any other directory
    shutil.copytree(tmp_path / "cache", tmp_path / "copy")
    copy = Node(settings(tmp_path / "copy"), tuning=FAST, script_workers=0).start()
    try:
        assert (copy.chain.height, copy.chain.tip) == (5, tip)
        assert (copy.datadir / WALLETS_DIRNAME).is_dir()
    finally:
        copy.stop()


def test_an_invalid_block_disconnects_its_peer_and_no_one_else(make_node: Callable[..., Node],
                                                               raw_client: Callable[[Node], RawClient], caplog) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    node = make_node("n")
    node.generate(3, P2WSH_TRUE)
    friend = make_node("friend", "--listen", "0")
    link(friend, node)
    raw = raw_client(node)
    template = block_template(node.chain, None, P2WSH_TRUE)
    coinbase = template.block.transactions[0]
    greedy = Tx(coinbase.version, coinbase.inputs, [TxOut(coinbase.outputs[0].value + 1, P2WSH_TRUE),
                                                    *coinbase.outputs[1:]], coinbase.locktime)
    header = template.block.header
    header = BlockHeader(header.version, header.prev_block, merkle_root([greedy.txid])[0], header.timestamp,
                         header.bits, 0)
    bad = mine(Block(header, (greedy,)))
    raw.send("block", wire.encode_block(bad))
    assert raw.is_closed()
    # Misbehaving, and only disconnected: Core never discourages a local (loopback) address.
    assert not node.banlist.is_discouraged("127.0.0.1")
    assert "Warning: disconnecting but not discouraging local peer" in caplog.text
    assert not node.chain.headers.is_valid(bad.hash) and node.chain.height == 3
    assert all(peer.state is PeerState.CONNECTED for peer in friend.peers())
    node.generate(1, P2WSH_TRUE)
    wait_for(lambda: friend.chain.tip == node.chain.tip, NODE_WAIT, what="the friend still syncs")


def test_a_stored_block_that_fails_when_another_peers_block_connects_it_blames_its_sender(
        make_node: Callable[..., Node], raw_client: Callable[..., RawClient]) -> None:
    """Core's mapBlockSource: a block stored ahead of its parent, failing when another peer's
    block (the parent) makes it connect, is held against the peer that sent it, not against
    the one whose good block made it connect."""
    node = make_node("n")
    node.generate(1, P2WSH_TRUE)  # a recent tip: out of initial block download
    parent = block_on(node.chain.headers.header(node.chain.tip), 2, node.network)
    greedy = block_on(parent.header, 3, node.network, fees=1)  # fails to connect: bad-cb-amount
    sender = raw_client(node, NODE_NETWORK | NODE_WITNESS)
    sender.send("headers", wire.encode_headers([parent.header, greedy.header]))
    asked = wire.decode_getdata(sender.receive("getdata").payload)
    assert [item.hash for item in asked] == [parent.hash, greedy.hash]
    sender.send("block", wire.encode_block(greedy))  # stored: its parent is not here yet
    wait_for(lambda: node.chain.has_block(greedy.hash), what="the block stored ahead of its parent")
    other = raw_client(node, NODE_NETWORK | NODE_WITNESS)
    other.send("block", wire.encode_block(parent))
    assert sender.is_closed()
    assert not other.is_closed(0.5)
    assert node.chain.tip == parent.hash and not node.chain.headers.is_valid(greedy.hash)


def test_non_continuous_headers_discourage_the_peer(make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    node = make_node("n")
    other = make_node("other")
    hashes = other.generate(3, P2WSH_TRUE)
    headers = [other.chain.headers.header(h) for h in hashes]
    raw = raw_client(node)
    raw.send("headers", wire.encode_headers([headers[0], headers[2]]))
    assert raw.is_closed()
    assert node.chain.headers.height == 0


def test_getdata_as_core_answers_it(make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    """Core's ProcessGetData: a missing transaction gets notfound; a block we lack and an item of
    an unknown type get nothing; the block we have comes, non-witness for type 2."""
    node = make_node("n")
    node.generate(1, P2WSH_TRUE)
    raw = raw_client(node)
    wanted = [InvVect(2, b"\x11" * 32), InvVect(0x40000001, b"\x22" * 32), InvVect(0, bytes(32)),
              InvVect(2, node.chain.tip)]
    raw.send("getdata", wire.encode_getdata(wanted))
    block = wire.decode_block(raw.receive("block").payload)
    assert block.hash == node.chain.tip
    missing = wire.decode_notfound(raw.receive("notfound").payload)
    assert [item.hash for item in missing] == [b"\x22" * 32]
    assert_nothing_asked(raw, "notfound", len(raw.received))


def test_rpc_methods_through_python_bitcoinlib(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    address = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
    hashes = in_thread(client.generatetoaddress, 101, address)
    assert len(hashes) == 101 and in_thread(client.getblockcount) == 101
    assert in_thread(client.getbestblockhash) == hashes[-1] == in_thread(client.getblockhash, 101)
    info = in_thread(client.getblockchaininfo)
    assert info["chain"] == "regtest" and info["blocks"] == info["headers"] == 101
    assert in_thread(client.getsyncstatus)["scripts_verified"] is scripts.AVAILABLE
    block = in_thread(client.getblock, hashes[0])
    assert block["height"] == 1 and block["confirmations"] == 101 and block["nextblockhash"] == hashes[1]
    full = in_thread(client.getblock, hashes[0], 2)
    assert full["tx"][0]["vout"][0]["scriptPubKey"]["address"] == address
    raw_block = bytes.fromhex(in_thread(client.getblock, hashes[0], 0))
    assert hash_to_hex(wire.decode_block(raw_block).hash) == hashes[0]
    header = in_thread(client.getblockheader, hashes[5])
    assert header["previousblockhash"] == hashes[4] and header["nTx"] == 1
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.getblockhash, 500)
    assert caught.value.error["code"] == -8
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.getblock, "00" * 32)
    assert caught.value.error["code"] == -5
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.sendrawtransaction, "00")
    assert caught.value.error["code"] == -22
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.generatetoaddress, 1, "not-an-address")
    assert caught.value.error["code"] == -5
    mempool = in_thread(client.getmempoolinfo)
    assert mempool["size"] == 0 and mempool["loaded"]
    assert in_thread(client.getconnectioncount) == 0 and in_thread(client.getpeerinfo) == []
    assert in_thread(client.getnetworkinfo)["subversion"].startswith("/Pantheon:")
    status = in_thread(client.getsyncstatus)
    assert (status["height"], status["target"], status["headers"], status["progress"]) == (101, 101, 101, 100.0)
    assert status["peers"] == 0 and status["blocks_in_flight"] == 0 and not status["initialblockdownload"]
    assert 0 <= in_thread(client.uptime) < 600 and in_thread(client.ping) is None


def test_python_bitcoinlibs_typed_proxy_works_unmodified(rpc_node: Node) -> None:
    """`bitcoin.rpc.Proxy` (not Raw): it sends booleans for verbosity, turns our hex into its own
    CBlock / CBlockHeader / CTransaction and our error codes into IndexError."""
    client = Proxy(service_url=rpc_url(rpc_node))
    mined = rpc_node.generate(101, P2WSH_TRUE)
    assert in_thread(client.getblockcount) == 101
    assert in_thread(client.getbestblockhash) == mined[-1] == in_thread(client.getblockhash, 101)
    block = in_thread(client.getblock, mined[0])
    assert block.GetHash() == mined[0] and len(block.vtx) == 1 and block.vtx[0].is_coinbase()
    assert in_thread(client.getblockheader, mined[1]).hashPrevBlock == mined[0]
    detail = in_thread(client.getblockheader, mined[1], True)
    assert (detail["height"], detail["confirmations"], detail["nextblockhash"]) == (2, 100, mined[2])
    with pytest.raises(IndexError):
        in_thread(client.getblockhash, 500)
    with pytest.raises(IndexError):
        in_thread(client.getblock, b"\x00" * 32)
    tx = spend(prevouts_of(rpc_node.chain.read_block(mined[0]).transactions[0])[:1], fee=2_000)
    assert in_thread(client.sendrawtransaction, CTransaction.deserialize(tx.serialize())) == tx.txid
    assert in_thread(client.getrawmempool) == [tx.txid]
    assert in_thread(client.getrawtransaction, tx.txid).GetTxid() == tx.txid
    verbose = in_thread(client.getrawtransaction, tx.txid, True)
    assert verbose["tx"].GetTxid() == tx.txid and verbose["blockhash"] is None
    assert in_thread(client.getinfo)["blocks"] == 101


def test_decoderawtransaction_and_scripts_as_core_shows_them(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    decoded = in_thread(client.decoderawtransaction, P2PKH_SPEND)
    assert "hex" not in decoded and decoded["txid"] == hash_to_hex(wire.decode_tx(bytes.fromhex(P2PKH_SPEND)).txid)
    assert decoded["vin"][0]["scriptSig"]["asm"] == P2PKH_SPEND_SCRIPT_SIG_ASM
    script = decoded["vout"][0]["scriptPubKey"]
    assert script["asm"] == "OP_DUP OP_HASH160 eb6c6e0cdb2d256a32d97b8df1fc75d1920d9bca OP_EQUALVERIFY OP_CHECKSIG"
    assert script["type"] == "pubkeyhash" and script["hex"] == "76a914eb6c6e0cdb2d256a32d97b8df1fc75d1920d9bca88ac"
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.decoderawtransaction, "0100")
    assert caught.value.error["code"] == -22
    block_hash = rpc_node.generate(1, P2WSH_TRUE)[0]
    coinbase = in_thread(client.getblock, hash_to_hex(block_hash), 2)["tx"][0]
    assert coinbase["vout"][0]["scriptPubKey"]["asm"] == "0 " + P2WSH_TRUE[2:].hex()


GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"  # regtest
UNKNOWN = "ab" * 32


@pytest.mark.parametrize(("method", "params", "code"), [
    ("getblockhash", ["1"], -3),
    ("getblockhash", [-1], -8),
    ("getblock", ["zz" * 32], -8),
    ("getblock", ["00"], -8),
    ("getblock", [GENESIS, "2"], -3),
    ("getblockheader", [UNKNOWN], -5),
    ("getrawtransaction", [UNKNOWN], -5),
    ("getrawtransaction", [UNKNOWN, False, UNKNOWN], -5),
    ("getrawtransaction", [UNKNOWN, True, GENESIS], -5),
    ("decoderawtransaction", [12], -22),
    ("sendrawtransaction", ["zz"], -22),
    ("addnode", ["127.0.0.1:1", "bogus"], -1),  # Core answers a bad command with its usage, as -1
    ("addnode", ["127.0.0.1:notaport", "add"], -8),
    ("disconnectnode", ["127.0.0.1:1", 3], -32602),  # Core: RPC_INVALID_PARAMS for both or neither
    ("disconnectnode", [], -32602),
    ("disconnectnode", ["221B Baker Street"], -29),
    ("setban", ["10.0.0.1", "bogus"], -8),
    ("setban", ["10.0.0.1", "add", "soon"], -3),
    ("nosuchmethod", [], -32601),
])
def test_a_bad_call_gets_cores_error_code(rpc_node: Node, method: str, params: list[Any], code: int) -> None:
    with pytest.raises(JSONRPCError) as caught:
        in_thread(proxy(rpc_node)._call, method, *params)
    assert caught.value.error["code"] == code and caught.value.error["message"]


def test_an_unknown_parent_is_reported_as_missing_inputs(rpc_node: Node) -> None:
    """sendrawtransaction of a tx whose inputs nobody has: Core's -25, and the pool stays empty."""
    orphan = spend([(OutPoint(bytes(range(32)), 0), TxOut(50_000, P2WSH_TRUE))])
    with pytest.raises(JSONRPCError) as caught:
        in_thread(proxy(rpc_node).sendrawtransaction, orphan.serialize().hex())
    assert caught.value.error == {"code": -25, "message": "bad-txns-inputs-missingorspent"}
    assert len(rpc_node.mempool) == 0 and rpc_node.mempool.orphan_count == 0  # Core keeps only relayed orphans


def test_rpc_bans(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    in_thread(client.setban, "10.1.0.0/16", "add", 3600)
    banned = in_thread(client.listbanned)
    assert [entry["address"] for entry in banned] == ["10.1.0.0/16"]
    assert 3590 <= banned[0]["time_remaining"] <= 3600
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.setban, "10.1.0.0/16", "add")
    assert caught.value.error["code"] == -23
    with pytest.raises(JSONRPCError) as caught:  # one address inside a banned subnet is banned already
        in_thread(client.setban, "10.1.2.3", "add")
    assert caught.value.error == {"code": -23, "message": "Error: IP/Subnet already banned"}
    in_thread(client.setban, "10.1.2.0/24", "add")  # a subnet only by itself
    in_thread(client.setban, "10.1.2.0/24", "remove")
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.setban, "no.such/ip", "add")
    assert caught.value.error["code"] == -30
    in_thread(client.setban, "10.1.0.0/16", "remove")
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.setban, "10.1.0.0/16", "remove")
    assert caught.value.error["code"] == -30
    until = int(time.time()) + 600
    in_thread(client.setban, "10.2.3.4", "add", until, True)  # absolute: a Unix time
    assert [entry["banned_until"] for entry in in_thread(client.listbanned)] == [until]
    in_thread(client.clearbanned)
    assert in_thread(client.listbanned) == []
    assert json.loads((rpc_node.datadir / "banlist.json").read_text()) == {"banned_nets": []}


def test_rpc_addnode_and_disconnectnode(rpc_node: Node, make_node: Callable[..., Node]) -> None:
    other = make_node("other")
    client = proxy(rpc_node)
    target = f"127.0.0.1:{other.manager.address[1]}"
    in_thread(client.addnode, target, "add")
    wait_for(lambda: in_thread(client.getconnectioncount) == 1, NODE_WAIT, what="added node connected")
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.addnode, target, "add")
    assert caught.value.error["code"] == -23
    peer = in_thread(client.getpeerinfo)[0]
    assert peer["connection_type"] == "manual" and not peer["inbound"] and peer["subver"].startswith("/Pantheon:")
    in_thread(client.addnode, target, "remove")
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.addnode, target, "remove")
    assert caught.value.error["code"] == -24
    in_thread(client.disconnectnode, target)
    wait_for(lambda: in_thread(client.getconnectioncount) == 0, NODE_WAIT, what="disconnected")
    in_thread(client.addnode, target, "onetry")  # once, not remembered
    wait_for(lambda: in_thread(client.getconnectioncount) == 1, NODE_WAIT, what="onetry connected")
    assert not rpc_node.added_nodes
    in_thread(client.disconnectnode, "", in_thread(client.getpeerinfo)[0]["id"])  # by node id
    wait_for(lambda: in_thread(client.getconnectioncount) == 0, NODE_WAIT, what="disconnected by id")
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.disconnectnode, target)
    assert caught.value.error["code"] == -29


def test_sendrawtransaction_and_mempool_rpcs(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    mined = rpc_node.generate(101, P2WSH_TRUE)
    tx = spend(prevouts_of(rpc_node.chain.read_block(mined[0]).transactions[0])[:1], fee=2_000)
    txid = in_thread(client.sendrawtransaction, tx.serialize().hex())
    assert txid == hash_to_hex(tx.txid)
    assert in_thread(client.sendrawtransaction, tx.serialize().hex()) == txid  # already in the pool: Core's success
    assert in_thread(client.getrawmempool) == [txid]
    verbose = in_thread(client.getrawmempool, True)[txid]
    assert str(verbose["fees"]["base"]) == "0.00002" and verbose["wtxid"] == hash_to_hex(tx.wtxid)
    assert in_thread(client.getrawtransaction, txid) == tx.serialize().hex()
    assert in_thread(client.getrawtransaction, txid, True)["vin"][0]["txinwitness"] == ["51"]
    conflict = spend(prevouts_of(rpc_node.chain.read_block(mined[0]).transactions[0])[:1], fee=1_000)
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.sendrawtransaction, conflict.serialize().hex())
    assert caught.value.error == {"code": -26, "message": f"insufficient fee, rejecting replacement "
                                  f"{hash_to_hex(conflict.txid)}, less fees than conflicting txs; 0.00001 < 0.00002"}
    block_hash = rpc_node.generate(1, P2WSH_TRUE)[0]
    assert in_thread(client.getrawmempool) == []
    found = in_thread(client.getrawtransaction, txid, True, hash_to_hex(block_hash))
    assert found["blockhash"] == hash_to_hex(block_hash) and found["in_active_chain"] is True
    assert found["confirmations"] == 1 and found["blocktime"] == found["time"] == rpc_node.chain.headers.header(
        block_hash).timestamp
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.sendrawtransaction, tx.serialize().hex())
    assert caught.value.error["code"] == -27  # confirmed: its outputs are in the UTXO set
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.getrawtransaction, txid)
    assert caught.value.error["code"] == -5


@pytest.mark.skipif(not scripts.AVAILABLE, reason=scripts.UNAVAILABLE_REASON or "kernel missing")
def test_a_bad_signature_is_rejected_by_script_checks(rpc_node: Node) -> None:
    """A P2WSH(OP_FALSE) spend passes every check but the script: the mempool refuses it with
    Core's reason, so scripts are really executed."""
    import hashlib

    false_script = b"\x00"
    p2wsh_false = b"\x00\x20" + hashlib.sha256(false_script).digest()
    mined = rpc_node.generate(101, p2wsh_false)
    coinbase = rpc_node.chain.read_block(mined[0]).transactions[0]
    outpoint, txout = prevouts_of(coinbase)[0]
    from pantheon.primitives import TxIn
    tx = Tx(2, [TxIn(outpoint.txid, outpoint.index, b"", 0xFFFFFFFE, (false_script,))],
            [TxOut(txout.value - 1_000, P2WSH_TRUE)], 0)
    client = proxy(rpc_node)
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.sendrawtransaction, tx.serialize().hex())
    assert caught.value.error["message"].startswith("mempool-script-verify-flag-failed")


def test_metrics_endpoint(make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    metrics_port = free_port()
    node = make_node("m", "--metrics-port", str(metrics_port))
    node.generate(2, P2WSH_TRUE)
    other = make_node("other")
    headers = [other.chain.headers.header(h) for h in other.generate(3, P2WSH_TRUE)]
    raw = raw_client(node)
    raw.send("headers", wire.encode_headers([headers[0], headers[2]]))
    assert raw.is_closed()
    url = f"http://{node.config.rpcbind}:{metrics_port}/metrics"
    text = in_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert "pantheon_sync_height 2.0" in text
    assert 'pantheon_peers{direction="inbound",state="connected"} 0.0' in text
    assert "pantheon_blocks_connected_total 2.0" in text
    assert "pantheon_block_connect_seconds_count 2.0" in text
    assert "pantheon_mempool_transactions 0.0" in text
    assert 'pantheon_misbehaviour_total{reason="non-continuous headers sequence"} 1.0' in text
    assert 'pantheon_messages_total{command="headers",direction="received"} 1.0' in text
    assert 'pantheon_disconnects_total{direction="inbound"} 1.0' in text


def test_a_header_failing_its_own_proof_of_work_is_misbehaviour(make_node: Callable[..., Node],
                                                                raw_client: Callable[[Node], RawClient],
                                                                caplog) -> None:
    """Core's CheckHeadersPoW runs first, even on a header that does not connect."""
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    node = make_node("pow")
    other = make_node("other")
    header = other.chain.headers.header(other.generate(1, P2WSH_TRUE)[0])
    def with_nonce(nonce: int) -> BlockHeader:
        return BlockHeader(header.version, header.prev_block, header.merkle_root, header.timestamp, header.bits, nonce)

    failing = next(candidate for candidate in map(with_nonce, range(1000))
                   if not check_proof_of_work(candidate.hash, header.bits, node.network.pow_limit))
    raw = raw_client(node)
    raw.send("headers", wire.encode_headers([failing]))
    assert raw.is_closed()
    assert "Misbehaving: peer=" in caplog.text and ": header with invalid proof of work" in caplog.text
    assert node.chain.headers.height == 0


def test_misbehaviour_labels_drop_what_varies() -> None:
    from pantheon.metrics import reason_label

    assert reason_label("misbehaving: invalid block " + "ab" * 32 + ": bad-cb-amount") == "invalid block"
    assert reason_label("misbehaving: headers message size = 3000") == "headers message size ="
    assert reason_label("misbehaving: 1234") == "unspecified"


def test_sync_status_and_progress(make_node: Callable[..., Node], tmp_path: Path) -> None:
    node = make_node("s")
    status = node.sync_status()
    assert (status.height, status.target, status.progress) == (0, 0, 100.0)
    assert status.initial_block_download  # regtest genesis is from 2011
    node.generate(1, P2WSH_TRUE)
    assert not node.sync_status().initial_block_download
    assert json.loads(json.dumps(node.sync_status().__dict__))["height"] == 1
    # Core's other IBD condition: a fresh tip with less than the network's minimum chain work
    demanding = dataclasses.replace(params.REGTEST, minimum_chain_work=1_000)  # regtest: 2 a block
    light = Node(dataclasses.replace(settings(tmp_path / "light"), network=demanding), tuning=FAST,
                 script_workers=0).start()
    try:
        light.generate(1, P2WSH_TRUE)
        assert light.in_initial_block_download()
        light.generate(499, P2WSH_TRUE)  # work 2 x 501 > 1,000
        assert not light.in_initial_block_download()
    finally:
        light.stop()


@pytest.mark.skipif(not scripts.AVAILABLE, reason=scripts.UNAVAILABLE_REASON or "kernel missing")
def test_a_block_with_a_corrupted_signature_disconnects_its_peer(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient], caplog) -> None:
    """A P2TR key-path spend whose signature has one bit flipped, mined into an otherwise valid
    block by a miner that does not check scripts: the node's script checks reject the block, the
    peer that sent it is disconnected (a routable one also discouraged), the tip does not move."""
    from helpers.taproot import sign_key_path, taproot_output

    from pantheon.chain.mempool import Mempool
    from pantheon.primitives import TxIn

    node = make_node("n")
    secret, script = taproot_output(0xBAD5)
    funding = node.chain.read_block(node.generate(1, script)[0]).transactions[0]
    node.generate(100, P2WSH_TRUE)
    value = funding.outputs[0].value
    draft = Tx(2, [TxIn(funding.txid, 0, b"", 0xFFFFFFFD)], [TxOut(value - 2_000, P2WSH_TRUE)], 0)
    signature = sign_key_path(draft, [(value, script)], [secret]).inputs[0].witness[0]
    broken = signature[:20] + bytes([signature[20] ^ 0x01]) + signature[21:]
    forged = Tx(2, [TxIn(funding.txid, 0, b"", 0xFFFFFFFD, (broken,))], draft.outputs, 0)
    careless = Mempool(node.chain)  # no script verifier: it takes the forged spend
    careless.accept(forged)
    block = mine(block_template(node.chain, careless, P2WSH_TRUE).block)
    tip = node.chain.tip
    raw = raw_client(node)
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    raw.send("block", wire.encode_block(block))
    assert raw.is_closed()
    assert "Misbehaving: peer=" in caplog.text and not node.banlist.is_discouraged("127.0.0.1")  # local: Core's rule
    assert node.chain.tip == tip and not node.chain.headers.is_valid(block.hash)


def test_feefilter_is_obeyed_when_announcing(make_node: Callable[..., Node],
                                              raw_client: Callable[[Node], RawClient]) -> None:
    node = make_node("n")
    mined = node.generate(102, P2WSH_TRUE)
    picky, easy = raw_client(node), raw_client(node)
    picky.send("feefilter", wire.encode_feefilter(50_000))  # 50 sat/vB
    easy.send("feefilter", wire.encode_feefilter(1_000))
    gevent.sleep(0.2)
    cheap = spend(prevouts_of(node.chain.read_block(mined[0]).transactions[0])[:1], fee=2_000)  # ~20 sat/vB
    node.submit_transaction(cheap)
    announced = wire.decode_inv(easy.receive("inv").payload)
    assert [item.hash for item in announced] == [cheap.txid]  # a txid-relay peer gets the txid
    with pytest.raises(OSError):
        picky.receive("inv", timeout=0.5)


def test_sync_logs_progress(make_node: Callable[..., Node], caplog: pytest.LogCaptureFixture) -> None:
    source = make_node("source")
    source.generate(300, P2WSH_TRUE)
    caplog.set_level("INFO", logger="pantheon.node")
    slow = Node(settings(source.datadir.parent.parent / "slow", "--listen", "0"),
                tuning=NodeTuning(tick=0.02, progress_interval=0.01), script_workers=0).start()
    try:
        link(slow, source)
        wait_for(lambda: slow.chain.tip == source.chain.tip, NODE_WAIT, what="synced")
    finally:
        slow.stop()
    assert any("sync: height" in record.getMessage() and "blocks/s" in record.getMessage() and "ETA" in
               record.getMessage() for record in caplog.records)


def test_getblocks_is_answered_in_500s_and_continued(make_node: Callable[..., Node],
                                                     raw_client: Callable[[Node], RawClient]) -> None:
    """bcoin syncs by getblocks: 500 hashes an answer, and fetching the last of them brings an inv
    of our tip so the peer asks again (Core's hashContinue)."""
    from pantheon.primitives import InvVect, Locator

    node = make_node("n")
    hashes = node.generate(520, P2WSH_TRUE)
    raw = raw_client(node)
    genesis = node.chain.headers.anchor
    raw.send("getblocks", wire.encode_getblocks(Locator(70016, (genesis,))))
    offered = [item.hash for item in wire.decode_inv(raw.receive("inv").payload)]
    assert offered == hashes[:500]
    raw.send("getdata", wire.encode_getdata([InvVect(2, offered[-1])]))
    assert wire.decode_block(raw.receive("block").payload).hash == offered[-1]
    assert [item.hash for item in wire.decode_inv(raw.receive("inv").payload)] == [node.chain.tip]
    raw.send("getblocks", wire.encode_getblocks(Locator(70016, (offered[-1], genesis))))
    assert [item.hash for item in wire.decode_inv(raw.receive("inv").payload)] == hashes[500:]


def test_an_orphan_makes_the_node_ask_its_sender_for_the_parent(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    node = make_node("n")
    mined = node.generate(101, P2WSH_TRUE)
    parent = spend(prevouts_of(node.chain.read_block(mined[0]).transactions[0])[:1], fee=3_000)
    child = spend(prevouts_of(parent)[:1], fee=3_000)
    raw = raw_client(node)
    raw.send("tx", wire.encode_tx(child))
    asked = wire.decode_getdata(raw.receive("getdata").payload)
    assert [item.hash for item in asked] == [parent.txid]
    raw.send("tx", wire.encode_tx(parent))
    wait_for(lambda: node.mempool.get(child.txid) is not None, NODE_WAIT, what="the orphan resolved")


def asked_of(client: RawClient) -> list[tuple[int, bytes]]:
    """The (type, hash) items of the next getdata `client` receives."""
    return [(item.type, item.hash) for item in wire.decode_getdata(client.receive("getdata").payload)]


def test_a_tx_is_asked_of_one_announcer_and_an_unknown_block_brings_getheaders(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    node = make_node("n")
    node.generate(1, P2WSH_TRUE)  # a recent tip: out of initial block download, so tx invs count
    first, second = raw_client(node), raw_client(node, NODE_NETWORK | NODE_WITNESS)
    second.receive("getheaders")  # on connect: `second` serves blocks
    second.send("headers", wire.encode_headers([]))  # answered: another getheaders may follow
    txid = b"\x33" * 32
    first.send("inv", wire.encode_inv([InvVect(MSG_TX, txid)]))
    assert asked_of(first) == [(MSG_WITNESS_TX, txid)]
    # The same tx (in flight from `first`), a wtxid inv (this peer never sent wtxidrelay: Core
    # ignores it) and a block we have never heard of (we ask for headers).
    second.send("inv", wire.encode_inv([InvVect(MSG_TX, txid), InvVect(MSG_WTX, b"\x44" * 32),
                                        InvVect(MSG_BLOCK, b"\x55" * 32)]))
    second.receive("getheaders")  # again, for the block it announced
    assert_nothing_asked(second)


@pytest.mark.parametrize("ending", ["notfound", "timeout", "disconnect"])
def test_a_tx_request_that_fails_goes_to_the_next_announcer(tmp_path: Path, ending: str) -> None:
    """Core's TxRequestTracker: the first announcer is asked; when its request ends without the
    tx, the next peer that announced it is asked in turn, so one slow or lying peer cannot keep a
    transaction from us."""
    timeout = 0.3 if ending == "timeout" else 60.0
    node = Node(settings(tmp_path / "n"), tuning=dataclasses.replace(FAST, tx_request_timeout=timeout),
                script_workers=0).start()
    clients = [RawClient(node.manager.address[1], wire) for _ in range(3)]
    try:
        node.generate(1, P2WSH_TRUE)  # a recent tip: out of initial block download
        for client in clients:
            client.handshake()
        first, second, third = clients
        txid = b"\x66" * 32
        announce = wire.encode_inv([InvVect(MSG_TX, txid)])
        first.send("inv", announce)
        assert asked_of(first) == [(MSG_WITNESS_TX, txid)]
        for later in (second, third):
            later.send("inv", announce)
            assert_nothing_asked(later)
        if ending == "notfound":
            first.send("notfound", wire.encode_notfound([InvVect(MSG_WITNESS_TX, txid)]))
        elif ending == "disconnect":
            first.close()
        assert asked_of(second) == [(MSG_WITNESS_TX, txid)]  # the second announcer, not the third
        if ending == "timeout":  # the second does not answer either: the third is next
            assert asked_of(third) == [(MSG_WITNESS_TX, txid)]
        else:
            assert_nothing_asked(third)
    finally:
        for client in clients:
            client.close()
        node.stop()


def test_the_mempool_message_lists_the_pool_to_a_peer_with_the_permission(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    """BIP35 is served to a peer whitelisted with the mempool permission; the rest are the next test's."""
    node = make_node("n", "-whitelist=mempool@127.0.0.1")
    mined = node.generate(103, P2WSH_TRUE)
    txs = [spend(prevouts_of(node.chain.read_block(block).transactions[0])[:1], fee=5_000) for block in mined[:3]]
    for tx in txs:
        node.submit_transaction(tx)
    raw = raw_client(node)
    raw.send("mempool")
    announced = {item.hash for item in wire.decode_inv(raw.receive("inv").payload)}
    assert announced == {tx.txid for tx in txs}


@pytest.mark.parametrize(("command", "payload"), [
    ("mempool", b""), ("filterload", bytes.fromhex("0100" + "00000000" + "00000000" + "00")),
    ("filteradd", bytes.fromhex("01cc")), ("filterclear", b""),
    ("getdata", None),  # a filtered block
])
def test_bloom_messages_disconnect_as_core_does_without_node_bloom(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient], command: str,
        payload: bytes | None) -> None:
    node = make_node("n")
    raw = raw_client(node)
    if payload is None:
        payload = wire.encode_getdata([InvVect(MSG_FILTERED_BLOCK, node.chain.tip)])
    raw.send(command, payload)
    assert raw.is_closed()
    assert not node.banlist.is_discouraged("127.0.0.1")  # disconnected, not punished


def test_node_is_a_context_manager_with_a_timed_stop_and_no_server(tmp_path: Path) -> None:
    """The embeddable core: no JSON-RPC or metrics server even when configured (the service's
    job), its greenlets in one group that stop joins, and serve_forever returning after stop."""
    config = settings(tmp_path / "n", "--metrics-port", str(free_port()), rpc=True)
    with Node(config, tuning=FAST, script_workers=0) as node:
        assert node.started and len(node._greenlets) == 4  # tick, added nodes, addrman and fee estimate flushes
        with pytest.raises(OSError):
            in_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{config.rpcport}/", timeout=2))
        waiter = gevent.spawn(node.serve_forever)
        gevent.sleep(0.05)
        assert not waiter.ready()
        started = time.monotonic()
        node.stop(timeout=2)
        waiter.join(timeout=2)
        assert waiter.ready() and time.monotonic() - started < 4
        assert len(node._greenlets) == 0 and node.store.closed
    assert node.wait_stopped(0)


def test_the_service_serves_rpc_and_the_stop_rpc_ends_serve_forever(tmp_path: Path) -> None:
    config = settings(tmp_path / "s", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    service = NodeService(config, tuning=FAST, script_workers=0)
    waiter = gevent.spawn(service.serve_forever)
    wait_for(lambda: service.rpc is not None, what="RPC up")
    client = proxy(service.node)
    assert in_thread(client.getblockcount) == 0
    assert in_thread(client.stop) == "Pantheon server stopping"
    waiter.join(timeout=10)
    assert waiter.ready() and service.node.store.closed
    for after_stop in (client, proxy(service.node)):  # the kept-alive connection and a new one
        with pytest.raises(OSError):
            in_thread(after_stop.getblockcount)


def test_a_service_that_cannot_bind_its_rpc_port_stops_its_node(tmp_path: Path) -> None:
    taken = gevent.socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        config = settings(tmp_path / "t", "--rpcport", str(taken.getsockname()[1]), rpc=True)
        service = NodeService(config, tuning=FAST, script_workers=0)
        with pytest.raises(OSError):
            service.start()
        assert service.node.store.closed and service.wait_stopped(0)
    finally:
        taken.close()


def test_help_lists_cores_categories_and_describes_a_method(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    overview = in_thread(client.help)
    headings = [line for line in overview.splitlines() if line.startswith("==")]
    assert headings == ["== Blockchain ==", "== Control ==", "== Generating ==", "== Mining ==", "== Network ==",
                        "== Rawtransactions ==", "== Util ==", "== Wallet =="]
    assert "getblock blockhash ( verbosity )" in overview.splitlines()
    assert "sendrawtransaction hexstring ( maxfeerate maxburnamount )" in overview.split("== Rawtransactions ==")[1]
    detail = in_thread(client.help, "getblockhash")
    assert detail.startswith("getblockhash height\n\n") and "active chain" in detail
    assert in_thread(client.help, "nosuchmethod") == "help: unknown command: nosuchmethod"
    valid = in_thread(client.validateaddress, "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9")
    assert valid["isvalid"] and valid["iswitness"] and valid["witness_version"] == 0 and not valid["isscript"]
    assert valid["scriptPubKey"] == "0014" + valid["witness_program"]
    assert not in_thread(client.validateaddress, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT")["isvalid"]  # mainnet


def test_events_reach_subscribers_and_a_failing_one_harms_nothing(
        make_node: Callable[..., Node], caplog: pytest.LogCaptureFixture) -> None:
    node = make_node("e")
    seen: list[tuple[str, Any]] = []
    node.events.block_connected.subscribe(lambda block, height: seen.append(("block", height)))
    node.events.block_connected.subscribe(lambda block, height: 1 / 0)
    unsubscribe = node.events.block_processed.subscribe(lambda seconds: seen.append(("timed", seconds >= 0)))
    node.generate(1, P2WSH_TRUE)
    unsubscribe()
    node.generate(1, P2WSH_TRUE)
    assert seen == [("block", 1), ("timed", True), ("block", 2)]
    assert node.chain.height == 2
    assert any("block_connected observer" in record.getMessage() for record in caplog.records)


def test_a_noban_peer_is_warned_not_punished(make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient],
                                             caplog: pytest.LogCaptureFixture) -> None:
    """-whitelist=noban@127.0.0.1: the headers that get any other peer discouraged leave this one
    connected and its address in good standing; getpeerinfo lists the permission."""
    node = make_node("n", "-whitelist=noban@127.0.0.1", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    other = make_node("other")
    hashes = other.generate(3, P2WSH_TRUE)
    headers = [other.chain.headers.header(h) for h in hashes]
    raw = raw_client(node)
    raw.send("headers", wire.encode_headers([headers[0], headers[2]]))
    raw.send("ping", wire.encode_ping(7))
    assert wire.decode_pong(raw.receive("pong").payload) == 7
    assert not raw.is_closed(0.2) and not node.banlist.is_discouraged("127.0.0.1")
    assert any("not punishing noban peer" in record.getMessage() for record in caplog.records)
    (info,) = in_thread(proxy(node).getpeerinfo)
    assert info["permissions"] == ["noban"]


def test_blocksonly_says_relay_false_and_drops_a_peer_that_sends_transactions(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    node = make_node("n", "-blocksonly")
    mined = node.generate(101, P2WSH_TRUE)
    tx = spend(prevouts_of(node.chain.read_block(mined[0]).transactions[0])[:1], fee=2_000)
    sender = raw_client(node)
    ours = next(frame for frame in sender.received if frame.command == "version")
    assert wire.decode_version(ours.payload).relay is False
    sender.send("tx", tx.serialize())
    assert sender.is_closed()
    announcer = raw_client(node)
    announcer.send("inv", wire.encode_inv([InvVect(MSG_WTX, tx.wtxid)]))
    assert announcer.is_closed()
    assert node.mempool.get(tx.txid) is None


def test_comments_join_the_user_agent_and_peertimeout_bounds_the_handshake(make_node: Callable[..., Node]) -> None:
    node = make_node("n", "-uacomment=testnode0", "-uacomment=b", "-peertimeout=1")
    assert node.user_agent.endswith("(testnode0; b)/")
    silent = RawClient(node.manager.address[1], wire)
    try:
        started = time.monotonic()
        assert silent.is_closed(5)
        assert time.monotonic() - started < 4
    finally:
        silent.close()


@pytest.mark.parametrize(("flags", "auto", "dns", "fixed", "advertise"), [
    ((), True, None, True, True),
    (("-dnsseed=0",), True, (), True, True),  # Core keeps addrman and fixed-seed dialling
    (("-dnsseed=0", "-fixedseeds=0", "-discover=0"), True, (), False, False),
    (("-connect=0",), False, (), True, True),  # no automatic outbound at all
])
def test_outbound_options_reach_the_network_manager(tmp_path: Path, flags: tuple[str, ...], auto: bool,
                                                    dns: tuple[str, ...] | None, fixed: bool, advertise: bool) -> None:
    node = Node(load_config([f"-datadir={tmp_path}", "-regtest", *flags]), tuning=FAST, script_workers=0)
    try:
        manager = node.manager.config
        assert (manager.auto_outbound, manager.dns_seeds, manager.fixed_seeds) == (auto, dns, fixed)
        assert manager.gossip.advertise is advertise
    finally:
        node.stop()


def test_every_bind_listens_and_an_onion_bind_marks_its_peers(make_node: Callable[..., Node]) -> None:
    onion_port = free_port()
    node = make_node("n", f"-bind=127.0.0.1:{onion_port}=onion", "--rpcuser", "u", "--rpcpassword", "p",
                     rpc=True)
    plain = RawClient(node.manager.address[1], wire)
    hidden = RawClient(onion_port, wire)
    try:
        plain.handshake()
        hidden.handshake()
        networks = {info["addr"].rsplit(":", 1)[1]: info["network"] for info in in_thread(proxy(node).getpeerinfo)}
        assert sorted(networks.values()) == ["not_publicly_routable", "onion"]  # loopback: Core's class
    finally:
        plain.close()
        hidden.close()


CORE_PEER_KEYS = {  # Core's getpeerinfo entry (rpc/net.cpp), without the ping keys that come and go
    "id", "addr", "addrbind", "network", "services", "servicesnames", "relaytxes", "last_inv_sequence",
    "inv_to_send", "lastsend", "lastrecv", "last_transaction", "last_block", "bytessent", "bytesrecv",
    "conntime", "timeoffset", "version", "subver", "inbound", "bip152_hb_to", "bip152_hb_from",
    "presynced_headers", "synced_headers", "synced_blocks", "inflight", "addr_relay_enabled",
    "addr_processed", "addr_rate_limited", "permissions", "minfeefilter", "bytessent_per_msg",
    "bytesrecv_per_msg", "connection_type", "transport_protocol_type", "session_id"}


def test_getpeerinfo_has_cores_fields_and_counts_bytes_by_message(make_node: Callable[..., Node]) -> None:
    node = make_node("n", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    node.clock.set_mock(1_700_000_000)
    raw = RawClient(node.manager.address[1], wire)
    try:
        raw.handshake(services=NODE_NETWORK | NODE_WITNESS | 1 << 4)
        raw.send("ping", wire.encode_ping(5))
        raw.receive("pong")
        raw.send("badmsg", b"xy")  # an unknown type counts under *other*
        raw.send("ping", wire.encode_ping(6))
        raw.receive("pong")
        (entry,) = in_thread(proxy(node).getpeerinfo)
        assert set(entry) - {"pingtime", "minping", "pingwait"} == CORE_PEER_KEYS
        assert entry["addrbind"] == f"127.0.0.1:{node.manager.address[1]}"
        assert entry["addr"] == "127.0.0.1:%d" % raw.sock.getsockname()[1]
        assert entry["network"] == "not_publicly_routable" and entry["connection_type"] == "inbound"
        assert entry["servicesnames"] == ["NETWORK", "WITNESS", "UNKNOWN[2^4]"]
        assert entry["conntime"] == 1_700_000_000 and entry["lastrecv"] == 1_700_000_000
        assert entry["bytesrecv_per_msg"]["ping"] == 2 * 32 and entry["bytesrecv_per_msg"]["*other*"] == 26
        assert entry["bytessent_per_msg"]["pong"] == 2 * 32 and entry["bytessent_per_msg"]["version"] > 24
        assert entry["transport_protocol_type"] == "v1" and entry["presynced_headers"] == -1
    finally:
        raw.close()


def test_setmocktime_moves_the_nodes_clock(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    mock = 2_000_000_000
    assert in_thread(client.setmocktime, mock) is None
    block_hash = rpc_node.generate(1, P2WSH_TRUE)[0]
    assert rpc_node.chain.headers.header(block_hash).timestamp == mock  # the miner's time is the node's
    assert rpc_node.in_initial_block_download() is False  # the tip is fresh by the mocked clock
    with pytest.raises(JSONRPCError) as caught:
        in_thread(client.setmocktime, -1)
    assert caught.value.error == {"code": -8, "message": "Mocktime must be in the range [0, 4294967295], not -1."}
    assert in_thread(client.setmocktime, 0) is None and rpc_node.clock.mock == 0
    assert "setmocktime" not in in_thread(client.help) and in_thread(client.syncwithvalidationinterfacequeue) is None
    raw = in_thread(client._call, "getblock", block_hash[::-1].hex())  # positional through python-bitcoinlib
    assert raw["height"] == 1


def test_an_unknown_block_inv_from_a_witness_only_peer_brings_getheaders(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    """Core asks any announcer for headers (p2p_sendheaders.py:338); only the headers sync started
    at connection is kept for peers that serve blocks."""
    node = make_node("n")
    tip = node.generate(1, P2WSH_TRUE)[0]
    witness_only = raw_client(node, NODE_WITNESS)
    assert_nothing_asked(witness_only)  # no sync started on connect: it serves no blocks
    witness_only.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, b"\x55" * 32)]))
    request = wire.decode_getheaders(witness_only.receive("getheaders").payload)
    assert request.hashes[0] == tip  # the locator starts at our best header


def test_getnettotals_counts_bytes_as_they_arrive(make_node: Callable[..., Node]) -> None:
    """Core's p2p_invalid_messages: the first 12 bytes of a message count before it is whole."""
    node = make_node("n", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    client = proxy(node)
    raw = RawClient(node.manager.address[1], wire)
    try:
        raw.handshake()
        raw.send("ping", wire.encode_ping(1))
        raw.receive("pong")
        before = in_thread(client.getnettotals)
        message = raw.frame("ping", wire.encode_ping(2))
        raw.send_raw(message[:12])
        wait_for(lambda: in_thread(client.getnettotals)["totalbytesrecv"] == before["totalbytesrecv"] + 12,
                 what="12 bytes counted")
        raw.send_raw(message[12:])
        assert wire.decode_pong(raw.receive("pong").payload) == 2
        after = in_thread(client.getnettotals)
        assert after["totalbytessent"] >= before["totalbytessent"] + 32 and set(after["uploadtarget"]) >= {"target"}
    finally:
        raw.close()


def test_getheaders_waits_for_an_answer_and_inv_asks_a_new_peer_once(
        make_node: Callable[..., Node], raw_client: Callable[[Node], RawClient]) -> None:
    """Core's MaybeSendGetHeaders: one getheaders at a time per peer until any headers answer it;
    a peer we do not sync with (it serves no blocks) is asked once for an unknown block's inv,
    and only one such peer per new block."""
    node = make_node("n")
    node.generate(1, P2WSH_TRUE)
    syncing = raw_client(node, NODE_NETWORK | NODE_WITNESS)
    syncing.receive("getheaders")
    mark = len(syncing.received)
    syncing.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, b"\x01" * 32)]))
    assert_nothing_asked(syncing, "getheaders", mark)  # the first getheaders is unanswered
    syncing.send("headers", wire.encode_headers([]))
    syncing.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, b"\x02" * 32)]))
    syncing.receive("getheaders")
    first, second = raw_client(node, NODE_WITNESS), raw_client(node, NODE_WITNESS)
    first.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, b"\x03" * 32)]))
    first.receive("getheaders")
    second.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, b"\x03" * 32)]))
    assert_nothing_asked(second, "getheaders")  # the same new block: one new peer per block
    first.send("headers", wire.encode_headers([]))
    mark = len(first.received)
    first.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, b"\x04" * 32)]))
    assert_nothing_asked(first, "getheaders", mark)  # asked once already before sync


def test_a_peers_claimed_height_does_not_move_the_sync_target(make_node: Callable[..., Node]) -> None:
    node = make_node("n")
    node.generate(2, P2WSH_TRUE)
    liar = RawClient(node.manager.address[1], wire)
    try:
        claim = Version(70016, NODE_NETWORK | NODE_WITNESS, int(time.time()), Endpoint(), Endpoint(), 7,
                        "/liar/", 1_000_000, True)
        liar.send("version", wire.encode_version(claim))
        liar.receive("verack")
        liar.send("verack")
        wait_for(lambda: node.peers(PeerState.CONNECTED), what="handshake")
        status = node.sync_status()
        assert (status.height, status.target, status.progress) == (2, 2, 100.0)
    finally:
        liar.close()


def test_connect_peers_are_redialled_and_the_address_table_is_flushed_while_running(
        make_node: Callable[..., Node], tmp_path: Path) -> None:
    """Core keeps -connect peers connected (not dialled once), and writes its address table
    every 15 minutes, so a node that is killed keeps what it learned."""
    quick = dataclasses.replace(FAST, added_node_retry=0.1, addrman_flush_interval=0.1)
    target = make_node("target")
    host, port = target.manager.address
    node = Node(settings(tmp_path / "n", "--connect", f"{host}:{port}"), tuning=quick, script_workers=0).start()
    try:
        wait_for(lambda: node.peers(PeerState.CONNECTED), NODE_WAIT, what="connected")
        for peer in node.peers():
            peer.close("test: dropped")
        wait_for(lambda: node.peers(PeerState.CONNECTED), NODE_WAIT, what="redialled")
        learned = PeerAddress.from_ip("8.8.8.8", 8333)
        assert node.addrman.add([TimedAddress(learned, int(time.time()), 9)], PeerAddress.from_ip("1.1.1.1")) == 1
        stored = node.store.namespace("addrman")
        assert not any(True for _ in stored.iterator(prefix=b"e/"))  # not yet written
        wait_for(lambda: any(True for _ in stored.iterator(prefix=b"e/")), what="flushed")
    finally:
        node.stop()


def test_addconnection_opens_cores_connection_types(make_node: Callable[..., Node],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """block-relay-only: relay=false both ways, blocks but no transactions or addresses; feeler:
    closed once the version arrives; an unknown type, or a v2 request under -v2transport=0: Core's -8."""
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    a = make_node("a", "--rpcuser", "u", "--rpcpassword", "p", "-v2transport=0", rpc=True)
    b = make_node("b")
    mined = a.generate(101, P2WSH_TRUE)
    client = proxy(a)
    address = f"127.0.0.1:{b.manager.address[1]}"
    assert in_thread(client.addconnection, address, "block-relay-only", False) == {
        "address": address, "connection_type": "block-relay-only"}
    wait_for(lambda: b.chain.tip == a.chain.tip, NODE_WAIT, what="blocks relayed on block-relay-only")
    (ours,) = in_thread(client.getpeerinfo)
    assert ours["connection_type"] == "block-relay-only" and not ours["relaytxes"]
    (theirs,) = b.peers(PeerState.CONNECTED)
    assert theirs.remote is not None and theirs.remote.relay is False  # we asked for no transactions
    tx = spend(prevouts_of(a.chain.read_block(mined[0]).transactions[0])[:1], fee=5_000)
    assert a.submit_transaction(tx) == "accepted"
    gevent.sleep(0.5)  # several trickles
    assert b.mempool.get(tx.txid) is None
    feeler_target = make_node("c")
    in_thread(client.addconnection, f"127.0.0.1:{feeler_target.manager.address[1]}", "feeler", False)
    wait_for(lambda: "feeler connection completed, disconnecting peer=" in caplog.text, NODE_WAIT, what="feeler")
    for bad in (("127.0.0.1:1", "manual", False), ("127.0.0.1:1", "outbound-full-relay", True)):
        with pytest.raises(JSONRPCError) as caught:
            in_thread(client.addconnection, *bad)
        assert caught.value.error["code"] == -8


def test_blocksonly_still_asks_relay_permission_peers_for_transactions(make_node: Callable[..., Node],
                                                                      raw_client: Callable[[Node], RawClient]) -> None:
    node = make_node("n", "-blocksonly", "-whitelist=relay@127.0.0.1", "--rpcuser", "u", "--rpcpassword", "p",
                     rpc=True)
    raw = raw_client(node)
    ours = next(frame for frame in raw.received if frame.command == "version")
    assert wire.decode_version(ours.payload).relay is True  # Core: relay=1 to a relay-permission peer
    assert in_thread(proxy(node).getnetworkinfo)["localrelay"] is False
