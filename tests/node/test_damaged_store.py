"""A store damaged on disk, as a user meets it: bytes flipped in LevelDB's log after a clean stop.
LevelDB's repair loses records, the node refuses to start and says how to recover, and
`-reindex` or `-reindex-chainstate` brings it back to the same tip from the blk files."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.chain import P2WSH_TRUE
from helpers.node import FAST, settings
from pantheon.service import NodeService
from pantheon.store import DB_DIRNAME, StoreError


def run(datadir: Path, *flags: str, mine: int = 0) -> tuple[bytes, int, bytes | None]:
    """Start a node on `datadir` (mining `mine` blocks), stop it: its tip, height and UTXO set
    hash (Core's hash_serialized_3)."""
    service = NodeService(settings(datadir, *flags), tuning=FAST, script_workers=0).start()
    try:
        service.node.generate(mine, P2WSH_TRUE)
        tip, height, stats = service.node.coin_stats("hash_serialized_3")
        return tip, height, stats.digest
    finally:
        service.stop()


def damage_log(datadir: Path) -> None:
    """Flip every 97th byte of LevelDB's write-ahead log (its records fail their checksums)."""
    [log_file] = (datadir / "regtest" / DB_DIRNAME).glob("*.log")
    data = bytearray(log_file.read_bytes())
    for offset in range(100, len(data), 97):
        data[offset] ^= 0xFF
    log_file.write_bytes(bytes(data))


def test_a_damaged_store_is_named_and_reindexed_to_the_same_tip(tmp_path: Path) -> None:
    before = run(tmp_path, mine=20)
    assert before[1] == 20
    damage_log(tmp_path)  # what the run wrote since LevelDB last compacted its log
    with pytest.raises(StoreError, match="Please restart with -reindex or -reindex-chainstate to recover"):
        run(tmp_path)
    assert run(tmp_path, "-reindex") == before
    assert run(tmp_path) == before  # and it stays so without the flag


def test_reindex_chainstate_rebuilds_the_same_utxo_set(tmp_path: Path) -> None:
    before = run(tmp_path, mine=20)
    assert run(tmp_path, "-reindex-chainstate") == before
    assert run(tmp_path) == before
