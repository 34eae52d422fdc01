"""What every optional block index shares (Core's BaseIndex): following the chain state block by
block in its atomic batches once synced, catching up in the background before that, moving back
when the chain reorganises under it, and its getindexinfo summary. What an index keeps for a
block is its subclass's (`filterindex.py`, `txindex.py`, `txospenderindex.py`).

Each index has its own store namespace, holding under `tip` the block hash (32 bytes) and height
(u32 big-endian) up to which it is complete along the chain it was built on; its records use
other keys, documented in its module.

Durability. Once the index has reached the chain's tip (`synced`), the chain state calls
`block_connected` / `block_disconnected` for each block and writes what they buffer in the same
atomic batch as the block's coins, undo record and tip (`write_pending`), so after a crash the
index is where the chain is. Before that (a datadir from a run without the index, or one stopped
while building) `build` catches up in the background, one block per step under the node's chain
lock, yielding between blocks, each step its own batch (the index is behind the chain, or on a
branch the chain left, never ahead along it). Progress goes to the log every `PROGRESS_SECONDS`
and to `info()` (getindexinfo). A block whose data was pruned stops the build with an error in
the log (the index then stays behind, unsynced, as Core's would). An index whose tip the block
index does not know is cleared and rebuilt from genesis.

Reorganisations, as Core's BaseIndex: a disconnected block leaves the index as it is (its tip
may then be above the chain's for a while); the next block connected, or the next build step,
first rewinds the index to the fork, removing each stale block's records (`_remove`) in the same
batch. An index whose records never go stale moves its tip back at once instead (the filter
index overrides `block_disconnected`).
"""

from __future__ import annotations

import logging
import struct
import time
from contextlib import AbstractContextManager
from typing import ClassVar, Protocol, Sequence

import gevent

from pantheon.chain.coins import Coin
from pantheon.chain.headers import HeaderTree
from pantheon.primitives import Block
from pantheon.store import Batch, Store

__all__ = ["BlockIndex", "IndexedChain", "PROGRESS_SECONDS"]

PROGRESS_SECONDS = 10.0
_TIP_KEY = b"tip"
_TIP = struct.Struct(">32sI")


class IndexedChain(Protocol):
    """What an index reads of the chain state it follows (`chain.chainstate.Chainstate`)."""

    headers: HeaderTree

    @property
    def tip(self) -> bytes: ...
    @property
    def height(self) -> int: ...
    def contains(self, block_hash: bytes) -> bool: ...
    def read_block(self, block_hash: bytes) -> Block: ...
    def read_block_part(self, block_hash: bytes, offset: int, length: int) -> bytes: ...
    def spent_coins(self, block_hash: bytes) -> list[list[Coin]] | None: ...


