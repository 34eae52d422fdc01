"""The LevelDB store: namespaces, atomic batches, the datadir lock, and damage recovery.

Everything runs against real LevelDB files in tmp_path; the lock test uses a real second process
and the damage tests break the files on disk as a crash or a bad disk would.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from pathlib import Path

import plyvel
import pytest

from pantheon.store import DB_DIRNAME, LEGACY_DB_DIRNAME, NAMESPACES, DatadirInUse, Store
from helpers.store import zero_table_blocks


def _fill(store: Store, count: int = 500, incompressible: bool = False) -> dict[bytes, bytes]:
    """Write `count` records to `addrman` and push them into a table file (.ldb)."""
    rng = random.Random(count)
    records = {b"e/%05d" % n: rng.randbytes(40) if incompressible else b"value-%d" % n * 3
               for n in range(count)}
    view = store.namespace("addrman")
    with view.write_batch(transaction=True) as batch:
        for key, value in records.items():
            batch.put(key, value)
    store._db.compact_range()
    return records


def _read(store: Store, name: str = "addrman") -> dict[bytes, bytes]:
    return dict(store.namespace(name).iterator())


def test_key_schema_prefixes_are_distinct_and_never_nested() -> None:
    prefixes = list(NAMESPACES.values())
    assert len(set(prefixes)) == len(prefixes)
    for a in prefixes:
        for b in prefixes:
            assert a == b or not b.startswith(a), (a, b)
    assert NAMESPACES["addrman"] == b"a/" and NAMESPACES["bans"] == b"b/"
    assert {"block_index", "blocks", "undo", "utxo", "tip"} <= set(NAMESPACES)


def test_open_creates_db_under_datadir(tmp_path: Path) -> None:
    datadir = tmp_path / "nested" / "datadir"
    with Store.open(datadir) as store:
        assert store.path == datadir / DB_DIRNAME
        assert (datadir / DB_DIRNAME / "CURRENT").is_file()
    assert store.closed
    assert [path.name for path in datadir.iterdir() if path.is_dir()] == [DB_DIRNAME]  # Core's layout


def test_a_database_in_the_old_place_is_moved_once(tmp_path: Path, caplog) -> None:
    with Store.open(tmp_path) as store:
        records = _fill(store, 50)
    (tmp_path / DB_DIRNAME).rename(tmp_path / LEGACY_DB_DIRNAME)
    with caplog.at_level(logging.WARNING, logger="pantheon.store"):
        with Store.open(tmp_path) as store:
            assert _read(store) == records
        Store.open(tmp_path).close()
    assert not (tmp_path / LEGACY_DB_DIRNAME).exists()
    [moved] = [record.getMessage() for record in caplog.records]
    assert "moved the database" in moved and str(tmp_path / DB_DIRNAME) in moved


def test_namespaces_do_not_see_each_other(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.namespace("addrman").put(b"k", b"from addrman")
        store.namespace("bans").put(b"k", b"from bans")
        assert _read(store, "addrman") == {b"k": b"from addrman"}
        assert _read(store, "bans") == {b"k": b"from bans"}
        assert _read(store, "utxo") == {}
        assert dict(store._db.iterator()) == {b"a/k": b"from addrman", b"b/k": b"from bans"}
        with pytest.raises(KeyError):
            store.namespace("nonsense")


def test_write_batch_lands_whole_or_not_at_all(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        with pytest.raises(RuntimeError, match="half way"):
            with store.write_batch() as batch:
                batch.put("addrman", b"x", b"1")
                batch.put("bans", b"y", b"2")
                raise RuntimeError("half way")
        assert _read(store, "addrman") == {} and _read(store, "bans") == {}

        with store.write_batch() as batch:
            batch.put("addrman", b"x", b"1")
            batch.put("bans", b"y", b"2")
        assert _read(store, "addrman") == {b"x": b"1"} and _read(store, "bans") == {b"y": b"2"}

        with store.write_batch() as batch:
            batch.delete("addrman", b"x")
            batch.put("bans", b"y", b"3")
        assert _read(store, "addrman") == {} and _read(store, "bans") == {b"y": b"3"}


def test_clear_empties_one_namespace_only(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        _fill(store, 50)
        store.namespace("bans").put(b"keep", b"me")
        assert store.clear("addrman") == 50
        assert _read(store, "addrman") == {}
        assert _read(store, "bans") == {b"keep": b"me"}


def test_records_survive_close_and_reopen(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        records = _fill(store)
    store.close()  # idempotent
    with Store.open(tmp_path) as store:
        assert _read(store) == records


def test_second_open_in_this_process_is_datadir_in_use(tmp_path: Path) -> None:
    with Store.open(tmp_path):
        with pytest.raises(DatadirInUse, match="is in use by this process") as caught:
            Store.open(tmp_path)
        assert caught.value.datadir == tmp_path


_SECOND_PROCESS = """
import sys
from pantheon.store import DatadirInUse, Store
try:
    Store.open(sys.argv[1])
except DatadirInUse as error:
    print(error)
    sys.exit(3)
