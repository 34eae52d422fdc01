"""The header tree (Core's block index, headers only): every known header, its height and cumulative
work, the best chain by most work, and the consensus checks a header can pass on its own.

Checks and reasons follow Core's `AcceptBlockHeader`, in its order: a known header is returned
as is (`duplicate-invalid` if it is known to be invalid); `high-hash` (proof of work against its own
`bits`, capped at the network's limit); `prev-blk-not-found`; `bad-prevblk` (a descendant of an
invalid header); then `ContextualCheckBlockHeader`: `bad-diffbits` (Core's
`GetNextWorkRequired`, including testnet's 20-minute rule and BIP94), `time-too-old` (not after
the median time past of the last 11), `time-timewarp-attack` (BIP94), `time-too-new` (more than
two hours ahead of the injectable clock) and `bad-version(0x…)` (below 2, 3, 4 once BIP34, 66,
65 are buried). A contextually invalid header is remembered (bounded) so that it is refused at
once with the same reason (Core, which keeps no such headers and checks a resent one again,
gives that reason too) and its descendants with `bad-prevblk`; a header too far in the future is
not remembered, because time cures it. A header in the tree marked failed (a block that failed
full validation, or `invalidate`) is refused as `duplicate-invalid`.

Anchor. The tree starts at one trusted header with its height and chain work: the genesis block
(`HeaderTree.from_genesis`) or a checkpoint such as mainnet 822,528. Its chain work defaults to
its own block's work, which is Core's value at genesis and elsewhere makes every figure relative
to the anchor's parent (comparisons between branches, all that consensus needs, are unchanged).
On a retargeting network the anchor must start a difficulty period (height divisible by 2,016),
so every retarget and testnet walk-back stays inside the tree. The median time past of the
anchor's first ten descendants uses the timestamps the tree has (as Core does near genesis).

Persistence (optional). `HeaderTree.open(store, ...)` keeps the tree in the store's `block_index`
namespace (real LevelDB) and reloads it on the next open. Records, after the namespace prefix:
`meta` -> u8 format version, u32 anchor height, 32-byte anchor chain work (big-endian), network
name; each block hash (32 bytes) -> u32 insertion sequence, u8 status flags (1: failed, itself or
an ancestor; 2: its block was connected once, Core's BLOCK_VALID_SCRIPTS), then the 80 raw header
bytes (all big-endian). Every call that changes the tree writes its records in
one atomic batch. Loading re-checks each header's proof of work and linkage (as Core's
LoadBlockIndex does), not its context, and replays the insertion order, so the tip, ties
included, is the same as before. The remembered invalid headers are not stored.

Memory. Headers are kept in parallel flat arrays indexed by insertion order, not one object
each: the 80 raw bytes (fields are unpacked when read), 32 bytes of chain work, a 4-byte parent
index, skip index (Core's pskip: an ancestor further back, so finding the ancestor at any height
off the best chain takes a few dozen steps, not one per block) and height, a status byte, 4 bytes in the active-chain array, and the hash as the key of
the hash -> index dict (also listed by index): a few hundred bytes a header, where an object per
header would cost several times that (test_memory_per_header holds the bound). Children always
come after their parents, which makes invalidation one forward scan.
"""

from __future__ import annotations

import logging
import struct
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable, NoReturn, Sequence

from pantheon import limits
from pantheon.chain.pow import block_work, calculate_next_work_required, check_proof_of_work, target_to_compact
from pantheon.hashing import hash_to_hex
from pantheon.params import Network
from pantheon.primitives import BlockHeader, header_from_layout
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.store import Namespace, Store, StoreError

__all__ = [
    "MAX_FUTURE_BLOCK_TIME",
    "MAX_TIMEWARP",
    "MEDIAN_TIME_SPAN",
    "HeaderRejected",
    "TipChange",
    "Accepted",
    "HeadersResult",
    "HeaderTree",
]

log = logging.getLogger("pantheon.chain.headers")

MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60  # Core's validation.h
MEDIAN_TIME_SPAN = 11  # Core's CBlockIndex::nMedianTimeSpan
MAX_TIMEWARP = 600  # BIP94
MAX_REMEMBERED_INVALID = 10_000  # invalid headers kept to refuse them and their children at once

