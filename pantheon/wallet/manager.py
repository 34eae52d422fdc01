"""The node's wallets, as Core's WalletContext keeps them: the wallets directory of the network's
datadir, the wallets loaded (by name), creating, loading and unloading them, the list loaded at
start (`-wallet=NAME`, and Core's `settings.json` "wallet" list that `load_on_startup` edits), and
the node events every loaded wallet follows.

It owns no RPC: `rpc/wallet.py` answers for it. A node started with `-disablewallet` has none.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import plyvel

from pantheon.primitives import Block, Tx
from pantheon.node import WALLETS_DIRNAME
from pantheon.wallet.database import DATABASE_MARKER, WalletDatabase, is_wallet_directory, wallet_path
from pantheon.wallet.wallet import Wallet, WalletError

if TYPE_CHECKING:
    from pantheon.node import Node

__all__ = ["WalletManager", "SETTINGS_FILENAME"]

log = logging.getLogger("pantheon.wallet")

#: Core's read-write settings file in the network's datadir, and its key listing wallets to load.
SETTINGS_FILENAME = "settings.json"
_SETTINGS_WALLETS = "wallet"
# Core's codes for wallet load and create failures (rpc/protocol.h).
_WALLET_ERROR, _WALLET_NOT_FOUND, _WALLET_ALREADY_LOADED = -4, -18, -35


class WalletManager:
    """`start(names)` loads the wallets to load at start; `stop()` closes them all."""

    def __init__(self, node: Node, *, keypool: int) -> None:
        self.node = node
        self.keypool = keypool
        self.wallets_dir = node.datadir / WALLETS_DIRNAME
        self.settings_path = node.datadir / SETTINGS_FILENAME
        self.wallets: dict[str, Wallet] = {}
        self._unsubscribe: list[Callable[[], None]] = []

    def start(self, names: Iterable[str] = ()) -> None:
        """Follow the node's events, then load `names` (-wallet: one that cannot be loaded stops
        the start, WalletError) and the settings' list (one that no longer exists is skipped
        with a warning, as Core does)."""
        events = self.node.events
        self._unsubscribe = [events.block_connected.subscribe(self._block_connected),
                             events.block_disconnected.subscribe(self._block_disconnected),
                             events.transaction_accepted.subscribe(self._transaction_accepted)]
        requested = list(dict.fromkeys(names))
        for name in requested:
            self.load(name)
        for name in self._startup_list():
            if name in self.wallets:
                continue
            if not is_wallet_directory(wallet_path(self.wallets_dir, name)):
                log.warning("Skipping -wallet path that doesn't exist. Failed to load database path '%s'. "
                            "Path does not exist.", wallet_path(self.wallets_dir, name))
                continue
            self.load(name)

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for wallet in self.wallets.values():
            wallet.close()
        self.wallets.clear()

    # --- what Core's wallet RPCs ask of the context -------------------------------------------

    def create(self, name: str, *, disable_private_keys: bool, blank: bool, avoid_reuse: bool,
               load_on_startup: bool | None) -> Wallet:
        path = wallet_path(self.wallets_dir, name)
        if is_wallet_directory(path):
            raise WalletError(_WALLET_ERROR, f"Wallet file verification failed. Failed to create database path "
                                             f"'{path}'. Database already exists.")
        wallet = Wallet.create(name, path, self.node, self.keypool, disable_private_keys=disable_private_keys,
                               blank=blank, avoid_reuse=avoid_reuse)
        self.wallets[name] = wallet
        self._update_startup_list(name, load_on_startup)
        log.info("Wallet %r created at %s", name, path)
        return wallet

    def load(self, name: str, load_on_startup: bool | None = None) -> Wallet:
        if name in self.wallets:
            raise WalletError(_WALLET_ALREADY_LOADED, f'Wallet "{name}" is already loaded.')
        path = wallet_path(self.wallets_dir, name)
        if not is_wallet_directory(path):
            raise WalletError(_WALLET_NOT_FOUND, f"Wallet file verification failed. Failed to load database path "
                                                 f"'{path}'. Path does not exist.")
        try:
            database = WalletDatabase(path, create=False)
        except plyvel.Error as error:  # held by another process, or damaged
            raise WalletError(_WALLET_ERROR, f"Wallet file verification failed. Cannot open the wallet database "
                                             f"'{path}': {error}") from None
        wallet = Wallet(name, database, self.node, self.keypool)
        self.wallets[name] = wallet  # following events from here, so no block slips past the catch-up
        self._catch_up(wallet)
        self._update_startup_list(name, load_on_startup)
        log.info("Wallet %r loaded: %d transactions, best block %s", name, wallet.tx_count,
                 wallet.best_block.hex() if wallet.best_block else None)
        return wallet

    def unload(self, name: str, load_on_startup: bool | None = None) -> None:
        wallet = self.wallets.pop(name)
        wallet.close()
        self._update_startup_list(name, load_on_startup)

    def wallet_dir_names(self) -> list[str]:
        """Core's ListDatabases: every wallet under the wallets directory, by name."""
        if not self.wallets_dir.is_dir():
            return []
        names = []
        for directory, _, files in os.walk(self.wallets_dir):
            if DATABASE_MARKER in files:
                relative = Path(directory).relative_to(self.wallets_dir)
                names.append("" if relative == Path(".") else relative.as_posix())
        return sorted(names)

    # --- following the chain -------------------------------------------------------------------

    def _catch_up(self, wallet: Wallet) -> None:
        """A wallet loaded behind the tip (or on a chain that reorganised) rescans from the last
        block it saw that is still active, as Core's AttachChain does."""
        chain = self.node.chain
        if wallet.best_block == chain.tip:
            return
        best = wallet.best_block
        if best is not None and best in chain.headers:
            fork = chain.headers.last_common_ancestor(best, chain.tip)
            start_time = chain.time_at(chain.headers.height_of(fork) + 1) if fork != chain.tip else None
        else:
            start_time = 0
        if start_time is not None:
            wallet.rescan(start_time)

    def _block_connected(self, block: Block, height: int) -> None:
        for wallet in self.wallets.values():
            wallet.block_connected(block, height)

    def _block_disconnected(self, block: Block, height: int) -> None:
        for wallet in self.wallets.values():
            wallet.block_disconnected(block, height)

    def _transaction_accepted(self, tx: Tx) -> None:
        for wallet in self.wallets.values():
            wallet.transaction_accepted(tx)

    # --- settings.json -------------------------------------------------------------------------

    def _settings(self) -> dict[str, object]:
        try:
            settings = json.loads(self.settings_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            log.error("Cannot read %s: %s", self.settings_path, error)
            return {}
        return settings if isinstance(settings, dict) else {}

    def _startup_list(self) -> list[str]:
        names = self._settings().get(_SETTINGS_WALLETS, [])
        if isinstance(names, str):
            names = [names]
        return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []

    def _update_startup_list(self, name: str, load_on_startup: bool | None) -> None:
        """Core's UpdateWalletSetting: add or remove `name` (None: leave the list as it is)."""
        if load_on_startup is None:
            return
        settings = self._settings()
        names = [other for other in self._startup_list() if other != name]
        if load_on_startup:
            names.append(name)
        settings[_SETTINGS_WALLETS] = names
        temporary = self.settings_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(settings, indent=4) + "\n")
        temporary.replace(self.settings_path)
