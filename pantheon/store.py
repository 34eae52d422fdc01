"""The node's embedded key-value store: one LevelDB (plyvel) per datadir, at `DATADIR/chainstate`.

Core's layout: the network's datadir holds the directories `blocks`, `chainstate` and `indexes`
and otherwise only files (Core's functional tests copy a cached datadir keeping just those three
directories). A datadir from before, with the database at `DATADIR/db`, is moved on open.

A process opens the store once and hands it to every owner (address manager, ban list, and
later the chain). LevelDB's LOCK file keeps a second process (or a second open in this one)
out; that surfaces as `DatadirInUse`, never as a raw plyvel error.

Key schema. Every key starts with its namespace's prefix (plyvel `prefixed_db`); no prefix is
a prefix of another, so namespaces cannot see each other's keys. Record layouts are documented
in the owning module.

| prefix | namespace     | owner                | keys (after the prefix)                          |
|--------|---------------|----------------------|--------------------------------------------------|
| `a/`   | `addrman`     | net/addrman.py       | `meta` (format version, bucket secret);          |
|        |               |                      | `e/` + network + address bytes + port: one entry |
| `b/`   | `bans`        | net/banlist.py       | older versions' bans, moved into banlist.json    |
| `h/`   | `block_index` | chain/headers.py     | `meta`; block hash -> sequence, status, header   |
| `k/`   | `blocks`      | chain/blockfiles.py  | block hash -> its position in a blk file (or,    |
|        |               | chain/chainstate.py  | written before the files, the block itself);     |
|        |               |                      | `f` + u32 BE file -> u32 BE its highest height;  |
|        |               |                      | `pruned` -> u32 BE: the highest height pruned    |
| `u/`   | `undo`        | chain/blockfiles.py  | block hash -> its undo record's position in a    |
|        |               |                      | rev file (or the record): the coins it spent     |
| `n/`   | `chaintx`     | chain/chainstate.py  | block hash -> u64 BE: transactions in the chain  |
|        |               |                      | up to it (Core's m_chain_tx_count)               |
| `c/`   | `utxo`        | chain/utxo.py        | txid + u32 BE index -> coin (height, value, ...) |
| `t/`   | `tip`         | chain/utxo.py        | `tip` -> block hash + u32 BE height: the block   |
|        |               |                      | `c/` is consistent with (moves with its flush)   |
| `f/`   | `blockfilter` | chain/filterindex.py | `tip` -> block hash + u32 BE height; `b` + block |
|        |               |                      | hash -> filter header, filter hash, the filter   |
| `x/`   | `txindex`     | chain/txindex.py     | `tip` (as `f/`); txid's first 8 bytes + the tx's |
|        |               |                      | position (u32 BE block height, offset, length in |
|        |               |                      | the block) -> empty                              |
| `o/`   | `txospender-  | chain/               | `tip` (as `f/`); spent txid's first 8 bytes + u32|
|        |  index`       | txospenderindex.py   | BE output index + the spender's position (as     |
|        |               |                      | `x/`) -> empty                                   |

Writes that must land together use `Store.write_batch()` (one LevelDB batch, written only
when its block exits without an exception), or a namespace's own
`write_batch(transaction=True)`. A block's connect or disconnect is one such batch: its `c/`
changes, its `u/` record and the `t/` tip (and, for each optional index that is synced, its
records and tip: `f/` with -blockfilterindex, `x/` with -txindex, `o/` with -txospenderindex).

Damage. A database LevelDB reports as corrupt (or cannot read) on open is repaired with
`plyvel.repair_db`, which rebuilds the manifest from the table and log files it can still read,
then read through once with checksums on; both run in a child process, because LevelDB's
repairer can abort the process it runs in. If repair fails, or the repaired database still will
not open or read, the directory is renamed to `chainstate.corrupt-<UTC timestamp>` (kept for
inspection, never deleted) and an empty database is started: a damaged store must not stop the
node. An owner that meets corruption while reading after open calls `Store.recover()`, which
does the same. Each step is logged on `pantheon.store`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Iterator, Mapping

import plyvel

log = logging.getLogger("pantheon.store")

#: namespace name -> key prefix: the key schema above, as data.
NAMESPACES: Mapping[str, bytes] = MappingProxyType({
    "addrman": b"a/",
    "bans": b"b/",
    "block_index": b"h/",
    "blocks": b"k/",
    "undo": b"u/",
    "chaintx": b"n/",
    "utxo": b"c/",
    "tip": b"t/",
    "blockfilter": b"f/",
    "txindex": b"x/",
    "txospenderindex": b"o/",
})

DB_DIRNAME = "chainstate"
#: Where the database was before it moved to Core's `chainstate` directory.
LEGACY_DB_DIRNAME = "db"


class StoreError(Exception):
    """The store could not be opened or used."""


class DatadirInUse(StoreError):
    """Another process (or another open in this one) holds the datadir's database lock."""

    def __init__(self, datadir: Path, holder: str = "another process") -> None:
        super().__init__(f"datadir {datadir} is in use by {holder}")
        self.datadir = datadir


