"""The chain state: blocks connected to the UTXO set along the most-work chain (Bitcoin Core's
`Chainstate`: AcceptBlock, ActivateBestChain, ConnectBlock, DisconnectBlock).

`accept_block` runs Core's AcceptBlock: the header through the header tree, then CheckBlock and
ContextualCheckBlock (`validation.check_block`; finality, `nonfinal_tx` against the parent's
median-time-past once CSV is active, else the block's time; `validation.check_block_at_height`),
and stores the block (`k/`). A block failing there is marked invalid in the header tree unless
the rejection says `mutated` (the header may still be good). Then `activate_best_chain` moves the
UTXO tip to the header tree's best chain as far as block data reaches, disconnecting first
when that is a heavier branch (Core's ActivateBestChainStep), or to the block just accepted
when it has more work than that and its data down to the chain. Core picks the most-work chain
among all the blocks it has; here a stored branch that is neither the best header's nor the
block just accepted waits until one of those leads to it.

Connecting a block (`_start_connect`, then `_finish_connect`) applies Core's ConnectBlock rules
in Core's order: BIP30 (`bad-txns-BIP30`; skipped for Core's two mainnet repeats and, as Core
does, after the BIP34 block where the network's BIP34 hash is known, until height 1,983,702),
then per transaction `check_tx_inputs` (its reason unchanged), the accumulated fee range, BIP68
sequence locks once CSV is active (`bad-txns-nonfinal`), the block's sigop cost (`bad-blk-sigops`,
P2SH and witness sigops counted from genesis as Core's GetBlockScriptFlags does, but for its BIP16
exception block, mainnet 170,060), and at the end the coinbase against fees plus subsidy
(`bad-cb-amount`). A block failing connection is marked invalid in the header tree and the tip
stays where it was. Each block is checked against a per-block overlay of the UTXO set, which
goes into the set while its scripts are checked and comes back out if they fail, so a failure
leaves the set untouched.

Scripts are NOT executed unless a `script_verifier` is given (`chain/scripts.py` provides one).
As Core's ConnectBlock feeds its CCheckQueue, each transaction's scripts are queued once its other
checks pass, to run in worker processes while the loop goes on, and their verdict is waited for
after every other rule, as Core waits for its script checks last.
`scripts_verified` says which, and opening without one logs a warning. Without it a block with a
bad signature is accepted. Along a run of blocks (a catch-up, a reorganisation, a sync whose next
block has arrived: `upcoming`) a block's checks start before the verdict on the one before it,
so its chunks keep the workers busy meanwhile (`_connect_along`); Core waits for each block's.

Between blocks, `activate_best_chain` yields to the gevent hub, so a long catch-up or
reorganisation lets peers be served; the caller serialises calls that change the chain (the
node holds a lock around `accept_block`).

Durability. The block is appended to a blk file (`chain/blockfiles.py`) when accepted, its
position in `k/`, before it is connected. Then each block connect or disconnect is one atomic
WriteBatch: its coin changes, its undo record's position (`u/`, the record appended to a rev
file when the block connected), the tip marker (`t/`) and, for each synced optional index
(`chain/blockindexes.py`: `f/`, `x/`, `o/`), the block's records and the index's tip land
together or not at all, so after a crash the store is at a fully connected block and the
indexes at the same one. `flush_every` > 1 or `flush_interval` defers the writes as Core's
dbcache does (one batch then covers several blocks, still atomically, and is also written when
the cache is over its bound and on `close`); opening reconnects any stored blocks beyond the
written tip. The node writes as Core does: when the cache is full, every
`DATABASE_WRITE_INTERVAL` and at close, never per block (a per-block write was a third of the
connect time of a dense chain, most of it coins created and spent a few blocks later, which a
deferred write never stores).

Pruning (Core's -prune). With a `prune_target` the chain state may delete the block files whose
blocks are all deeper than MIN_BLOCKS_TO_KEEP below the tip: on demand (`prune`, Core's
pruneblockchain; target 0 is Core's -prune=1) or, with a target in bytes, after a block is
connected while the block files exceed it and the chain is past the network's
prune_after_height. Core then deletes just enough of its oldest files; here every file that may
go goes at once. The highest height pruned is kept in `k/` under `pruned`.

Regtest activation heights. Core's regtest has BIP34/65/66 at 1 and CSV/segwit from the start;
bcoin's regtest (the vectors' chain) buries BIP34/65/66 far later and activates CSV and segwit
by BIP9 signalling at height 432. `with_activation_heights` is Core's `-testactivationheight`
for regtest only, and `BCOIN_REGTEST` uses it with bcoin's heights.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import struct
import time
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import gevent

from pantheon import wire
from pantheon.chain.blockfiles import MAX_BLOCKFILE_SIZE, BlockFiles, BlockPosition
from pantheon.chain.coins import Coin, CoinView
from pantheon.chain.contextual import (
    block_subsidy,
    check_spent_values,
    missing_inputs,
    nonfinal_tx,
    sequence_locks,
    sequence_locks_met,
    tx_sigop_cost,
)
from pantheon.chain.blockindexes import BlockIndex
from pantheon.chain.headers import MAX_FUTURE_BLOCK_TIME, HeaderRejected, HeaderTree, TipChange
from pantheon.chain.pow import check_proof_of_work
from pantheon.chain.script import is_unspendable
from pantheon.chain.versionbits import VersionBits
from pantheon.chain.utxo import DEFAULT_CACHE_BYTES, UtxoSet, coin_key, decode_coin, decode_undo, encode_undo
from pantheon.chain.validation import (
    MAX_BLOCK_SIGOPS_COST,
    MAX_MONEY,
    BlockRejected,
    Rejected,
    TxRejected,
    check_block,
    check_block_at_height,
    is_coinbase,
)
from pantheon.hashing import hash_to_hex, hex_to_hash
from pantheon.params import REGTEST, Network
from pantheon.primitives import Block, OutPoint, Tx
from pantheon.store import Batch, Store, StoreError

__all__ = [
    "ACTIVATION_FIELDS",
    "BCOIN_REGTEST",
    "DEFAULT_FLUSH_BLOCKS",
    "DATABASE_WRITE_INTERVAL",
    "BlockHook",
    "Chainstate",
    "ScriptVerifier",
    "is_bip30_repeat",
    "with_activation_heights",
]

log = logging.getLogger("pantheon.chain.chainstate")

#: Write the UTXO set at least this often (in blocks connected or disconnected): by default
#: every block is its own batch.
DEFAULT_FLUSH_BLOCKS = 1
#: Core's periodic write of its coins cache (DATABASE_WRITE_INTERVAL, 50 to 70 minutes): the
#: node writes its chain state this often, when the cache is full, and at close, not per block.
DATABASE_WRITE_INTERVAL = 3600.0
#: Core's MIN_BLOCKS_TO_KEEP: blocks this close to the tip keep their data (reorgs need it).
MIN_BLOCKS_TO_KEEP = 288
#: The key in `k/` (block hashes are 32 bytes, so it cannot clash) of the highest height pruned.
_PRUNED_KEY = b"pruned"
#: Core's BIP34_IMPLIES_BIP30_LIMIT: BIP34 stops guaranteeing unique coinbases at this height.
BIP34_IMPLIES_BIP30_LIMIT = 1_983_702
#: Core's BIP34Hash (main, testnet3): where it is the chain's BIP34 block, BIP30 is not checked.
_BIP34_HASHES = {
    "main": hex_to_hash("000000000000024b89b42a942fe0d9fea3bb44ab7bd1b19115dd6a759c0808b8"),
    "testnet3": hex_to_hash("0000000023b3a96d3484e5abb3755c413e7d41500f8e2a5c3f0dd01299cd8ef8"),
}
#: Core's IsBIP30Repeat: the two mainnet blocks (91,842 and 91,880) that repeat a coinbase.
_BIP30_REPEATS = frozenset(hex_to_hash(h) for h in (
    "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec",
    "00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721",
))


def is_bip30_repeat(block_hash: bytes) -> bool:
    """Core's IsBIP30Repeat: one of the two mainnet blocks whose coinbase repeats an earlier one
    (their outputs never entered the UTXO set a second time)."""
    return block_hash in _BIP30_REPEATS


#: Core's script_flag_exceptions on mainnet that drop P2SH (and witness): block 170,060.
_NO_P2SH_BLOCKS = frozenset({hex_to_hash("00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22")})
#: Core's buried deployments by their -testactivationheight names, and our Network fields.
ACTIVATION_FIELDS = {"bip34": "bip34_height", "dersig": "bip66_height", "cltv": "bip65_height",
                      "csv": "csv_height", "segwit": "segwit_height"}

#: Called with a block and its height after it is connected or disconnected.
BlockHook = Callable[[Block, int], None]


class BlockScriptChecks(Protocol):
    """A block's script checks as the connect loop feeds them (`chain.scripts.ScriptCheckQueue`)."""

    def add(self, tx: Tx, spent: Sequence[Coin]) -> None:
        """Queue a non-coinbase tx's scripts, once its other checks passed, with the coins it spends."""

    def complete(self) -> object:
        """Wait for every check queued; raise BlockRejected with Core's reason if one failed."""

    def abandon(self) -> None:
        """Drop the checks of a block that failed another rule (nothing after `complete`)."""

    def wait_sent(self) -> None:
        """Every check is queued: wait (other greenlets run) until none waits for a worker, so
        the next block's checks queue behind them."""