_HASH_SIZE = 32
_WORK_SIZE = 32
_VERSION = struct.Struct("<i")
_TIME_BITS = struct.Struct("<II")
_TIME_OFFSET = 68  # version 4 + prev 32 + merkle root 32
_FAILED = 1  # Core's BLOCK_FAILED_MASK: this block or an ancestor failed validation
_CONNECTED = 2  # Core's BLOCK_VALID_SCRIPTS: the block was connected (fully validated) once
_NO_PARENT = -1
FORMAT_VERSION = 1
_META_KEY = b"meta"
_META = struct.Struct(">BI32s")  # format version, anchor height, anchor chain work; then the network name
_RECORD = struct.Struct(">IB")  # insertion sequence, status; then the 80 raw bytes


def _skip_height(height: int) -> int:
    """Core's GetSkipHeight: where a header's skip index points, counted from the anchor."""
    if height < 2:
        return 0
    if height & 1:
        lower = height - 1
        lower &= lower - 1
        return (lower & (lower - 1)) + 1
    return height & (height - 1)


class HeaderRejected(Exception):
    """A header failed a consensus check; `reason` is Core's reject reason string."""

    def __init__(self, reason: str, block_hash: bytes) -> None:
        super().__init__(f"{reason}: {hash_to_hex(block_hash)}")
        self.reason = reason
        self.block_hash = block_hash


@dataclass(frozen=True, slots=True)
class TipChange:
    """How the best chain moved: `disconnected` from the old tip down (Core's order),
    `connected` from just above `fork` up to the new tip. A reorg has something disconnected."""

    fork: bytes
    disconnected: tuple[bytes, ...]
    connected: tuple[bytes, ...]

    @property
    def is_reorg(self) -> bool:
        return bool(self.disconnected)


@dataclass(frozen=True, slots=True)
class Accepted:
    """One header in the tree: `new` is False when it was already known."""

    hash: bytes
    height: int
    new: bool
    tip_change: TipChange | None


@dataclass(frozen=True, slots=True)
class HeadersResult:
    """A batch, processed in order up to the first rejection (`error`), as Core does."""

    accepted: tuple[bytes, ...]
    tip_change: TipChange | None
    error: HeaderRejected | None