def describe_error(error: plyvel.Error) -> str:
    """LevelDB's status text of a plyvel error (plyvel carries it as bytes in args[0])."""
    text = error.args[0] if error.args else ""
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _lock_holder(error: plyvel.Error) -> str | None:
    """Who holds LevelDB's LOCK, if `error` is the lock refusal; None for any other error."""
    text = describe_error(error)
    if not isinstance(error, plyvel.IOError) or "/LOCK:" not in text:
        return None
    return "this process" if "already held by process" in text else "another process"


class Batch:
    """An atomic write across namespaces; see `Store.write_batch`."""

    def __init__(self, batch: plyvel.WriteBatch) -> None:
        self._batch = batch

    def put(self, namespace: str, key: bytes, value: bytes) -> None:
        self._batch.put(NAMESPACES[namespace] + key, value)

    def delete(self, namespace: str, key: bytes) -> None:
        self._batch.delete(NAMESPACES[namespace] + key)


class Namespace:
    """One namespace of the store, with plyvel's prefixed-database calls. It resolves the
    database on every call, so it stays valid when `Store.recover()` reopens it."""

    __slots__ = ("_store", "prefix")

    def __init__(self, store: Store, prefix: bytes) -> None:
        self._store = store
        self.prefix = prefix

    def _view(self) -> plyvel.DB:
        return self._store._db.prefixed_db(self.prefix)

    # The three single-key calls prefix the key themselves: a prefixed view per call costs more
    # than the lookup (the UTXO set asks for every new output's key, BIP30).
    def get(self, key: bytes, default: bytes | None = None, **options: bool) -> bytes | None:
        return self._store._db.get(self.prefix + key, default, **options)

    def put(self, key: bytes, value: bytes) -> None:
        self._store._db.put(self.prefix + key, value)

    def delete(self, key: bytes) -> None:
        self._store._db.delete(self.prefix + key)

    def iterator(self, **options: Any) -> plyvel.Iterator:
        return self._view().iterator(**options)

    def snapshot(self) -> plyvel.Snapshot:
        """The namespace as it is now, readable (`get`, `iterator`) while writes go on; `close()` it."""
        return self._view().snapshot()

    def write_batch(self, **options: Any) -> plyvel.WriteBatch:
        return self._view().write_batch(**options)


