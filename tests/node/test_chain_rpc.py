"""Core's chain and mining RPCs on a whole node over JSON-RPC, as Core's functional tests call them:
submitblock's BIP22 answers, submitheader, getchaintips' statuses, invalidate/reconsider, block
and header fields, templates and proposals, mining figures, pruning, chain statistics, the UTXO
set's digests, waiting for blocks, generateblock. Blocks are built here at regtest difficulty
(`helpers.chain.block_on`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import gevent
import gevent.event
import pytest

from helpers.chain import P2WSH_TRUE, block_on, coinbase_tx, header_on, prevouts_of, spend
from helpers.node import rpc_call as call, rpc_error_of as error_of
from pantheon import wire
from pantheon.chain.addresses import address_to_script
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.descriptors import add_checksum
from pantheon.chain.validation import COIN
from pantheon.hashing import hash_to_hex
from pantheon.node import Node
from pantheon.params import REGTEST
from pantheon.primitives import Block, BlockHeader

REGTEST_TARGET = f"{0x7FFFFF << 232:064x}"


def on(node: Node, parent: bytes, **options: Any) -> Block:
    """A block on `parent` (a block the node knows), one second after it."""
    tree = node.chain.headers
    return block_on(tree.header(parent), tree.height_of(parent) + 1, REGTEST, **options)


def submit(node: Node, block: Block) -> Any:
    return call(node, "submitblock", wire.encode_block(block).hex())


def tips(node: Node) -> list[tuple[int, str, int, str]]:
    return [(tip["height"], tip["hash"], tip["branchlen"], tip["status"]) for tip in call(node, "getchaintips")]


def test_submitblock_answers_as_bip22(rpc_node: Node) -> None:
    node = rpc_node
    node.generate(3, P2WSH_TRUE)
    good = on(node, node.chain.tip)
    assert submit(node, good) is None and node.chain.tip == good.hash
    assert submit(node, good) == "duplicate"
    real = on(node, good.hash)
    mutated = Block(real.header, (real.transactions[0], real.transactions[0]))
    assert submit(node, mutated) == submit(node, mutated) == "bad-txnmrklroot"  # not remembered
    assert submit(node, real) is None  # the header was never marked invalid
    good = real
    greedy = on(node, good.hash, coinbase=coinbase_tx(6, block_subsidy(6, REGTEST) + 1))
    assert submit(node, greedy) == "bad-cb-amount"
    assert submit(node, greedy) == "duplicate-invalid"
    assert submit(node, Block(BlockHeader(0, bytes(32), bytes(32), 0, 0, 0), ())) == "high-hash"
    side = on(node, node.chain.headers.ancestor(good.hash, 4), extra=b"side")
    assert submit(node, side) == "inconclusive"  # stored, less work: not connected
    assert error_of(node, "submitblock", wire.encode_block(good).hex()[:-30]) == (-22, "Block decode failed")
    assert error_of(node, "submitblock", "zz") == (-22, "Block decode failed")
    spaced = wire.encode_block(good).hex()
    assert error_of(node, "submitblock", f"{spaced[:80]} {spaced[80:]}") == (-22, "Block decode failed")  # IsHex


def test_submitheader_and_getchaintips(rpc_node: Node) -> None:
    node = rpc_node
    hashes = [hash_to_hex(h) for h in node.generate(3, P2WSH_TRUE)]
    tip = node.chain.tip
    assert tips(node) == [(3, hashes[-1], 0, "active")]
    assert error_of(node, "submitheader", "xx" * 80) == (-22, "Block header decode failed")
    assert error_of(node, "submitheader", "ff" * 78) == (-22, "Block header decode failed")
    orphan = header_on(b"\x01" * 32, 1_700_000_000)
    assert error_of(node, "submitheader", orphan.serialize().hex()) == (
        -25, f"Must submit previous header ({hash_to_hex(orphan.prev_block)}) first")
    child = on(node, node.chain.tip)
    assert call(node, "submitheader", wire.encode_block(child).hex()) is None  # a whole block's hex too
    assert call(node, "submitheader", child.header.serialize().hex()) is None  # known: nothing to do
    info = call(node, "getblockchaininfo")
    assert (info["blocks"], info["headers"]) == (3, 4)
    assert tips(node) == [(4, hash_to_hex(child.hash), 1, "headers-only"), (3, hashes[-1], 0, "active")]
    too_old = header_on(child.hash, 1)
    assert error_of(node, "submitheader", too_old.serialize().hex()) == (-25, "time-too-old")
    header = call(node, "getblockheader", hash_to_hex(child.hash))
    assert (header["confirmations"], header["nTx"], header["target"]) == (-1, 0, REGTEST_TARGET)
    greedy = on(node, tip, coinbase=coinbase_tx(4, block_subsidy(4, REGTEST) + 1))
    grandchild = header_on(greedy.hash, greedy.header.timestamp + 1)
    call(node, "submitheader", greedy.header.serialize().hex())
    call(node, "submitheader", grandchild.serialize().hex())
    assert submit(node, greedy) == "bad-cb-amount"
    assert tips(node)[0] == (5, hash_to_hex(grandchild.hash), 2, "invalid")  # a descendant of it
    after = header_on(grandchild.hash, grandchild.timestamp + 1)
    assert error_of(node, "submitheader", after.serialize().hex()) == (-25, "bad-prevblk")


def test_invalidateblock_reconsiderblock_and_valid_forks(rpc_node: Node) -> None:
    node = rpc_node
    hashes = [hash_to_hex(h) for h in node.generate(3, P2WSH_TRUE)]
    side = on(node, node.chain.headers.ancestor(node.chain.tip, 2), extra=b"side")
    assert submit(node, side) == "inconclusive"
    assert (3, hash_to_hex(side.hash), 1, "valid-headers") in tips(node)
    assert call(node, "invalidateblock", hashes[-1]) is None
    assert call(node, "getbestblockhash") == hash_to_hex(side.hash)  # equal work, the valid one
    assert tips(node) == sorted([(3, hash_to_hex(side.hash), 0, "active"), (3, hashes[-1], 1, "invalid")],
                                key=lambda tip: (-tip[0], tip[1]))
    assert call(node, "getblock", hashes[-1])["confirmations"] == -1
    assert call(node, "reconsiderblock", hashes[-1]) is None
    assert call(node, "getbestblockhash") == hash_to_hex(side.hash)  # no switch to equal work
    assert (3, hashes[-1], 1, "valid-fork") in tips(node)  # connected before
    assert call(node, "invalidateblock", hashes[0]) is None
    assert (call(node, "getblockcount"), call(node, "getblockchaininfo")["headers"]) == (0, 0)
    assert call(node, "reconsiderblock", hashes[-1]) is None  # its ancestors are cleared too
    assert call(node, "getblockcount") == 3
    assert error_of(node, "invalidateblock", "00" * 32) == (-5, "Block not found")
    assert error_of(node, "reconsiderblock", "00" * 32) == (-5, "Block not found")


def test_block_and_header_fields_as_cores_tests_read_them(rpc_node: Node) -> None:
    node = rpc_node
    block_hash = hash_to_hex(node.generate(1, P2WSH_TRUE)[0])
    block = call(node, "getblock", block_hash)
    coinbase = call(node, "getblock", block_hash, 2)["tx"][0]
    assert block["nTx"] == 1 and block["target"] == REGTEST_TARGET and "nextblockhash" not in block
    expected = {"version": coinbase["version"], "locktime": coinbase["locktime"],
                "sequence": coinbase["vin"][0]["sequence"], "coinbase": coinbase["vin"][0]["coinbase"],
                "witness": coinbase["vin"][0]["txinwitness"][0]}
    assert block["coinbase_tx"] == expected
    assert float(call(node, "getdifficulty")) == pytest.approx(2 ** -31)
    assert error_of(node, "getblockheader", "nonsense") == (-8, "hash must be of length 64 (not 8, for 'nonsense')")


def test_getblocktemplate_and_proposals(rpc_node: Node) -> None:
    node = rpc_node
    node.generate(142, P2WSH_TRUE)
    template = call(node, "getblocktemplate", {"rules": ["segwit"]})
    assert template["version"] == 0x2000_0000 and template["vbavailable"] == {}  # block 144 is the first signalling
    node.generate(2, P2WSH_TRUE)
    template = call(node, "getblocktemplate", {"rules": ["segwit"]})
    assert template["version"] == 0x3000_0000 and template["vbavailable"] == {"testdummy": 28}
    assert template["rules"] == ["csv", "!segwit", "taproot"] and "proposal" in template["capabilities"]
    assert template["height"] == 145 and template["previousblockhash"] == hash_to_hex(node.chain.tip)
    assert template["transactions"] == [] and template["coinbasevalue"] == block_subsidy(145, REGTEST)
    assert (template["bits"], template["target"], template["weightlimit"]) == ("207fffff", REGTEST_TARGET, 4_000_000)
    assert template["mintime"] == node.chain.median_time_past + 1 <= template["curtime"]
    assert template["default_witness_commitment"].startswith("6a24aa21a9ed")
    assert error_of(node, "getblocktemplate", {}) == (-8, 'getblocktemplate must be called with the segwit rule set '
                                                        '(call with {"rules": ["segwit"]})')
    assert error_of(node, "getblocktemplate", {"mode": "other", "rules": ["segwit"]}) == (-8, "Invalid mode")
    good = on(node, node.chain.tip)
    proposal = {"mode": "proposal", "data": wire.encode_block(good).hex(), "rules": ["segwit"]}
    assert call(node, "getblocktemplate", proposal) is None and node.chain.tip != good.hash
    greedy = on(node, node.chain.tip, coinbase=coinbase_tx(145, block_subsidy(145, REGTEST) + 1))
    assert call(node, "getblocktemplate", {**proposal, "data": wire.encode_block(greedy).hex()}) == "bad-cb-amount"
    assert submit(node, good) is None
    assert call(node, "getblocktemplate", proposal) == "duplicate"
    assert error_of(node, "getblocktemplate", {"mode": "proposal"}) == (-3, "Missing data String key for proposal")


def test_getmininginfo_and_getnetworkhashps(rpc_node: Node) -> None:
    node = rpc_node
    info = call(node, "getmininginfo")
    assert "currentblocktx" not in info and "currentblockweight" not in info
    node.clock.set_mock(node.chain.headers.header(node.chain.tip).timestamp)
    for _ in range(200):
        node.clock.set_mock(node.clock.mock + 600)
        node.generate(1, P2WSH_TRUE)
    info = call(node, "getmininginfo")
    assert (info["blocks"], info["currentblocktx"], info["currentblockweight"]) == (200, 0, 8_000)
    assert (info["bits"], info["target"], info["chain"], info["pooledtx"]) == ("207fffff", REGTEST_TARGET, "regtest", 0)
    assert info["next"] == {"height": 201, "bits": "207fffff", "target": REGTEST_TARGET,
                            "difficulty": info["difficulty"]}
    assert round(float(info["networkhashps"]), 5) == 0.00333 and float(info["blockmintxfee"]) == 1e-8
    assert call(node, "getnetworkhashps", 100, 0) == 0
    assert float(call(node, "getnetworkhashps", -1)) == pytest.approx(2 / 600)  # blocks 144..200, 600 s apart
    assert error_of(node, "getnetworkhashps", 0) == (-8, "Invalid nblocks. Must be a positive number or -1.")
    assert error_of(node, "getnetworkhashps", 100, 201) == (-8, "Block does not exist at specified height")


def test_pruneblockchain_and_prune_fields(make_node: Any) -> None:
    node = make_node("pruned", "--rpcuser", "u", "--rpcpassword", "p", "-prune=1", "-fastprune", rpc=True)
    hashes = [hash_to_hex(h) for h in node.generate(700, P2WSH_TRUE)]  # a few 64 KiB block files
    info = call(node, "getblockchaininfo")
    assert set(info) == {"bestblockhash", "bits", "blocks", "chain", "chainwork", "difficulty", "headers",
                         "initialblockdownload", "mediantime", "pruned", "size_on_disk", "target", "time",
                         "verificationprogress", "warnings", "pruneheight", "automatic_pruning"}
    assert (info["pruned"], info["pruneheight"], info["automatic_pruning"]) == (True, 0, False)
    old = call(node, "getblock", hashes[1], 0)
    pruned = call(node, "pruneblockchain", 700)  # the last height of the files all below 700 - 288
    assert 2 <= pruned <= 700 - 288 and not (node.datadir / "blocks" / "blk00000.dat").exists()
    assert call(node, "getblockchaininfo")["pruneheight"] == pruned + 1
    assert error_of(node, "getblock", hashes[1]) == (-1, "Block not available (pruned data)")
    assert call(node, "submitblock", old) == "inconclusive"  # stored again
    assert call(node, "getblock", hashes[1], 0) == old
    plain = make_node("plain", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)
    assert "pruneheight" not in call(plain, "getblockchaininfo")
    assert error_of(plain, "pruneblockchain", 10) == (-1, "Cannot prune blocks because node is not in prune mode.")


def test_verificationprogress_and_the_chain_rpcs_core_reads(rpc_node: Node) -> None:
    node = rpc_node
    tip_time = node.chain.headers.header(node.chain.tip).timestamp
    node.clock.set_mock(tip_time)
    hashes = [hash_to_hex(h) for h in node.generate(150, P2WSH_TRUE)]
    tip_time = node.chain.headers.header(node.chain.tip).timestamp
    node.clock.set_mock(tip_time + 7_201)
    assert call(node, "getblockchaininfo")["verificationprogress"] < 1
    node.clock.set_mock(tip_time + 7_200)
    assert call(node, "getblockchaininfo")["verificationprogress"] == 1
    call(node, "submitheader", header_on(node.chain.tip, tip_time + 1).serialize().hex())
    assert call(node, "getblockchaininfo")["verificationprogress"] < 1
    stats = call(node, "getchaintxstats", 10)
    assert (stats["txcount"], stats["window_block_count"], stats["window_tx_count"]) == (151, 10, 10)
    assert call(node, "getchaintxstats", None, hashes[0]) == {
        "time": call(node, "getblock", hashes[0])["time"], "txcount": 2, "window_final_block_hash": hashes[0],
        "window_final_block_height": 1, "window_block_count": 0}
    assert error_of(node, "getchaintxstats", "") == (-3, 'Wrong type passed:\n{\n    "Position 1 (nblocks)": '
                                                      '"JSON value of type string is not of expected type number"\n}')
    assert error_of(node, "getchaintxstats", 151) == (
        -8, "Invalid block count: should be between 0 and the block's height - 1")
    info = call(node, "getdeploymentinfo")
    assert info["deployments"]["testdummy"]["bip9"]["status"] == "started"
    assert info["deployments"]["testdummy"]["bip9"]["signalling"] == "#" * 7  # blocks 144..150
    assert info["deployments"]["bip34"] == {"type": "buried", "active": True, "height": 1}
    assert "taproot" not in info["deployments"] and "TAPROOT" in info["script_flags"]
    assert call(node, "verifychain", 4, 0) is True
    assert call(node, "waitforblockheight", 1, 10)["hash"] == hashes[-1]  # already there
    assert call(node, "waitfornewblock", 50)["hash"] == hashes[-1]  # nothing new: the timeout
    assert error_of(node, "waitforblock", hashes[0], -1) == (-1, "Negative timeout")
    waiter = gevent.spawn(call, node, "waitfornewblock", 0, hashes[-1])
    gevent.sleep(0.2)
    assert not waiter.ready()
    [new] = node.generate(1, P2WSH_TRUE)
    assert waiter.get(timeout=10)["hash"] == hash_to_hex(new)


def test_getblock_fees_and_prevouts_from_the_undo_data(rpc_node: Node) -> None:
    node = rpc_node
    mined = node.generate(101, P2WSH_TRUE)
    coinbase = node.chain.read_block(mined[0]).transactions[0]
    tx = spend(prevouts_of(coinbase)[:1], fee=2_345)
    assert node.submit_transaction(tx) == "accepted"
    block_hash = hash_to_hex(node.generate(1, P2WSH_TRUE)[0])
    assert "fee" not in call(node, "getblock", block_hash, 2)["tx"][0]  # the coinbase
    decoded = call(node, "getblock", block_hash, 2)["tx"][1]
    assert decoded["fee"] == Decimal("0.00002345") and "prevout" not in decoded["vin"][0]
    [vin] = call(node, "getblock", block_hash, 3)["tx"][1]["vin"]
    assert vin["prevout"]["generated"] is True and vin["prevout"]["height"] == 1
    assert vin["prevout"]["value"] == Decimal(coinbase.outputs[0].value) / COIN
    assert vin["prevout"]["scriptPubKey"]["hex"] == P2WSH_TRUE.hex()
    assert error_of(node, "getblock", block_hash, "2") == (-3, "JSON value of type string is not of expected type number")
    blocks = node.datadir / "blocks"
    node.chain.flush()
    (blocks / "rev00000.dat").rename(blocks / "rev_wrong")
    assert error_of(node, "getblock", block_hash, 2) == (-32603, "Undo data expected but can't be read. This could "
                                                         "be due to disk corruption or a conflict with a pruning event.")
    (blocks / "rev_wrong").rename(blocks / "rev00000.dat")
    (blocks / "blk00000.dat").rename(blocks / "blk00000.dat.bak")
    assert error_of(node, "getblock", block_hash) == (-1, "Block not found on disk")
    (blocks / "blk00000.dat.bak").rename(blocks / "blk00000.dat")
    assert error_of(node, "getnetworkhashps", "a", []) == (-3, (
        'Wrong type passed:\n{\n    "Position 1 (nblocks)": "JSON value of type string is not of expected type number",'
        '\n    "Position 2 (height)": "JSON value of type array is not of expected type number"\n}'))


def test_gettxoutsetinfo_and_gettxout(rpc_node: Node) -> None:
    node = rpc_node
    mined = node.generate(101, P2WSH_TRUE)
    info = call(node, "gettxoutsetinfo")
    assert (info["height"], info["bestblock"], info["txouts"], info["transactions"]) == (
        101, hash_to_hex(mined[-1]), 101, 101)  # a payout each (commitments are unspendable)
    assert info["total_amount"] == Decimal(sum(block_subsidy(h, REGTEST) for h in range(1, 102))) / COIN
    assert len(info["hash_serialized_3"]) == 64 and 0 < info["disk_size"] and "muhash" not in info
    muhash = call(node, "gettxoutsetinfo", "muhash")
    assert len(muhash["muhash"]) == 64 and muhash["muhash"] != info["hash_serialized_3"]
    assert "hash_serialized_3" not in call(node, "gettxoutsetinfo", "none")
    assert error_of(node, "gettxoutsetinfo", "foo hash") == (-8, "'foo hash' is not a valid hash_type")
    call(node, "invalidateblock", hash_to_hex(mined[50]))
    assert call(node, "gettxoutsetinfo")["txouts"] == 50
    call(node, "reconsiderblock", hash_to_hex(mined[50]))
    again = call(node, "gettxoutsetinfo")
    del info["disk_size"], again["disk_size"]
    assert again == info
    coinbase = node.chain.read_block(mined[0]).transactions[0]
    txid = hash_to_hex(coinbase.txid)
    out = call(node, "gettxout", txid, 0)
    assert (out["bestblock"], out["confirmations"], out["coinbase"]) == (hash_to_hex(mined[-1]), 101, True)
    assert out["scriptPubKey"]["hex"] == P2WSH_TRUE.hex() and out["value"] == Decimal(coinbase.outputs[0].value) / COIN
    tx = spend(prevouts_of(coinbase)[:1], fee=1_000)
    assert node.submit_transaction(tx) == "accepted"
    assert call(node, "gettxout", txid, 0) is None  # the mempool spends it
    assert call(node, "gettxout", txid, 0, False)["confirmations"] == 101
    assert call(node, "gettxout", hash_to_hex(tx.txid), 0)["confirmations"] == 0
    assert call(node, "gettxout", hash_to_hex(tx.txid), 0, False) is None


def test_utxo_readers_wait_for_a_connect_in_progress(rpc_node: Node) -> None:
    """gettxout and scantxoutset take the chain lock, which a block's connect holds while its
    scripts are checked and the UTXO set holds its unverified changes (Core's take cs_main)."""
    node = rpc_node
    mined = node.generate(1, P2WSH_TRUE)
    txid = hash_to_hex(node.chain.read_block(mined[0]).transactions[0].txid)
    held, release = gevent.event.Event(), gevent.event.Event()

    def connecting() -> None:
        with node.chain_lock:
            held.set()
            release.wait()

    holder = gevent.spawn(connecting)
    held.wait()
    readers = [gevent.spawn(call, node, "gettxout", txid, 0),
               gevent.spawn(call, node, "scantxoutset", "start", [f"raw({P2WSH_TRUE.hex()})"])]
    try:
        gevent.sleep(0.3)
        assert not any(reader.ready() for reader in readers)
    finally:
        release.set()
    gevent.joinall([holder, *readers], timeout=10, raise_error=True)
    assert readers[0].value["confirmations"] == 1
    assert readers[1].value["success"] and len(readers[1].value["unspents"]) == 1


def test_generateblock(rpc_node: Node) -> None:
    node = rpc_node
    mined = node.generate(101, P2WSH_TRUE)
    address = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
    unsent = call(node, "generateblock", address, [], False)
    block = wire.decode_block(bytes.fromhex(unsent["hex"]))
    assert hash_to_hex(block.hash) == unsent["hash"] and node.chain.tip == mined[-1]  # not submitted
    assert call(node, "submitblock", unsent["hex"]) is None and node.chain.tip == block.hash
    pooled = spend(prevouts_of(node.chain.read_block(mined[0]).transactions[0])[:1], fee=3_000)
    raw = spend(prevouts_of(node.chain.read_block(mined[1]).transactions[0])[:1], fee=4_000)
    assert node.submit_transaction(pooled) == "accepted"
    made = call(node, "generateblock", address, [hash_to_hex(pooled.txid), raw.serialize().hex()])
    connected = node.chain.read_block(node.chain.tip)
    assert made == {"hash": hash_to_hex(connected.hash)}
    assert [tx.txid for tx in connected.transactions[1:]] == [pooled.txid, raw.txid]
    assert connected.transactions[0].outputs[0].value == block_subsidy(103, REGTEST)  # the fees go unclaimed
    assert error_of(node, "generateblock", address, ["00" * 32]) == (-5, f"Transaction {'00' * 32} not in mempool.")
    assert error_of(node, "generateblock", address, ["beef"])[0] == -22
    assert error_of(node, "generateblock", "nonsense", []) == (-5, "Error: Invalid address or descriptor")
    assert error_of(node, "generateblock", address, [raw.serialize().hex()])[0] == -25  # spent already
    for output, script in (("raw(55)", b"\x55"), (add_checksum(f"addr({address})"), address_to_script(address, REGTEST))):
        call(node, "generateblock", output, [])  # a descriptor, as Core reads it before an address
        assert node.chain.read_block(node.chain.tip).transactions[0].outputs[0].script_pubkey == script
    assert error_of(node, "generateblock", "raw(55)#00000000", []) == (-5, "Error: Invalid address or descriptor")


def test_getblockstats_figures_and_errors(rpc_node: Node) -> None:
    node = rpc_node
    mined = node.generate(101, P2WSH_TRUE)
    coinbases = [node.chain.read_block(block_hash).transactions[0] for block_hash in mined[:2]]
    txs = [spend(prevouts_of(coinbase)[:1], fee=fee) for coinbase, fee in zip(coinbases, (2_000, 5_000))]
    for tx in txs:
        assert node.submit_transaction(tx) == "accepted"
    block_hash = node.generate(1, P2WSH_TRUE)[0]
    block = node.chain.read_block(block_hash)
    size, weight = txs[0].size, txs[0].weight  # both alike: one P2WSH(OP_TRUE) input and output
    assert (txs[1].size, txs[1].weight) == (size, weight)
    coinbase_outputs = [txout.script_pubkey for txout in block.transactions[0].outputs]
    assert coinbase_outputs[0] == P2WSH_TRUE and coinbase_outputs[1][:1] == b"\x6a"  # payout, witness commitment
    low, high = 2_000 * 4 // weight, 5_000 * 4 // weight  # sat/vB, rounded down as Core's
    # UTXO entry sizes: an output's 8 value bytes, its script's length byte and script, plus
    # Core's 41 bytes of outpoint, height and coinbase flag: P2WSH (34 bytes) 84, the commitment
    # (38 bytes) 88. Created: 84 + 88 + 84 + 84; spent: 2 * 84; the commitment is unspendable.
    stats = call(node, "getblockstats", 102)
    assert stats == {
        "avgfee": 3_500, "avgfeerate": 7_000 * 4 // (2 * weight), "avgtxsize": size,
        "blockhash": hash_to_hex(block_hash),
        # Each transaction weighs half the total: the lower rate covers the 10th, 25th and 50th
        # percentile weight units (cumulative weight reaches half at the first), the higher the rest.
        "feerate_percentiles": [low, low, low, high, high],
        "height": 102, "ins": 2, "maxfee": 5_000, "maxfeerate": high, "maxtxsize": size, "medianfee": 3_500,
        "mediantime": node.chain.headers.median_time_past(block_hash), "mediantxsize": size, "minfee": 2_000,
        "minfeerate": low, "mintxsize": size, "outs": 4, "subsidy": 50 * COIN, "swtotal_size": 2 * size,
        "swtotal_weight": 2 * weight, "swtxs": 2, "time": block.header.timestamp,
        "total_out": sum(tx.outputs[0].value for tx in txs), "total_size": 2 * size, "total_weight": 2 * weight,
        "totalfee": 7_000, "txs": 3, "utxo_increase": 2, "utxo_size_inc": 84 + 88 + 84 + 84 - 2 * 84,
        "utxo_increase_actual": 1, "utxo_size_inc_actual": 84 + 84 + 84 - 2 * 84,
    }
    assert call(node, "getblockstats", hash_to_hex(block_hash)) == stats
    chosen = call(node, "getblockstats", 102, ["minfeerate", "avgfeerate"])
    assert list(chosen) == ["avgfeerate", "minfeerate"] and chosen["minfeerate"] == low  # Core's sorted set
    # Genesis: one P2PK output (67-byte script: 117 bytes in the UTXO index) that never entered the set.
    genesis = call(node, "getblockstats", 0, ["utxo_increase", "utxo_increase_actual", "utxo_size_inc",
                                              "utxo_size_inc_actual", "txs", "avgfee", "feerate_percentiles"])
    assert genesis == {"avgfee": 0, "feerate_percentiles": [0, 0, 0, 0, 0], "txs": 1, "utxo_increase": 1,
                       "utxo_increase_actual": 0, "utxo_size_inc": 117, "utxo_size_inc_actual": 0}
    assert error_of(node, "getblockstats", -1) == (-8, "Target block height -1 is negative")
    assert error_of(node, "getblockstats", 103) == (-8, "Target block height 103 after current tip 102")
    assert error_of(node, "getblockstats", "00" * 32) == (-5, "Block not found")
    assert error_of(node, "getblockstats", "zz") == (-8, "hash_or_height must be of length 64 (not 2, for 'zz')")
    assert error_of(node, "getblockstats", 102, ["txs", "nope"]) == (-8, "Invalid selected statistic 'nope'")
    assert error_of(node, "getblockstats", 102, "txs")[0] == -3
    assert error_of(node, "getblockstats", True) == (-3, "JSON value of type bool is not of expected type string")


def test_getblockchaininfo_and_getdifficulty_have_core_31s_fields(rpc_node: Node) -> None:
    node = rpc_node
    node.generate(2, P2WSH_TRUE)
    info = call(node, "getblockchaininfo")
    assert list(info) == ["chain", "blocks", "headers", "bestblockhash", "bits", "target", "difficulty", "time",
                          "mediantime", "verificationprogress", "initialblockdownload", "chainwork", "size_on_disk",
                          "pruned", "warnings"]
    assert (info["chain"], info["blocks"], info["headers"], info["bits"], info["target"]) == (
        "regtest", 2, 2, "207fffff", REGTEST_TARGET)
    assert info["warnings"] == [] and info["initialblockdownload"] is False
    # Regtest's bits 0x207fffff: 0xffff / 0x7fffff / 256^3 = 65535 * 128 / 8388607 / 2^31 (as Core's test).
    assert call(node, "getdifficulty") == info["difficulty"]
    assert float(info["difficulty"]) * 2 ** 31 == pytest.approx(65535 * 128 / 8388607)
