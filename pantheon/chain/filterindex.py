"""The basic block filter index (Core's BlockFilterIndex, -blockfilterindex): every connected
block's BIP158 filter, its hash and its BIP157 filter header, kept in the store's `blockfilter`
namespace; what getblockfilter, getindexinfo and the BIP157 messages read. It never decides
what a filter holds (`chain/blockfilter.py`) and never answers a peer (`cfilters.py`).

Records, after the namespace prefix:
- `tip`: block hash (32 bytes) + height (u32 big-endian): the block up to which the index is
  complete along the chain it was built on;
- `b` + block hash: filter header (32) + filter hash (32) + the encoded filter. Records are kept by
  hash, as Core's index keeps them for blocks that leave the chain: a filter and its header depend
  only on the block, its spent coins and its ancestors, so a record never goes stale, and a block
  reorganised out is still served (BIP157 allows a stale stop hash).

Durability. Once the index has reached the chain's tip (`synced`), the chain state calls
`block_connected` / `block_disconnected` for each block and writes what they buffer in the same
atomic batch as the block's coins, undo record and tip (`write_pending`), so after a crash the
index tip is the chain tip. Before that (a datadir from a run without the index, or one stopped
while building) `build` catches up in the background, one block per step under the node's chain
lock, yielding between blocks, each step its own batch (the index is behind the chain, never
ahead); a reorganisation meanwhile moves its tip back to the fork first. Progress goes to the log
every `PROGRESS_SECONDS` and to `info()` (getindexinfo). A block whose data was pruned stops the
build with an error in the log (the index then stays behind, unsynced, as Core's would).
"""

from __future__ import annotations

import logging
import struct
import time
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

import gevent

from pantheon.chain.blockfilter import GENESIS_PREVIOUS_HEADER, basic_filter, filter_hash, filter_header
from pantheon.chain.coins import Coin
from pantheon.chain.headers import HeaderTree
from pantheon.primitives import Block
from pantheon.protocol import BASIC_FILTER, FILTER_TYPE_NAMES
from pantheon.store import Batch, Store

__all__ = ["BlockFilterIndex", "FilterEntry", "INDEX_NAME", "IndexedChain"]

log = logging.getLogger("pantheon.chain.filterindex")

#: The index's name in getindexinfo and the log (Core's "<type> block filter index").
INDEX_NAME = f"{FILTER_TYPE_NAMES[BASIC_FILTER]} block filter index"
PROGRESS_SECONDS = 10.0
_TIP_KEY = b"tip"
_ENTRY_PREFIX = b"b"
_TIP = struct.Struct(">32sI")
_HASH = 32


class IndexedChain(Protocol):
    """What the index reads of the chain state it follows (`chain.chainstate.Chainstate`)."""

    headers: HeaderTree

    @property
    def tip(self) -> bytes: ...
    @property
    def height(self) -> int: ...
    def contains(self, block_hash: bytes) -> bool: ...
    def read_block(self, block_hash: bytes) -> Block: ...
    def spent_coins(self, block_hash: bytes) -> list[list[Coin]] | None: ...


class FilterEntry(NamedTuple):
    """One block's record: its filter header, its filter's hash and the filter's bytes."""

    header: bytes
    filter_hash: bytes
    filter: bytes


def _encode(entry: FilterEntry) -> bytes:
    return entry.header + entry.filter_hash + entry.filter


def _decode(record: bytes) -> FilterEntry:
    return FilterEntry(record[:_HASH], record[_HASH:2 * _HASH], record[2 * _HASH:])


