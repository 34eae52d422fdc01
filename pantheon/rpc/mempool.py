"""Core's mempool RPCs (`rpc/mempool.cpp`): the pool's contents and state, its ancestors and
descendants, and submitting or test-accepting a transaction or a package (which Core files under
rawtransactions). Results have Core 31's fields, in its order.

Pantheon keeps no unbroadcast set (Core's transactions submitted here and not yet requested by a
peer), so `unbroadcast` is always false and `unbroadcastcount` 0. Every transaction is replaceable
(`fullrbf` true, as Core 31). getmempoolinfo's `optimal` is false: the pool keeps no
proven-optimal linearisation.
`orphans` and `scripts_verified` in getmempoolinfo are Pantheon's.
"""

from __future__ import annotations

from typing import Any

from pantheon.chain import packages
from pantheon.chain.mempool import CLUSTER_COUNT_LIMIT, CLUSTER_SIZE_LIMIT, Mempool, MempoolEntry, state_text
from pantheon.chain.packages import MAX_PACKAGE_COUNT, PackageResult, TxResult
from pantheon.chain.policy import virtual_size
from pantheon.chain.script import has_valid_ops, is_unspendable
from pantheon.chain.validation import COIN, TxRejected
from pantheon.hashing import hash_to_hex
from pantheon.primitives import Tx
from pantheon.rpc.arguments import amount_arg, check_types, hash_arg, json_type, tx_arg
from pantheon.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_DESERIALIZATION_ERROR,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ALREADY_IN_CHAIN,
    RPC_VERIFY_ERROR,
    RPC_VERIFY_REJECTED,
    RpcError,
)
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
from pantheon.rpc.results import amount

__all__ = ["MempoolRpc", "DEFAULT_MAX_RAW_TX_FEE_RATE", "MAX_BIP125_RBF_SEQUENCE"]

#: Core's DEFAULT_MAX_RAW_TX_FEE_RATE: 0.10 BTC/kvB, the `maxfeerate` sendrawtransaction and
#: testmempoolaccept apply unless told otherwise (0: no limit).
DEFAULT_MAX_RAW_TX_FEE_RATE = "0.10"
#: BIP125: an input with a lower sequence signals that its transaction may be replaced.
MAX_BIP125_RBF_SEQUENCE = 0xFFFF_FFFD
_BURN_EXCEEDED = "Unspendable output exceeds maximum configured by user (maxburnamount)"


def _fee_rate_arg(value: Any) -> int:
    """Core's ParseFeeRate: BTC/kvB as sat/kvB, below 1 BTC/kvB."""
    rate = amount_arg(value)
    if rate >= COIN:
        raise RpcError(RPC_INVALID_PARAMETER, "Fee rates larger than or equal to 1BTC/kvB are not accepted")
    return rate


def _fee_for(rate: int, vsize: int) -> int:
    """Core's CFeeRate::GetFee: `rate` (sat/kvB) for `vsize` vbytes, rounded up."""
    return -(-rate * vsize // 1000)


def _burns(tx: Tx, max_burn: int) -> bool:
    """An output Core deems unspendable (or of invalid opcodes) pays more than `max_burn`."""
    return any((is_unspendable(txout.script_pubkey) or not has_valid_ops(txout.script_pubkey))
               and txout.value > max_burn for txout in tx.outputs)


def _check_package_size(rawtxs: Any, name: str) -> None:
    """Core's array of 1 to 25 transactions (-3 for a wrong type, -8 for the count)."""
    check_types((name, rawtxs, "array"))
    if not 1 <= len(rawtxs) <= MAX_PACKAGE_COUNT:
        raise RpcError(RPC_INVALID_PARAMETER, f"Array must contain between 1 and {MAX_PACKAGE_COUNT} transactions.")


def _decoded(rawtxs: list[Any]) -> list[Tx]:
    """The hex transactions of a package, or Core's -3 (not a string) or -22 error."""
    txs = []
    for raw in rawtxs:
        if not isinstance(raw, str):
            raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(raw)} is not of expected type string")
        try:
            txs.append(tx_arg(raw))
        except RpcError:
            raise RpcError(RPC_DESERIALIZATION_ERROR,
                           f"TX decode failed: {raw} Make sure the tx has at least one input.") from None
    return txs


def _sizes(tx: Tx, result: TxResult) -> dict[str, Any]:
    """Core 31's three sizes of an accepted transaction: sigop-adjusted (twice) and BIP141."""
    return {"vsize_adjusted": result.vsize, "vsize": result.vsize, "vsize_bip141": virtual_size(tx.weight, 0)}