class HeaderTree:
    """Every known header from a trusted anchor, and the active (most-work) chain."""

    def __init__(self, network: Network, anchor: BlockHeader, height: int = 0, chain_work: int | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.network = network
        self._interval = network.pow_target_timespan // network.pow_target_spacing
        if height < 0 or (not network.pow_no_retargeting and height % self._interval):
            raise ValueError(f"the anchor must start a difficulty period on {network.name}, not height {height}")
        self._now = now
        self._pow_limit_bits = target_to_compact(network.pow_limit)
        self._base = height
        self._raw = bytearray()
        self._work = bytearray()
        self._hashes: list[bytes] = []
        self._index: dict[bytes, int] = {}
        self._parent = array("i")
        self._skip = array("i")
        self._height = array("I")
        self._status = bytearray()
        self._active = array("I")
        self._invalid: OrderedDict[bytes, str] = OrderedDict()
        self._db: Namespace | None = None
        self._unsaved: list[int] = []
        work = block_work(anchor.bits) if chain_work is None else chain_work
        self._append(anchor, _NO_PARENT, height, work)
        self._active.append(0)

    @classmethod
    def from_genesis(cls, network: Network, now: Callable[[], float] = time.time) -> HeaderTree:
        """A tree anchored at the network's genesis block (height 0, Core's chain work)."""
        return cls(network, BlockHeader.from_bytes(network.genesis_block[:BLOCK_HEADER_SIZE]), 0, None, now)

    @classmethod
    def open(cls, store: Store, network: Network, anchor: BlockHeader | None = None, height: int = 0,
             chain_work: int | None = None, now: Callable[[], float] = time.time) -> HeaderTree:
        """The tree kept in `store` (its `block_index` namespace), or a new one from `anchor`
        (default genesis) written there. StoreError if the store holds another network's or
        another anchor's tree, or records that do not link up."""
        view = store.namespace("block_index")
        meta = view.get(_META_KEY)
        if meta is None:
            if anchor is None:
                anchor = BlockHeader.from_bytes(network.genesis_block[:BLOCK_HEADER_SIZE])
            tree = cls(network, anchor, height, chain_work, now)
            tree._db = view
            work = tree._work_of(0).to_bytes(_WORK_SIZE, "big")
            tree._save(_META.pack(FORMAT_VERSION, height, work) + network.name.encode())
            return tree
        version, stored_height, work = _META.unpack_from(meta)
        if version != FORMAT_VERSION or meta[_META.size:] != network.name.encode():
            raise StoreError(f"the block index holds format {version} for {meta[_META.size:]!r}, "
                             f"not format {FORMAT_VERSION} for {network.name!r}")
        records = sorted((_RECORD.unpack_from(value), key, value[_RECORD.size:])
                         for key, value in view.iterator() if len(key) == _HASH_SIZE)
        if not records or records[0][0][0] != 0:
            raise StoreError("the block index has no anchor record")
        first = BlockHeader.from_bytes(records[0][2])
        if anchor is not None and anchor.hash != first.hash:
            raise StoreError(f"the block index is anchored at {hash_to_hex(first.hash)}, not {hash_to_hex(anchor.hash)}")
        tree = cls(network, first, stored_height, int.from_bytes(work, "big"), now)
        for (_, status), key, raw in records[1:]:
            header = BlockHeader.from_bytes(raw)
            parent = tree._index.get(header.prev_block)
            if header.hash != key or parent is None or not check_proof_of_work(key, header.bits, network.pow_limit):
                raise StoreError(f"block index record {hash_to_hex(key)} does not check or link")
            i = tree._append(header, parent, tree._height[parent] + 1, tree._work_of(parent) + block_work(header.bits))
            tree._status[i] = status
        tree._set_tip(tree._best_valid())
        tree._unsaved.clear()  # what was just read is stored already
        tree._db = view
        return tree

    # --- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self._index

    @property
    def anchor(self) -> bytes:
        return self._hashes[0]

    @property
    def tip(self) -> bytes:
        """The hash of the best header: the most work, the first seen among equals."""
        return self._hashes[self._active[-1]]

    @property
    def height(self) -> int:
        """The best header's height."""
        return self._base + len(self._active) - 1

    def header(self, block_hash: bytes) -> BlockHeader:
        i = self._lookup(block_hash)
        return header_from_layout(bytes(self._raw[i * BLOCK_HEADER_SIZE:(i + 1) * BLOCK_HEADER_SIZE]), block_hash, 0)

    def height_of(self, block_hash: bytes) -> int:
        return self._height[self._lookup(block_hash)]

    def chain_work(self, block_hash: bytes) -> int:
        return self._work_of(self._lookup(block_hash))

    def is_valid(self, block_hash: bytes) -> bool:
        """Not marked failed (neither itself nor an ancestor failed validation)."""
        return not self._status[self._lookup(block_hash)] & _FAILED

    def was_connected(self, block_hash: bytes) -> bool:
        """Core's IsValid(BLOCK_VALID_SCRIPTS): the block was fully validated once."""
        return bool(self._status[self._lookup(block_hash)] & _CONNECTED)

    def leaves(self) -> list[bytes]:
        """Every header no other header builds on (Core's getchaintips candidates)."""
        parents = set(self._parent)
        return [block_hash for i, block_hash in enumerate(self._hashes) if i not in parents]

    def at_height(self, height: int) -> bytes | None:
        """The active chain's hash at `height`, None outside it."""
        pos = height - self._base
        return self._hashes[self._active[pos]] if 0 <= pos < len(self._active) else None

    def is_active(self, block_hash: bytes) -> bool:
        i = self._index.get(block_hash)
        return i is not None and self._on_active(i)

    def ancestor(self, block_hash: bytes, height: int) -> bytes:
        """The block at `height` on the branch ending at `block_hash` (itself at its own height)."""
        i = self._lookup(block_hash)
        if not self._base <= height <= self._height[i]:
            raise ValueError(f"height {height} is not on the branch of {hash_to_hex(block_hash)}")
        return self._hashes[self._ancestor(i, height)]

    def median_time_past(self, block_hash: bytes) -> int:
        """Core's GetMedianTimePast: the median of this header's and its 10 ancestors' times."""
        return self._mtp(self._lookup(block_hash))

    def next_work_required(self, parent_hash: bytes, timestamp: int) -> int:
        """The `bits` a child of `parent_hash` made at `timestamp` must carry."""
        return self._next_bits(self._lookup(parent_hash), timestamp)

    def contextual_reason(self, header: BlockHeader) -> str | None:
        """Core's ContextualCheckBlockHeader for a header on a known parent, without adding it:
        the first rule it breaks, None if none."""
        return self._contextual_check(header, self._lookup(header.prev_block))

    def locator(self, block_hash: bytes | None = None) -> list[bytes]:
        """Core's block locator from `block_hash` (default the tip) back to the anchor: ten steps
        of one, then doubling."""
        i = self._active[-1] if block_hash is None else self._lookup(block_hash)
        have = []
        step = 1
        while True:
            have.append(self._hashes[i])
            if self._height[i] == self._base:
                return have
            i = self._ancestor(i, max(self._height[i] - step, self._base))
            if len(have) > 10:
                step *= 2

    def find_fork(self, locator: Iterable[bytes]) -> bytes:
        """Core's FindForkInGlobalIndex: the first locator entry on the active chain (or the tip,
        if the entry is beyond it); the anchor when nothing matches."""
        tip = self._active[-1]
        for block_hash in locator:
            i = self._index.get(block_hash)
            if i is None:
                continue
            if self._on_active(i):
                return block_hash
            if self._height[i] > self._height[tip] and self._ancestor(i, self._height[tip]) == tip:
                return self._hashes[tip]
        return self.anchor

    def headers_after(self, locator: Sequence[bytes], stop: bytes | None = None,
                      limit: int = limits.MAX_HEADERS) -> list[BlockHeader]:
        """What Core answers a `getheaders`: active-chain headers after the locator's fork, up to
        `limit` or `stop`; with an empty locator, just the `stop` header if known."""
        if not locator:
            return [self.header(stop)] if stop is not None and stop in self._index else []
        start = self.height_of(self.find_fork(locator)) + 1
        out = []
        for height in range(start, min(self.height + 1, start + limit)):
            block_hash = self._hashes[self._active[height - self._base]]
            out.append(self.header(block_hash))
            if block_hash == stop:
                break
        return out

    # --- writing --------------------------------------------------------------------------

    def add_header(self, header: BlockHeader, *, min_pow_checked: bool = True) -> Accepted:
        """Check `header` and put it in the tree; HeaderRejected says why not. Without
        `min_pow_checked` (the caller could not vouch that its chain has the anti-DoS minimum of
        work, Core's min_pow_checked) a new header passing every check is still not added:
        `too-little-chainwork`, which says nothing against the header."""
        accepted = self._add(header, min_pow_checked)
        self._save()
        return accepted

    def _add(self, header: BlockHeader, min_pow_checked: bool = True) -> Accepted:
        block_hash = header.hash
        known = self._index.get(block_hash)
        if known is not None:
            if self._status[known] & _FAILED:
                raise HeaderRejected("duplicate-invalid", block_hash)
            return Accepted(block_hash, self._height[known], False, None)
        remembered = self._invalid.get(block_hash)
        if remembered is not None:
            raise HeaderRejected(remembered, block_hash)
        if not check_proof_of_work(block_hash, header.bits, self.network.pow_limit):
            raise HeaderRejected("high-hash", block_hash)
        parent = self._index.get(header.prev_block)
        if parent is None or self._status[parent] & _FAILED:
            if parent is None and header.prev_block not in self._invalid:
                raise HeaderRejected("prev-blk-not-found", block_hash)
            self._reject(block_hash, "bad-prevblk")
        reason = self._contextual_check(header, parent)
        if reason is not None:
            if reason != "time-too-new":
                self._reject(block_hash, reason)
            raise HeaderRejected(reason, block_hash)
        if not min_pow_checked:
            log.debug("AcceptBlockHeader: not adding new block header %s, missing anti-dos proof-of-work validation",
                      hash_to_hex(block_hash))
            raise HeaderRejected("too-little-chainwork", block_hash)
        height = self._height[parent] + 1
        i = self._append(header, parent, height, self._work_of(parent) + block_work(header.bits))
        change = None
        if self._work_of(i) > self._work_of(self._active[-1]):
            change = self._set_tip(i)
        return Accepted(block_hash, height, True, change)

    def add_headers(self, headers: Iterable[BlockHeader]) -> HeadersResult:
        """Add headers in order, stopping at the first rejection; one combined tip change."""
        old_tip = self._active[-1]
        accepted = []
        error = None
        for header in headers:
            try:
                accepted.append(self._add(header).hash)
            except HeaderRejected as rejected:
                error = rejected
                break
        self._save()
        new_tip = self._active[-1]
        return HeadersResult(tuple(accepted), self._change(old_tip, new_tip) if new_tip != old_tip else None, error)

    def invalidate(self, block_hash: bytes) -> TipChange | None:
        """Mark a header and all its descendants invalid (a block failed validation, or an
        operator's invalidateblock); the best valid header becomes the tip. One pass over the
        tree, as children always follow their parents."""
        first = self._lookup(block_hash)
        if first == 0:
            raise ValueError("the anchor cannot be invalidated")
        self._status[first] |= _FAILED
        self._unsaved.append(first)
        for i in range(first + 1, len(self._hashes)):
            if self._status[self._parent[i]] & _FAILED and not self._status[i] & _FAILED:
                self._status[i] |= _FAILED
                self._unsaved.append(i)
        self._save()
        if not self._status[self._active[-1]] & _FAILED:
            return None
        return self._set_tip(self._best_valid())

    def reconsider(self, block_hash: bytes) -> TipChange | None:
        """Core's ResetBlockFailureFlags (reconsiderblock): clear the failed mark of a header, its
        descendants and its ancestors; the best valid header becomes the tip. A block that fails
        again when connected is marked again."""
        first = self._lookup(block_hash)
        cleared = {first}
        for i in range(first + 1, len(self._hashes)):
            if self._parent[i] in cleared:
                cleared.add(i)
        i = self._parent[first]
        while i != _NO_PARENT:
            cleared.add(i)
            i = self._parent[i]
        for i in cleared:
            if self._status[i] & _FAILED:
                self._status[i] &= ~_FAILED
                self._unsaved.append(i)
        for refused in [h for h, reason in self._invalid.items() if reason == "bad-prevblk"]:
            del self._invalid[refused]  # their parents may be valid again
        self._save()
        best = self._best_valid()
        return None if best == self._active[-1] else self._set_tip(best)

    def mark_connected(self, block_hash: bytes) -> None:
        """Record that the block passed ConnectBlock (written with the tree's next change or `save`)."""
        i = self._lookup(block_hash)
        if not self._status[i] & _CONNECTED:
            self._status[i] |= _CONNECTED
            self._unsaved.append(i)

    def save(self) -> None:
        """Write what `mark_connected` recorded since the last change."""
        if self._unsaved:
            self._save()

    # --- internals ------------------------------------------------------------------------

    def _best_valid(self) -> int:
        """The valid header with the most work, the first seen among equals (one scan)."""
        best, best_work = 0, -1
        for i in range(len(self._hashes)):
            if not self._status[i] & _FAILED and (work := self._work_of(i)) > best_work:
                best, best_work = i, work
        return best

    def _save(self, meta: bytes | None = None) -> None:
        """Write the records changed since the last save (and a new tree's `meta`) in one
        atomic batch; without a store, just forget them."""
        if self._db is None:
            self._unsaved.clear()
            return
        with self._db.write_batch(transaction=True) as batch:
            if meta is not None:
                batch.put(_META_KEY, meta)
            for i in self._unsaved:
                raw = self._raw[i * BLOCK_HEADER_SIZE:(i + 1) * BLOCK_HEADER_SIZE]
                batch.put(self._hashes[i], _RECORD.pack(i, self._status[i]) + raw)
        self._unsaved.clear()

    def _lookup(self, block_hash: bytes) -> int:
        try:
            return self._index[block_hash]
        except KeyError:
            raise KeyError(f"unknown header {hash_to_hex(block_hash)}") from None

    def _append(self, header: BlockHeader, parent: int, height: int, work: int) -> int:
        i = len(self._hashes)
        self._raw += header.serialize()
        self._work += work.to_bytes(_WORK_SIZE, "big")
        self._hashes.append(header.hash)
        self._index[header.hash] = i
        self._parent.append(parent)
        self._skip.append(_NO_PARENT if parent == _NO_PARENT else
                          self._ancestor(parent, self._base + _skip_height(height - self._base)))
        self._height.append(height)
        self._status.append(0)
        self._unsaved.append(i)
        return i

    def _reject(self, block_hash: bytes, reason: str) -> NoReturn:
        """Remember an invalid header (the oldest is forgotten past the bound) and refuse it."""
        self._invalid[block_hash] = reason
        if len(self._invalid) > MAX_REMEMBERED_INVALID:
            self._invalid.popitem(last=False)
        raise HeaderRejected(reason, block_hash)

    def _work_of(self, i: int) -> int:
        return int.from_bytes(self._work[i * _WORK_SIZE:(i + 1) * _WORK_SIZE], "big")

    def _time_bits(self, i: int) -> tuple[int, int]:
        return _TIME_BITS.unpack_from(self._raw, i * BLOCK_HEADER_SIZE + _TIME_OFFSET)

    def _on_active(self, i: int) -> bool:
        pos = self._height[i] - self._base
        return pos < len(self._active) and self._active[pos] == i

    def _ancestor(self, i: int, height: int) -> int:
        """The ancestor of `i` at `height` (<= its own): Core's GetAncestor along skip indexes,
        indexing the active chain as soon as the walk reaches it."""
        target = height - self._base
        while self._height[i] > height:
            if self._on_active(i):
                return self._active[target]
            walk = self._height[i] - self._base
            skip, skip_of_parent = _skip_height(walk), _skip_height(walk - 1)
            # Follow the skip unless the parent's skip gets closer (Core's condition).
            if self._skip[i] != _NO_PARENT and (skip == target or (
                    skip > target and not (skip_of_parent < skip - 2 and skip_of_parent >= target))):
                i = self._skip[i]
            else:
                i = self._parent[i]
        return i

    def last_common_ancestor(self, a: bytes, b: bytes) -> bytes:
        """The highest block both branches hold (Core's LastCommonAncestor), by bisecting on
        height: ancestors agree up to the fork and differ above it."""
        i, j = self._lookup(a), self._lookup(b)
        low, high = self._base, min(self._height[i], self._height[j])
        while low < high:
            middle = (low + high + 1) // 2
            if self._ancestor(i, middle) == self._ancestor(j, middle):
                low = middle
            else:
                high = middle - 1
        return self._hashes[self._ancestor(i, low)]

    def _mtp(self, i: int) -> int:
        times: list[int] = []
        while i != _NO_PARENT and len(times) < MEDIAN_TIME_SPAN:
            times.append(self._time_bits(i)[0])
            i = self._parent[i]
        times.sort()
        return times[len(times) // 2]

    def _next_bits(self, parent: int, timestamp: int) -> int:
        """Core's GetNextWorkRequired for a child of `parent` made at `timestamp`."""
        net = self.network
        parent_time, parent_bits = self._time_bits(parent)
        height = self._height[parent] + 1
        if height % self._interval:
            if not net.pow_allow_min_difficulty:
                return parent_bits
            if timestamp > parent_time + 2 * net.pow_target_spacing:
                return self._pow_limit_bits
            # The last block not mined under the 20-minute rule, or the period's first.
            i = parent
            while (self._parent[i] != _NO_PARENT and self._height[i] % self._interval
                   and self._time_bits(i)[1] == self._pow_limit_bits):
                i = self._parent[i]
            return self._time_bits(i)[1]
        if net.pow_no_retargeting:
            return parent_bits
        first_time, first_bits = self._time_bits(self._ancestor(parent, height - self._interval))
        return calculate_next_work_required(parent_bits, parent_time, first_time, net,
                                            first_bits if net.pow_enforce_bip94 else None)

    def _contextual_check(self, header: BlockHeader, parent: int) -> str | None:
        """Core's ContextualCheckBlockHeader, in its order: the first failed rule's reason."""
        net = self.network
        timestamp = header.timestamp
        if header.bits != self._next_bits(parent, timestamp):
            return "bad-diffbits"
        if timestamp <= self._mtp(parent):
            return "time-too-old"
        height = self._height[parent] + 1
        if (net.pow_enforce_bip94 and height % self._interval == 0
                and timestamp < self._time_bits(parent)[0] - MAX_TIMEWARP):
            return "time-timewarp-attack"
        if timestamp > self._now() + MAX_FUTURE_BLOCK_TIME:
            return "time-too-new"
        version = header.version
        if ((version < 2 and height >= net.bip34_height) or (version < 3 and height >= net.bip66_height)
                or (version < 4 and height >= net.bip65_height)):
            return f"bad-version(0x{version & 0xFFFF_FFFF:08x})"
        return None

    def _change(self, old: int, new: int) -> TipChange:
        """The path from tip `old` to tip `new` through their last common ancestor."""
        down: list[int] = []
        up: list[int] = []
        while self._height[old] > self._height[new]:
            down.append(old)
            old = self._parent[old]
        while self._height[new] > self._height[old]:
            up.append(new)
            new = self._parent[new]
        while old != new:
            down.append(old)
            up.append(new)
            old, new = self._parent[old], self._parent[new]
        names = self._hashes
        return TipChange(names[old], tuple(names[i] for i in down), tuple(names[i] for i in reversed(up)))

    def _set_tip(self, new: int) -> TipChange:
        change = self._change(self._active[-1], new)
        del self._active[self._height[self._index[change.fork]] - self._base + 1:]
        self._active.extend(self._index[block_hash] for block_hash in change.connected)
        return change
