"""What a bad disk does to a LevelDB store, for the tests that prove the store notices."""

from __future__ import annotations

from pathlib import Path


def zero_table_blocks(db: Path, start: int = 100, stop: int = 4100) -> None:
    """What a bad disk does: LevelDB table blocks that no longer match their checksums."""
    for table in db.glob("*.ldb"):
        data = bytearray(table.read_bytes())
        data[start:stop] = bytes(len(data[start:stop]))
        table.write_bytes(bytes(data))