print("opened")
"""


def _open_elsewhere(datadir: Path) -> tuple[int, str]:
    """Store.open(datadir) in a second process: its exit status and what it printed."""
    other = subprocess.run([sys.executable, "-c", _SECOND_PROCESS, str(datadir)],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode in (0, 3), other.stderr
    return other.returncode, other.stdout.strip()


def test_second_process_gets_datadir_in_use(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.namespace("addrman").put(b"k", b"v")
        assert _open_elsewhere(tmp_path) == (3, f"datadir {tmp_path} is in use by another process")
        assert _read(store) == {b"k": b"v"}  # the holder is untouched
    assert _open_elsewhere(tmp_path) == (0, "opened")


def test_a_held_db_is_never_repaired_or_moved_by_another_process(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        records = _fill(store, 100)
        (tmp_path / DB_DIRNAME / "CURRENT").unlink()  # looks damaged to the next opener
        assert _open_elsewhere(tmp_path) == (3, f"datadir {tmp_path} is in use by another process")
        assert not list(tmp_path.glob(f"{DB_DIRNAME}.corrupt-*"))
        assert _read(store) == records


def _garble_current(db: Path) -> None:
    (db / "CURRENT").write_bytes(b"garbage")


def _truncate_manifest(db: Path) -> None:
    for manifest in db.glob("MANIFEST-*"):
        with manifest.open("r+b") as handle:
            handle.truncate(10)


def _delete_manifest(db: Path) -> None:
    for manifest in db.glob("MANIFEST-*"):
        manifest.unlink()


def _delete_current(db: Path) -> None:
    (db / "CURRENT").unlink()


@pytest.mark.parametrize("damage", [_garble_current, _truncate_manifest, _delete_manifest, _delete_current])
def test_damaged_metadata_is_repaired_and_records_kept(tmp_path: Path, damage, caplog) -> None:
    with Store.open(tmp_path) as store:
        records = _fill(store)
    damage(tmp_path / DB_DIRNAME)
    with caplog.at_level(logging.WARNING, logger="pantheon.store"):
        with Store.open(tmp_path) as store:
            assert _read(store) == records
    messages = [record.getMessage() for record in caplog.records]
    assert any("is damaged" in message and "trying to repair" in message for message in messages)
    assert any("repaired" in message for message in messages[1:])
    assert not list(tmp_path.glob(f"{DB_DIRNAME}.corrupt-*"))


def test_unrepairable_db_is_moved_aside_and_replaced(tmp_path: Path, caplog) -> None:
    with Store.open(tmp_path) as store:
        _fill(store)
    db = tmp_path / DB_DIRNAME
    tables = sorted(path.name for path in db.glob("*.ldb"))
    # A directory where CURRENT should be: LevelDB can neither read nor repair it.
    (db / "CURRENT").unlink()
    (db / "CURRENT").mkdir()
    (db / "CURRENT" / "x").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="pantheon.store"):
        with Store.open(tmp_path) as store:
            assert _read(store) == {}
            store.namespace("addrman").put(b"fresh", b"1")
    [aside] = tmp_path.glob(f"{DB_DIRNAME}.corrupt-*")
    assert sorted(path.name for path in aside.glob("*.ldb")) == tables  # kept for inspection
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert "could not be repaired" in error.getMessage() and str(aside) in error.getMessage()
    with Store.open(tmp_path) as store:
        assert _read(store) == {b"fresh": b"1"}


def test_move_aside_never_overwrites_an_earlier_copy(tmp_path: Path) -> None:
    for _ in range(2):
        with Store.open(tmp_path) as store:
            _fill(store, 10)
        (tmp_path / DB_DIRNAME / "CURRENT").unlink()
        (tmp_path / DB_DIRNAME / "CURRENT").mkdir()
        Store.open(tmp_path).close()
    assert len(list(tmp_path.glob(f"{DB_DIRNAME}.corrupt-*"))) == 2


def test_recover_salvages_what_repair_can_read(tmp_path: Path, caplog) -> None:
    with Store.open(tmp_path) as store:
        records = _fill(store, 2000)
    zero_table_blocks(tmp_path / DB_DIRNAME)
    with Store.open(tmp_path) as store:  # opening reads no table block: the damage is latent
        with pytest.raises(plyvel.CorruptionError):
            _read(store)
        with caplog.at_level(logging.WARNING, logger="pantheon.store"):
            store.recover("a read failed")
        survivors = _read(store)  # checksums verified: no exception
        assert 0 < len(survivors) < len(records)
        assert all(records[key] == value for key, value in survivors.items())
    assert not list(tmp_path.glob(f"{DB_DIRNAME}.corrupt-*"))
    assert "repaired" in caplog.records[-1].getMessage()


@pytest.mark.parametrize(("start", "stop", "failure"), [
    # LevelDB's repairer dies of an uncaught std::length_error on this damage: SIGABRT.
    pytest.param(100, 4100, "the repair crashed with signal 6", id="repair-aborts"),
    # The repair completes but keeps the bad blocks; the checksum read finds them.
    pytest.param(5000, 9000, "Corruption: corrupted internal key", id="repair-keeps-bad-blocks"),
])
def test_recover_replaces_what_repair_cannot_mend(tmp_path: Path, caplog, start, stop, failure) -> None:
    with Store.open(tmp_path) as store:
        _fill(store, 2000, incompressible=True)
    zero_table_blocks(tmp_path / DB_DIRNAME, start, stop)
    with Store.open(tmp_path) as store:
        view = store.namespace("addrman")
        with pytest.raises(plyvel.CorruptionError):
            _read(store)
        with caplog.at_level(logging.WARNING, logger="pantheon.store"):
            store.recover("a read failed")  # this process lives on whatever the repair does
        assert _read(store) == {}
        view.put(b"after", b"recover")  # a view taken before recover() still works
        assert view.get(b"after") == b"recover"
    [aside] = tmp_path.glob(f"{DB_DIRNAME}.corrupt-*")
    assert list(aside.glob("*.ldb"))  # the damaged tables are kept for inspection
    messages = [record.getMessage() for record in caplog.records]
    assert "a read failed" in messages[0]
    assert "could not be repaired" in messages[-1] and failure in messages[-1] and str(aside) in messages[-1]


def test_recover_keeps_a_readable_db(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        records = _fill(store)
        store.recover("suspicion")
        assert _read(store) == records
    assert not list(tmp_path.glob(f"{DB_DIRNAME}.corrupt-*"))