#: The block of this hash if it has just been received, taken out of its turn and stored by the
#: caller (`Chainstate.store_block`), else None: the node's `Chainstate.upcoming`, so the connect
#: loop goes on with it while the block before it is checked.
UpcomingBlock = Callable[[bytes], "Block | None"]

#: Starts a block's script checks, given the block and its height: None when its scripts are not
#: checked (-assumevalid). `chain.scripts.ChainScriptChecks.block` is the node's.
ScriptVerifier = Callable[[Block, int], BlockScriptChecks | None]


def with_activation_heights(network: Network, **heights: int) -> Network:
    """Core's `-testactivationheight=NAME@HEIGHT`: `network` with deployments (bip34, dersig,
    cltv, csv, segwit) enforced from other heights. Regtest only, as in Core."""
    if network.name != REGTEST.name:
        raise ValueError(f"activation heights are fixed on {network.name}; only regtest takes others")
    unknown = set(heights) - set(ACTIVATION_FIELDS)
    if unknown:
        raise ValueError(f"unknown deployment(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(ACTIVATION_FIELDS)}")
    return dataclasses.replace(network, **{ACTIVATION_FIELDS[name]: height for name, height in heights.items()})


#: bcoin 1.0.2's regtest (lib/protocol/networks.js: bip34height 100,000,000, bip66height 1,251,
#: bip65height 1,351; CSV and segwit by BIP9, active from 432 on its chain): the vectors' chain.
BCOIN_REGTEST = with_activation_heights(REGTEST, bip34=100_000_000, dersig=1_251, cltv=1_351, csv=432, segwit=432)


def _failed(error: BlockRejected) -> BlockRejected:
    """Log a block's rejection before it is stored as Core's ProcessNewBlock does."""
    log.error("ProcessNewBlock: AcceptBlock FAILED (%s)", error.state)
    return error


def _in_block(error: Rejected, block_hash: bytes, txid: bytes) -> BlockRejected:
    """A transaction's rejection as its block's, with the reason unchanged (as Core's ConnectBlock)."""
    return BlockRejected(error.reason, block_hash, f"tx {hash_to_hex(txid)} {error.detail}".rstrip())