def _test_results(txs: list[Tx], outcome: PackageResult, max_fee_rate: int) -> list[dict[str, Any]]:
    """Core's testmempoolaccept answer: one object per transaction in the order given, blank
    (txid and wtxid only) past a transaction over `max_fee_rate` or one never evaluated."""
    answer = []
    exit_early = False
    for tx in txs:
        item: dict[str, Any] = {"txid": hash_to_hex(tx.txid), "wtxid": hash_to_hex(tx.wtxid)}
        answer.append(item)
        if outcome.policy_error:
            item["package-error"] = outcome.message
        result = outcome.results.get(tx.wtxid)
        if exit_early or result is None:
            continue
        if result.kind == "valid":
            if max_fee_rate and result.fee > _fee_for(max_fee_rate, result.vsize):
                item.update({"allowed": False, "reject-reason": "max-fee-exceeded"})
                exit_early = True
                continue
            item.update({"allowed": True, **_sizes(tx, result), "fees": {
                "base": amount(result.fee), "effective-feerate": amount(result.effective_fee_rate),
                "effective-includes": [hash_to_hex(wtxid) for wtxid in result.effective_includes]}})
        else:
            assert result.error is not None
            item["allowed"] = False
            if result.missing_inputs:
                item["reject-reason"] = "missing-inputs"
            else:
                item.update({"reject-reason": result.error.reason, "reject-details": state_text(result.error)})
    return answer


def _submit_results(txs: list[Tx], outcome: PackageResult) -> dict[str, Any]:
    """Core's submitpackage answer: the package message, a result per wtxid, the replaced txids."""
    by_wtxid: dict[str, Any] = {}
    replaced: set[bytes] = set()
    for tx in txs:
        item: dict[str, Any] = {"txid": hash_to_hex(tx.txid)}
        by_wtxid[hash_to_hex(tx.wtxid)] = item
        result = outcome.results.get(tx.wtxid)
        if result is None:
            item["error"] = "package-not-validated"
        elif result.kind == "different-witness":
            assert result.other_wtxid is not None
            item["other-wtxid"] = hash_to_hex(result.other_wtxid)
        elif result.kind == "invalid":
            assert result.error is not None
            item["error"] = state_text(result.error)
        else:
            fees: dict[str, Any] = {"base": amount(result.fee)}
            if result.kind == "valid":
                fees["effective-feerate"] = amount(result.effective_fee_rate)
                fees["effective-includes"] = [hash_to_hex(wtxid) for wtxid in result.effective_includes]
            item.update({**_sizes(tx, result), "fees": fees})
            replaced.update(result.replaced)
    return {"package_msg": outcome.message or "success", "tx-results": by_wtxid,
            "replaced-transactions": [hash_to_hex(txid) for txid in sorted(replaced, key=hash_to_hex)]}


