"""Core's blockchain RPCs (`rpc/blockchain.cpp`): the chain's blocks, headers and state, and
scans of the UTXO set (`scantxoutset`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import gevent.event

import gevent

from pantheon import wire
from pantheon.chain.blockfilter import filter_type_by_name
from pantheon.chain.blockstats import block_stats
from pantheon.chain.chainstate import is_bip30_repeat
from pantheon.chain.descriptors import DescriptorError, infer_descriptor, parse_descriptor
from pantheon.chain.blockfiles import BlockFileMissing
from pantheon.chain.coins import Coin
from pantheon.chain.coinstats import HASH_TYPES
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.headers import MAX_FUTURE_BLOCK_TIME
from pantheon.chain.scripts import ScriptFlags, script_flags
from pantheon.chain.versionbits import ACTIVE, DEFINED, LOCKED_IN, STARTED, signals
from pantheon.hashing import hash_to_hex
from pantheon.net.peer import PeerState
from pantheon.params import ALWAYS_ACTIVE, Deployment
from pantheon.primitives import Block, OutPoint
from pantheon.protocol import BASIC_FILTER, BLOCK_HEADER_SIZE, FILTER_TYPE_NAMES
from pantheon.rpc.arguments import check_types, hash_arg, int_arg, json_type, known_block
from pantheon.rpc.errors import (
    RPC_INTERNAL_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RpcError,
)
from pantheon.rpc.registry import HIDDEN, RpcContext, RpcGroup, rpc_method
from pantheon.rpc.results import (
    amount,
    coinbase_json,
    difficulty,
    header_json,
    script_pubkey_json,
    target,
    tx_to_json,
    warnings,
)

__all__ = ["BlockchainRpc", "SCAN_YIELD_EVERY"]

#: Coins a UTXO scan reads between yields to the hub (so `status` and `abort` are answered).
SCAN_YIELD_EVERY = 8192


@dataclass
class _Scan:
    """The UTXO scan in progress: how far it is (percent), and whether `abort` was asked."""

    progress: int = 0
    abort: bool = False

#: Core's pruneblockchain: a larger `height` is a block time (Sep 2001 on), not a height.
PRUNE_HEIGHT_OR_TIME = 1_000_000_000
#: getchaintxstats' default window: a month of blocks.
MONTH = 30 * 24 * 60 * 60
#: Core's buried deployments as getdeploymentinfo names them, and our Network fields.
BURIED_DEPLOYMENTS = (("bip34", "bip34_height"), ("bip66", "bip66_height"), ("bip65", "bip65_height"),
                      ("csv", "csv_height"), ("segwit", "segwit_height"))


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
        block_hash = known_block(chain, blockhash, "hash")
        if not verbose:
            return chain.headers.header(block_hash).serialize().hex()
        return header_json(chain, block_hash)

    @rpc_method
    def getblock(self, blockhash: Any, verbosity: Any = 1) -> Any:
        """A block: hex (verbosity 0), an object with txids (1), with decoded transactions and
        their fees (2), and each input's spent output (3, `prevout`); fees and prevouts when
        the block's undo data is here (it was connected)."""
        chain = self.node.chain
        block_hash = known_block(chain, blockhash)
        if isinstance(verbosity, bool):
            verbosity = int(verbosity)
        verbosity = int_arg(verbosity, "verbosity")
        if not chain.has_block(block_hash):
            raise RpcError(RPC_MISC_ERROR, "Block not available (pruned data)" if chain.is_pruned(block_hash)
                           else "Block not available (not fully downloaded)")
        try:
            block = chain.read_block(block_hash)
        except BlockFileMissing:
            raise RpcError(RPC_MISC_ERROR, "Block not found on disk") from None
        if verbosity <= 0:
            return wire.encode_block(block).hex()
        result = header_json(chain, block_hash, block)
        stripped = BLOCK_HEADER_SIZE + len(wire.write_compact_size(len(block.transactions))) + sum(
            tx.stripped_size for tx in block.transactions)
        size = len(wire.encode_block(block))
        result.update({"strippedsize": stripped, "size": size, "weight": 3 * stripped + size})
        if verbosity >= 2:
            result["tx"] = self._transactions_json(block, block_hash, verbosity >= 3)
        else:
            result["tx"] = [hash_to_hex(tx.txid) for tx in block.transactions]
        if block.transactions:
            result["coinbase_tx"] = coinbase_json(block.transactions[0])
        return result

    def _transactions_json(self, block: Block, block_hash: bytes, prevouts: bool) -> list[dict[str, Any]]:
        """getblock's decoded transactions, with each one's fee (and its inputs' spent outputs)
        from the undo data, as Core's TxToUniv with a TxUndo."""
        network = self.node.network
        try:
            spent = self.node.chain.spent_coins(block_hash)
        except BlockFileMissing:
            raise RpcError(RPC_INTERNAL_ERROR, "Undo data expected but can't be read. This could be due to disk "
                           "corruption or a conflict with a pruning event.") from None
        return [tx_to_json(tx, network, spent=spent[position - 1] if spent is not None and position else None,
                           prevouts=prevouts)
                for position, tx in enumerate(block.transactions)]

    @rpc_method
    def getchaintxstats(self, nblocks: Any = None, blockhash: Any = None) -> dict[str, Any]:
        """Transaction counts and rate over a window of `nblocks` blocks (default: a month's)
        ending at `blockhash` (default: the tip)."""
        check_types(("nblocks", nblocks, "number"), ("blockhash", blockhash, "string"))
        chain = self.node.chain
        if blockhash is None:
            end = chain.tip
        else:
            end = known_block(chain, blockhash)
            if not chain.contains(end):
                raise RpcError(RPC_INVALID_PARAMETER, "Block is not in main chain")
        tree = chain.headers
        height = tree.height_of(end)
        if nblocks is None:
            count = max(0, min(MONTH // chain.network.pow_target_spacing, height - 1))
        else:
            count = int_arg(nblocks, "nblocks")
            if count < 0 or 0 < height <= count:
                raise RpcError(RPC_INVALID_PARAMETER, "Invalid block count: should be between 0 and the block's height - 1")
        start = tree.ancestor(end, height - count)
        end_count, start_count = chain.chain_tx_count(end), chain.chain_tx_count(start)
        result: dict[str, Any] = {"time": tree.header(end).timestamp}
        if end_count:
            result["txcount"] = end_count
        result.update({"window_final_block_hash": hash_to_hex(end), "window_final_block_height": height,
                       "window_block_count": count})
        if count > 0:
            interval = tree.median_time_past(end) - tree.median_time_past(start)
            result["window_interval"] = interval
            if end_count and start_count:
                result["window_tx_count"] = end_count - start_count
                if interval > 0:
                    result["txrate"] = (end_count - start_count) / interval
        return result

    @rpc_method
    def waitfornewblock(self, timeout: Any = 0, current_tip: Any = None) -> dict[str, Any]:
        """Wait until the tip is another than `current_tip` (default: the tip now), at most
        `timeout` milliseconds (0: no limit); the tip then."""
        chain = self.node.chain
        start = chain.tip if current_tip is None else hash_arg(current_tip, "current_tip")
        return self._wait(lambda: chain.tip != start, timeout)

    @rpc_method
    def waitforblock(self, blockhash: Any, timeout: Any = 0) -> dict[str, Any]:
        """Wait until `blockhash` is the tip, at most `timeout` milliseconds (0: no limit); the
        tip then."""
        chain = self.node.chain
        wanted = hash_arg(blockhash, "blockhash")
        return self._wait(lambda: chain.tip == wanted, timeout)

    @rpc_method
    def waitforblockheight(self, height: Any, timeout: Any = 0) -> dict[str, Any]:
        """Wait until the chain is at least `height` blocks high, at most `timeout` milliseconds
        (0: no limit); the tip then."""
        chain = self.node.chain
        wanted = int_arg(height, "height")
        return self._wait(lambda: chain.height >= wanted, timeout)

    def _wait(self, done: Callable[[], bool], timeout: Any) -> dict[str, Any]:
        """Block this call (not the node) until `done()` after a tip change, or the timeout."""
        millis = int_arg(timeout, "timeout")
        if millis < 0:
            raise RpcError(RPC_MISC_ERROR, "Negative timeout")
        node = self.node
        changed = gevent.event.Event()
        stops = [node.events.block_connected.subscribe(lambda *_: changed.set()),
                 node.events.block_disconnected.subscribe(lambda *_: changed.set())]
        deadline = time.monotonic() + millis / 1000 if millis else None
        try:
            while not done():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                changed.clear()  # no switch since done(): a change now is not lost
                changed.wait(left)
        finally:
            for stop in stops:
                stop()
        return {"hash": hash_to_hex(node.chain.tip), "height": node.chain.height}

    @rpc_method
    def verifychain(self, checklevel: Any = None, nblocks: Any = None) -> bool:
        """Verify the chain's last `nblocks` blocks (default -checkblocks; 0: all) at
        `checklevel` (default -checklevel): see Chainstate.verify_chain for what each level
        checks (levels 3 and 4 do not reconnect blocks in memory as Core's do)."""
        node = self.node
        level = node.config.checklevel if checklevel is None else int_arg(checklevel, "checklevel")
        count = node.config.checkblocks if nblocks is None else int_arg(nblocks, "nblocks")
        return node.verify_chain(level, count)

    @rpc_method
    def getdeploymentinfo(self, blockhash: Any = None) -> dict[str, Any]:
        """The soft forks' states at a block (default: the tip): the buried ones by height, the
        BIP9 ones with their signalling statistics, and the script flags the block is checked
        with. Deployments always active from genesis are left out, as Core does."""
        chain = self.node.chain
        tree = chain.headers
        at = chain.tip if blockhash is None else known_block(chain, blockhash)
        height = tree.height_of(at)
        network = chain.network
        deployments: dict[str, Any] = {
            name: {"type": "buried", "active": height + 1 >= getattr(network, field), "height": getattr(network, field)}
            for name, field in BURIED_DEPLOYMENTS}
        for deployment in network.deployments:
            if deployment.start_time != ALWAYS_ACTIVE:
                deployments[deployment.name] = self._bip9_json(deployment, at)
        flags = script_flags(network, height, at)
        return {"hash": hash_to_hex(at), "height": height,
                "script_flags": sorted(flag.name for flag in ScriptFlags if flag and flags & flag),
                "deployments": deployments}

    def _bip9_json(self, deployment: Deployment, at: bytes) -> dict[str, Any]:
        """Core's SoftForkDescPushBack for a BIP9 deployment at block `at`."""
        tree = self.node.chain.headers
        bits = self.node.chain.versionbits
        parent = tree.header(at).prev_block if at != tree.anchor else None
        current = DEFINED if parent is None else bits.state(deployment, parent)
        following = bits.state(deployment, at)
        signalling = current in (STARTED, LOCKED_IN)
        info: dict[str, Any] = {}
        if signalling:
            info["bit"] = deployment.bit
        info.update({"start_time": deployment.start_time, "timeout": deployment.timeout,
                     "min_activation_height": deployment.min_activation_height, "status": current,
                     "since": 0 if parent is None else bits.since(deployment, parent), "status_next": following})
        if signalling:
            period = deployment.period
            in_period = tree.height_of(at) % period + 1
            marks = []
            block = at
            for _ in range(in_period):
                header = tree.header(block)
                marks.append(signals(header.version, deployment))
                block = header.prev_block
            marks.reverse()
            count = sum(marks)
            statistics: dict[str, Any] = {"period": period, "elapsed": in_period, "count": count}
            if current != LOCKED_IN:
                statistics["threshold"] = deployment.threshold
                statistics["possible"] = period - deployment.threshold >= in_period - count
            info["statistics"] = statistics
            info["signalling"] = "".join("#" if mark else "-" for mark in marks)
        return {"type": "bip9", "bip9": info, "active": following == ACTIVE}

    @rpc_method
    def gettxoutsetinfo(self, hash_type: Any = "hash_serialized_3") -> dict[str, Any]:
        """Statistics of the UTXO set at the tip, with its `hash_serialized_3` or `muhash` digest
        (or none). Walks every coin in Python: slow on a large set. Core's `hash_or_height` and
        `use_index` (a coin statistics index) are not supported."""
        check_types(("hash_type", hash_type, "string"))
        if hash_type not in HASH_TYPES:
            raise RpcError(RPC_INVALID_PARAMETER, f"'{hash_type}' is not a valid hash_type")
        node = self.node
        tip, height, stats = node.coin_stats(hash_type)
        result: dict[str, Any] = {"height": height, "bestblock": hash_to_hex(tip), "txouts": stats.outputs,
                                  "bogosize": stats.bogosize}
        if stats.digest is not None:
            result[hash_type] = hash_to_hex(stats.digest)
        result.update({"total_amount": amount(stats.total_amount), "transactions": stats.transactions,
                       "disk_size": stats.disk_size})
        return result

    @rpc_method
    def gettxout(self, txid: Any, n: Any, include_mempool: Any = True) -> dict[str, Any] | None:
        """An unspent output: of the chain's tip, or (`include_mempool`) as the mempool leaves
        it (a pooled transaction's output, confirmations 0; none if a pooled one spends it)."""
        check_types(("txid", txid, "string"), ("n", n, "number"), ("include_mempool", include_mempool, "bool"))
        node = self.node
        chain = node.chain
        outpoint = OutPoint(hash_arg(txid, "txid"), int_arg(n, "n"))
        coin = None
        confirmations = 0
        with node.chain_lock:  # not while a block connects: the set may hold its unverified changes
            if include_mempool:
                if node.mempool.spender(outpoint) is not None:
                    return None
                entry = node.mempool.get(outpoint.txid)
                if entry is not None and outpoint.index < len(entry.tx.outputs):
                    txout = entry.tx.outputs[outpoint.index]
                    coin = Coin(txout.value, txout.script_pubkey, chain.height + 1, False)
            if coin is None:
                coin = chain.get_coin(outpoint)
                if coin is None:
                    return None
                confirmations = chain.height - coin.height + 1
            best = chain.tip
        return {"bestblock": hash_to_hex(best), "confirmations": confirmations, "value": amount(coin.value),
                "scriptPubKey": script_pubkey_json(coin.script_pubkey, node.network), "coinbase": coin.coinbase}

    @rpc_method
    def getblockstats(self, hash_or_height: Any, stats: Any = None) -> dict[str, Any]:
        """Statistics of one block, by hash or height (all amounts in satoshis, fee rates in
        sat/vB): fees, fee rates and their weight percentiles, sizes, weights, segwit totals and
        the UTXO set's growth; `stats` picks some by name (default: all). Needs the block's data
        and undo data (not pruned)."""
        check_types(("stats", stats, "array"))
        chain = self.node.chain
        block_hash = self._hash_or_height(hash_or_height)
        for name in stats or ():
            if not isinstance(name, str):
                raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(name)} is not of expected type string")
        if not chain.has_block(block_hash):
            raise RpcError(RPC_MISC_ERROR, "Block not available (pruned data)" if chain.is_pruned(block_hash)
                           else "Block not found on disk")
        block = chain.read_block(block_hash)
        tree = chain.headers
        height = tree.height_of(block_hash)
        spent = chain.spent_coins(block_hash) if height else []
        if spent is None:
            raise RpcError(RPC_MISC_ERROR, "Undo data not available (pruned data)" if chain.is_pruned(block_hash)
                           else "Can't read undo data from disk")
        every = block_stats(block, spent, block_hash=hash_to_hex(block_hash), height=height,
                            median_time=tree.median_time_past(block_hash), subsidy=block_subsidy(height, chain.network),
                            bip30_repeat=is_bip30_repeat(block_hash))
        if not stats:
            return every
        chosen = {}
        for name in sorted(set(stats)):
            if name not in every:
                raise RpcError(RPC_INVALID_PARAMETER, f"Invalid selected statistic '{name}'")
            chosen[name] = every[name]
        return chosen

    def _hash_or_height(self, value: Any) -> bytes:
        """Core's ParseHashOrHeight: a height of the active chain, or any known block's hash."""
        chain = self.node.chain
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            height = int_arg(value, "hash_or_height")
            if height < 0:
                raise RpcError(RPC_INVALID_PARAMETER, f"Target block height {height} is negative")
            if height > chain.height:
                raise RpcError(RPC_INVALID_PARAMETER, f"Target block height {height} after current tip {chain.height}")
            return chain.headers.ancestor(chain.tip, height)
        if not isinstance(value, str):
            raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(value)} is not of expected type string")
        return known_block(chain, value, "hash_or_height")

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
        """The state of the chain, with Core 31's fields (its pruning fields in prune mode, the
        signet challenge on signet)."""
        node = self.node
        chain = node.chain
        tree = chain.headers
        tip = tree.header(chain.tip)
        status = node.sync_status()
        result: dict[str, Any] = {
            "chain": node.network.chain_name, "blocks": chain.height, "headers": tree.height,
            "bestblockhash": hash_to_hex(chain.tip), "bits": f"{tip.bits:08x}", "target": target(tip.bits),
            "difficulty": difficulty(tip.bits), "time": tip.timestamp, "mediantime": chain.median_time_past,
            "verificationprogress": progress if (progress := chain.verification_progress(node.clock())) is not None
            else status.progress / 100.0,
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
        if node.network.signet_challenge:
            result["signet_challenge"] = node.network.signet_challenge
        result["warnings"] = warnings(node)
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

    @rpc_method
    def scantxoutset(self, action: Any, scanobjects: Any = None) -> Any:
        """Scan the UTXO set for outputs to the scripts of `scanobjects` (action "start"), or ask
        how far the running scan is ("status": its progress, null when none) or stop it ("abort":
        whether one was running). A scan object is a descriptor, or {"desc": descriptor}: one that
        stands for one script (not ranged, not combo()), checksum verified when given; a `range`
        is refused."""
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
        with self.node.chain_lock:  # the cursor's moment is a connected tip's (Node.chain_lock)
            tip_hash, tip_height = chain.tip, chain.height
            coins = chain.coins.cursor()
        tree = chain.headers
        unspents = []
        total = count = 0
        for outpoint, coin in coins:
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

    @rpc_method
    def getblockfilter(self, blockhash: Any, filtertype: Any = None) -> dict[str, str]:
        """A block's BIP158 filter (hex) and its BIP157 filter header, from -blockfilterindex;
        `filtertype` is "basic", the default and only type."""
        check_types(("blockhash", blockhash, "string"), ("filtertype", filtertype, "string"))
        block_hash = hash_arg(blockhash, "blockhash")
        name = FILTER_TYPE_NAMES[BASIC_FILTER] if filtertype is None else filtertype
        if filter_type_by_name(name) is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Unknown filtertype")
        index = self.node.filter_index
        if index is None:
            raise RpcError(RPC_MISC_ERROR, f"Index is not enabled for filtertype {name}")
        chain = self.node.chain
        if block_hash not in chain.headers:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        entry = index.lookup(block_hash)
        if entry is None:
            if not chain.is_validated(block_hash):
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Filter not found. Block was not connected to active chain.")
            if not index.synced:
                raise RpcError(RPC_MISC_ERROR, "Filter not found. Block filters are still in the process of being indexed.")
            raise RpcError(RPC_INTERNAL_ERROR, "Filter not found. This error is unexpected and indicates index corruption.")
        return {"filter": entry.filter.hex(), "header": hash_to_hex(entry.header)}

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