class _BlockView:
    """The UTXO set as a block being connected changes it (Core's per-block CCoinsViewCache):
    nothing reaches the set until `apply`, and `revert` takes back what `apply` did, so a
    rejected block leaves it as it was."""

    __slots__ = ("_base", "added", "spent", "_displaced")

    def __init__(self, base: UtxoSet) -> None:
        self._base = base
        self.added: dict[bytes, Coin] = {}
        self.spent: dict[bytes, Coin] = {}  # the set's coins the block spends, by key
        self._displaced: dict[bytes, Coin] = {}  # unspent coins a coinbase output overwrote

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        key = coin_key(outpoint.txid, outpoint.index)
        coin = self.added.get(key)
        if coin is not None:
            return coin
        return None if key in self.spent else self._base.get(key)

    def spend_inputs(self, tx: Tx) -> list[Coin]:
        """The coins `tx`'s inputs spend, in input order, now spent in the view; TxRejected
        (CheckTxInputs' missing inputs) if one is not here, the view then left as it was."""
        added, spent, base_get = self.added, self.spent, self._base.get
        keys = [coin_key(txin.prev_txid, txin.prev_index) for txin in tx.inputs]
        coins = []
        for key in keys:
            coin = added.get(key)
            if coin is None:
                coin = None if key in spent else base_get(key)
                if coin is None:
                    raise missing_inputs(tx)
            coins.append(coin)
        for key, coin in zip(keys, coins):
            if added.pop(key, None) is None:
                spent[key] = coin
        return coins

    def apply(self) -> None:
        self._base.apply_block(self.spent, self.added, self._displaced)

    def revert(self) -> None:
        """Take back `apply`, nothing having changed the set since."""
        self._base.revert_block(self.spent, self.added, self._displaced)


@dataclasses.dataclass(slots=True)
class _Connecting:
    """A block whose changes are in the UTXO set while its script checks run: what its verdict
    and the rest of its connect need (`Chainstate._finish_connect`), or `cancel` to take it back."""

    block: Block
    height: int
    view: _BlockView
    undo: list[Coin]
    undo_record: bytes
    checks: BlockScriptChecks | None

    def cancel(self) -> None:
        """Drop its checks and take its changes back (nothing applied on top of them since)."""
        try:
            if self.checks is not None:
                self.checks.abandon()
        finally:
            self.view.revert()


