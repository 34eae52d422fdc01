"""A wallet's own storage: one LevelDB (plyvel) per wallet directory, apart from the chain's
store, holding JSON records under short prefixes. What the records mean is the wallet's
(`wallet.py`); this module only opens, reads, writes and closes, and names a wallet directory.

Layout, as Core lays out its wallets: `<network datadir>/wallets/<name>/` for a named wallet and
`wallets/` itself for the default wallet "" (Core's `wallet.dat` there is our LevelDB files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import plyvel

__all__ = ["WalletDatabase", "wallet_path", "is_wallet_directory", "DATABASE_MARKER"]

#: The file every LevelDB directory has: what marks a directory as holding a wallet's database.
DATABASE_MARKER = "CURRENT"


def wallet_path(wallets_dir: Path, name: str) -> Path:
    """Where wallet `name` lives (relative names under the wallets directory, as Core)."""
    return wallets_dir / name if name else wallets_dir


def is_wallet_directory(path: Path) -> bool:
    return (path / DATABASE_MARKER).is_file()


class WalletDatabase:
    """JSON values by (prefix, key); writes go straight to LevelDB (small, one per event)."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self._db = plyvel.DB(str(path), create_if_missing=create)

    def get(self, prefix: bytes, key: bytes = b"") -> Any:
        raw = self._db.get(prefix + key)
        return None if raw is None else json.loads(raw)

    def put(self, prefix: bytes, key: bytes, value: Any) -> None:
        self._db.put(prefix + key, json.dumps(value, sort_keys=True).encode())

    def delete(self, prefix: bytes, key: bytes) -> None:
        self._db.delete(prefix + key)

    def items(self, prefix: bytes) -> Iterator[tuple[bytes, Any]]:
        """(key without the prefix, value) of every record under `prefix`."""
        for key, raw in self._db.iterator(prefix=prefix):
            yield key[len(prefix):], json.loads(raw)

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()