class Store:
    """The open database of one datadir. Open with `Store.open(datadir)`; close once."""

    def __init__(self, datadir: Path, db: plyvel.DB) -> None:
        self.datadir = datadir
        self.path = datadir / DB_DIRNAME
        self._db = db

    @classmethod
    def open(cls, datadir: str | os.PathLike[str]) -> Store:
        """Open (creating if needed) `datadir/chainstate`; repair or replace it if it is damaged."""
        datadir = Path(datadir)
        datadir.mkdir(parents=True, exist_ok=True)
        path = datadir / DB_DIRNAME
        legacy = datadir / LEGACY_DB_DIRNAME
        if legacy.is_dir() and not path.exists():
            legacy.rename(path)
            log.warning("moved the database from %s to %s (Core's layout)", legacy, path)
        if path.is_dir() and any(path.iterdir()) and not (path / "CURRENT").exists():
            # LevelDB would silently create an empty database over the surviving tables.
            return cls(datadir, _recover(path, "CURRENT is missing"))
        try:
            return cls(datadir, _open_db(path))
        except plyvel.Error as error:
            return cls(datadir, _recover(path, describe_error(error)))

    def recover(self, problem: str) -> None:
        """Deal with damage found after opening (a read raised plyvel.CorruptionError): close,
        repair, and move the database aside for an empty one if any record is still unreadable.
        Meant for start-up, before anyone holds an iterator; `Namespace` views stay valid."""
        self.close()
        self._db = _recover(self.path, problem)

    @property
    def closed(self) -> bool:
        return self._db.closed

    def namespace(self, name: str) -> Namespace:
        """One namespace from the key schema (KeyError if undeclared)."""
        return Namespace(self, NAMESPACES[name])

    @contextmanager
    def write_batch(self) -> Iterator[Batch]:
        """`with store.write_batch() as batch:` puts and deletes that land together or not at all."""
        with self._db.write_batch(transaction=True) as batch:
            yield Batch(batch)

    def clear(self, name: str) -> int:
        """Delete every key of namespace `name` in one atomic batch; return how many."""
        view = self.namespace(name)
        count = 0
        with view.write_batch(transaction=True) as batch:
            for key in view.iterator(include_value=False):
                batch.delete(key)
                count += 1
        return count

    def close(self) -> None:
        """Close the database (idempotent); the datadir's lock is released."""
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _open_db(path: Path) -> plyvel.DB:
    """Open with paranoid checks and a 10-bit bloom filter per table, as Bitcoin Core does (the
    filter answers most lookups of absent keys, e.g. BIP30's of every new output, without reading
    a table block); a refused LOCK is DatadirInUse."""
    try:
        return plyvel.DB(str(path), create_if_missing=True, paranoid_checks=True, bloom_filter_bits=10)
    except plyvel.Error as error:
        holder = _lock_holder(error)
        if holder is not None:
            raise DatadirInUse(path.parent, holder) from None
        raise


# Run in a child process: repair, then read every record with checksums on (repair_db rebuilds
# lost metadata but keeps blocks whose checksums fail). LevelDB's repairer can abort its whole
# process on some damaged tables (seen here: an uncaught std::length_error); the node survives
# that only if it happens elsewhere.
_REPAIR_CHILD = """
import sys, plyvel
try:
    plyvel.repair_db(sys.argv[1])
    db = plyvel.DB(sys.argv[1], paranoid_checks=True)
    for _ in db.iterator(include_value=False, verify_checksums=True, fill_cache=False):
        pass
    db.close()
except plyvel.Error as error:
    text = error.args[0] if error.args else ""
    sys.stderr.write(text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text))
    sys.exit(1)
"""


def _repair(path: Path) -> str | None:
    """Repair `path` in a child process; None if it is now whole, else why not."""
    child = subprocess.run([sys.executable, "-c", _REPAIR_CHILD, str(path)],
                           capture_output=True, text=True, check=False)
    if child.returncode == 0:
        return None
    if "/LOCK:" in child.stderr:
        raise DatadirInUse(path.parent)
    lines = child.stderr.strip().splitlines()
    if child.returncode < 0:
        return f"the repair crashed with signal {-child.returncode}: {' '.join(lines)}"
    return lines[-1] if lines else f"the repair exited with status {child.returncode}"


def _recover(path: Path, problem: str) -> plyvel.DB:
    """Repair a damaged database, or move it aside and return a new empty one."""
    log.warning("database %s is damaged (%s); trying to repair it", path, problem)
    failure = _repair(path)
    if failure is None:
        try:
            db = _open_db(path)
        except plyvel.Error as error:
            failure = describe_error(error)
        else:
            log.warning("database %s repaired; records in unreadable files are lost", path)
            return db
    return _replace(path, failure)


def _replace(path: Path, problem: str) -> plyvel.DB:
    aside = _move_aside(path)
    log.error("database %s could not be repaired (%s); moved it to %s and started an empty one",
              path, problem, aside)
    try:
        return _open_db(path)
    except plyvel.Error as error:
        raise StoreError(f"cannot create a database at {path}: {describe_error(error)}") from None


def _move_aside(path: Path) -> Path:
    """Rename a damaged database to a fresh `chainstate.corrupt-<timestamp>[-n]` beside it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    suffix = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{suffix}")
        suffix += 1
    path.rename(aside)
    return aside
