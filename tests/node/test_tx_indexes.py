"""-txindex and -txospenderindex through whole nodes and the real JSON-RPC server: getindexinfo,
getrawtransaction finding mined transactions (and Core's messages without the index, while it
builds and when nothing is found), gettxspendingprevout's mempool and confirmed spenders, its
options (also as named arguments) and Core's errors, a reorganisation seen through both RPCs,
and a datadir made without the options indexed in the background."""

from __future__ import annotations

import base64
import json
import logging
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers.chain import P2WSH_TRUE, prevouts_of, spend
from helpers.node import FAST, proxy, rpc_call_error, settings
from helpers.waiting import NODE_WAIT, in_thread, wait_for

from pantheon.hashing import hash_to_hex
from pantheon.node import Node
from pantheon.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RPC_TYPE_ERROR

INDEXES = ("--txindex", "--txospenderindex")
RPC = ("--rpcuser", "u", "--rpcpassword", "p")
AUTH = base64.b64encode(b"u:p").decode()
HINT = "Use gettransaction for wallet transactions."


def named(node: Node, method: str, **params: Any) -> Any:
    """A call with named arguments (Core's `args` for the positional ones); its result."""
    request = urllib.request.Request(f"http://{node.config.rpcbind}:{node.config.rpcport}", json.dumps(
        {"method": method, "params": params, "id": 1}).encode(), {"Authorization": f"Basic {AUTH}"})

    def call() -> Any:
        with urllib.request.urlopen(request, timeout=NODE_WAIT) as response:
            return json.loads(response.read())["result"]
    return in_thread(call)


@pytest.fixture
def indexed(make_node: Callable[..., Node]) -> Node:
    node = make_node("indexed", *RPC, *INDEXES, rpc=True)
    node.generate(101, P2WSH_TRUE)
    return node


def mined_spend(node: Node) -> tuple[Any, bytes]:
    """A spend of the first coinbase, mined: (the transaction, its block's hash)."""
    first = node.chain.headers.ancestor(node.chain.tip, 1)
    tx = spend(prevouts_of(node.chain.read_block(first).transactions[0])[:1])
    in_thread(proxy(node).sendrawtransaction, tx.serialize().hex())
    return tx, node.generate(1, P2WSH_TRUE)[0]


def test_getindexinfo_names_every_index(indexed: Node, make_node: Callable[..., Node]) -> None:
    rpc = proxy(indexed)
    synced = {"synced": True, "best_block_height": 101}
    assert in_thread(rpc.getindexinfo) == {"txindex": synced, "txospenderindex": synced}
    assert in_thread(rpc.getindexinfo, "txospenderindex") == {"txospenderindex": synced}
    assert in_thread(rpc.getindexinfo, "basic block filter index") == {}
    every = make_node("every", *RPC, *INDEXES, "--blockfilterindex", rpc=True)
    assert set(in_thread(proxy(every).getindexinfo)) == {"txindex", "basic block filter index", "txospenderindex"}


def test_getrawtransaction_finds_mined_transactions(indexed: Node) -> None:
    rpc = proxy(indexed)
    tx, block_hash = mined_spend(indexed)
    txid = hash_to_hex(tx.txid)
    assert in_thread(rpc.getrawtransaction, txid) == tx.serialize().hex()
    verbose = in_thread(rpc.getrawtransaction, txid, True)
    timestamp = indexed.chain.headers.header(block_hash).timestamp
    assert (verbose["blockhash"], verbose["confirmations"], verbose["time"], verbose["blocktime"]) == (
        hash_to_hex(block_hash), 1, timestamp, timestamp)
    assert "in_active_chain" not in verbose  # only with a block hash given, as Core
    indexed.generate(2, P2WSH_TRUE)
    assert in_thread(rpc.getrawtransaction, txid, True)["confirmations"] == 3
    assert in_thread(rpc.getrawtransaction, txid, True, hash_to_hex(block_hash))["in_active_chain"] is True
    coinbase = indexed.chain.read_block(indexed.chain.tip).transactions[0]
    assert in_thread(rpc.getrawtransaction, hash_to_hex(coinbase.txid)) == coinbase.serialize().hex()
    assert rpc_call_error(lambda: rpc.getrawtransaction("11" * 32)) == (
        RPC_INVALID_ADDRESS_OR_KEY, f"No such mempool or blockchain transaction. {HINT}")
    genesis = indexed.chain.read_block(indexed.chain.headers.ancestor(indexed.chain.tip, 0)).transactions[0]
    assert rpc_call_error(lambda: rpc.getrawtransaction(hash_to_hex(genesis.txid))) == (
        RPC_INVALID_ADDRESS_OR_KEY,
        "The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved")
    index = indexed.tx_index
    assert index is not None
    index.synced = False  # as while building
    assert rpc_call_error(lambda: rpc.getrawtransaction("11" * 32)) == (
        RPC_INVALID_ADDRESS_OR_KEY,
        f"No such mempool transaction. Blockchain transactions are still in the process of being indexed. {HINT}")
    index.synced = True


