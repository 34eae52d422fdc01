"""Helpers shared by the store-backed tests: a clock moved by hand, on-disk damage, and Core's
deterministic address-manager key."""

from __future__ import annotations

from pathlib import Path

NOW = 1_700_000_000


class Clock:
    """Unix seconds that only move when a test sets `now`."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def zero_table_blocks(db: Path, start: int = 100, stop: int = 4100) -> None:
    """What a bad disk does: LevelDB table blocks that no longer match their checksums."""
    for table in db.glob("*.ldb"):
        data = bytearray(table.read_bytes())
        data[start:stop] = bytes(len(data[start:stop]))
        table.write_bytes(bytes(data))
