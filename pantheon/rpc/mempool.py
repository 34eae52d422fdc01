"""Core's mempool RPCs (`rpc/mempool.cpp`): the pool's contents and state, and submitting or
test-accepting a transaction (which Core files under rawtransactions). Results have Core 30's
fields.

Pantheon keeps no unbroadcast set (Core's transactions submitted here and not yet requested by a
peer), so `unbroadcast` is always false and `unbroadcastcount` 0, and it replaces nothing, so
`fullrbf` is false; `orphans` and `scripts_verified` in getmempoolinfo are Pantheon's.
"""

from __future__ import annotations

from typing import Any

from pantheon.chain.mempool import Mempool, MempoolEntry
from pantheon.chain.policy import virtual_size
from pantheon.chain.script import is_unspendable
from pantheon.chain.validation import COIN, TxRejected
from pantheon.hashing import hash_to_hex
from pantheon.primitives import Tx
from pantheon.rpc.arguments import amount_arg, hash_arg, tx_arg
from pantheon.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
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


def _fee_rate_arg(value: Any) -> int:
    """Core's ParseFeeRate: BTC/kvB as sat/kvB, below 1 BTC/kvB."""
    rate = amount_arg(value)
    if rate >= COIN:
        raise RpcError(RPC_INVALID_PARAMETER, "Fee rates larger than or equal to 1BTC/kvB are not accepted")
    return rate


def _fee_for(rate: int, vsize: int) -> int:
    """Core's CFeeRate::GetFee: `rate` (sat/kvB) for `vsize` vbytes, rounded up."""
    return -(-rate * vsize // 1000)


def _state(error: TxRejected) -> str:
    """Core's TxValidationState::ToString: the reason, then the debug message."""
    return f"{error.reason}, {error.detail}" if error.detail else error.reason


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
        if any(is_unspendable(txout.script_pubkey) and txout.value > max_burn for txout in tx.outputs):
            raise RpcError(RPC_VERIFY_ERROR, "Unspendable output exceeds maximum configured by user (maxburnamount)")
        if node.mempool.get(tx.txid) is not None:
            return hash_to_hex(tx.txid)  # Core: already in the mempool is success
        try:
            if max_fee_rate:
                checked = node.mempool.test_accept(tx)
                if checked is None:
                    raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent")
                if checked[0] > _fee_for(max_fee_rate, virtual_size(tx.weight, 0)):
                    raise RpcError(RPC_VERIFY_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)")
            status = node.submit_transaction(tx)
        except TxRejected as error:
            if error.reason == "txn-already-known":
                raise RpcError(RPC_VERIFY_ALREADY_IN_CHAIN, "Transaction outputs already in utxo set") from None
            raise RpcError(RPC_VERIFY_REJECTED, error.reason) from None
        if status != "accepted":  # inputs missing (Core's TX_MISSING_INPUTS)
            raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent")
        return hash_to_hex(tx.txid)

    @rpc_method(category="rawtransactions")
    def testmempoolaccept(self, rawtxs: Any, maxfeerate: Any = DEFAULT_MAX_RAW_TX_FEE_RATE) -> list[dict[str, Any]]:
        """Whether the mempool would accept a transaction now, with its vsize and fees, without
        adding it. One transaction only: Pantheon does not evaluate packages."""
        if not isinstance(rawtxs, list):
            raise RpcError(RPC_TYPE_ERROR, f"rawtxs: expected an array, got {type(rawtxs).__name__}")
        if len(rawtxs) != 1:
            raise RpcError(RPC_INVALID_PARAMETER, "Pantheon tests one transaction at a time (it has no packages)")
        max_fee_rate = _fee_rate_arg(maxfeerate)
        tx = tx_arg(rawtxs[0])
        result: dict[str, Any] = {"txid": hash_to_hex(tx.txid), "wtxid": hash_to_hex(tx.wtxid)}
        try:
            checked = self.node.mempool.test_accept(tx)
        except TxRejected as error:
            return [{**result, "allowed": False, "reject-reason": error.reason, "reject-details": _state(error)}]
        if checked is None:
            return [{**result, "allowed": False, "reject-reason": "missing-inputs"}]
        fee, vsize = checked
        if max_fee_rate and fee > _fee_for(max_fee_rate, vsize):
            return [{**result, "allowed": False, "reject-reason": "max-fee-exceeded"}]
        return [{**result, "allowed": True, "vsize": vsize,
                 "fees": {"base": amount(fee), "effective-feerate": amount(fee * 1000 // vsize),
                          "effective-includes": [hash_to_hex(tx.wtxid)]}}]

    @rpc_method
    def getrawmempool(self, verbose: bool = False) -> Any:
        """The mempool's txids, or (`verbose`) an object of their entries by txid. Without Core's
        `mempool_sequence`."""
        pool = self.node.mempool
        if not verbose:
            return [hash_to_hex(entry.tx.txid) for entry in pool]
        return {hash_to_hex(entry.tx.txid): _entry_json(pool, entry) for entry in pool}

    @rpc_method
    def getmempoolentry(self, txid: Any) -> dict[str, Any]:
        """The mempool entry of a transaction, as getrawmempool's verbose entries."""
        pool = self.node.mempool
        entry = pool.get(hash_arg(txid, "txid"))
        if entry is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
        return _entry_json(pool, entry)

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
                "fullrbf": False, "permitbaremultisig": pool.permit_bare_multisig,
                "maxdatacarriersize": pool.max_datacarrier_bytes or 0,
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


def _entry_json(pool: Mempool, entry: MempoolEntry) -> dict[str, Any]:
    """Core's entryToJSON: the ancestor and descendant fees are modified fees, as Core's."""
    txid = entry.tx.txid
    ancestors = [pool.get(other) for other in pool.ancestors(txid)]
    descendants = [pool.get(other) for other in pool.descendants(txid)]
    above = [entry, *(e for e in ancestors if e is not None)]
    below = [entry, *(e for e in descendants if e is not None)]
    replaceable = any(txin.sequence <= MAX_BIP125_RBF_SEQUENCE for e in above for txin in e.tx.inputs)
    return {
        "vsize": entry.vsize, "weight": entry.tx.weight, "time": int(entry.time), "height": entry.height,
        "descendantcount": len(below), "descendantsize": sum(e.vsize for e in below),
        "ancestorcount": len(above), "ancestorsize": sum(e.vsize for e in above),
        "wtxid": hash_to_hex(entry.tx.wtxid),
        "fees": {"base": amount(entry.fee), "modified": amount(entry.modified_fee),
                 "ancestor": amount(sum(e.modified_fee for e in above)),
                 "descendant": amount(sum(e.modified_fee for e in below))},
        "depends": sorted(hash_to_hex(parent) for parent in entry.parents),
        "spentby": [hash_to_hex(child) for child in sorted(entry.children)],
        "bip125-replaceable": replaceable, "unbroadcast": False,
    }