def test_getrawtransaction_verbosity_2_adds_the_fee_and_spent_outputs_of_a_mined_transaction(indexed: Node) -> None:
    """Core's SHOW_DETAILS_AND_PREVOUT, from the block's undo data; a coinbase and a mempool
    transaction show verbosity 1's fields only, as Core shows them."""
    rpc = proxy(indexed)
    tx, block_hash = mined_spend(indexed)
    first = indexed.chain.read_block(indexed.chain.headers.ancestor(indexed.chain.tip, 1)).transactions[0]
    detailed = in_thread(rpc.getrawtransaction, hash_to_hex(tx.txid), 2)
    spent_value = first.outputs[0].value
    assert Decimal(str(detailed["fee"])) * 100_000_000 == spent_value - sum(out.value for out in tx.outputs)
    assert detailed["vin"][0]["prevout"] == {
        "generated": True, "height": 1, "value": spent_value / 100_000_000,
        "scriptPubKey": in_thread(rpc.getrawtransaction, hash_to_hex(first.txid), 1)["vout"][0]["scriptPubKey"]}
    assert detailed == {**in_thread(rpc.getrawtransaction, hash_to_hex(tx.txid), 1), "fee": detailed["fee"],
                        "vin": detailed["vin"]}
    coinbase = indexed.chain.read_block(block_hash).transactions[0]
    assert in_thread(rpc.getrawtransaction, hash_to_hex(coinbase.txid), 2) == in_thread(
        rpc.getrawtransaction, hash_to_hex(coinbase.txid), 1)
    pooled = spend(prevouts_of(tx)[:1])
    in_thread(rpc.sendrawtransaction, pooled.serialize().hex())
    assert "fee" not in in_thread(rpc.getrawtransaction, hash_to_hex(pooled.txid), 2)
    assert rpc_call_error(lambda: rpc.getrawtransaction(hash_to_hex(tx.txid), "2"))[0] == RPC_TYPE_ERROR


def test_getrawtransaction_without_the_index(make_node: Callable[..., Node]) -> None:
    node = make_node("plain", *RPC, rpc=True)
    node.generate(101, P2WSH_TRUE)
    rpc = proxy(node)
    tx, block_hash = mined_spend(node)
    assert rpc_call_error(lambda: rpc.getrawtransaction(hash_to_hex(tx.txid))) == (
        RPC_INVALID_ADDRESS_OR_KEY, "No such mempool transaction. Use -txindex or provide a block hash to enable "
        f"blockchain transaction queries. {HINT}")
    assert rpc_call_error(lambda: rpc.getrawtransaction("11" * 32, False, hash_to_hex(block_hash))) == (
        RPC_INVALID_ADDRESS_OR_KEY, f"No such transaction found in the provided block. {HINT}")
    outpoint = {"txid": hash_to_hex(tx.inputs[0].prev_txid), "vout": 0}
    assert in_thread(rpc.gettxspendingprevout, [outpoint]) == [outpoint]  # mempool only, by default
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([outpoint], {"mempool_only": False})) == (
        RPC_MISC_ERROR, "Mempool lacks a relevant spend, and txospenderindex is unavailable.")


