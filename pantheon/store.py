"""The node's embedded key-value store: one LevelDB (plyvel) per datadir, at `DATADIR/db`.

A process opens the store once and hands it to every owner (address manager, ban list, and
later the chain). LevelDB's LOCK file keeps a second process (or a second open in this one)
out; that surfaces as `DatadirInUse`, never as a raw plyvel error.

Key schema. Every key starts with its namespace's prefix (plyvel `prefixed_db`); no prefix is
a prefix of another, so namespaces cannot see each other's keys. Record layouts are documented
in the owning module.

| prefix | namespace     | owner               | keys (after the prefix)                          |
|--------|---------------|---------------------|--------------------------------------------------|
| `a/`   | `addrman`     | net/addrman.py      | `meta` (format version, bucket secret);          |
|        |               |                     | `e/` + network + address bytes + port: one entry |
| `b/`   | `bans`        | net/banlist.py      | family (4/6) + network address + prefix length   |
| `h/`   | `block_index` | chain (reserved)    | block hash -> header and index data              |
| `k/`   | `blocks`      | chain (reserved)    | block hash -> serialized block                   |
| `u/`   | `undo`        | chain (reserved)    | block hash -> undo data                          |
| `c/`   | `utxo`        | chain (reserved)    | outpoint -> coin                                 |
| `t/`   | `tip`         | chain (reserved)    | the active chain tip and flush marker            |

Writes that must land together use `Store.write_batch()` (one LevelDB batch, written only
when its block exits without an exception), or a namespace's own
`write_batch(transaction=True)`.

Damage. A database LevelDB reports as corrupt (or cannot read) on open is repaired with
`plyvel.repair_db`, which rebuilds the manifest from the table and log files it can still read.
If repair fails or the repaired database still will not open, the directory is renamed to
`db.corrupt-<UTC timestamp>` (kept for inspection, never deleted) and an empty database is
started: a damaged store must not stop the node. Each step is logged on `pantheon.store`.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Iterator, Mapping

import plyvel

log = logging.getLogger("pantheon.store")

#: namespace name -> key prefix: the key schema above, as data.
NAMESPACES: Mapping[str, bytes] = MappingProxyType({
    "addrman": b"a/",
    "bans": b"b/",
    "block_index": b"h/",
    "blocks": b"k/",
    "undo": b"u/",
    "utxo": b"c/",
    "tip": b"t/",
})

DB_DIRNAME = "db"


class StoreError(Exception):
    """The store could not be opened or used."""


class DatadirInUse(StoreError):
    """Another process (or another open in this one) holds the datadir's database lock."""

    def __init__(self, datadir: Path, holder: str = "another process") -> None:
        super().__init__(f"datadir {datadir} is in use by {holder}")
        self.datadir = datadir


def _message(error: plyvel.Error) -> str:
    """plyvel carries LevelDB's status text as bytes in args[0]."""
    text = error.args[0] if error.args else ""
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _lock_holder(error: plyvel.Error) -> str | None:
    """Who holds LevelDB's LOCK, if `error` is the lock refusal; None for any other error."""
    text = _message(error)
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


class _BatchContext:
    def __init__(self, db: plyvel.DB) -> None:
        self._cm = db.write_batch(transaction=True)

    def __enter__(self) -> Batch:
        return Batch(self._cm.__enter__())

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._cm.__exit__(kind, value, traceback)


class Store:
    """The open database of one datadir. Open with `Store.open(datadir)`; close once."""

    def __init__(self, datadir: Path, db: plyvel.DB) -> None:
        self.datadir = datadir
        self.path = datadir / DB_DIRNAME
        self._db = db

    @classmethod
    def open(cls, datadir: str | os.PathLike[str]) -> Store:
        """Open (creating if needed) `datadir/db`; repair or replace it if it is damaged."""
        datadir = Path(datadir)
        datadir.mkdir(parents=True, exist_ok=True)
        path = datadir / DB_DIRNAME
        if path.is_dir() and any(path.iterdir()) and not (path / "CURRENT").exists():
            # LevelDB would silently create an empty database over the surviving tables.
            problem = "CURRENT is missing"
        else:
            try:
                return cls(datadir, _open_db(path))
            except plyvel.Error as error:
                problem = _message(error)
        log.warning("database %s is damaged (%s); trying to repair it", path, problem)
        try:
            _repair_db(path)
            db = _open_db(path)
        except plyvel.Error as error:
            aside = _move_aside(path)
            log.error("database %s could not be repaired (%s); moved it to %s and started "
                      "an empty one", path, _message(error), aside)
            try:
                db = _open_db(path)
            except plyvel.Error as again:
                raise StoreError(f"cannot create a database at {path}: {_message(again)}") from None
            return cls(datadir, db)
        log.warning("database %s repaired; records in unreadable files are lost", path)
        return cls(datadir, db)

    @property
    def closed(self) -> bool:
        return self._db.closed

    def namespace(self, name: str) -> plyvel.DB:
        """The prefixed view of one namespace from the key schema (KeyError if undeclared)."""
        return self._db.prefixed_db(NAMESPACES[name])

    def write_batch(self) -> _BatchContext:
        """`with store.write_batch() as batch:` puts and deletes that land together or not at all."""
        return _BatchContext(self._db)

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


@contextmanager
def _in_use_if_locked(path: Path) -> Iterator[None]:
    """Turn LevelDB's refusal of the LOCK file into DatadirInUse; other errors pass through."""
    try:
        yield
    except plyvel.Error as error:
        holder = _lock_holder(error)
        if holder is not None:
            raise DatadirInUse(path.parent, holder) from None
        raise


def _open_db(path: Path) -> plyvel.DB:
    """Open with paranoid checks, as Bitcoin Core does."""
    with _in_use_if_locked(path):
        return plyvel.DB(str(path), create_if_missing=True, paranoid_checks=True)


def _repair_db(path: Path) -> None:
    """Repair in place; never touches a database another opener holds (DatadirInUse)."""
    with _in_use_if_locked(path):
        plyvel.repair_db(str(path))


def _move_aside(path: Path) -> Path:
    """Rename a damaged database to a fresh `db.corrupt-<timestamp>[-n]` beside it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    suffix = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{suffix}")
        suffix += 1
    path.rename(aside)
    return aside