class BlockIndex:
    """An optional index following the chain; see the module notes. A subclass names itself
    (`NAME`, getindexinfo's key) and its store namespace, and says what a block adds
    (`_append`) and what a stale block takes away (`_remove`)."""

    NAME: ClassVar[str]
    NAMESPACE: ClassVar[str]
    #: Whether `_append` reads the coins the block spent (built from the undo records).
    NEEDS_SPENT_COINS: ClassVar[bool] = False

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.namespace(self.NAMESPACE)
        self._log = logging.getLogger(type(self).__module__)
        record = self._db.get(_TIP_KEY)
        self._tip: tuple[bytes, int] | None = None if record is None else _TIP.unpack(record)
        #: Records (None: deleted) and the tip not yet in the store: written by the next flush.
        self._pending: dict[bytes, bytes | None] = {}
        self._tip_dirty = False
        #: Whether the index is at the chain's tip and follows it block by block.
        self.synced = False
        self._chain: IndexedChain | None = None

    # --- what a subclass says ---------------------------------------------------------------

    def _append(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        """Buffer (`_put`) the records of a block joining the index on top of its tip; `spent`:
        the coins its inputs spent, in order (empty unless NEEDS_SPENT_COINS)."""
        raise NotImplementedError

    def _remove(self, block_hash: bytes, height: int) -> None:
        """Buffer the removal (`_delete`) of the records of the index's tip, which left the
        chain; by default they stay (records that never go stale)."""

    @property
    def chain(self) -> IndexedChain:
        """The chain state the index follows (set by `attach`)."""
        assert self._chain is not None, "attach the index to a chain state first"
        return self._chain

    def block_at(self, height: int) -> bytes:
        """The hash of the block at `height` on the index's own chain: the ancestor of its tip,
        which its records describe (stale blocks too, until the index rewinds past them)."""
        assert self._tip is not None and height <= self._tip[1]
        return self.chain.headers.ancestor(self._tip[0], height)

    def _put(self, key: bytes, value: bytes) -> None:
        self._pending[key] = value

    def _delete(self, key: bytes) -> None:
        self._pending[key] = None

    def _get(self, key: bytes) -> bytes | None:
        """A record, buffered or stored."""
        if key in self._pending:
            return self._pending[key]
        return self._db.get(key)

    def _keys_with(self, prefix: bytes) -> list[bytes]:
        """The keys starting with `prefix`, buffered or stored (a buffered deletion hides one)."""
        keys = set(self._db.iterator(prefix=prefix, include_value=False))
        for key, value in self._pending.items():
            if key.startswith(prefix):
                if value is None:
                    keys.discard(key)
                else:
                    keys.add(key)
        return sorted(keys)

    # --- following the chain ------------------------------------------------------------

    def attach(self, chain: IndexedChain) -> None:
        """Called by the chain state as it opens: synced if the index is at its tip (a new
        chain's genesis is indexed on the spot); otherwise `build` has work to do."""
        self._chain = chain
        if self._tip is not None and self._tip[0] not in chain.headers:
            self._log.warning("%s: its tip is not in the block index; rebuilding it from genesis", self.NAME)
            self._store.clear(self.NAMESPACE)  # records of a chain this node does not know
            self._tip = None
        if self._tip is None and chain.height == 0:
            self._add(chain.read_block(chain.tip), 0, ())
        self.synced = self._tip is not None and self._tip[0] == chain.tip
        if self.synced:
            self._log.info("%s is enabled at height %d", self.NAME, self.best_height)

    def block_connected(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        """A block joined the chain (the chain state's connect, its parent the chain's tip):
        the index first rewinds from blocks that left the chain, then adds it."""
        if self.synced:
            assert self._chain is not None and self._tip is not None
            if self._tip[0] != block.header.prev_block:
                self._rewind(self._chain)
            self._add(block, height, spent)

    def block_disconnected(self, block: Block, height: int) -> None:
        """The chain's tip left it: the index keeps it until the next block or build step
        (Core's BaseIndex ignores disconnections); see the module notes."""

    def write_pending(self, batch: Batch) -> None:
        """Put the buffered records and the tip into the chain state's flush batch."""
        namespace = self.NAMESPACE
        for key, value in self._pending.items():
            if value is None:
                batch.delete(namespace, key)
            else:
                batch.put(namespace, key, value)
        if self._tip_dirty and self._tip is not None:
            batch.put(namespace, _TIP_KEY, _TIP.pack(*self._tip))

    def flushed(self) -> None:
        """The flush batch holding `write_pending`'s records was written."""
        self._pending.clear()
        self._tip_dirty = False

    def _add(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        self._append(block, height, spent)
        self._move_tip(block.hash, height)

    def _move_tip(self, block_hash: bytes, height: int) -> None:
        self._tip = (block_hash, height)
        self._tip_dirty = True

    def _rewind(self, chain: IndexedChain) -> None:
        """Walk the index's tip back to the chain, removing each stale block's records."""
        assert self._tip is not None
        block_hash, height = self._tip
        while not chain.contains(block_hash):
            self._remove(block_hash, height)
            block_hash, height = chain.headers.header(block_hash).prev_block, height - 1
        self._move_tip(block_hash, height)

    # --- catching up --------------------------------------------------------------------

    def build(self, lock: AbstractContextManager[object]) -> None:
        """Index the chain's blocks from the index's tip to the chain's, one per step under
        `lock` (the node's chain lock), each written in its own batch, yielding between steps;
        returns once synced. Run in a greenlet of the node's group."""
        chain = self._chain
        assert chain is not None, "attach the index to a chain state first"
        self._log.info("Syncing %s with block chain from height %d", self.NAME, self.best_height + 1)
        last_log = time.monotonic()
        while True:
            with lock:
                try:
                    if self._step(chain):
                        break
                except KeyError as error:  # a block's data or undo record is gone (pruned)
                    self._log.error("%s cannot index the block at height %d: %s; restart with -reindex to rebuild "
                                    "it", self.NAME, self.best_height + 1, error.args[0])
                    return
            if time.monotonic() - last_log >= PROGRESS_SECONDS:
                last_log = time.monotonic()
                self._log.info("Syncing %s with block chain from height %d", self.NAME, self.best_height)
            gevent.sleep(0)
        self._log.info("%s is enabled at height %d", self.NAME, self.best_height)

    def _step(self, chain: IndexedChain) -> bool:
        """One block more (or the tip moved back to the chain); True once synced."""
        if self._tip is not None and not chain.contains(self._tip[0]):
            self._rewind(chain)
        elif self._tip is not None and self._tip[0] == chain.tip:
            self.synced = True
            return True
        else:
            height = self.best_height + 1
            block_hash = chain.headers.ancestor(chain.tip, height)
            block = chain.read_block(block_hash)
            spent: list[Coin] = []
            if height and self.NEEDS_SPENT_COINS:
                per_tx = chain.spent_coins(block_hash)
                if per_tx is None:
                    raise KeyError(f"no undo data for the block at height {height}")
                spent = [coin for coins in per_tx for coin in coins]
            self._add(block, height, spent)
        with self._store.write_batch() as batch:
            self.write_pending(batch)
        self.flushed()
        return False

    # --- reading ------------------------------------------------------------------------

    @property
    def best_height(self) -> int:
        """The height of the index's tip; -1 before genesis is indexed."""
        return -1 if self._tip is None else self._tip[1]

    def info(self) -> dict[str, object]:
        """getindexinfo's entry for this index (Core's IndexSummary)."""
        return {"synced": self.synced, "best_block_height": max(self.best_height, 0)}
