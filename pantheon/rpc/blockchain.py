"""Core's blockchain RPCs (`rpc/blockchain.cpp`): the chain's blocks, headers and state."""

from __future__ import annotations

from typing import Any

from pantheon import wire
from pantheon.chain.headers import MAX_FUTURE_BLOCK_TIME
from pantheon.hashing import hash_to_hex
from pantheon.net.peer import PeerState
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.rpc.arguments import int_arg, known_block
from pantheon.rpc.errors import RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RpcError
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
from pantheon.rpc.results import coinbase_json, difficulty, header_json, target, tx_to_json, warnings

__all__ = ["BlockchainRpc"]

#: Core's pruneblockchain: a larger `height` is a block time (Sep 2001 on), not a height.
PRUNE_HEIGHT_OR_TIME = 1_000_000_000


class BlockchainRpc(RpcGroup):
    category = "blockchain"

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
        block_hash = known_block(chain, blockhash, "hash")
        if not verbose:
            return chain.headers.header(block_hash).serialize().hex()
        return header_json(chain, block_hash)

    @rpc_method
    def getblock(self, blockhash: Any, verbosity: Any = 1) -> Any:
        """A block: hex (verbosity 0), an object with txids (1) or with decoded transactions (2)."""
        chain = self.node.chain
        block_hash = known_block(chain, blockhash)
        if isinstance(verbosity, bool):
            verbosity = int(verbosity)
        verbosity = int_arg(verbosity, "verbosity")
        if not chain.has_block(block_hash):
            raise RpcError(RPC_MISC_ERROR, "Block not available (pruned data)" if chain.is_pruned(block_hash)
                           else "Block not available (not fully downloaded)")
        block = chain.read_block(block_hash)
        if verbosity <= 0:
            return wire.encode_block(block).hex()
        result = header_json(chain, block_hash, block)
        stripped = BLOCK_HEADER_SIZE + len(wire.write_compact_size(len(block.transactions))) + sum(
            tx.stripped_size for tx in block.transactions)
        size = len(wire.encode_block(block))
        result.update({"strippedsize": stripped, "size": size, "weight": 3 * stripped + size})
        result["tx"] = ([tx_to_json(tx, self.node.network) for tx in block.transactions] if verbosity >= 2
                        else [hash_to_hex(tx.txid) for tx in block.transactions])
        if block.transactions:
            result["coinbase_tx"] = coinbase_json(block.transactions[0])
        return result

    @rpc_method
    def getdifficulty(self) -> float:
        """The tip's proof-of-work difficulty, as a multiple of the minimum difficulty."""
        chain = self.node.chain
        return difficulty(chain.headers.header(chain.tip).bits)

    @rpc_method
    def getchaintips(self) -> list[dict[str, Any]]:
        """Every tip of the block tree (headers no other builds on, and the active tip), highest
        first: its height, hash, the length of its branch off the active chain, and its status:
        `active`, `invalid` (it or an ancestor failed), `headers-only` (a block of its branch
        is missing), `valid-fork` (connected once), `valid-headers` (all data, not validated)."""
        chain = self.node.chain
        tree = chain.headers
        tips = set(tree.leaves())
        tips.add(chain.tip)
        result = []
        for tip in tips:
            height = tree.height_of(tip)
            fork, all_data = tip, True
            while not chain.contains(fork):
                all_data = all_data and chain.has_block(fork)
                fork = tree.header(fork).prev_block
            if fork == tip:
                status = "active"
            elif not tree.is_valid(tip):
                status = "invalid"
            elif not all_data:
                status = "headers-only"
            elif chain.is_validated(tip):
                status = "valid-fork"
            else:
                status = "valid-headers"
            result.append({"height": height, "hash": hash_to_hex(tip), "branchlen": height - tree.height_of(fork),
                           "status": status})
        result.sort(key=lambda entry: (-entry["height"], entry["hash"]))
        return result

    @rpc_method
    def invalidateblock(self, blockhash: Any) -> None:
        """Treat a block as invalid (and its descendants): the chain goes back to its parent
        and on along the best chain that is still valid."""
        node = self.node
        block_hash = known_block(node.chain, blockhash)
        if block_hash == node.chain.headers.anchor:
            raise RpcError(RPC_MISC_ERROR, "The genesis block cannot be invalidated")
        node.invalidate_block(block_hash)

    @rpc_method
    def reconsiderblock(self, blockhash: Any) -> None:
        """Undo invalidateblock: clear the invalid mark of a block, its ancestors and its
        descendants, and connect the best chain again."""
        node = self.node
        node.reconsider_block(known_block(node.chain, blockhash))

    @rpc_method
    def getblockchaininfo(self) -> dict[str, Any]:
        """The state of the chain, with Core's fields (and its pruning fields in prune mode)."""
        node = self.node
        chain = node.chain
        tree = chain.headers
        tip = tree.header(chain.tip)
        status = node.sync_status()
        result: dict[str, Any] = {
            "chain": node.network.chain_name, "blocks": chain.height, "headers": tree.height,
            "bestblockhash": hash_to_hex(chain.tip), "bits": f"{tip.bits:08x}", "target": target(tip.bits),
            "difficulty": difficulty(tip.bits), "time": tip.timestamp, "mediantime": chain.median_time_past,
            "verificationprogress": status.progress / 100.0,
            "initialblockdownload": status.initial_block_download,
            "chainwork": f"{tree.chain_work(chain.tip):064x}", "size_on_disk": node.size_on_disk(),
            "pruned": chain.prune_target is not None,
        }
        if chain.prune_target is not None:
            pruned = chain.pruned_height
            result["pruneheight"] = 0 if pruned is None else pruned + 1
            result["automatic_pruning"] = chain.prune_target > 0
            if chain.prune_target:
                result["prune_target_size"] = chain.prune_target
        text = warnings(node)
        result["warnings"] = [text] if text else []
        return result

    @rpc_method
    def pruneblockchain(self, height: Any) -> int:
        """Delete the data of the blocks up to `height` (a block height, or a UNIX time above a
        billion: the first block that late), keeping the last 288; the highest height pruned
        (-1: none). Only in prune mode."""
        node = self.node
        chain = node.chain
        if chain.prune_target is None:
            raise RpcError(RPC_MISC_ERROR, "Cannot prune blocks because node is not in prune mode.")
        wanted = int_arg(height, "height")
        if wanted < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Negative block height.")
        if wanted > PRUNE_HEIGHT_OR_TIME:
            earliest = wanted - MAX_FUTURE_BLOCK_TIME
            found = next((h for h in range(chain.height + 1) if chain.time_at(h) >= earliest), None)
            if found is None:
                raise RpcError(RPC_INVALID_PARAMETER, "Could not find block with at least the specified timestamp.")
            wanted = found
        if chain.height < chain.network.prune_after_height:
            raise RpcError(RPC_MISC_ERROR, "Blockchain is too short for pruning.")
        if wanted > chain.height:
            raise RpcError(RPC_INVALID_PARAMETER, "Blockchain is shorter than the attempted prune height.")
        pruned = node.prune(wanted)
        return -1 if pruned is None else pruned

    @rpc_method(regtest_only=True, category=HIDDEN)
    def syncwithvalidationinterfacequeue(self) -> None:
        """Wait for the notifications of validation events to be delivered: Pantheon delivers them
        (node.events) before a block or transaction call returns, so there is never a queue."""

    @rpc_method
    def getsyncstatus(self) -> dict[str, Any]:
        """Pantheon's: the sync's height, target, headers, progress and blocks in flight, and
        whether scripts are executed (`scripts_verified`)."""
        node = self.node
        status = node.sync_status()
        return {"height": status.height, "target": status.target, "headers": status.headers,
                "progress": round(status.progress, 2), "initialblockdownload": status.initial_block_download,
                "blocks_in_flight": node.blocks_in_flight(), "peers": len(node.peers(PeerState.CONNECTED)),
                "scripts_verified": node.chain.scripts_verified}