def test_gettxspendingprevout(indexed: Node) -> None:
    rpc = proxy(indexed)
    confirmed, block_hash = mined_spend(indexed)
    spent = {"txid": hash_to_hex(confirmed.inputs[0].prev_txid), "vout": confirmed.inputs[0].prev_index}
    pooled = spend(prevouts_of(confirmed))
    in_thread(rpc.sendrawtransaction, pooled.serialize().hex())
    own = {"txid": hash_to_hex(confirmed.txid), "vout": 0}
    unspent = {"txid": hash_to_hex(pooled.txid), "vout": 0}
    by_chain = {**spent, "spendingtxid": hash_to_hex(confirmed.txid), "blockhash": hash_to_hex(block_hash)}
    by_pool = {**own, "spendingtxid": hash_to_hex(pooled.txid)}
    assert in_thread(rpc.gettxspendingprevout, [spent, own, unspent]) == [by_chain, by_pool, unspent]
    assert in_thread(rpc.gettxspendingprevout, [spent], {"return_spending_tx": True}) == [
        {**by_chain, "spendingtx": confirmed.serialize().hex()}]
    assert in_thread(rpc.gettxspendingprevout, [spent, own], {"mempool_only": True}) == [spent, by_pool]
    assert named(indexed, "gettxspendingprevout", args=[[spent]], mempool_only=True) == [spent]
    assert named(indexed, "gettxspendingprevout", outputs=[spent], return_spending_tx=True) == [
        {**by_chain, "spendingtx": confirmed.serialize().hex()}]
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([])) == (RPC_INVALID_PARAMETER,
                                                                "Invalid parameter, outputs are missing")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([{**spent, "vout": -1}])) == (
        RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([{**spent, "x": 1}])) == (RPC_TYPE_ERROR, "Unexpected key x")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([{"txid": spent["txid"]}])) == (RPC_TYPE_ERROR, "Missing vout")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([{"txid": 42, "vout": 0}])) == (
        RPC_TYPE_ERROR, "JSON value of type number for field txid is not of expected type string")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([{"txid": "ab", "vout": 0}])) == (
        RPC_INVALID_PARAMETER, "txid must be of length 64 (not 2, for 'ab')")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([spent], {"mempool_only": 1})) == (
        RPC_TYPE_ERROR, "JSON value of type number for field mempool_only is not of expected type bool")
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([spent], {"verbose": True})) == (
        RPC_TYPE_ERROR, "Unexpected key verbose")
    index = indexed.spender_index
    assert index is not None
    index.synced = False  # as while building
    assert rpc_call_error(lambda: rpc.gettxspendingprevout([spent])) == (
        RPC_MISC_ERROR, "Mempool lacks a relevant spend, and txospenderindex is unavailable.")
    index.synced = True


def test_a_reorganisation_through_the_rpcs(indexed: Node) -> None:
    rpc = proxy(indexed)
    tx, block_hash = mined_spend(indexed)
    spent = {"txid": hash_to_hex(tx.inputs[0].prev_txid), "vout": 0}
    in_thread(rpc.invalidateblock, hash_to_hex(block_hash))
    assert in_thread(rpc.getrawmempool) == [hash_to_hex(tx.txid)]  # back in the pool: found there first
    assert in_thread(rpc.gettxspendingprevout, [spent]) == [{**spent, "spendingtxid": hash_to_hex(tx.txid)}]
    assert in_thread(rpc.getindexinfo)["txindex"]["best_block_height"] == 102  # kept until the next block
    other = spend(prevouts_of(indexed.chain.read_block(indexed.chain.headers.ancestor(indexed.chain.tip, 2))
                              .transactions[0])[:1])
    in_thread(rpc.prioritisetransaction, hash_to_hex(tx.txid), 0, -10**8)  # leave tx out of the next block
    in_thread(rpc.sendrawtransaction, other.serialize().hex())
    replacement = indexed.generate(1, P2WSH_TRUE)[0]
    assert indexed.chain.read_block(replacement).transactions[1:] in ((other,), (other, tx), (tx, other))
    found = in_thread(rpc.getrawtransaction, hash_to_hex(other.txid), True)
    assert found["blockhash"] == hash_to_hex(replacement) and found["confirmations"] == 1
    assert in_thread(rpc.getindexinfo)["txospenderindex"] == {"synced": True, "best_block_height": 102}


def test_an_existing_datadir_is_indexed_in_the_background(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = Node(settings(tmp_path), tuning=FAST, script_workers=0).start()
    first.generate(150, P2WSH_TRUE)
    first.stop()
    caplog.set_level(logging.INFO, "pantheon.chain.txospenderindex")
    node = Node(settings(tmp_path, *INDEXES), tuning=FAST, script_workers=0)
    assert node.tx_index is not None and node.spender_index is not None and not node.tx_index.synced
    node.start()
    try:
        wait_for(lambda: node.tx_index.synced and node.spender_index.synced, NODE_WAIT, what="the indexes built")
        assert node.tx_index.best_height == node.spender_index.best_height == 150
        assert "Syncing txospenderindex with block chain from height 0" in caplog.text
        assert "txospenderindex is enabled at height 150" in caplog.text
        coinbase = node.chain.read_block(node.chain.tip).transactions[0]
        found = node.tx_index.find(coinbase.txid)
        assert found is not None and found == (coinbase, node.chain.tip)
    finally:
        node.stop()
