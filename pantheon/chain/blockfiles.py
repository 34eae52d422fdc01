"""Block and undo data in Core's flat files: `blocks/blkNNNNN.dat` holds blocks as they are on
the wire, `blocks/revNNNNN.dat` the undo records of the blocks of the blk file with its number,
each record behind the network's magic and its length (Core's layout, without Core's undo
checksum). The store keeps where each record is: `k/` and `u/` map a block hash to a position
(a 0 byte, then file number, offset of the data and its length, u32 BE each); a value that is
no position is the record itself, as datadirs written before the files kept them.

A blk file is appended to until the next block would take it past `max_file_size` (Core's 128
MiB; 64 KiB with -fastprune), then the next number starts. Reading opens the file each time, so
a file moved away shows at once (`BlockFileMissing`). Pruning deletes whole files (blk and rev
together) whose blocks are all at or below a height, and the positions that point into them;
the highest height of each file is kept in `k/` under `f` + its number. An append reaches the
operating system before the store records its position, so a killed process leaves at most
unreferenced bytes at the end of a file (like the store's own writes, nothing is fsynced).
"""

from __future__ import annotations

import logging
import os
import re
import struct
from pathlib import Path
from typing import Iterator, NamedTuple

from pantheon.store import Store, StoreError

__all__ = ["BLOCKS_DIRNAME", "MAX_BLOCKFILE_SIZE", "FASTPRUNE_BLOCKFILE_SIZE", "BlockFileMissing", "BlockFiles",
           "BlockPosition"]

log = logging.getLogger("pantheon.chain.blockfiles")

BLOCKS_DIRNAME = "blocks"
MAX_BLOCKFILE_SIZE = 128 * 1024 * 1024  # Core's MAX_BLOCKFILE_SIZE
FASTPRUNE_BLOCKFILE_SIZE = 0x10000  # Core's with -fastprune
_POSITION = struct.Struct(">BIII")  # marker 0, file, offset, length
_RECORD_HEADER = struct.Struct("<4sI")  # magic, length
_FILE_KEY = b"f"  # + u32 BE file number -> u32 BE highest height in it
_NAME = re.compile(r"blk(\d{5})\.dat")


class BlockPosition(NamedTuple):
    """Where a block's bytes are: blk file number, offset of the data, its length."""

    file: int
    offset: int
    length: int


class BlockFileMissing(StoreError):
    """A block or undo record's file cannot be read (moved, deleted or cut short)."""


