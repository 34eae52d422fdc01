"""Pure-Python twin of `pantheon._wire.InventorySet` (see `_wire_py`): what a peer already knows.

A bounded set of 32-byte hashes (txids, wtxids, block hashes) with FIFO eviction, playing the part
of Bitcoin Core's per-peer `m_tx_inventory_known_filter` (a rolling bloom filter of 50,000 entries
at a 1e-6 false-positive rate). Both twins run the same algorithm on the same layout, so for the
same seed they give the same answers and hold the same bytes.

Keyed fingerprints. A hash is stored as its fingerprint: SipHash-2-4 of the 32 bytes under the
set's 128-bit secret key, with 0 read as 1 (0 marks an empty slot). A peer that does not know the
key cannot choose hashes that collide or crowd one part of the table. Two different hashes share a
fingerprint with probability 2**-64, so a lookup of a hash that was never added answers "known"
with probability at most 2 * len(set) / 2**64 (5.4e-15 at 50,000 entries, against Core's 1e-6):
the only error is such a false positive. There are no false negatives: a hash added and not yet
evicted is always found.

Layout, allocated once at construction (`nbytes` counts it; nothing grows later):
    ring   capacity x uint64   fingerprints in insertion order; `_next` is where the next goes
                               and, once the ring is full, the oldest, which is evicted first
    table  size x uint64       open addressing, linear probing; size = capacity + capacity // 2
                               + 1 (load at most 2/3, always an empty slot); a fingerprint's home
                               slot is (fp * size) >> 64; deletion shifts the run back (no
                               tombstones), so lookups never slow down with churn
That is 8 + 12 = 20 bytes per entry. The set cannot list its hashes back (it keeps fingerprints)
and has no `discard`: a removed fingerprint would still sit in the ring, and its eviction
would later delete a newer copy. Core's filter cannot remove entries either.

`filter_new(payload)` reads the raw payload of an inv, getdata or notfound message, checked as
`pantheon.spec` parses "inv" (same error classes, before the set is touched), and returns the
entries whose hash the set did not hold when the call began and that the payload did not name
earlier, as (type, hash) tuples in payload order; with add=True (the default) it then adds them
in that order. The answer never depends on `add`.
"""

from __future__ import annotations

import operator
import os
import struct
from array import array
from typing import TYPE_CHECKING

from pantheon._codecs_py import _inventory_span

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["InventorySet", "siphash_256"]

HASH_SIZE = 32  # bytes of a txid, wtxid or block hash; four little-endian uint64 words
KEY_SIZE = 16  # bytes of the SipHash key; `seed` is the key as a little-endian integer
MAX_CAPACITY = (1 << 32) - 1  # keeps every size and index within 64-bit arithmetic

_MASK64 = (1 << 64) - 1
_WORDS = struct.Struct(f"<{HASH_SIZE // 8}Q")
_ENTRY = struct.Struct(f"<I{HASH_SIZE // 8}Q")  # inv vector: uint32 type, 32-byte hash
_TYPE_SIZE = _ENTRY.size - HASH_SIZE
_ZEROS = bytes(1 << 16)  # clear() zeroes the table through this, without a table-sized copy
_LENGTH_WORD = HASH_SIZE << 56  # SipHash's last message word: the length in its top byte
_TWO, _FOUR = range(2), range(4)  # rounds per message word, rounds to finish
# CompactSize prefix byte -> (width of the value that follows, smallest value that needs it)


def _capacity_and_size(capacity: int) -> tuple[int, int]:
    """The checked capacity and the table size for it (both twins size themselves here)."""
    capacity = operator.index(capacity)
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValueError(f"capacity must be between 1 and {MAX_CAPACITY}, got {capacity}")
    return capacity, capacity + capacity // 2 + 1


def _key(seed: int | None) -> tuple[int, int]:
    """The SipHash key (k0, k1): `seed` read as 16 little-endian bytes, or 16 random ones."""
    if seed is None:
        value = int.from_bytes(os.urandom(KEY_SIZE), "little")
    else:
        value = operator.index(seed)
        if not 0 <= value < 1 << (8 * KEY_SIZE):
            raise ValueError(f"seed must be between 0 and 2**{8 * KEY_SIZE} - 1, got {value}")
    return value & _MASK64, value >> 64


