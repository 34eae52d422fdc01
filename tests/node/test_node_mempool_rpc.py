"""The RPCs a client without a node wallet drives a node with (Core's MiniWallet): mining to a
descriptor, scanning the UTXO set, the mempool's entries and state, submitting with a fee-rate
cap and test-accepting, prioritising, over JSON-RPC to a running node (python-bitcoinlib's
RawProxy); and the mempool kept across a restart (-persistmempool, savemempool)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import gevent
import pytest
from bitcoin.rpc import JSONRPCError
from helpers.chain import P2WSH_TRUE, prevouts_of, spend
from helpers.node import FAST, proxy, settings
from helpers.waiting import in_thread

from pantheon.chain.descriptors import add_checksum, infer_descriptor
from pantheon.hashing import hash_to_hex
from pantheon.node import Node
from pantheon.primitives import Tx, TxOut
from pantheon.service import NodeService
from pantheon.rpc import blockchain
from pantheon.rpc.blockchain import BlockchainRpc
from pantheon.rpc.errors import RpcError
from pantheon.rpc.mempool import MempoolRpc
from pantheon.rpc.registry import RpcContext

ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
RAW_TRUE = add_checksum("raw(51)")


@pytest.fixture
def rpc_node(make_node: Callable[..., Node]) -> Node:
    return make_node("rpc", "--rpcuser", "u", "--rpcpassword", "p", rpc=True)


def rpc_error(call: Callable[..., Any], *params: Any) -> dict[str, Any]:
    with pytest.raises(JSONRPCError) as caught:
        in_thread(call, *params)
    return caught.value.error


def test_generatetodescriptor_and_scantxoutset(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    mined = in_thread(client.generatetodescriptor, 3, RAW_TRUE)
    in_thread(client.generatetoaddress, 2, ADDRESS)
    scan = in_thread(client.scantxoutset, "start", [RAW_TRUE])
    assert (scan["success"], scan["txouts"], scan["height"]) == (True, 5, 5)
    assert scan["bestblock"] == in_thread(client.getbestblockhash) and scan["total_amount"] == Decimal(150)
    first = min(scan["unspents"], key=lambda unspent: unspent["height"])
    block = in_thread(client.getblock, mined[0])
    assert first == {"txid": block["tx"][0], "vout": 0, "scriptPubKey": "51", "desc": RAW_TRUE, "amount": Decimal(50),
                     "coinbase": True, "height": 1, "blockhash": mined[0], "confirmations": 5}
    by_address = in_thread(client.scantxoutset, "start", [{"desc": f"addr({ADDRESS})"}])
    assert sorted(unspent["height"] for unspent in by_address["unspents"]) == [4, 5]
    assert by_address["unspents"][0]["desc"] == infer_descriptor(bytes.fromhex(by_address["unspents"][0]["scriptPubKey"]),
                                                                  rpc_node.network)
    assert in_thread(client.scantxoutset, "status") is None and in_thread(client.scantxoutset, "abort") is False
    assert rpc_error(client.scantxoutset, "start", [RAW_TRUE[:-1] + "x"])["code"] == -5
    assert rpc_error(client.scantxoutset, "start", [{"desc": RAW_TRUE, "range": 10}])["code"] == -8
    assert rpc_error(client.scantxoutset, "start", [7])["code"] == -8
    assert rpc_error(client.scantxoutset, "start") == {
        "code": -1, "message": "scanobjects argument is required for the start action"}
    assert rpc_error(client.scantxoutset, "begin", [])["message"] == "Invalid action 'begin'"
    assert rpc_error(client.generatetodescriptor, 1, "raw(51)#00000000")["message"] == (
        f"Provided checksum '00000000' does not match computed checksum '{RAW_TRUE[-8:]}'")
    assert rpc_error(client.generatetodescriptor, 1, "pkh(02aa)")["code"] == -5


def test_a_running_scan_reports_progress_and_can_be_aborted(rpc_node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    rpc_node.generate(3, P2WSH_TRUE)
    monkeypatch.setattr(blockchain, "SCAN_YIELD_EVERY", 1)
    group = BlockchainRpc(RpcContext(rpc_node, lambda: None))
    scan = gevent.spawn(group.scantxoutset, "start", ["raw(51)"])
    gevent.sleep(0)
    assert set(group.scantxoutset("status")) == {"progress"}
    with pytest.raises(Exception, match="Scan already in progress"):
        group.scantxoutset("start", ["raw(51)"])
    assert group.scantxoutset("abort") is True
    assert scan.get(timeout=5)["success"] is False
    assert group.scantxoutset("status") is None


def _funded(node: Node) -> list[tuple[Any, TxOut]]:
    """Three mature coinbase outputs (P2WSH(OP_TRUE)), the tip at 103."""
    mined = node.generate(103, P2WSH_TRUE)
    return [prevouts_of(node.chain.read_block(block_hash).transactions[0])[0] for block_hash in mined[:3]]


def _chain_of_three(coin: tuple[Any, TxOut]) -> tuple[Tx, Tx, Tx]:
    """A spend of `coin`, its child and its grandchild."""
    first = spend([coin])
    second = spend(prevouts_of(first))
    return first, second, spend(prevouts_of(second))


def test_mempool_entries_have_cores_fields(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    parent = spend([coins[0]], [TxOut(10**8, P2WSH_TRUE), TxOut(coins[0][1].value - 10**8 - 3_000, P2WSH_TRUE)])
    child = spend(prevouts_of(parent)[:1], fee=2_000, sequence=0xFFFF_FFFD)
    for tx in (parent, child):
        in_thread(client.sendrawtransaction, tx.serialize().hex())
    pool = in_thread(client.getrawmempool, True)
    parent_id, child_id = hash_to_hex(parent.txid), hash_to_hex(child.txid)
    entry = pool[parent_id]
    assert list(entry) == ["vsize_adjusted", "vsize", "vsize_bip141", "weight", "time", "height", "descendantcount",
                           "descendantsize", "ancestorcount", "ancestorsize", "wtxid", "chunkweight", "fees", "depends",
                           "spentby", "unbroadcast", "bip125-replaceable"]
    assert (entry["ancestorcount"], entry["descendantcount"], entry["height"]) == (1, 2, 103)
    assert entry["descendantsize"] == parent.vsize + child.vsize and entry["ancestorsize"] == parent.vsize
    assert entry["fees"] == {"base": Decimal("0.00003"), "modified": Decimal("0.00003"),
                             "ancestor": Decimal("0.00003"), "descendant": Decimal("0.00005"),
                             "chunk": Decimal("0.00003")}  # the child pays less per vB: its own chunk
    assert entry["chunkweight"] == parent.weight
    assert entry["depends"] == [] and entry["spentby"] == [child_id]
    assert entry["bip125-replaceable"] is False and entry["unbroadcast"] is False
    assert in_thread(client.getmempoolentry, child_id) == pool[child_id]
    assert pool[child_id]["depends"] == [parent_id] and pool[child_id]["bip125-replaceable"] is True
    assert pool[child_id]["ancestorcount"] == 2 and pool[child_id]["fees"]["ancestor"] == Decimal("0.00005")
    assert rpc_error(client.getmempoolentry, "ab" * 32) == {"code": -5, "message": "Transaction not in mempool"}
    info = in_thread(client.getmempoolinfo)
    assert (info["size"], info["bytes"], info["total_fee"]) == (2, parent.vsize + child.vsize, Decimal("0.00005"))
    assert (info["minrelaytxfee"], info["incrementalrelayfee"], info["mempoolminfee"]) == (
        Decimal("0.000001"), Decimal("0.000001"), Decimal("0.000001"))
    assert (info["permitbaremultisig"], info["maxdatacarriersize"], info["fullrbf"]) == (True, 100_000, True)
    assert (info["limitclustercount"], info["limitclustersize"], info["optimal"]) == (64, 101_000, False)


def test_sendrawtransaction_caps_the_fee_rate_and_the_burn(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    generous = spend([coins[0]], [TxOut(10**8, P2WSH_TRUE)])  # 49 BTC of fee
    assert rpc_error(client.sendrawtransaction, generous.serialize().hex()) == {
        "code": -25, "message": "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"}
    assert rpc_error(client.sendrawtransaction, generous.serialize().hex(), 1)["code"] == -8
    assert len(rpc_node.mempool) == 0
    assert in_thread(client.sendrawtransaction, generous.serialize().hex(), 0) == hash_to_hex(generous.txid)
    burn = spend([coins[1]], [TxOut(1_000, b"\x6a"), TxOut(coins[1][1].value - 10_000, P2WSH_TRUE)])
    assert rpc_error(client.sendrawtransaction, burn.serialize().hex())["message"] == (
        "Unspendable output exceeds maximum configured by user (maxburnamount)")
    assert in_thread(client.sendrawtransaction, burn.serialize().hex(), "0.10", "0.00001") == hash_to_hex(burn.txid)


def test_testmempoolaccept_judges_one_transaction_without_adding_it(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    good = spend([coins[0]], fee=2_000)
    [result] = in_thread(client.testmempoolaccept, [good.serialize().hex()])
    assert result == {"txid": hash_to_hex(good.txid), "wtxid": hash_to_hex(good.wtxid), "allowed": True,
                      "vsize_adjusted": good.vsize, "vsize": good.vsize, "vsize_bip141": good.vsize,
                      "fees": {"base": Decimal("0.00002"),
                                                    "effective-feerate": Decimal(2_000 * 1000 // good.vsize) / 10**8,
                                                    "effective-includes": [hash_to_hex(good.wtxid)]}}
    assert len(rpc_node.mempool) == 0
    greedy = spend([coins[1]], [TxOut(coins[1][1].value + 1, P2WSH_TRUE)])
    [refused] = in_thread(client.testmempoolaccept, [greedy.serialize().hex()])
    assert (refused["allowed"], refused["reject-reason"]) == (False, "bad-txns-in-belowout")
    assert refused["reject-details"].startswith("bad-txns-in-belowout, value in (")
    orphan = spend(prevouts_of(good))
    assert in_thread(client.testmempoolaccept, [orphan.serialize().hex()])[0]["reject-reason"] == "missing-inputs"
    generous = spend([coins[2]], [TxOut(10**8, P2WSH_TRUE)])
    assert in_thread(client.testmempoolaccept, [generous.serialize().hex()])[0]["reject-reason"] == "max-fee-exceeded"
    assert in_thread(client.testmempoolaccept, [generous.serialize().hex()], 0)[0]["allowed"] is True
    assert in_thread(client.testmempoolaccept, [good.serialize().hex()] * 2)[0]["package-error"] == (
        "package-contains-duplicates")


def test_submitpackage_lets_a_child_pay_for_its_parent(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    parent = spend([coins[0]], fee=0)
    child = spend(prevouts_of(parent), fee=20_000)
    package = [parent.serialize().hex(), child.serialize().hex()]
    [alone] = in_thread(client.testmempoolaccept, package[:1])
    assert alone["reject-reason"] == "min relay fee not met"
    result = in_thread(client.submitpackage, package)
    rate = Decimal(20_000 * 1000 // (parent.vsize + child.vsize)) / 10**8
    both = [hash_to_hex(parent.wtxid), hash_to_hex(child.wtxid)]
    assert result == {"package_msg": "success", "replaced-transactions": [], "tx-results": {
        hash_to_hex(tx.wtxid): {"txid": hash_to_hex(tx.txid), "vsize_adjusted": tx.vsize, "vsize": tx.vsize,
                                "vsize_bip141": tx.vsize, "fees": {"base": Decimal(fee) / 10**8,
                                                                   "effective-feerate": rate,
                                                                   "effective-includes": both}}
        for tx, fee in ((parent, 0), (child, 20_000))}}
    assert sorted(in_thread(client.getrawmempool)) == sorted([hash_to_hex(parent.txid), hash_to_hex(child.txid)])
    again = in_thread(client.submitpackage, package)["tx-results"][hash_to_hex(child.wtxid)]
    assert again["fees"] == {"base": Decimal("0.0002")}  # already pooled: no effective fee rate


def test_package_rpcs_refuse_bad_packages_with_cores_codes(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    first, second, third = _chain_of_three(coins[0])
    hexes = [tx.serialize().hex() for tx in (first, second, third)]
    count = {"code": -8, "message": "Array must contain between 1 and 25 transactions."}
    for call in (client.submitpackage, client.testmempoolaccept):
        assert rpc_error(call, []) == count and rpc_error(call, [hexes[0]] * 26) == count
        assert rpc_error(call, ["zz"]) == {"code": -22, "message": "TX decode failed: zz Make sure the tx has at "
                                                                   "least one input."}
        assert rpc_error(call, "ff00")["code"] == -3
        assert rpc_error(call, [f"{hexes[0][:8]} {hexes[0][8:]}"])["code"] == -22  # Core's IsHex: no spaces
    assert rpc_error(client.submitpackage, hexes) == {
        "code": -25, "message": "package topology disallowed. not child-with-parents or parents depend on each other."}
    burn = spend([coins[1]], [TxOut(1_000, b"\x6a"), TxOut(coins[1][1].value - 10_000, P2WSH_TRUE)])
    assert rpc_error(client.submitpackage, [burn.serialize().hex()])["message"] == (
        "Unspendable output exceeds maximum configured by user (maxburnamount)")
    unsorted = in_thread(client.testmempoolaccept, hexes[::-1])
    assert [item["package-error"] for item in unsorted] == ["package-not-sorted"] * 3
    assert "allowed" not in unsorted[0]
    assert len(rpc_node.mempool) == 0


def test_a_replacement_over_rpc_reports_what_it_replaced(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    original = spend([coins[0]], fee=1_000)
    child = spend(prevouts_of(original), fee=1_000)
    for tx in (original, child):
        in_thread(client.sendrawtransaction, tx.serialize().hex())
    replacement = spend([coins[0]], fee=10_000)
    [tested] = in_thread(client.testmempoolaccept, [replacement.serialize().hex()])
    assert tested["allowed"] is True
    independent, blocked = in_thread(client.testmempoolaccept, [spend([coins[1]]).serialize().hex(),
                                                                replacement.serialize().hex()])
    assert "allowed" not in independent  # a package may replace nothing: it failed at its second member
    assert (blocked["reject-reason"], blocked["reject-details"]) == ("bip125-replacement-disallowed",
                                                                     "bip125-replacement-disallowed")
    result = in_thread(client.submitpackage, [replacement.serialize().hex()])
    assert result["replaced-transactions"] == sorted([hash_to_hex(original.txid), hash_to_hex(child.txid)])
    assert in_thread(client.getrawmempool) == [hash_to_hex(replacement.txid)]


def test_mempool_ancestors_and_descendants(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    first, second, third = _chain_of_three(_funded(rpc_node)[0])
    for tx in (first, second, third):
        in_thread(client.sendrawtransaction, tx.serialize().hex())
    ids = [hash_to_hex(tx.txid) for tx in (first, second, third)]
    assert sorted(in_thread(client.getmempoolancestors, ids[2])) == sorted(ids[:2])
    assert sorted(in_thread(client.getmempooldescendants, ids[0])) == sorted(ids[1:])
    assert in_thread(client.getmempoolancestors, ids[0]) == [] and in_thread(client.getmempooldescendants, ids[2]) == []
    verbose = in_thread(client.getmempooldescendants, ids[0], True)
    assert sorted(verbose) == sorted(ids[1:]) and verbose[ids[2]] == in_thread(client.getmempoolentry, ids[2])
    assert rpc_error(client.getmempoolancestors, "ab" * 32) == {"code": -5, "message": "Transaction not in mempool"}
    assert rpc_error(client.getmempooldescendants, "zz")["code"] == -8
    assert rpc_error(client.getmempoolancestors, ids[0], "yes")["code"] == -3


def test_getorphantxs_lists_a_peers_orphans(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    orphan = Tx(2, [spend([(b"\x01" * 32, 0)]).inputs[0]], [TxOut(1_000, P2WSH_TRUE)], 0)
    assert rpc_node.mempool.accept(orphan, peer=4).status == "orphan"
    assert in_thread(client.getorphantxs) == [hash_to_hex(orphan.txid)]
    [detail] = in_thread(client.getorphantxs, 2)
    assert detail == {"txid": hash_to_hex(orphan.txid), "wtxid": hash_to_hex(orphan.wtxid), "bytes": orphan.size,
                      "vsize": orphan.vsize, "weight": orphan.weight, "from": [4], "hex": orphan.serialize().hex()}
    assert in_thread(client.getmempoolinfo)["orphans"] == 1


def test_prioritisetransaction_moves_the_modified_fee_pooled_or_not(rpc_node: Node) -> None:
    client = proxy(rpc_node)
    coins = _funded(rpc_node)
    tx = spend([coins[0]], fee=2_000)
    txid = in_thread(client.sendrawtransaction, tx.serialize().hex())
    absent = "ab" * 32
    assert in_thread(client.prioritisetransaction, txid, 0, 3_000) is True
    assert in_thread(client.prioritisetransaction, absent, None, -11) is True
    assert in_thread(client.getmempoolentry, txid)["fees"] == {
        "base": Decimal("0.00002"), "modified": Decimal("0.00005"), "ancestor": Decimal("0.00005"),
        "descendant": Decimal("0.00005"), "chunk": Decimal("0.00005")}
    assert in_thread(client.getprioritisedtransactions) == {
        txid: {"fee_delta": 3_000, "in_mempool": True, "modified_fee": 5_000},
        absent: {"fee_delta": -11, "in_mempool": False}}
    template = in_thread(client.getblocktemplate, {"rules": ["segwit"]})
    assert [(entry["txid"], entry["fee"]) for entry in template["transactions"]] == [(txid, 2_000)]  # base fee paid
    assert rpc_error(client.prioritisetransaction, txid, 1, 5) == {
        "code": -8, "message": "Priority is no longer supported, dummy argument to prioritisetransaction must be 0."}
    assert rpc_error(client.prioritisetransaction, txid) == {
        "code": -3, "message": "JSON value of type null is not of expected type number"}
    assert rpc_error(client.prioritisetransaction, "zz", 0, 5)["code"] == -8
    assert rpc_error(client.prioritisetransaction, txid, 0, "5")["code"] == -3
    in_thread(client.generatetoaddress, 1, ADDRESS)
    assert in_thread(client.getprioritisedtransactions) == {absent: {"fee_delta": -11, "in_mempool": False}}


def _service(datadir: Path, *flags: str) -> NodeService:
    return NodeService(settings(datadir, *flags), tuning=FAST, script_workers=0).start()


def test_the_mempool_and_its_deltas_survive_a_clean_restart(tmp_path: Path) -> None:
    service = _service(tmp_path / "n")
    node = service.node
    coins = _funded(node)
    kept = spend([coins[0]], fee=2_000)
    node.submit_transaction(kept)
    node.prioritise_transaction(kept.txid, 500)
    node.prioritise_transaction(b"\x11" * 32, 7)
    entered = node.mempool.get(kept.txid).time
    service.stop()
    assert (node.datadir / "mempool.dat").is_file()
    service = _service(tmp_path / "n")
    try:
        node = service.node
        entry = node.mempool.get(kept.txid)
        assert entry is not None and (entry.fee, entry.fee_delta, int(entry.time)) == (2_000, 500, int(entered))
        assert node.mempool.deltas() == {kept.txid: 500, b"\x11" * 32: 7}
        assert node.mempool_loaded
    finally:
        service.stop()


def test_persistmempool_0_neither_loads_nor_writes_and_savemempool_still_writes(tmp_path: Path) -> None:
    service = _service(tmp_path / "n", "-persistmempool=0")
    node = service.node
    coins = _funded(node)
    first = spend([coins[0]], fee=2_000)
    node.submit_transaction(first)
    path = node.datadir / "mempool.dat"
    assert MempoolRpc(RpcContext(node, lambda: None)).savemempool() == {"filename": str(path)}
    saved = path.read_bytes()
    node.submit_transaction(spend([coins[1]], fee=2_000))
    service.stop()
    assert path.read_bytes() == saved  # the stop wrote nothing
    again = _service(tmp_path / "n", "-persistmempool=0")
    try:
        assert len(again.node.mempool) == 0 and again.node.mempool_loaded  # and the start read nothing
    finally:
        again.stop()
    third = _service(tmp_path / "n")
    try:
        assert [entry.tx.txid for entry in third.node.mempool] == [first.txid]  # what savemempool wrote
    finally:
        third.stop()


def test_savemempool_refuses_before_the_load_and_when_it_cannot_write(tmp_path: Path) -> None:
    node = Node(settings(tmp_path / "n"), tuning=FAST, script_workers=0)
    group = MempoolRpc(RpcContext(node, lambda: None))
    with pytest.raises(RpcError) as caught:
        group.savemempool()
    assert caught.value.to_json() == {"code": -1, "message": "The mempool was not loaded yet"}
    node.start()
    try:
        (node.datadir / "mempool.dat.new").mkdir()  # where the file is written first
        with pytest.raises(RpcError) as caught:
            group.savemempool()
        assert caught.value.to_json() == {"code": -1, "message": "Unable to dump mempool to disk"}
    finally:
        node.stop()