class BlockFilterIndex:
    """The basic filter of every block the chain connects; see the module notes."""

    def __init__(self, store: Store) -> None:
        self._db = store.namespace("blockfilter")
        record = self._db.get(_TIP_KEY)
        self._tip: tuple[bytes, int] | None = None if record is None else _TIP.unpack(record)
        #: Entries and the tip not yet in the store: written by the chain state's next flush.
        self._pending: dict[bytes, FilterEntry] = {}
        self._tip_dirty = False
        #: Whether the index is at the chain's tip and follows it block by block.
        self.synced = False
        self._chain: IndexedChain | None = None
        #: (block hash, filter header) of the last block added: the next block's previous header.
        self._last_header: tuple[bytes, bytes] = (b"", b"")

    # --- following the chain ------------------------------------------------------------

    def attach(self, chain: IndexedChain) -> None:
        """Called by the chain state as it opens: synced if the index is at its tip (a new
        chain's genesis is indexed on the spot); otherwise `build` has work to do."""
        self._chain = chain
        if self._tip is not None and self._tip[0] not in chain.headers:
            log.warning("%s: its tip is not in the block index; rebuilding it from genesis", INDEX_NAME)
            self._tip = None
        if self._tip is None and chain.height == 0:
            self._add(chain.read_block(chain.tip), 0, GENESIS_PREVIOUS_HEADER)
        self.synced = self._tip is not None and self._tip[0] == chain.tip
        if self.synced:
            log.info("%s is enabled at height %d", INDEX_NAME, self._tip[1])

    def block_connected(self, block: Block, height: int, spent: list[Coin]) -> None:
        """A block joined the chain on top of the index's tip (the chain state's connect)."""
        if self.synced:
            assert self._tip is not None and self._tip[0] == block.header.prev_block
            self._add(block, height, self._tip_header(), [coin.script_pubkey for coin in spent])

    def block_disconnected(self, block: Block, height: int) -> None:
        """The index's tip left the chain: its parent is the tip again (the record stays)."""
        if self.synced:
            self._tip = (block.header.prev_block, height - 1)
            self._tip_dirty = True

    def write_pending(self, batch: Batch) -> None:
        """Put the buffered records and the tip into the chain state's flush batch."""
        for block_hash, entry in self._pending.items():
            batch.put("blockfilter", _ENTRY_PREFIX + block_hash, _encode(entry))
        if self._tip_dirty and self._tip is not None:
            batch.put("blockfilter", _TIP_KEY, _TIP.pack(*self._tip))

    def flushed(self) -> None:
        """The flush batch holding `write_pending`'s records was written."""
        self._pending.clear()
        self._tip_dirty = False

    def _add(self, block: Block, height: int, previous_header: bytes, spent_scripts: list[bytes] | None = None) -> None:
        block_hash = block.hash
        encoded = basic_filter(block, spent_scripts or ())
        digest = filter_hash(encoded)
        entry = FilterEntry(filter_header(digest, previous_header), digest, encoded)
        self._pending[block_hash] = entry
        self._tip = (block_hash, height)
        self._tip_dirty = True
        self._last_header = (block_hash, entry.header)

    def _tip_header(self) -> bytes:
        """The filter header of the index's tip (kept from the last block added: no read)."""
        assert self._tip is not None
        if self._last_header[0] != self._tip[0]:
            entry = self._entry(self._tip[0])
            assert entry is not None, "the index's tip has no record"
            self._last_header = (self._tip[0], entry.header)
        return self._last_header[1]

    # --- catching up --------------------------------------------------------------------

    def build(self, lock: AbstractContextManager[object]) -> None:
        """Index the chain's blocks from the index's tip to the chain's, one per step under
        `lock` (the node's chain lock), each written in its own batch, yielding between steps;
        returns once synced. Run in a greenlet of the node's group."""
        chain = self._chain
        assert chain is not None, "attach the index to a chain state first"
        start = -1 if self._tip is None else self._tip[1]
        log.info("Syncing %s with block chain from height %d", INDEX_NAME, start + 1)
        last_log = time.monotonic()
        while True:
            with lock:
                try:
                    if self._step(chain):
                        break
                except KeyError as error:  # a block's data or undo record is gone (pruned)
                    log.error("%s cannot index the block at height %d: %s; restart with -reindex to rebuild it",
                              INDEX_NAME, self.best_height + 1, error.args[0])
                    return
            if time.monotonic() - last_log >= PROGRESS_SECONDS:
                last_log = time.monotonic()
                log.info("Syncing %s with block chain from height %d", INDEX_NAME, self.best_height)
            gevent.sleep(0)
        log.info("%s is enabled at height %d", INDEX_NAME, self.best_height)

    def _step(self, chain: IndexedChain) -> bool:
        """One block more (or the tip moved back to the chain); True once synced."""
        if self._tip is not None and not chain.contains(self._tip[0]):
            block_hash, height = self._tip
            while not chain.contains(block_hash):
                block_hash, height = chain.headers.header(block_hash).prev_block, height - 1
            self._tip = (block_hash, height)
            self._tip_dirty = True
        elif self._tip is not None and self._tip[0] == chain.tip:
            self.synced = True
            return True
        else:
            height = 0 if self._tip is None else self._tip[1] + 1
            block_hash = chain.headers.ancestor(chain.tip, height)
            block = chain.read_block(block_hash)
            if height == 0:
                self._add(block, 0, GENESIS_PREVIOUS_HEADER)
            else:
                spent = chain.spent_coins(block_hash)
                if spent is None:
                    raise KeyError(f"no undo data for the block at height {height}")
                self._add(block, height, self._tip_header(),
                          [coin.script_pubkey for coins in spent for coin in coins])
        with self._db.write_batch(transaction=True) as batch:
            for key, entry in self._pending.items():
                batch.put(_ENTRY_PREFIX + key, _encode(entry))
            if self._tip is not None:
                batch.put(_TIP_KEY, _TIP.pack(*self._tip))
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

    def _entry(self, block_hash: bytes) -> FilterEntry | None:
        entry = self._pending.get(block_hash)
        if entry is not None:
            return entry
        record = self._db.get(_ENTRY_PREFIX + block_hash)
        return None if record is None else _decode(record)

    def lookup(self, block_hash: bytes) -> FilterEntry | None:
        """The block's record (Core's LookupFilter / LookupFilterHeader): None unless the block is
        indexed and at or below the index's tip height."""
        chain = self._chain
        if chain is None or block_hash not in chain.headers or chain.headers.height_of(block_hash) > self.best_height:
            return None
        return self._entry(block_hash)

    def lookup_range(self, start_height: int, stop_hash: bytes) -> list[tuple[bytes, FilterEntry]] | None:
        """(block hash, record) for the ancestors of `stop_hash` from `start_height` up to it, in
        height order (Core's LookupFilterRange); None if any of them is not indexed."""
        chain = self._chain
        assert chain is not None
        tree = chain.headers
        stop_height = tree.height_of(stop_hash)
        if stop_height > self.best_height:
            return None
        found: list[tuple[bytes, FilterEntry]] = []
        block_hash = stop_hash
        for _ in range(stop_height - start_height + 1):
            entry = self._entry(block_hash)
            if entry is None:
                return None
            found.append((block_hash, entry))
            block_hash = tree.header(block_hash).prev_block
        found.reverse()
        return found