class BlockFiles:
    """The blk/rev files of one datadir and the positions of their records in the store."""

    def __init__(self, store: Store, magic: bytes, max_file_size: int = MAX_BLOCKFILE_SIZE) -> None:
        self.directory = store.datadir / BLOCKS_DIRNAME
        self.directory.mkdir(exist_ok=True)
        self._blocks = store.namespace("blocks")
        self._undo = store.namespace("undo")
        self._magic = magic
        self.max_file_size = max_file_size
        numbers = [int(match.group(1)) for path in self.directory.iterdir() if (match := _NAME.fullmatch(path.name))]
        self.current = max(numbers, default=0)

    def _path(self, kind: str, number: int) -> Path:
        return self.directory / f"{kind}{number:05d}.dat"

    # --- blocks ----------------------------------------------------------------------------

    def has_block(self, block_hash: bytes) -> bool:
        return self._blocks.get(block_hash) is not None

    def read_block(self, block_hash: bytes) -> bytes | None:
        """The block's bytes, None if it is not stored; BlockFileMissing if its file is gone."""
        return self._read(self._blocks.get(block_hash), "blk")

    def read_block_part(self, block_hash: bytes, offset: int, length: int) -> bytes | None:
        """`length` bytes at `offset` in the block's bytes (one transaction, for the transaction
        indexes) without reading the rest; None if the block is not stored."""
        stored = self._blocks.get(block_hash)
        if stored is None or not _is_position(stored):
            return None if stored is None else stored[offset:offset + length]
        _, number, start, size = _POSITION.unpack(stored)
        if offset + length > size:
            raise BlockFileMissing(f"blk{number:05d}.dat: the record at {start} is shorter than {offset + length}")
        return self.read_at(BlockPosition(number, start + offset, length))

    def write_block(self, block_hash: bytes, raw: bytes, height: int) -> None:
        """Append a block to the current blk file (the next one if it would outgrow it)."""
        number, offset = self.append_block(raw)
        self.index_block(block_hash, BlockPosition(number, offset, len(raw)), height)

    def read_at(self, position: BlockPosition) -> bytes:
        """The bytes at a position in a blk file; BlockFileMissing if they cannot be read."""
        data = self._read(_POSITION.pack(0, *position), "blk")
        assert data is not None
        return data

    def append_block(self, raw: bytes) -> tuple[int, int]:
        """Append a block's record, not indexed; (file number, offset of the data)."""
        path = self._path("blk", self.current)
        size = path.stat().st_size if path.exists() else 0
        if size and size + _RECORD_HEADER.size + len(raw) > self.max_file_size:
            self.current += 1
            path = self._path("blk", self.current)
        return self.current, self._append(path, raw)

    def index_block(self, block_hash: bytes, position: BlockPosition, height: int) -> None:
        """Record where a block is (and its file's highest height, for pruning)."""
        key = _FILE_KEY + position.file.to_bytes(4, "big")
        highest = self._blocks.get(key)
        with self._blocks.write_batch(transaction=True) as batch:
            batch.put(block_hash, _POSITION.pack(0, *position))
            if highest is None or int.from_bytes(highest, "big") < height:
                batch.put(key, height.to_bytes(4, "big"))

    def records(self) -> Iterator[tuple[BlockPosition, bytes]]:
        """Every block record in the blk files, in file then offset order, as -reindex reads
        them. A file's scan stops (with a warning) where its bytes stop being records: a
        killed process can leave a partial one at the end."""
        numbers = sorted(int(match.group(1)) for path in self.directory.iterdir()
                         if (match := _NAME.fullmatch(path.name)))
        for number in numbers:
            with self._path("blk", number).open("rb") as handle:
                while header := handle.read(_RECORD_HEADER.size):
                    offset = handle.tell() - len(header)
                    magic, length = _RECORD_HEADER.unpack(header) if len(header) == _RECORD_HEADER.size else (b"", 0)
                    raw = handle.read(length) if magic == self._magic else b""
                    if magic != self._magic or len(raw) != length:
                        log.warning("blk%05d.dat: no whole record at %d; the rest of the file is skipped",
                                    number, offset)
                        break
                    yield BlockPosition(number, offset + _RECORD_HEADER.size, length), raw

    def delete_undo_files(self) -> None:
        """Remove every rev file (their records are rebuilt as blocks are connected again)."""
        for path in self.directory.glob("rev[0-9][0-9][0-9][0-9][0-9].dat"):
            path.unlink()

    def stored_records(self) -> Iterator[tuple[bytes, bytes]]:
        """(hash, block) of the blocks an older datadir kept in the store itself."""
        for key, value in self._blocks.iterator():
            if len(key) == 32 and not _is_position(value):
                yield key, value

    # --- undo records --------------------------------------------------------------------------

    def read_undo(self, block_hash: bytes) -> bytes | None:
        """The block's undo record, None if it has none; BlockFileMissing if its file is gone."""
        return self._read(self._undo.get(block_hash), "rev")

    def read_undo_at(self, position: bytes) -> bytes | None:
        """The undo record `write_undo` returned this position for (its block's `u/` entry not
        written yet); BlockFileMissing if its file is gone."""
        return self._read(position, "rev")

    def write_undo(self, block_hash: bytes, raw: bytes) -> bytes:
        """Append an undo record to the rev file of the block's blk file; the value to store
        under the block's hash in `u/` (written by the caller with the coins it undoes). A
        block connected again keeps the record it has (the same coins), as Core's BLOCK_HAVE_UNDO."""
        kept = self._undo.get(block_hash)
        if kept is not None:
            return kept
        stored = self._blocks.get(block_hash)
        number = _POSITION.unpack(stored)[1] if stored is not None and _is_position(stored) else self.current
        offset = self._append(self._path("rev", number), raw)
        return _POSITION.pack(0, number, offset, len(raw))

    # --- pruning ---------------------------------------------------------------------------------

    def size(self) -> int:
        """Bytes in the blk and rev files."""
        return sum(entry.stat().st_size for entry in os.scandir(self.directory) if entry.is_file())

    def prune(self, height: int) -> int | None:
        """Delete the files (not the one being written) whose blocks are all at or below
        `height`, and every position into them; the highest height they held, None if none."""
        doomed: dict[int, int] = {}
        for key, value in self._blocks.iterator(prefix=_FILE_KEY):
            number = int.from_bytes(key[len(_FILE_KEY):], "big")
            if len(key) == len(_FILE_KEY) + 4 and number != self.current and int.from_bytes(value, "big") <= height:
                doomed[number] = int.from_bytes(value, "big")
        if not doomed:
            return None
        for view in (self._blocks, self._undo):
            with view.write_batch(transaction=True) as batch:
                for key, value in view.iterator():
                    if len(key) == 32 and _is_position(value) and _POSITION.unpack(value)[1] in doomed:
                        batch.delete(key)
                if view is self._blocks:
                    for number in doomed:
                        batch.delete(_FILE_KEY + number.to_bytes(4, "big"))
        for number in doomed:
            for kind in ("blk", "rev"):
                self._path(kind, number).unlink(missing_ok=True)
        return max(doomed.values())

    # --- the files ------------------------------------------------------------------------------

    def _append(self, path: Path, raw: bytes) -> int:
        """Append one record; the offset of its data."""
        with path.open("ab") as handle:
            offset = handle.tell() + _RECORD_HEADER.size
            handle.write(_RECORD_HEADER.pack(self._magic, len(raw)) + raw)
        return offset

    def _read(self, stored: bytes | None, kind: str) -> bytes | None:
        if stored is None or not _is_position(stored):
            return stored  # none, or a record kept in the store itself
        _, number, offset, length = _POSITION.unpack(stored)
        path = self._path(kind, number)
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except OSError as error:
            raise BlockFileMissing(f"{path.name} cannot be read: {error.strerror}") from None
        if len(data) != length:
            raise BlockFileMissing(f"{path.name} ends before the record at {offset}")
        return data


def _is_position(value: bytes) -> bool:
    """A position, not a record kept in the store: blocks are longer, undo records never start
    with 0 (the length of a coin)."""
    return len(value) == _POSITION.size and value[0] == 0