class MempoolRpc(RpcGroup):
    category = "blockchain"

    @rpc_method(category="rawtransactions")
    def sendrawtransaction(self, hexstring: Any, maxfeerate: Any = DEFAULT_MAX_RAW_TX_FEE_RATE,
                           maxburnamount: Any = 0) -> str:
        """Submit a transaction to the mempool and relay it; returns its txid. Refused when its
        fee exceeds `maxfeerate` (BTC/kvB, 0: no limit) or an unspendable output burns more than
        `maxburnamount` (BTC)."""
        node = self.node
        tx = tx_arg(hexstring)
        max_fee_rate = _fee_rate_arg(maxfeerate)
        max_burn = amount_arg(maxburnamount)
        if _burns(tx, max_burn):
            raise RpcError(RPC_VERIFY_ERROR, _BURN_EXCEEDED)
        if node.mempool.get(tx.txid) is not None:
            return hash_to_hex(tx.txid)  # Core: already in the mempool is success
        try:
            if max_fee_rate:
                checked = node.mempool.test_accept(tx)
                if checked is None:
                    raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent")
                if checked.fee > _fee_for(max_fee_rate, virtual_size(tx.weight, 0)):
                    raise RpcError(RPC_VERIFY_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)")
            status = node.submit_transaction(tx)
        except TxRejected as error:
            if error.reason == "txn-already-known":
                raise RpcError(RPC_VERIFY_ALREADY_IN_CHAIN, "Transaction outputs already in utxo set") from None
            raise RpcError(RPC_VERIFY_REJECTED, state_text(error)) from None
        if status != "accepted":  # inputs missing (Core's TX_MISSING_INPUTS)
            raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent")
        return hash_to_hex(tx.txid)

    @rpc_method(category="rawtransactions")
    def testmempoolaccept(self, rawtxs: Any, maxfeerate: Any = DEFAULT_MAX_RAW_TX_FEE_RATE) -> list[dict[str, Any]]:
        """Whether the mempool would accept each transaction now, with its vsizes and fees,
        without adding any. Several (up to 25, parents first) are checked as a package: none may
        conflict with another or with the pool, and the first failure leaves the rest unchecked."""
        _check_package_size(rawtxs, "rawtxs")
        max_fee_rate = _fee_rate_arg(maxfeerate)
        txs = _decoded(rawtxs)
        return _test_results(txs, self.node.test_package(txs), max_fee_rate)

    @rpc_method(category="rawtransactions")
    def submitpackage(self, package: Any, maxfeerate: Any = DEFAULT_MAX_RAW_TX_FEE_RATE,
                      maxburnamount: Any = 0) -> dict[str, Any]:
        """Submit a child with its unconfirmed parents (or one transaction) to the mempool and
        relay what enters: parents a child pays for are accepted at the package's fee rate.
        `maxfeerate` (BTC/kvB, 0: no limit) and `maxburnamount` (BTC) as sendrawtransaction's."""
        _check_package_size(package, "package")
        max_fee_rate = _fee_rate_arg(maxfeerate)
        max_burn = amount_arg(maxburnamount)
        txs = _decoded(package)
        if any(_burns(tx, max_burn) for tx in txs):
            raise RpcError(RPC_VERIFY_ERROR, _BURN_EXCEEDED)
        if len(txs) > 1 and not packages.is_child_with_parents_tree(txs):
            raise RpcError(RPC_VERIFY_ERROR, "package topology disallowed. not child-with-parents or parents depend "
                                             "on each other.")
        return _submit_results(txs, self.node.submit_package(txs, max_fee_rate or None))

    @rpc_method
    def getrawmempool(self, verbose: bool = False) -> Any:
        """The mempool's txids, or (`verbose`) an object of their entries by txid. Without Core's
        `mempool_sequence`."""
        pool = self.node.mempool
        if not verbose:
            return [hash_to_hex(entry.tx.txid) for entry in pool]
        entries = list(pool)
        chunks = pool.chunks(entry.tx.txid for entry in entries)
        return {hash_to_hex(entry.tx.txid): _entry_json(pool, entry, chunks) for entry in entries}

    @rpc_method
    def getmempoolentry(self, txid: Any) -> dict[str, Any]:
        """The mempool entry of a transaction, as getrawmempool's verbose entries."""
        pool = self.node.mempool
        entry = _pooled(pool, txid)
        return _entry_json(pool, entry, pool.chunks([entry.tx.txid]))

    @rpc_method
    def getmempoolancestors(self, txid: Any, verbose: Any = False) -> Any:
        """The txids of a pooled transaction's in-pool ancestors, or (`verbose`) their entries by txid."""
        pool = self.node.mempool
        return _related(pool, pool.ancestors(_pooled(pool, txid).tx.txid), verbose)

    @rpc_method
    def getmempooldescendants(self, txid: Any, verbose: Any = False) -> Any:
        """The txids of a pooled transaction's in-pool descendants, or (`verbose`) their entries by txid."""
        pool = self.node.mempool
        return _related(pool, pool.descendants(_pooled(pool, txid).tx.txid), verbose)

    @rpc_method
    def getmempoolinfo(self) -> dict[str, Any]:
        """The mempool's size, usage, fee floors and policy switches."""
        pool = self.node.mempool
        info = pool.info()
        return {"loaded": self.node.mempool_loaded, "size": info.size, "bytes": info.bytes, "usage": info.usage,
                "total_fee": amount(info.total_fee), "maxmempool": info.max_usage,
                "mempoolminfee": round(max(info.min_fee_rate, info.min_relay_fee_rate) * 1000 / COIN, 8),
                "minrelaytxfee": round(info.min_relay_fee_rate * 1000 / COIN, 8),
                "incrementalrelayfee": amount(pool.incremental_relay_fee), "unbroadcastcount": 0,
                "fullrbf": True, "permitbaremultisig": pool.permit_bare_multisig,
                "maxdatacarriersize": pool.max_datacarrier_bytes or 0,
                "limitclustercount": CLUSTER_COUNT_LIMIT, "limitclustersize": CLUSTER_SIZE_LIMIT, "optimal": False,
                "orphans": info.orphans, "scripts_verified": info.scripts_verified}

    @rpc_method
    def savemempool(self) -> dict[str, str]:
        """Write the mempool to mempool.dat in the network's datadir now (as a clean stop does
        under -persistmempool, which this ignores); returns the file's path."""
        node = self.node
        if not node.mempool_loaded:
            raise RpcError(RPC_MISC_ERROR, "The mempool was not loaded yet")
        try:
            path = node.save_mempool()
        except OSError:
            raise RpcError(RPC_MISC_ERROR, "Unable to dump mempool to disk") from None
        return {"filename": str(path)}

    @rpc_method(category=HIDDEN)
    def getorphantxs(self, verbosity: Any = 0) -> list[Any]:
        """The transactions in the orphanage: txids (verbosity 0), or objects with their sizes and
        the peers that announced them (1), and their hex (2)."""
        orphans = self.node.mempool.orphanage.orphans()
        if verbosity == 0:
            return [hash_to_hex(tx.txid) for tx, _ in orphans]
        if verbosity not in (1, 2):
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid verbosity value {verbosity}")
        return [_orphan_json(tx, peers, with_hex=verbosity == 2) for tx, peers in orphans]