def _hash_words(item: bytes) -> tuple[int, ...]:
    if not isinstance(item, bytes):
        raise TypeError(f"hash must be bytes, not {type(item).__name__}")
    if len(item) != HASH_SIZE:
        raise ValueError(f"hash must be {HASH_SIZE} bytes, got {len(item)}")
    return _WORDS.unpack(item)


def _byte_view(payload: Buffer) -> memoryview:
    try:
        view = memoryview(payload)
    except TypeError:
        raise TypeError(f"payload must be a bytes-like object, not {type(payload).__name__}") from None
    if not view.c_contiguous:
        view.release()
        raise BufferError("payload is not C-contiguous")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _siphash_key(k0: int, k1: int) -> tuple[int, int]:
    """(k0, k1) checked as two unsigned 64-bit integers (both twins check keys here)."""
    k0, k1 = operator.index(k0), operator.index(k1)
    if not (0 <= k0 <= _MASK64 and 0 <= k1 <= _MASK64):
        raise ValueError("SipHash key halves must be between 0 and 2**64 - 1")
    return k0, k1


def siphash_256(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 of a 32-byte hash under the key (k0, k1), as an integer (BIP152's short ids)."""
    k0, k1 = _siphash_key(k0, k1)
    return _siphash_words(k0, k1, *_hash_words(data))


def _siphash_words(k0: int, k1: int, m0: int, m1: int, m2: int, m3: int) -> int:
    # SipHash-2-4 (Aumasson and Bernstein) of a 32-byte message given as four words: two
    # rounds for each word and for the length word, then v2 ^= 0xff and four rounds.
    mask = _MASK64
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    steps = ((m0, 0, _TWO), (m1, 0, _TWO), (m2, 0, _TWO), (m3, 0, _TWO), (_LENGTH_WORD, 0, _TWO),
             (0, 0xFF, _FOUR))
    for m, final, rounds in steps:
        v3 ^= m
        v2 ^= final
        for _ in rounds:
            v0 = (v0 + v1) & mask
            v1 = ((v1 << 13) | (v1 >> 51)) & mask ^ v0
            v0 = ((v0 << 32) | (v0 >> 32)) & mask
            v2 = (v2 + v3) & mask
            v3 = ((v3 << 16) | (v3 >> 48)) & mask ^ v2
            v0 = (v0 + v3) & mask
            v3 = ((v3 << 21) | (v3 >> 43)) & mask ^ v0
            v2 = (v2 + v1) & mask
            v1 = ((v1 << 17) | (v1 >> 47)) & mask ^ v2
            v2 = ((v2 << 32) | (v2 >> 32)) & mask
        v0 ^= m
    return v0 ^ v1 ^ v2 ^ v3


class InventorySet:
    """A bounded set of 32-byte hashes with FIFO eviction at `capacity` (see the module notes).

    `seed` is the 128-bit SipHash key as an integer; None (the default) draws a random one, as
    every set facing a peer must. Equal seeds give equal behaviour in both twins.
    """

    __slots__ = ("_capacity", "_size", "_k0", "_k1", "_ring", "_table", "_count", "_next")

    def __init__(self, capacity: int, *, seed: int | None = None) -> None:
        self._capacity, self._size = _capacity_and_size(capacity)
        self._k0, self._k1 = _key(seed)
        self._ring = array("Q", [0]) * self._capacity
        self._table = array("Q", [0]) * self._size
        self._count = 0
        self._next = 0

    @property
    def capacity(self) -> int:
        """How many hashes the set holds before the oldest is evicted."""
        return self._capacity

    @property
    def nbytes(self) -> int:
        """Bytes of storage (ring and table), all allocated at construction."""
        return (self._capacity + self._size) * 8

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'InventorySet' is not an acceptable base type")  # as the compiled twin

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"<InventorySet {self._count}/{self._capacity} entries>"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an InventorySet cannot be pickled or copied: it holds a secret key")

    def __contains__(self, item: bytes) -> bool:
        fp = self._fingerprint_words(*_hash_words(item))
        return self._table[self._slot(fp)] == fp

    def add(self, item: bytes) -> bool:
        """Add a 32-byte hash; True if it was new, False if the set already knew it."""
        fp = self._fingerprint_words(*_hash_words(item))
        if self._table[self._slot(fp)] == fp:
            return False
        self._push(fp)
        return True

    def clear(self) -> None:
        """Forget every hash; the storage is kept."""
        with memoryview(self._table).cast("B") as table:
            for start in range(0, table.nbytes, len(_ZEROS)):
                end = min(start + len(_ZEROS), table.nbytes)
                table[start:end] = _ZEROS[: end - start]
        self._count = 0
        self._next = 0

    def filter_new(self, payload: Buffer, *, add: bool = True) -> list[tuple[int, bytes]]:
        """The entries of an inv/getdata/notfound payload this set does not know, as
        (type, hash) tuples in payload order; a hash named twice counts once.

        The payload is checked whole before the set is touched (OversizedMessage, Truncated,
        InvalidValue, TrailingBytes, as `pantheon.spec.parse_payload("inv", ...)` raises them).
        With add=True the new entries are then added in order, evicting the oldest as needed.
        """
        with _byte_view(payload) as view:
            _, count, start = _inventory_span("inv", view)
            new: list[tuple[int, bytes]] = []
            new_fingerprints: list[int] = []
            seen: set[int] = set()
            table = self._table
            fingerprint = self._fingerprint_words
            offset = start + _TYPE_SIZE
            for kind, m0, m1, m2, m3 in _ENTRY.iter_unpack(view[start:]):
                fp = fingerprint(m0, m1, m2, m3)
                if table[self._slot(fp)] != fp and fp not in seen:
                    seen.add(fp)
                    new_fingerprints.append(fp)
                    new.append((kind, bytes(view[offset : offset + HASH_SIZE])))
                offset += _ENTRY.size
        if add:
            for fp in new_fingerprints:
                self._push(fp)
        return new

    # --- the algorithm, step for step as in _invset.pxi -----------------------------------

    def _fingerprint(self, item: bytes) -> int:
        """The stored fingerprint of a hash (tests check it against SipHash's vectors)."""
        return self._fingerprint_words(*_hash_words(item))

    def _table_snapshot(self) -> bytes:
        """The table's bytes (native order), to check that both twins lay it out the same."""
        return self._table.tobytes()

    def _fingerprint_words(self, m0: int, m1: int, m2: int, m3: int) -> int:
        return _siphash_words(self._k0, self._k1, m0, m1, m2, m3) or 1

    def _slot(self, fp: int) -> int:
        """The slot holding `fp`, or the empty slot that ends its probe run."""
        table, size = self._table, self._size
        slot = (fp * size) >> 64
        while True:
            value = table[slot]
            if value == fp or value == 0:
                return slot
            slot += 1
            if slot == size:
                slot = 0

    def _push(self, fp: int) -> None:
        """Add a fingerprint the table does not hold, evicting the oldest if the ring is full."""
        if self._count == self._capacity:
            self._delete(self._ring[self._next])  # full: `_next` holds the oldest
            self._count -= 1
        self._table[self._slot(fp)] = fp  # probed after the eviction, which may open a slot
        self._ring[self._next] = fp
        self._next = 0 if self._next + 1 == self._capacity else self._next + 1
        self._count += 1

    def _delete(self, fp: int) -> None:
        """Remove `fp` from the table, shifting the rest of its run back over the hole."""
        table, size = self._table, self._size
        hole = self._slot(fp)
        slot = hole
        while True:
            slot = 0 if slot + 1 == size else slot + 1
            value = table[slot]
            if value == 0:
                break
            home = (value * size) >> 64
            # The entry may fill the hole if the hole lies on its probe path, home .. slot.
            if (slot - hole) % size <= (slot - home) % size:
                table[hole] = value
                hole = slot
        table[hole] = 0
