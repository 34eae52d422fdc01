"""Core's mempool.dat (`node/mempool_persist.cpp`): the pool written out at a clean shutdown (and
by `savemempool`) and read back at the next start, so unconfirmed transactions and fee deltas
survive a restart. This module owns the file; what enters the pool is still the pool's decision:
each transaction is checked again as a new one (Core's AcceptToMemoryPool). Nothing is relayed.

The file, every integer little-endian (version 2, Core's default; version 1 is read too):

    u64 version             1, or 2: an obfuscation key follows
    [2] CompactSize 8, key  8 bytes; every later byte, at file offset p, is XORed with key[p % 8]
    u64 count               then per transaction:
        transaction           serialized with its witness
        i64 time              when it entered the pool, UNIX seconds
        i64 fee delta         prioritisetransaction's, satoshis
    CompactSize n           then n × (32-byte txid, i64 delta): the deltas of transactions not pooled
    CompactSize m           then m × 32-byte txid: Core's unbroadcast set (Pantheon keeps none,
                            writes it empty and ignores what it reads)

It is written to `mempool.dat.new`, flushed to disk and renamed over `mempool.dat`, so a crash
leaves the previous file whole. A transaction older than Core's two-week expiry is not loaded.
A damaged file stops the load where the damage is (what came before it stays loaded) and is
logged, as Core does, never raised: the node starts regardless.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pantheon import limits, wire
from pantheon.chain.mempool import Mempool
from pantheon.chain.validation import TxRejected
from pantheon.errors import ProtocolError
from pantheon.primitives import Tx

__all__ = ["MEMPOOL_FILENAME", "MEMPOOL_EXPIRY", "DUMP_VERSION", "LoadedMempool", "dump_mempool", "load_mempool"]

log = logging.getLogger(__name__)

MEMPOOL_FILENAME = "mempool.dat"
MEMPOOL_EXPIRY = 336 * 60 * 60  # Core's -mempoolexpiry default: two weeks, in seconds
DUMP_VERSION = 2  # Core's MEMPOOL_DUMP_VERSION: with an obfuscation key
_VERSION_NO_KEY = 1  # Core's MEMPOOL_DUMP_VERSION_NO_XOR_KEY
_KEY_SIZE = 8  # Core's Obfuscation::KEY_SIZE
_U64 = struct.Struct("<Q")
_ENTRY_TAIL = struct.Struct("<qq")  # time, fee delta
_DELTA = struct.Struct("<32sq")  # txid, fee delta
_TXID_SIZE = 32


class _Damaged(ValueError):
    """The file ends early or holds a value Core would not have written."""


@dataclass(frozen=True, slots=True)
class LoadedMempool:
    """What a load did with each transaction of the file, Core's counts: accepted, refused,
    too old, or already pooled; `unbroadcast` is always 0 (Pantheon keeps no such set)."""

    succeeded: int
    failed: int
    expired: int
    already_there: int
    unbroadcast: int = 0


def _xor(data: bytes, key: bytes, offset: int) -> bytes:
    """`data` as it lies at file `offset`, XORed with the key repeated from the file's start."""
    if not any(key):
        return data
    turn = offset % _KEY_SIZE
    stream = (key[turn:] + key[:turn]) * (len(data) // _KEY_SIZE + 1)
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream[:len(data)], "little")).to_bytes(
        len(data), "little")


def dump_mempool(pool: Mempool, path: Path) -> int:
    """Write the pool (parents before children) and its fee deltas to `path` as Core's version 2
    file; returns the file's size. Raises OSError if it cannot be written (the old file stays)."""
    started = time.monotonic()
    entries = sorted(pool, key=lambda entry: len(pool.ancestors(entry.tx.txid)))
    deltas = pool.deltas()
    copied = time.monotonic()
    log.info("Writing %d mempool transactions to file...", len(entries))
    body = [_U64.pack(len(entries))]
    for entry in entries:
        body += (entry.tx.serialize(), _ENTRY_TAIL.pack(int(entry.time), deltas.pop(entry.tx.txid, 0)))
    body.append(wire.write_compact_size(len(deltas)))
    body += (_DELTA.pack(txid, delta) for txid, delta in sorted(deltas.items()))
    log.info("Writing 0 unbroadcast transactions to file.")
    body.append(wire.write_compact_size(0))
    key = os.urandom(_KEY_SIZE)
    head = _U64.pack(DUMP_VERSION) + wire.write_compact_size(_KEY_SIZE) + key
    fresh = path.with_name(path.name + ".new")
    with open(fresh, "wb") as file:
        file.write(head)
        file.write(_xor(b"".join(body), key, len(head)))
        file.flush()
        os.fsync(file.fileno())
    os.replace(fresh, path)
    size = path.stat().st_size
    log.info("Dumped mempool: %.3fs to copy, %.3fs to dump, %d bytes dumped to file", copied - started,
             time.monotonic() - copied, size)
    return size