def _orphan_json(tx: Tx, peers: list[int], *, with_hex: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"txid": hash_to_hex(tx.txid), "wtxid": hash_to_hex(tx.wtxid), "bytes": tx.size,
                              "vsize": tx.vsize, "weight": tx.weight, "from": peers}
    if with_hex:
        result["hex"] = tx.serialize().hex()
    return result


def _pooled(pool: Mempool, txid: Any) -> MempoolEntry:
    """The entry of a txid argument, or Core's -5 error."""
    entry = pool.get(hash_arg(txid, "txid"))
    if entry is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
    return entry


def _related(pool: Mempool, txids: set[bytes], verbose: Any) -> Any:
    """getmempoolancestors/descendants' answer: txids, or entries by txid (`verbose`)."""
    check_types(("verbose", verbose, "bool"))
    ordered = sorted(txids, key=hash_to_hex)
    if not verbose:
        return [hash_to_hex(txid) for txid in ordered]
    chunks = pool.chunks(ordered)
    return {hash_to_hex(txid): _entry_json(pool, entry, chunks) for txid in ordered
            if (entry := pool.get(txid)) is not None}


def _entry_json(pool: Mempool, entry: MempoolEntry, chunks: dict[bytes, tuple[int, int]]) -> dict[str, Any]:
    """Core's entryToJSON: the ancestor, descendant and chunk fees are modified fees, as Core's;
    `chunks` holds the entry's chunk (`Mempool.chunks`)."""
    txid = entry.tx.txid
    ancestors = [pool.get(other) for other in pool.ancestors(txid)]
    descendants = [pool.get(other) for other in pool.descendants(txid)]
    above = [entry, *(e for e in ancestors if e is not None)]
    below = [entry, *(e for e in descendants if e is not None)]
    replaceable = any(txin.sequence <= MAX_BIP125_RBF_SEQUENCE for e in above for txin in e.tx.inputs)
    chunk_fee, chunk_weight = chunks[txid]
    return {
        "vsize_adjusted": entry.vsize, "vsize": entry.vsize, "vsize_bip141": virtual_size(entry.tx.weight, 0),
        "weight": entry.tx.weight, "time": int(entry.time), "height": entry.height,
        "descendantcount": len(below), "descendantsize": sum(e.vsize for e in below),
        "ancestorcount": len(above), "ancestorsize": sum(e.vsize for e in above),
        "wtxid": hash_to_hex(entry.tx.wtxid), "chunkweight": chunk_weight,
        "fees": {"base": amount(entry.fee), "modified": amount(entry.modified_fee),
                 "ancestor": amount(sum(e.modified_fee for e in above)),
                 "descendant": amount(sum(e.modified_fee for e in below)), "chunk": amount(chunk_fee)},
        "depends": sorted(hash_to_hex(parent) for parent in entry.parents),
        "spentby": [hash_to_hex(child) for child in sorted(entry.children)],
        "unbroadcast": False, "bip125-replaceable": replaceable,
    }
