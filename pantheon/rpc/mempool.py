"""Core's mempool RPCs (`rpc/mempool.cpp`): the pool's contents and state, and submitting a
transaction (which Core files under rawtransactions)."""

from __future__ import annotations

from typing import Any

from pantheon.chain.validation import COIN
from pantheon.chain.mempool import MempoolEntry
from pantheon.chain.validation import TxRejected
from pantheon.hashing import hash_to_hex
from pantheon.rpc.arguments import tx_arg
from pantheon.rpc.errors import RPC_VERIFY_ALREADY_IN_CHAIN, RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED, RpcError
from pantheon.rpc.registry import RpcGroup, rpc_method
from pantheon.rpc.results import amount

__all__ = ["MempoolRpc"]


class MempoolRpc(RpcGroup):
    category = "blockchain"

    @rpc_method(category="rawtransactions")
    def sendrawtransaction(self, hexstring: Any, maxfeerate: Any = None) -> str:
        """Submit a transaction to the mempool and relay it; returns its txid."""
        node = self.node
        tx = tx_arg(hexstring)
        if node.mempool.get(tx.txid) is not None:
            return hash_to_hex(tx.txid)  # Core: already in the mempool is success
        try:
            status = node.submit_transaction(tx)
        except TxRejected as error:
            if error.reason == "txn-already-known":
                raise RpcError(RPC_VERIFY_ALREADY_IN_CHAIN, "Transaction outputs already in utxo set") from None
            raise RpcError(RPC_VERIFY_REJECTED, error.reason) from None
        if status != "accepted":  # inputs missing (Core's TX_MISSING_INPUTS)
            raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent")
        return hash_to_hex(tx.txid)

    @rpc_method
    def getrawmempool(self, verbose: bool = False) -> Any:
        """The mempool's txids, or (`verbose`) an object of their entries by txid."""
        entries = list(self.node.mempool)
        if not verbose:
            return [hash_to_hex(entry.tx.txid) for entry in entries]
        return {hash_to_hex(entry.tx.txid): _entry_json(entry) for entry in entries}

    @rpc_method
    def getmempoolinfo(self) -> dict[str, Any]:
        """The mempool's size, usage and fee floors; `scripts_verified` is Pantheon's."""
        info = self.node.mempool.info()
        return {"loaded": True, "size": info.size, "bytes": info.bytes, "usage": info.usage,
                "total_fee": amount(info.total_fee), "maxmempool": info.max_usage,
                "mempoolminfee": round(max(info.min_fee_rate, info.min_relay_fee_rate) * 1000 / COIN, 8),
                "minrelaytxfee": round(info.min_relay_fee_rate * 1000 / COIN, 8), "unbroadcastcount": 0,
                "fullrbf": False, "orphans": info.orphans, "scripts_verified": info.scripts_verified}


def _entry_json(entry: MempoolEntry) -> dict[str, Any]:
    return {"vsize": entry.vsize, "weight": entry.tx.weight, "time": int(entry.time),
            "height": entry.height, "fees": {"base": amount(entry.fee)}, "wtxid": hash_to_hex(entry.tx.wtxid),
            "depends": sorted(hash_to_hex(parent) for parent in entry.parents),
            "spentby": sorted(hash_to_hex(child) for child in entry.children)}