class Chainstate:
    """Blocks, the header tree and the UTXO set of one store and network."""

    def __init__(self, store: Store, network: Network, *, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 flush_every: int | None = DEFAULT_FLUSH_BLOCKS, flush_interval: float | None = None,
                 script_verifier: ScriptVerifier | None = None,
                 now: Callable[[], float] = time.time, prune_target: int | None = None,
                 block_file_size: int = MAX_BLOCKFILE_SIZE, indexes: Sequence[BlockIndex] = ()) -> None:
        """`prune_target`: None keeps every block; 0 prunes on demand only; more prunes when the
        block files exceed that many bytes. `block_file_size`: where a blk file ends.
        `flush_every` (blocks; None: never by count) and `flush_interval` (seconds since the last
        write, None: never by time) say when changes are written besides a full cache and close.
        `indexes` (-blockfilterindex, -txindex, -txospenderindex) follow the chain in its
        batches once synced."""
        self.store = store
        self.prune_target = prune_target
        self.network = network
        self.headers = HeaderTree.open(store, network, now=now)
        #: The BIP9 deployments' states along the header tree (the miner's block version).
        self.versionbits = VersionBits(self.headers, network.deployments)
        self.coins = UtxoSet(store, cache_bytes)
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self._last_flush = time.monotonic()
        self._script_verifier = script_verifier
        self._blocks = store.namespace("blocks")
        self.files = BlockFiles(store, network.magic_bytes, block_file_size)
        self._chain_tx = store.namespace("chaintx")
        pruned = self._blocks.get(_PRUNED_KEY)
        self._pruned_height = None if pruned is None else int.from_bytes(pruned, "big")
        self._since_flush = 0
        #: Where the undo records of the blocks connected since the last flush are: each is in
        #: its rev file when its block connects (as Core writes undo data in ConnectBlock, so it
        #: is read from the file like any other); its position goes in the next flush's batch.
        self._unflushed_undo: dict[bytes, bytes] = {}
        #: Called after each block is connected / disconnected (mempool, miner, relay).
        self.on_connected: list[BlockHook] = []
        self.on_disconnected: list[BlockHook] = []
        #: Called when a new block passed every check made before it is stored (Core's
        #: NewPoWValidBlock: BIP152 announces it then, before it is connected).
        self.on_pow_valid: list[BlockHook] = []
        #: Where the connect loop finds a block received but not processed yet (the node's peers).
        self.upcoming: UpcomingBlock | None = None
        #: While a block lands with its child in flight, no write (`_write_due`).
        self._writes_held = False
        if script_verifier is None:
            log.warning("SCRIPT CHECKS ARE OFF: blocks are connected without executing any script or "
                        "signature (no script verifier given); do not rely on this node's validation")
        self.indexes = tuple(indexes)
        if self.coins.tip is None:
            self._start_at_genesis()
        elif self.coins.tip[0] not in self.headers:
            raise StoreError(f"the UTXO set's tip {hash_to_hex(self.coins.tip[0])} is not in the block index")
        else:
            for index in self.indexes:
                index.attach(self)
        try:
            self.activate_best_chain()  # blocks stored by a run that stopped before flushing them
        except BlockRejected:
            pass  # logged and marked invalid; the tip is the best valid chain that is here

    def _start_at_genesis(self) -> None:
        """A new chain: genesis stored, the empty set at genesis (Core never connects genesis,
        so its coinbase is unspendable)."""
        genesis = self.network.genesis_block
        block_hash = self.headers.anchor
        if self.headers.height_of(block_hash) != 0:
            raise StoreError("a chain state starts at genesis; this block index has another anchor")
        if not self.has_block(block_hash):  # -reindex-chainstate keeps it
            self.files.write_block(block_hash, genesis, 0)
        self.coins.set_tip(block_hash, 0)
        for index in self.indexes:
            index.attach(self)  # genesis indexed in the same first batch
        self.flush()

    # --- reading ------------------------------------------------------------------------

    @property
    def scripts_verified(self) -> bool:
        """Whether connecting a block executes its scripts (False: they are NOT checked)."""
        return self._script_verifier is not None

    @property
    def tip(self) -> bytes:
        """The hash of the block the UTXO set is at."""
        return self._coin_tip()[0]

    @property
    def height(self) -> int:
        return self._coin_tip()[1]

    def _coin_tip(self) -> tuple[bytes, int]:
        tip = self.coins.tip
        assert tip is not None  # set at open
        return tip

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """CoinView: the unspent output at `outpoint` as of the tip."""
        return self.coins.get_coin(outpoint)

    def view(self) -> CoinView:
        """The UTXO set as of the tip, for a layer on top (the mempool's view)."""
        return self.coins

    @property
    def median_time_past(self) -> int:
        """The tip's median-time-past (what a transaction for the next block is judged by)."""
        return self.headers.median_time_past(self.tip)

    def mtp_at(self, height: int) -> int:
        """The median-time-past of the tip's chain's block at `height` (0..tip height): what
        BIP68 time locks of coins created at `height + 1` count from."""
        if not 0 <= height <= self.height:
            raise ValueError(f"height {height} is outside the chain (0..{self.height})")
        return self.headers.median_time_past(self.headers.ancestor(self.tip, height))

    def time_at(self, height: int) -> int:
        """The timestamp of the tip's chain's block at `height` (0..tip height)."""
        return self.headers.header(self.headers.ancestor(self.tip, height)).timestamp

    def next_work_required(self, parent_hash: bytes, timestamp: int) -> int:
        """The compact target a child of `parent_hash` made at `timestamp` must meet (the miner's
        `MiningChain`)."""
        return self.headers.next_work_required(parent_hash, timestamp)

    def has_block(self, block_hash: bytes) -> bool:
        return self.files.has_block(block_hash)

    def contains(self, block_hash: bytes) -> bool:
        """Whether the block is on the connected chain (Core's `m_chain.Contains`)."""
        tree = self.headers
        if block_hash not in tree:
            return False
        height = tree.height_of(block_hash)
        return height <= self.height and tree.ancestor(self.tip, height) == block_hash

    def is_validated(self, block_hash: bytes) -> bool:
        """Core's IsValid(BLOCK_VALID_SCRIPTS): connected now or once before, and not since
        marked invalid."""
        tree = self.headers
        return tree.is_valid(block_hash) and (tree.was_connected(block_hash) or self.contains(block_hash))

    def read_block(self, block_hash: bytes) -> Block:
        """A stored block (KeyError if its data is not here)."""
        raw = self.files.read_block(block_hash)
        if raw is None:
            raise KeyError(f"no data for block {hash_to_hex(block_hash)}")
        return wire.decode_block(raw)

    def read_block_part(self, block_hash: bytes, offset: int, length: int) -> bytes:
        """Bytes of a stored block (one of its transactions) without reading the rest; KeyError
        if its data is not here."""
        raw = self.files.read_block_part(block_hash, offset, length)
        if raw is None:
            raise KeyError(f"no data for block {hash_to_hex(block_hash)}")
        return raw

    def spent_coins(self, block_hash: bytes) -> list[list[Coin]] | None:
        """The coins each of the block's transactions but the coinbase spent, from its undo
        record (Core's CBlockUndo); None when there is none (never connected, or pruned)."""
        raw = self._undo_record(block_hash)
        if raw is None or not self.has_block(block_hash):
            return None
        coins = decode_undo(raw)
        result = []
        for tx in self.read_block(block_hash).transactions[1:]:
            result.append(coins[:len(tx.inputs)])
            del coins[:len(tx.inputs)]
        return result

    def verify_chain(self, level: int, nblocks: int) -> bool:
        """Core's VerifyDB over the chain's last `nblocks` blocks (0 or less: all), stopping at
        pruned data: level 0 reads each block, 1 also checks it (CheckBlock), 2 reads its undo
        record, 3 and 4 check that the record holds one coin per input. Core at levels 3 and 4
        also disconnects (and at 4 reconnects) the blocks in memory: not done here. False,
        with the reason logged, at the first failure."""
        count = self.height if nblocks <= 0 else min(nblocks, self.height)
        for height in range(self.height, self.height - count, -1):
            block_hash = self.headers.ancestor(self.tip, height)
            if not self.has_block(block_hash):
                break
            block = self.read_block(block_hash)
            try:
                if level >= 1:
                    check_block(block)
                if level >= 2:
                    raw = self._undo_record(block_hash)
                    if raw is None:
                        raise StoreError("no undo data")
                    spent = decode_undo(raw)
                    inputs = sum(len(tx.inputs) for tx in block.transactions[1:])
                    if level >= 3 and len(spent) != inputs:
                        raise StoreError(f"undo data has {len(spent)} coins for {inputs} inputs")
            except (BlockRejected, StoreError, ValueError, IndexError, struct.error) as error:
                log.error("verifying block %s at height %d failed: %s", hash_to_hex(block_hash), height, error)
                return False
        return True

    def verification_progress(self, now: float) -> float | None:
        """Core's GuessVerificationProgress for the tip at time `now`: its chain's transactions
        over those estimated to exist by then (from the network's ChainTxData; a tip within
        two hours of `now` is placed by its height below the best header, so a synced chain
        reads exactly 1). None without the network's ChainTxData."""
        data = self.network.chain_tx_data
        if data is None:
            return None
        count = self.chain_tx_count(self.tip)
        if not count:
            return 0.0
        tree = self.headers
        block_time = tree.header(self.tip).timestamp
        if abs(now - block_time) <= MAX_FUTURE_BLOCK_TIME and tree.height >= self.height:
            block_time = now - (tree.height - self.height) * self.network.pow_target_spacing
        if count <= data.tx_count:
            total = data.tx_count + (now - data.time) * data.rate
        else:
            total = count + (now - block_time) * data.rate
        return min(count / total, 1.0)

    def unspent_coins(self) -> Iterator[tuple[OutPoint, Coin]]:
        """Every unspent coin as of the tip, in key order (txid, then output index): the set is
        flushed first and read from the store, so nothing may change it while the caller walks
        (the node's chain lock)."""
        self.flush()
        for key, raw in self.store.namespace("utxo").iterator():
            yield OutPoint(key[:32], int.from_bytes(key[32:], "big")), decode_coin(raw)

    def _undo_record(self, block_hash: bytes) -> bytes | None:
        """The block's undo record, written or not yet (BlockFileMissing if its file is gone)."""
        unflushed = self._unflushed_undo.get(block_hash)
        return self.files.read_undo_at(unflushed) if unflushed is not None else self.files.read_undo(block_hash)

    def chain_tx_count(self, block_hash: bytes) -> int:
        """Core's m_chain_tx_count: the transactions of the block's chain up to and including it,
        genesis's counted; 0 when unknown (a block on the way was never here, or was pruned
        before it was counted). Recorded when a block is connected; counted from the stored
        blocks for one connected before the record was kept."""
        missing: list[bytes] = []
        count = 0
        while True:
            raw = self._chain_tx.get(block_hash)
            if raw is not None:
                count = int.from_bytes(raw, "big")
                break
            if block_hash == self.headers.anchor:
                if self.headers.height_of(block_hash):
                    return 0  # a checkpoint: what came before it is not known here
                count = 1  # genesis: its coinbase
                break
            if not self.has_block(block_hash):
                return 0
            missing.append(block_hash)
            block_hash = self.headers.header(block_hash).prev_block
        for block_hash in reversed(missing):
            count += len(self.read_block(block_hash).transactions)
            self._chain_tx.put(block_hash, count.to_bytes(8, "big"))
        return count

    @property
    def pruned_height(self) -> int | None:
        """The highest height whose block data was pruned (Core's GetPruneHeight); None: none."""
        return self._pruned_height

    def is_pruned(self, block_hash: bytes) -> bool:
        """Core's IsBlockPruned: the block was connected and its data pruned since."""
        return (self._pruned_height is not None and not self.has_block(block_hash)
                and (self.headers.was_connected(block_hash) or self.contains(block_hash)))

    def prune(self, height: int) -> int | None:
        """Delete the block and undo data of the chain's blocks up to `height`, never within
        MIN_BLOCKS_TO_KEEP of the tip (Core's PruneBlockFilesManual); the highest height pruned
        since the chain began, None if none."""
        if self.prune_target is None:
            raise ValueError("this chain state keeps every block (no prune target)")
        self.flush()  # every undo record in its rev file before files go
        pruned = self.files.prune(min(height, self.height - MIN_BLOCKS_TO_KEEP))
        if pruned is not None and (self._pruned_height is None or pruned > self._pruned_height):
            self._blocks.put(_PRUNED_KEY, pruned.to_bytes(4, "big"))
            self._pruned_height = pruned
            log.info("pruned block files: blocks up to height %d are gone", pruned)
        return self._pruned_height

    def _prune_automatically(self) -> None:
        if not self._writes_held and self._prune_wanted(self.height):
            self.prune(self.height)

    def _prune_wanted(self, height: int) -> bool:
        """Whether the block files are over the prune target with the tip at `height`."""
        target = self.prune_target
        return bool(target) and height > self.network.prune_after_height and self.files.size() > target

    # --- accepting and connecting ---------------------------------------------------------

    def accept_block(self, block: Block, *, requested: bool = True, min_pow_checked: bool = True) -> TipChange | None:
        """Core's ProcessNewBlock: CheckBlock, AcceptBlock, then ActivateBestChain. Raises
        HeaderRejected or BlockRejected (Core's reason) for `block` or for a stored block the best
        chain needed; returns how the tip moved, None if it did not.

        A CheckBlock failure never marks the block invalid (its header is not even added), as
        Core: the data may be a malleated copy of a valid block. `min_pow_checked`: the caller
        vouches that the block's chain has the anti-DoS minimum of work, else its header is not
        added (`too-little-chainwork`). A block nobody asked for (not `requested`) is dropped
        unstored, as Core's anti-DoS rules, when it has less work than the tip, lies more than
        MIN_BLOCKS_TO_KEEP above it, or has less than the network's minimum chain work."""
        if self.store_block(block, requested=requested, min_pow_checked=min_pow_checked) is None:
            return None
        return self.activate_best_chain({block.hash: block})

    def store_block(self, block: Block, *, requested: bool = True, min_pow_checked: bool = True) -> int | None:
        """AcceptBlock alone, nothing connected (`accept_block` says what it checks and raises):
        the block written, its height; None when it is here already or not worth storing."""
        height = self._checked_height(block, requested, min_pow_checked)
        if height is None:
            return None
        for hook in self.on_pow_valid:
            hook(block, height)
        self.files.write_block(block.hash, wire.encode_block(block), height)
        return height

    def index_stored_block(self, block: Block, position: BlockPosition) -> None:
        """-reindex: accept a block found in the blk files, where it stays; connected later by
        `activate_best_chain`. Raises as `accept_block` does."""
        height = self._checked_height(block, requested=True, min_pow_checked=True)
        if height is not None:
            self.files.index_block(block.hash, position, height)

    def _checked_height(self, block: Block, requested: bool, min_pow_checked: bool) -> int | None:
        """ProcessNewBlock's and AcceptBlock's checks of a block to store (see `accept_block`):
        its height, None if it is stored already or not worth storing."""
        block_hash = block.hash
        try:
            if not check_proof_of_work(block_hash, block.header.bits, self.network.pow_limit):
                raise HeaderRejected("high-hash", block_hash)  # CheckBlock starts with the header's
            try:
                check_block(block)
            except BlockRejected as error:
                if error.mutated and block.header.prev_block in self.headers:
                    log.debug("Block mutated: %s", error.state)
                    raise
                raise _failed(error)
            height = self.headers.add_header(block.header, min_pow_checked=min_pow_checked).height
        except HeaderRejected as error:
            log.error("ProcessNewBlock: AcceptBlock FAILED (%s)", error.reason)
            raise
        if self.has_block(block_hash):
            return None
        if not requested and not self._worth_storing(block_hash, height):
            return None
        try:
            self._check_finality(block, height)
            check_block_at_height(block, height, self.network)
        except BlockRejected as error:
            if not error.mutated:
                self.headers.invalidate(block_hash)
            raise _failed(error)
        return height

    def _worth_storing(self, block_hash: bytes, height: int) -> bool:
        """Core's AcceptBlock for a block nobody asked for: stored only if it may soon be part
        of the best chain (at least the tip's work, at most MIN_BLOCKS_TO_KEEP above it, the
        network's minimum chain work) and was not pruned before."""
        tree = self.headers
        work = tree.chain_work(block_hash)
        return (work >= tree.chain_work(self.tip) and height <= self.height + MIN_BLOCKS_TO_KEEP
                and work >= self.network.minimum_chain_work and not self.is_pruned(block_hash))

    def _check_finality(self, block: Block, height: int) -> None:
        """ContextualCheckBlock's finality: locktimes against the parent's median-time-past once
        CSV (BIP113) is active, against the block's own time before."""
        parent = block.header.prev_block
        cutoff = self.headers.median_time_past(parent) if height >= self.network.csv_height else block.header.timestamp
        tx = nonfinal_tx(block, height, cutoff)
        if tx is not None:
            raise BlockRejected("bad-txns-nonfinal", block.hash, f"non-final transaction {hash_to_hex(tx.txid)}")

    def activate_best_chain(self, known: dict[bytes, Block] | None = None) -> TipChange | None:
        """Move the UTXO tip towards the most work whose blocks are here: along the best header's
        chain as far as its stored blocks reach, and to a heavier block just accepted (`known`)
        off that chain, as Core connects the most-work chain it has the data of. A block failing
        to connect is marked invalid and the next best chain tried (back to the old tip if need
        be); its BlockRejected is raised at the end."""
        start = self.tip
        known = known or {}
        failure: BlockRejected | None = None
        while (step := self._next_step(known)) is not None:
            down, up = step
            for _ in down:
                self.disconnect_tip()
                gevent.sleep(0)
            try:
                self._connect_along(up, known)  # stops where the data ends; the next step looks again
            except BlockRejected as error:
                log.error("ConnectTip: ConnectBlock %s failed, %s", hash_to_hex(error.block_hash), error.state)
                self.headers.invalidate(error.block_hash)
                failure = failure or error
        if failure is not None:
            raise failure
        if self.tip == start:
            return None
        fork, down, up = self._path(start, self.tip)
        return TipChange(fork, tuple(down), tuple(up))

    def _next_step(self, known: dict[bytes, Block]) -> tuple[list[bytes], Iterable[bytes]] | None:
        """(blocks to disconnect from the tip down, blocks to connect) towards more work that
        is here; None when the tip has the most. Along the best header's chain the blocks to
        connect come lazily: during a headers-first sync it runs far beyond the data."""
        tree = self.headers
        fork, down, up = self._path(self.tip, tree.tip)
        if not down:
            ahead = iter(up)
            first = next(ahead, None)
            if first is not None and self.has_block(first):
                return [], itertools.chain((first,), ahead)
        else:  # a reorganisation: only towards more work that is here to connect
            stored = list(self._stored_prefix(up))
            if tree.chain_work(stored[-1] if stored else fork) > tree.chain_work(self.tip):
                return down, stored
        other = self._heavier_known(known)
        if other is None:
            return None
        _, down, up = self._path(self.tip, other)
        return down, list(up)

    def _heavier_known(self, known: dict[bytes, Block]) -> bytes | None:
        """The heaviest of the blocks just accepted that has more work than the tip and every
        block's data down to the chain, None if none has."""
        tree = self.headers
        best, best_work = None, tree.chain_work(self.tip)
        for block_hash in known:
            if (block_hash in tree and tree.is_valid(block_hash)
                    and (work := tree.chain_work(block_hash)) > best_work and self._data_down_to_chain(block_hash)):
                best, best_work = block_hash, work
        return best

    def _data_down_to_chain(self, block_hash: bytes) -> bool:
        while not self.contains(block_hash):
            if not self.has_block(block_hash):
                return False
            block_hash = self.headers.header(block_hash).prev_block
        return True

    def invalidate_block(self, block_hash: bytes) -> TipChange | None:
        """Core's InvalidateBlock (invalidateblock): mark the block and its descendants invalid,
        disconnect back to its parent if it is connected, then connect the best valid chain.
        Returns how the tip moved."""
        start = self.tip
        self.headers.invalidate(block_hash)
        while not self.headers.is_valid(self.tip):
            self.disconnect_tip()
            gevent.sleep(0)
        return self._settle(start)

    def reconsider_block(self, block_hash: bytes) -> TipChange | None:
        """Core's ReconsiderBlock: clear the invalid mark of the block, its descendants and its
        ancestors, then connect the best valid chain (a block failing again is marked again)."""
        start = self.tip
        self.headers.reconsider(block_hash)
        return self._settle(start)

    def _settle(self, start: bytes) -> TipChange | None:
        """Connect the best valid chain after the marks changed; how the tip moved from `start`.
        A block failing to connect is logged and marked by `activate_best_chain`."""
        try:
            self.activate_best_chain()
        except BlockRejected:
            pass
        if self.tip == start:
            return None
        fork, down, up = self._path(start, self.tip)
        return TipChange(fork, tuple(down), tuple(up))

    def _connect_along(self, hashes: Iterable[bytes], known: dict[bytes, Block]) -> bool:
        """Connect `hashes` in order (Core's ConnectTip for each); False if one's data is not here
        (the rest wait). BlockRejected names the first block failing, everything before it
        connected, the tip at its parent.

        Each block's checks start before the verdict on the one before it is asked: its script
        chunks queue behind that block's, so the workers do not wait for this loop between two
        blocks (its serial work: the verdict's bookkeeping, the next block's reading and checks
        up to its first chunk). A failing verdict takes the later block's changes back, then its
        own, so the set is as at the tip."""
        flight: _Connecting | None = None  # started; its verdict not asked yet
        try:
            complete = True
            for block_hash in hashes:
                block = self._block_at_hand(block_hash, known, flight)
                if block is None:
                    complete = False
                    break
                if flight is not None and self._write_due():
                    landing, flight = flight, None
                    self._land(landing, None)
                try:
                    started = self._start_connect(block, (self.height if flight is None else flight.height) + 1)
                except BaseException:
                    landing, flight = flight, None
                    if landing is not None:
                        self._land(landing, None)  # its failure comes first: the later block is its child
                    raise
                if flight is not None:
                    landing, flight = flight, None
                    self._land(landing, started)
                flight = started
                gevent.sleep(0)  # a long catch-up or reorg must not block the hub (DESIGN.md)
            if flight is not None:
                landing, flight = flight, None
                self._land(landing, None)
            return complete
        except BaseException:
            if flight is not None:  # this greenlet killed, or a stored block unreadable
                flight.cancel()
            raise

    def _block_at_hand(self, block_hash: bytes, known: dict[bytes, Block],
                       flight: _Connecting | None) -> Block | None:
        """The block to connect next if its data is here: just accepted, stored, or (while the
        block before it is in flight) just received (`upcoming`), which its receiver stores."""
        block = known.get(block_hash)
        if block is not None:
            return block
        if self.has_block(block_hash):
            return self.read_block(block_hash)
        if flight is None or self.upcoming is None:
            return None
        if flight.checks is not None:
            flight.checks.wait_sent()  # while the workers run, the network may deliver it
        return self.upcoming(block_hash)

    def _land(self, connecting: _Connecting, later: _Connecting | None) -> None:
        """Finish connecting a block in flight; if it fails, take `later` (its child, started on
        top of it) back first, then its own changes."""
        self._writes_held = later is not None
        try:
            self._finish_connect(connecting)
        except BaseException:
            try:
                if later is not None:
                    later.cancel()
            finally:
                connecting.view.revert()
            raise
        finally:
            self._writes_held = False

    def _stored_prefix(self, hashes: Iterable[bytes]) -> Iterable[bytes]:
        for block_hash in hashes:
            if not self.has_block(block_hash):
                return
            yield block_hash

    def _start_connect(self, block: Block, height: int) -> _Connecting:
        """Core's ConnectBlock for an accepted block at `height` (a child of the tip, or of the
        block in flight), up to its scripts' verdict: every other rule checked, the UTXO set
        holding its changes while the script workers still check it. On an error nothing is
        left applied or running.

        Whoever reads the set outside a connect holds the node's chain lock, as the connect does
        (Core's gettxout and scantxoutset take cs_main), so no reader sees an unverified block's
        coins."""
        checks = self._script_verifier(block, height) if self._script_verifier is not None else None
        try:
            view, undo = self._check_spends(block, height, checks)
            undo_record = encode_undo(undo)
        except BaseException:
            if checks is not None:
                checks.abandon()  # a block failing another rule: nothing left running for the next
            raise
        view.apply()
        return _Connecting(block, height, view, undo, undo_record, checks)

    def _finish_connect(self, connecting: _Connecting) -> None:
        """The scripts' verdict on a block `_start_connect` started, then the rest of Core's
        ConnectTip: indexes, undo record, the new tip, the hooks. On an error the caller takes
        the block's changes back (`_land`)."""
        block, height = connecting.block, connecting.height
        block_hash = block.hash
        checks = connecting.checks
        try:
            if checks is not None:
                checks.complete()
        finally:
            if checks is not None:
                checks.abandon()  # after a lost worker or a killed greenlet: nothing left running
        for index in self.indexes:
            index.block_connected(block, height, connecting.undo)
        self._unflushed_undo[block_hash] = self.files.write_undo(block_hash, connecting.undo_record)
        self.coins.set_tip(block_hash, height)
        self.headers.mark_connected(block_hash)
        parent_count = self.chain_tx_count(block.header.prev_block)
        if parent_count:
            self._chain_tx.put(block_hash, (parent_count + len(block.transactions)).to_bytes(8, "big"))
        self._after_change()
        self._prune_automatically()
        for hook in self.on_connected:
            hook(block, height)

    def test_block_validity(self, block: Block) -> None:
        """Core's TestBlockValidity (getblocktemplate's proposals): every check of a child of
        the tip but its proof of work, nothing stored or changed; BlockRejected or
        HeaderRejected with Core's reason."""
        block_hash = block.hash
        if block.header.prev_block != self.tip:
            raise BlockRejected("inconclusive-not-best-prevblk", block_hash)
        reason = self.headers.contextual_reason(block.header)
        if reason is not None:
            raise HeaderRejected(reason, block_hash)
        height = self.height + 1
        check_block(block)
        self._check_finality(block, height)
        check_block_at_height(block, height, self.network)
        checks = self._script_verifier(block, height) if self._script_verifier is not None else None
        try:
            self._check_spends(block, height, checks)
            if checks is not None:
                checks.complete()
        finally:
            if checks is not None:
                checks.abandon()

    def _check_spends(self, block: Block, height: int,
                      checks: BlockScriptChecks | None) -> tuple[_BlockView, list[Coin]]:
        """ConnectBlock's rules but the scripts, each transaction's queued on `checks` once its
        other checks pass, as Core's ConnectBlock adds them to its CCheckQueueControl."""
        block_hash = block.hash
        parent = block.header.prev_block
        net = self.network
        view = _BlockView(self.coins)
        transactions = block.transactions
        if self._enforce_bip30(block_hash, parent, height):
            for tx in transactions:
                txid = tx.txid
                for index in range(len(tx.outputs)):
                    if self.coins.have(coin_key(txid, index)):
                        raise BlockRejected("bad-txns-BIP30", block_hash, "tried to overwrite transaction")
        enforce_bip68 = height >= net.csv_height
        parent_mtp = self.headers.median_time_past(parent)
        p2sh = witness = block_hash not in _NO_P2SH_BLOCKS
        fees = sigops = 0
        undo: list[Coin] = []
        added = view.added
        for position, tx in enumerate(transactions):
            txid = tx.txid
            coinbase = position == 0 and is_coinbase(tx)  # CheckBlock let no other be one
            spent: list[Coin] = []
            if not coinbase:
                try:
                    spent = view.spend_inputs(tx)
                    fee = check_spent_values(tx, spent, height)
                except TxRejected as error:
                    raise _in_block(error, block_hash, txid) from error
                fees += fee
                if not 0 <= fees <= MAX_MONEY:
                    raise BlockRejected("bad-txns-accumulated-fee-outofrange", block_hash,
                                        "accumulated fee in the block out of range")
                if enforce_bip68:
                    locks = sequence_locks(tx, [coin.height for coin in spent],
                                           lambda at: self.headers.median_time_past(self.headers.ancestor(parent, at)))
                    if not sequence_locks_met(locks, height, parent_mtp):
                        raise BlockRejected("bad-txns-nonfinal", block_hash, "contains a non-BIP68-final transaction")
            sigops += tx_sigop_cost(tx, spent, p2sh, witness)
            if sigops > MAX_BLOCK_SIGOPS_COST:
                raise BlockRejected("bad-blk-sigops", block_hash, "too many sigops")
            if checks is not None and not coinbase:
                checks.add(tx, spent)
            undo += spent
            for index, txout in enumerate(tx.outputs):
                script = txout.script_pubkey
                if not is_unspendable(script):
                    added[coin_key(txid, index)] = Coin(txout.value, script, height, coinbase)
        reward = fees + block_subsidy(height, net)
        paid = sum(txout.value for txout in transactions[0].outputs)
        if paid > reward:
            raise BlockRejected("bad-cb-amount", block_hash,
                                f"coinbase pays too much (actual={paid} vs limit={reward})")
        return view, undo

    def disconnect_tip(self) -> Block:
        """Core's DisconnectBlock for the tip: its outputs leave the set, the coins its inputs
        spent come back from the undo record. The tip's parent becomes the tip; the block stays
        on the best header chain, so the next `activate_best_chain` connects it again."""
        block_hash, height = self._coin_tip()
        if height == 0:
            raise ValueError("genesis cannot be disconnected")
        block = self.read_block(block_hash)
        unflushed = self._unflushed_undo.pop(block_hash, None)
        raw_undo = self.files.read_undo_at(unflushed) if unflushed is not None else self.files.read_undo(block_hash)
        if raw_undo is None:
            raise StoreError(f"no undo data for connected block {hash_to_hex(block_hash)}")
        undo = decode_undo(raw_undo)
        coins = self.coins
        for tx in reversed(block.transactions):
            txid = tx.txid
            for index, txout in enumerate(tx.outputs):
                if not is_unspendable(txout.script_pubkey) and coins.spend(coin_key(txid, index)) is None:
                    raise StoreError(f"output {hash_to_hex(txid)}:{index} of the tip is not in the UTXO set")
            if is_coinbase(tx):
                continue
            for txin in reversed(tx.inputs):
                coins.add(coin_key(txin.prev_txid, txin.prev_index), undo.pop())
        if undo:
            raise StoreError(f"undo data of block {hash_to_hex(block_hash)} does not match its inputs")
        coins.set_tip(block.header.prev_block, height - 1)
        for index in self.indexes:
            index.block_disconnected(block, height)
        self._after_change()
        for hook in self.on_disconnected:
            hook(block, height)
        return block

    # --- flushing --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the UTXO set's changes, the undo records, the tip and the indexes' records now
        (one atomic batch), then the blocks marked connected in the header tree."""
        self.coins.flush(self._unflushed_undo, also=self._write_indexes)
        for index in self.indexes:
            index.flushed()
        self.headers.save()
        self._unflushed_undo.clear()
        self._since_flush = 0
        self._last_flush = time.monotonic()

    def _write_indexes(self, batch: Batch) -> None:
        for index in self.indexes:
            index.write_pending(batch)

    def close(self) -> None:
        """Flush; the store stays open (its owner closes it)."""
        if not self.store.closed:
            self.flush()

    def _after_change(self) -> None:
        self._since_flush += 1
        if not self._writes_held and self._flush_wanted(self._since_flush):
            self.flush()

    def _flush_wanted(self, changes: int) -> bool:
        """Whether the changes are written after `changes` blocks connected or disconnected since
        the last write: their count, the time since, or a cache over its bound."""
        coins = self.coins
        return ((self.flush_every is not None and changes >= self.flush_every)
                or (self.flush_interval is not None and time.monotonic() - self._last_flush >= self.flush_interval)
                or coins.cache_bytes > coins.max_cache_bytes)

    def _write_due(self) -> bool:
        """Whether landing the block in flight would write the chain state (a flush, or an
        automatic prune, which flushes): it then lands before the next block starts, since a
        write must not take a later block's unverified changes with it (`_writes_held` keeps
        a write that comes due meanwhile for the next landing)."""
        return self._flush_wanted(self._since_flush + 1) or self._prune_wanted(self.height + 1)

    # --- the chain ---------------------------------------------------------------------------

    def _enforce_bip30(self, block_hash: bytes, parent: bytes, height: int) -> bool:
        """Core's ConnectBlock: BIP30 everywhere but the two repeats, and not after a BIP34
        block whose hash the network pins, up to BIP34_IMPLIES_BIP30_LIMIT."""
        if height >= BIP34_IMPLIES_BIP30_LIMIT:
            return True
        if is_bip30_repeat(block_hash):
            return False
        bip34_hash = _BIP34_HASHES.get(self.network.name)
        bip34_height = self.network.bip34_height
        return not (bip34_hash is not None and height > bip34_height
                    and self.headers.ancestor(parent, bip34_height) == bip34_hash)

    def _parent(self, block_hash: bytes) -> bytes:
        return self.headers.header(block_hash).prev_block

    def _path(self, old: bytes, new: bytes) -> tuple[bytes, list[bytes], Iterable[bytes]]:
        """From tip `old` to `new` through their fork: (fork, to disconnect from `old` down,
        to connect up to `new`). Along the best chain the last is lazy: during a headers-first
        sync it may run far beyond the blocks that are here."""
        tree = self.headers
        down: list[bytes] = []
        old_height, new_height = tree.height_of(old), tree.height_of(new)
        if tree.is_active(new):  # walk `old` down to the best chain, then up it by height
            while not tree.is_active(old) or old_height > new_height:
                down.append(old)
                old, old_height = self._parent(old), old_height - 1
            heights = range(old_height + 1, new_height + 1)
            return old, down, (tree.at_height(h) for h in heights)  # type: ignore[misc]
        up: list[bytes] = []
        while old_height > new_height:
            down.append(old)
            old, old_height = self._parent(old), old_height - 1
        while new_height > old_height:
            up.append(new)
            new, new_height = self._parent(new), new_height - 1
        while old != new:
            down.append(old)
            up.append(new)
            old, new = self._parent(old), self._parent(new)
        up.reverse()
        return old, down, up
