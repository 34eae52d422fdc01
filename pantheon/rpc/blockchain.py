"""Core's blockchain RPCs (`rpc/blockchain.cpp`): the chain's blocks, headers and state, and
scans of the UTXO set (`scantxoutset`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gevent

from pantheon import wire
from pantheon.chain.descriptors import DescriptorError, infer_descriptor, parse_descriptor
from pantheon.hashing import hash_to_hex
from pantheon.net.peer import PeerState
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.rpc.arguments import int_arg, known_block
from pantheon.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RpcError,
)
from pantheon.rpc.registry import HIDDEN, RpcContext, RpcGroup, rpc_method
from pantheon.rpc.results import amount, difficulty, header_json, tx_to_json, warnings

__all__ = ["BlockchainRpc", "SCAN_YIELD_EVERY"]

#: Coins a UTXO scan reads between yields to the hub (so `status` and `abort` are answered).
SCAN_YIELD_EVERY = 8192


@dataclass
class _Scan:
    """The UTXO scan in progress: how far it is (percent), and whether `abort` was asked."""

    progress: int = 0
    abort: bool = False


class BlockchainRpc(RpcGroup):
    category = "blockchain"

    def __init__(self, context: RpcContext) -> None:
        super().__init__(context)
        self._scan: _Scan | None = None

    @rpc_method
    def getblockcount(self) -> int:
        """The height of the most-work fully-validated chain."""
        return self.node.chain.height

    @rpc_method
    def getbestblockhash(self) -> str:
        """The hash of the best (tip) block in the most-work fully-validated chain."""
        return hash_to_hex(self.node.chain.tip)

    @rpc_method
    def getblockhash(self, height: Any) -> str:
        """The hash of the block at `height` in the active chain."""
        chain = self.node.chain
        height = int_arg(height, "height")
        if not 0 <= height <= chain.height:
            raise RpcError(RPC_INVALID_PARAMETER, "Block height out of range")
        return hash_to_hex(chain.headers.ancestor(chain.tip, height))

    @rpc_method
    def getblockheader(self, blockhash: Any, verbose: bool = True) -> Any:
        """The header of a block: an object (`verbose`), else its 80 bytes in hex."""
        chain = self.node.chain
        block_hash = known_block(chain, blockhash)
        if not verbose:
            return chain.headers.header(block_hash).serialize().hex()
        result = header_json(chain, block_hash)
        result["nTx"] = len(chain.read_block(block_hash).transactions) if chain.has_block(block_hash) else 0
        return result

    @rpc_method
    def getblock(self, blockhash: Any, verbosity: Any = 1) -> Any:
        """A block: hex (verbosity 0), an object with txids (1) or with decoded transactions (2)."""
        chain = self.node.chain
        block_hash = known_block(chain, blockhash)
        if isinstance(verbosity, bool):
            verbosity = int(verbosity)
        verbosity = int_arg(verbosity, "verbosity")
        if not chain.has_block(block_hash):
            raise RpcError(RPC_MISC_ERROR, "Block not available (pruned data)")
        block = chain.read_block(block_hash)
        if verbosity <= 0:
            return wire.encode_block(block).hex()
        result = header_json(chain, block_hash)
        stripped = BLOCK_HEADER_SIZE + len(wire.write_compact_size(len(block.transactions))) + sum(
            tx.stripped_size for tx in block.transactions)
        size = len(wire.encode_block(block))
        result.update({"size": size, "strippedsize": stripped, "weight": 3 * stripped + size,
                       "nTx": len(block.transactions)})
        result["tx"] = ([tx_to_json(tx, self.node.network) for tx in block.transactions] if verbosity >= 2
                        else [hash_to_hex(tx.txid) for tx in block.transactions])
        return result

    @rpc_method
    def getblockchaininfo(self) -> dict[str, Any]:
        """The state of the chain; `scripts_verified` is Pantheon's: whether scripts are executed."""
        node = self.node
        chain = node.chain
        tree = chain.headers
        tip = tree.header(chain.tip)
        status = node.sync_status()
        return {
            "chain": node.network.chain_name, "blocks": chain.height, "headers": tree.height,
            "bestblockhash": hash_to_hex(chain.tip), "difficulty": difficulty(tip.bits), "time": tip.timestamp,
            "mediantime": chain.median_time_past, "verificationprogress": status.progress / 100.0,
            "initialblockdownload": status.initial_block_download,
            "chainwork": f"{tree.chain_work(chain.tip):064x}", "size_on_disk": node.size_on_disk(),
            "pruned": False, "scripts_verified": chain.scripts_verified, "warnings": warnings(node),
        }

    @rpc_method
    def scantxoutset(self, action: Any, scanobjects: Any = None) -> Any:
        """Scan the UTXO set for outputs to the scripts of `scanobjects` (action "start"), or ask
        how far the running scan is ("status": its progress, null when none) or stop it ("abort":
        whether one was running). A scan object is a descriptor, or {"desc": descriptor}: only
        `raw(HEX)` and `addr(ADDRESS)` (Pantheon has no keys to derive from), checksum verified
        when given; a `range` is refused as for any descriptor without keys."""
        if action == "status":
            return None if self._scan is None else {"progress": self._scan.progress}
        if action == "abort":
            if self._scan is None:
                return False
            self._scan.abort = True
            return True
        if action != "start":
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid action '{action}'")
        if self._scan is not None:
            raise RpcError(RPC_INVALID_PARAMETER, 'Scan already in progress, use action "abort" or "status"')
        if scanobjects is None:
            raise RpcError(RPC_MISC_ERROR, "scanobjects argument is required for the start action")
        if not isinstance(scanobjects, list):
            raise RpcError(RPC_TYPE_ERROR, f"scanobjects: expected an array, got {type(scanobjects).__name__}")
        wanted = {script: infer_descriptor(script, self.node.network) for script in map(self._scan_script, scanobjects)}
        self._scan = _Scan()
        try:
            return self._scan_coins(self._scan, wanted)
        finally:
            self._scan = None

    def _scan_script(self, scanobject: Any) -> bytes:
        """Core's EvalDescriptorStringOrObject for a descriptor without keys."""
        if isinstance(scanobject, dict):
            if "range" in scanobject:
                raise RpcError(RPC_INVALID_PARAMETER, "Range should not be specified for an un-ranged descriptor")
            scanobject = scanobject.get("desc")
            if not isinstance(scanobject, str):
                raise RpcError(RPC_INVALID_PARAMETER, "Descriptor needs to be provided in scan object")
        elif not isinstance(scanobject, str):
            raise RpcError(RPC_INVALID_PARAMETER, "Scan object needs to be either a string or an object")
        try:
            return parse_descriptor(scanobject, self.node.network).script
        except DescriptorError as error:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, str(error)) from None

    def _scan_coins(self, scan: _Scan, wanted: dict[bytes, str]) -> dict[str, Any]:
        """Core's FindScriptPubKey: every coin, those paying to `wanted` listed as Core lists them;
        the hub gets a turn every SCAN_YIELD_EVERY coins. The tip is the one the walk started at."""
        chain = self.node.chain
        tip_hash, tip_height = chain.tip, chain.height
        tree = chain.headers
        unspents = []
        total = count = 0
        for outpoint, coin in chain.coins.cursor():
            count += 1
            if count % SCAN_YIELD_EVERY == 0:
                scan.progress = int(int.from_bytes(outpoint.txid[:2], "big") * 100 / 65536 + 0.5)
                gevent.sleep(0)
                if scan.abort:
                    return {"success": False, "txouts": count, "height": tip_height,
                            "bestblock": hash_to_hex(tip_hash), "unspents": [], "total_amount": 0}
            desc = wanted.get(coin.script_pubkey)
            if desc is None:
                continue
            total += coin.value
            unspents.append({
                "txid": hash_to_hex(outpoint.txid), "vout": outpoint.index, "scriptPubKey": coin.script_pubkey.hex(),
                "desc": desc, "amount": amount(coin.value), "coinbase": coin.coinbase, "height": coin.height,
                "blockhash": hash_to_hex(tree.ancestor(tip_hash, coin.height)),
                "confirmations": tip_height - coin.height + 1,
            })
        return {"success": True, "txouts": count, "height": tip_height, "bestblock": hash_to_hex(tip_hash),
                "unspents": unspents, "total_amount": amount(total)}

    @rpc_method(regtest_only=True, category=HIDDEN)
    def syncwithvalidationinterfacequeue(self) -> None:
        """Wait for the notifications of validation events to be delivered: Pantheon delivers them
        (node.events) before a block or transaction call returns, so there is never a queue."""

    @rpc_method
    def getsyncstatus(self) -> dict[str, Any]:
        """Pantheon's: the sync's height, target, headers, progress and blocks in flight."""
        node = self.node
        status = node.sync_status()
        return {"height": status.height, "target": status.target, "headers": status.headers,
                "progress": round(status.progress, 2), "initialblockdownload": status.initial_block_download,
                "blocks_in_flight": node.blocks_in_flight(), "peers": len(node.peers(PeerState.CONNECTED))}
