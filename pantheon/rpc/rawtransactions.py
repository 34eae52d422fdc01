"""Core's raw-transaction RPCs (`rpc/rawtransaction.cpp`): finding and decoding transactions.

Without a transaction index, `getrawtransaction` finds mempool transactions, or a block's when its
hash is given, as Core does without `-txindex`.
"""

from __future__ import annotations

from typing import Any

from pantheon.primitives import Tx
from pantheon.rpc.arguments import hash_arg, known_block, tx_arg
from pantheon.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_MISC_ERROR, RpcError
from pantheon.rpc.registry import RpcGroup, rpc_method
from pantheon.rpc.results import tx_to_json

__all__ = ["RawTransactionsRpc"]


class RawTransactionsRpc(RpcGroup):
    category = "rawtransactions"

    @rpc_method
    def getrawtransaction(self, txid: Any, verbose: Any = False, blockhash: Any = None) -> Any:
        """A mempool transaction, or one of the given block's: hex, or decoded (`verbose`)."""
        chain = self.node.chain
        tx_hash = hash_arg(txid, "txid")
        found: Tx | None = None
        in_block: bytes | None = None
        if blockhash is not None:
            in_block = known_block(chain, blockhash)
            if not chain.has_block(in_block):
                raise RpcError(RPC_MISC_ERROR, "Block not available")
            found = next((tx for tx in chain.read_block(in_block).transactions if tx.txid == tx_hash), None)
            if found is None:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block.")
        else:
            entry = self.node.mempool.get(tx_hash)
            if entry is None:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool transaction. Use -txindex or provide "
                               "a block hash to enable blockchain transaction queries.")
            found = entry.tx
        if not verbose:
            return found.serialize().hex()
        result = tx_to_json(found, self.node.network, in_block)
        if in_block is not None:  # Core's TxToJSON with a block hash given
            active = chain.contains(in_block)
            result["in_active_chain"] = active
            result["confirmations"] = chain.height - chain.headers.height_of(in_block) + 1 if active else 0
            if active:
                result["time"] = result["blocktime"] = chain.headers.header(in_block).timestamp
        return result

    @rpc_method
    def decoderawtransaction(self, hexstring: Any, iswitness: Any = None) -> dict[str, Any]:
        """Core's, without `hex`. `iswitness` is accepted and not needed: the decoder reads the
        BIP144 marker, which is Core's heuristic for every transaction that can be valid."""
        result = tx_to_json(tx_arg(hexstring), self.node.network)
        del result["hex"]
        return result