def load_mempool(pool: Mempool, path: Path, now: float) -> LoadedMempool | None:
    """Offer the transactions of `path` to `pool` as new ones (keeping their entry times and fee
    deltas) and restore the deltas of those not pooled; `now` judges expiry. None, logged, when
    the file is missing, of an unknown version, or damaged (what loaded before the damage stays)."""
    try:
        data = path.read_bytes()
    except OSError:
        log.info("Failed to open mempool file. Continuing anyway.")
        return None
    try:
        return _load(pool, data, now)
    except _Damaged as error:
        log.info("Failed to deserialize mempool data on file: %s. Continuing anyway.", error)
        return None


def _load(pool: Mempool, data: bytes, now: float) -> LoadedMempool | None:
    reader = _Reader(data)
    version = reader.u64()
    if version == DUMP_VERSION:
        if reader.compact_size() != _KEY_SIZE:
            raise _Damaged(f"Obfuscation key size should be exactly {_KEY_SIZE} bytes long")
        key = reader.take(_KEY_SIZE)
        reader.data = data[:reader.pos] + _xor(data[reader.pos:], key, reader.pos)
    elif version != _VERSION_NO_KEY:
        return None  # Core gives up on an unknown version without a word
    total = reader.u64()
    log.info("Loading %d mempool transactions from file...", total)
    succeeded = failed = expired = already_there = 0
    next_tenth = 0
    for tried in range(total):
        percent = 100 * tried // total
        if next_tenth < percent // 10:
            log.info("Progress loading mempool transactions from file: %d%% (tried %d, %d remaining)", percent, tried,
                     total - tried)
            next_tenth = percent // 10
        tx = reader.tx()
        entered, delta = reader.unpack(_ENTRY_TAIL)
        if delta:
            pool.prioritise(tx.txid, delta)
        if entered <= now - MEMPOOL_EXPIRY:
            expired += 1
            continue
        try:
            accepted = pool.accept(tx, keep_orphan=False, accepted_at=entered).status == "accepted"
        except TxRejected:
            accepted = False
        if accepted:
            succeeded += 1
        elif tx.txid in pool:
            already_there += 1
        else:
            failed += 1
    for _ in range(reader.compact_size()):
        txid, delta = reader.unpack(_DELTA)
        pool.prioritise(txid, delta)
    for _ in range(reader.compact_size()):
        reader.take(_TXID_SIZE)  # the unbroadcast set: Pantheon has none to restore it to
    log.info("Imported mempool transactions from file: %d succeeded, %d failed, %d expired, %d already there, "
             "0 waiting for initial broadcast", succeeded, failed, expired, already_there)
    return LoadedMempool(succeeded, failed, expired, already_there)


class _Reader:
    """A cursor over the (de-obfuscated) file; every read past its end is `_Damaged`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise _Damaged("end of data")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def u64(self) -> int:
        return self.unpack(_U64)[0]

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        return layout.unpack(self.take(layout.size))

    def compact_size(self) -> int:
        """Core's ReadCompactSize with its range check: a count above MAX_SIZE is damage."""
        try:
            value, self.pos = wire.read_compact_size(self.data, self.pos)
        except ProtocolError as error:
            raise _Damaged(str(error)) from None
        if value > limits.MAX_MESSAGE_SIZE_CEILING:
            raise _Damaged("ReadCompactSize(): size too large")
        return value

    def tx(self) -> Tx:
        try:
            tx, self.pos = wire.read_tx(self.data, self.pos)
        except ProtocolError as error:
            raise _Damaged(str(error)) from None
        return tx
