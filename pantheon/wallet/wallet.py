"""One descriptor wallet, as Bitcoin Core's descriptor wallets hold and watch coins: its descriptors
(with their private keys, range and next index), the scripts they expand to, the labels of its
addresses, the transactions that pay it or spend from it, and the block it has seen up to.

It answers what Core's wallet answers about coins (`wallet/receive.cpp`, `wallet/spend.cpp`'s
AvailableCoins): balances split as trusted, untrusted pending and immature (coinbase outputs wait
COINBASE_MATURITY + 1 confirmations), and the unspent outputs. It follows the chain through
`block_connected`, `block_disconnected` and `transaction_accepted` (the manager subscribes it) and
rescans the active chain's blocks when descriptors are imported.

It never signs, selects coins or sends: spending is not part of Pantheon's wallet.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import gevent

from pantheon import wire
from pantheon.chain.addresses import script_to_address
from pantheon.chain.coins import COINBASE_MATURITY
from pantheon.chain.descriptors import (
    Descriptor,
    ExpandedOutput,
    KeyExpression,
    KeyOrigin,
    add_checksum,
    parse_descriptor,
)
from pantheon.chain.keys import HARDENED, ExtendedKey
from pantheon.hashing import hash_to_hex, hex_to_hash
from pantheon.primitives import Block, OutPoint, Tx
from pantheon.wallet.database import WalletDatabase

if TYPE_CHECKING:
    from pantheon.chain.chainstate import Chainstate
    from pantheon.node import Node

__all__ = ["Wallet", "WalletError", "WalletTx", "UnspentOutput", "Balances", "Scan", "RESCANNING", "ADDRESS_TYPES", "TIMESTAMP_WINDOW"]

log = logging.getLogger("pantheon.wallet")

#: Core's address types and the BIP44-style purpose of each one's default descriptors.
ADDRESS_TYPES = {"legacy": ("pkh", 44), "p2sh-segwit": ("sh(wpkh", 49), "bech32": ("wpkh", 84), "bech32m": ("tr", 86)}
#: Core's TIMESTAMP_WINDOW: a rescan from time T starts at blocks up to two hours older.
TIMESTAMP_WINDOW = 2 * 60 * 60
#: Blocks whose median time a block's time must exceed (Core's median-time-past span).
_MTP_WINDOW = 11
#: Core's refusal while a rescan runs (its WalletRescanReserver).
RESCANNING = "Wallet is currently rescanning. Abort existing rescan or wait."
#: Indexes derived between two turns of the hub when a descriptor is added or loaded.
DERIVE_YIELD_EVERY = 100
#: Core's walletversion of a descriptor wallet (FEATURE_LATEST).
WALLET_VERSION = 169900

_META, _DESCRIPTOR, _ACTIVE, _LABEL, _TX = b"m", b"d", b"a", b"l", b"t"


class WalletError(Exception):
    """A wallet operation refused, with Core's RPC error code and text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class WalletTx:
    """A transaction the wallet keeps: where it was confirmed (None: not in a block) and when the
    wallet first saw it."""

    tx: Tx
    block_hash: bytes | None
    height: int | None
    position: int
    time_received: int

    def record(self) -> dict[str, Any]:
        return {"hex": wire.encode_tx(self.tx).hex(), "block": hash_to_hex(self.block_hash) if self.block_hash else None,
                "height": self.height, "position": self.position, "time": self.time_received}


@dataclass(frozen=True)
class UnspentOutput:
    """An unspent output of the wallet's, with what listunspent shows of it."""

    outpoint: OutPoint
    value: int
    script: bytes
    depth: int
    safe: bool
    owner: ExpandedOutput
    descriptor_text: str


@dataclass
class Scan:
    """A rescan under way (getwalletinfo's `scanning`): when it began and the heights it covers."""

    started: float
    first: int
    last: int
    height: int

    @property
    def progress(self) -> float:
        return (self.height - self.first) / max(self.last - self.first, 1)


@dataclass(frozen=True)
class Balances:
    trusted: int
    untrusted_pending: int
    immature: int


@dataclass
class WalletDescriptor:
    """Core's WalletDescriptor: the descriptor, its import time, its range [start, end) of
    derived indexes and the next index handed out."""

    descriptor: Descriptor
    timestamp: int
    range_start: int
    range_end: int
    next_index: int

    @property
    def id(self) -> str:
        """Core's descriptor id: a hash of its public string (what makes two imports the same)."""
        return hashlib.sha256(self.descriptor.text.encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        return {"desc": self.descriptor.to_string(private=True), "timestamp": self.timestamp,
                "range_start": self.range_start, "range_end": self.range_end, "next_index": self.next_index}


@lru_cache(maxsize=512)
def _normalized_key(key: KeyExpression) -> KeyExpression:
    """Core's ToNormalizedString for one key: an extended private key with hardened steps becomes
    the xpub below its last hardened step, with those steps in its origin."""
    extended = key.extended
    last_hardened = max((i for i, step in enumerate(key.path) if step & HARDENED), default=-1)
    if extended is None or extended.secret is None or last_hardened < 0:
        return key
    prefix = key.path[:last_hardened + 1]
    origin = (KeyOrigin(key.origin.fingerprint, key.origin.path + prefix) if key.origin is not None
              else KeyOrigin(extended.fingerprint, prefix))
    return KeyExpression(origin, extended=extended.derive(prefix).neuter(), path=key.path[last_hardened + 1:],
                         derive=key.derive, xonly=key.xonly, apostrophe=key.apostrophe)


def _normalized_body(descriptor: Descriptor) -> str:
    if descriptor.inner is not None:
        return f"{descriptor.function}({_normalized_body(descriptor.inner)})"
    if descriptor.key is None:
        return descriptor.text
    return f"{descriptor.function}({_normalized_key(descriptor.key).text(descriptor.network)})"


def normalized_text(descriptor: Descriptor) -> str:
    """The public form listdescriptors shows (Core's normalized string), with its checksum."""
    return add_checksum(_normalized_body(descriptor))


def _first_height_from(chain: Chainstate, timestamp: int, last: int) -> int:
    """The first height whose block time is at least `timestamp` (last + 1: none). Block times
    are not monotonic, so after a bisection the eleven blocks below (the median-time-past
    window a block's time must exceed) are checked too."""
    found = bisect.bisect_left(range(last + 1), timestamp, key=chain.time_at)
    for height in range(max(found - _MTP_WINDOW, 0), found):
        if chain.time_at(height) >= timestamp:
            return height
    return found


class Wallet:
    """An open wallet: `create` a new one or `open` one on disk; `close` when unloading."""

    def __init__(self, name: str, database: WalletDatabase, node: Node, keypool: int) -> None:
        self.name = name
        self.database = database
        self.node = node
        self.keypool = keypool
        meta = database.get(_META) or {}
        self.flags: set[str] = set(meta.get("flags", ()))
        self.birthtime: int | None = meta.get("birthtime")
        self.best_block: bytes | None = hex_to_hash(meta["best_block"]) if meta.get("best_block") else None
        self.descriptors: dict[str, WalletDescriptor] = {}
        self.active: dict[str, str] = {key.decode(): value for key, value in database.items(_ACTIVE)}
        self.labels: dict[bytes, str] = dict(database.items(_LABEL))
        #: script -> (descriptor id, index, the expanded output)
        self.scripts: dict[bytes, tuple[str, int, ExpandedOutput]] = {}
        self.txs: dict[bytes, WalletTx] = {}
        #: the rescan under way, if any
        self.scan: Scan | None = None
        for _, record in database.items(_DESCRIPTOR):
            descriptor = parse_descriptor(record["desc"], node.network)
            self._add_descriptor(WalletDescriptor(descriptor, record["timestamp"], record["range_start"],
                                                  record["range_end"], record["next_index"]), save=False)
        for key, record in database.items(_TX):
            block = hex_to_hash(record["block"]) if record["block"] else None
            self.txs[key] = WalletTx(wire.decode_tx(bytes.fromhex(record["hex"])), block, record["height"],
                                     record["position"], record["time"])

    # --- creating ------------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, path: Path, node: Node, keypool: int, *, disable_private_keys: bool = False,
               blank: bool = False, avoid_reuse: bool = False) -> Wallet:
        """A new wallet at `path`: unless blank or watch-only, a fresh BIP32 seed and Core's eight
        default descriptors (pkh, sh(wpkh), wpkh, tr; external and internal)."""
        path.mkdir(parents=True, exist_ok=True)
        wallet = cls(name, WalletDatabase(path, create=True), node, keypool)
        wallet.flags = {flag for flag, wanted in (("disable_private_keys", disable_private_keys),
                                                  ("blank_wallet", blank), ("avoid_reuse", avoid_reuse),
                                                  ("descriptor_wallet", True)) if wanted}
        now = int(node.clock())
        wallet.birthtime = now
        if not disable_private_keys and not blank:
            wallet._setup_default_descriptors(ExtendedKey.from_seed(secrets.token_bytes(32)), now)
        wallet.best_block = node.chain.tip  # taken after the derivation's turns of the hub
        wallet._save_meta()
        return wallet

    def _setup_default_descriptors(self, master: ExtendedKey, timestamp: int) -> None:
        """Core's SetupDescriptorScriptPubKeyMans: /purpose'/coin'/0'/{0,1}/* of the master key."""
        coin_type = 0 if self.node.network.name == "main" else 1
        master_text = master.encode(self.node.network, private=True)
        for address_type, (function, purpose) in ADDRESS_TYPES.items():
            for internal in (False, True):
                closing = ")" * (function.count("(") + 1)
                text = f"{function}({master_text}/{purpose}h/{coin_type}h/0h/{int(internal)}/*{closing}"
                entry = WalletDescriptor(parse_descriptor(text, self.node.network), timestamp, 0, 0, 0)
                self._add_descriptor(entry)
                self._set_active(address_type, internal, entry.id)

    # --- descriptors ---------------------------------------------------------------------

    def _add_descriptor(self, entry: WalletDescriptor, *, save: bool = True) -> None:
        """Keep `entry` (replacing one with the same id) and derive its scripts, topped up."""
        self.descriptors[entry.id] = entry
        if not entry.descriptor.is_range:
            entry.range_start, entry.range_end = 0, 1
        self._derive(entry, entry.range_start, entry.range_end, yielding=True)
        if entry.descriptor.is_range:
            self._top_up(entry, save=False, yielding=True)
        if save:
            self.database.put(_DESCRIPTOR, entry.id.encode(), entry.record())

    def _derive(self, entry: WalletDescriptor, start: int, end: int, *, yielding: bool = False) -> None:
        """Derive indexes [start, end); `yielding` (outside the node's event callbacks) gives the
        hub a turn every DERIVE_YIELD_EVERY indexes (a thousand take about a tenth of a second)."""
        for index in range(start, end):
            for output in entry.descriptor.expand(index):
                self.scripts.setdefault(output.script, (entry.id, index, output))
            if yielding and index % DERIVE_YIELD_EVERY == DERIVE_YIELD_EVERY - 1:
                gevent.sleep(0)

    def _top_up(self, entry: WalletDescriptor, *, save: bool = True, yielding: bool = False) -> None:
        """Core's TopUp: a ranged descriptor derives `keypool` indexes past its next one."""
        wanted = max(entry.range_end, entry.next_index + self.keypool)
        self._derive(entry, entry.range_end, wanted, yielding=yielding)
        entry.range_end = wanted
        if save:
            self.database.put(_DESCRIPTOR, entry.id.encode(), entry.record())

    def _set_active(self, address_type: str, internal: bool, descriptor_id: str | None) -> None:
        key = f"{address_type}/{int(internal)}"
        if descriptor_id is None:
            if self.active.pop(key, None) is not None:
                self.database.delete(_ACTIVE, key.encode())
            return
        self.active[key] = descriptor_id
        self.database.put(_ACTIVE, key.encode(), descriptor_id)

    def active_descriptor(self, address_type: str, internal: bool) -> WalletDescriptor | None:
        descriptor_id = self.active.get(f"{address_type}/{int(internal)}")
        return self.descriptors.get(descriptor_id) if descriptor_id else None

    def is_active(self, entry: WalletDescriptor) -> tuple[bool, bool]:
        """(active, internal) of a descriptor."""
        for key, descriptor_id in self.active.items():
            if descriptor_id == entry.id:
                return True, key.endswith("/1")
        return False, False

    def import_descriptor(self, descriptor: Descriptor, timestamp: int, range_start: int, range_end: int,
                          next_index: int, *, active: bool, internal: bool, label: str) -> list[str]:
        """Core's AddWalletDescriptor and (de)activation for one parsed request, checked by the
        caller; returns warnings."""
        warnings: list[str] = []
        entry = WalletDescriptor(descriptor, timestamp, range_start, range_end, next_index)
        existing = self.descriptors.get(entry.id)
        if existing is not None:
            entry.range_start = min(existing.range_start, range_start)
            entry.range_end = max(existing.range_end, range_end)
            entry.next_index = max(existing.next_index, next_index)
            entry.timestamp = min(existing.timestamp, timestamp)
        self._add_descriptor(entry)
        if not internal and not descriptor.is_range:
            for output in descriptor.expand(0):
                if script_to_address(output.script, self.node.network) is not None:
                    self.set_label(output.script, label)
        output_type = descriptor.output_type
        if active:
            if output_type is None:
                warnings.append("Unknown output type, cannot set descriptor to active.")
            else:
                self._set_active(output_type, internal, entry.id)
        elif output_type is not None and self.active.get(f"{output_type}/{int(internal)}") == entry.id:
            self._set_active(output_type, internal, None)
        if self.birthtime is None or timestamp < self.birthtime:
            self.birthtime = timestamp
        self.flags.discard("blank_wallet")
        self._save_meta()
        return warnings

    def new_destination(self, address_type: str, internal: bool, label: str | None) -> str:
        """Core's GetNewDestination: the active descriptor's next index, handed out."""
        entry = self.active_descriptor(address_type, internal)
        if entry is None:
            raise WalletError(-12, f"Error: No {address_type} addresses available.")
        index = entry.next_index
        entry.next_index += 1
        self._top_up(entry)
        script = entry.descriptor.expand(index)[0].script
        address = script_to_address(script, self.node.network)
        assert address is not None, "active descriptors have addresses"
        if label is not None:
            self.set_label(script, label)
        return address

    def set_label(self, script: bytes, label: str) -> None:
        self.labels[script] = label
        self.database.put(_LABEL, script, label)

    @property
    def has_private_keys(self) -> bool:
        return "disable_private_keys" not in self.flags

    def keypool_size(self, internal: bool) -> int:
        """Keys derived ahead and not handed out, over the active descriptors of one side."""
        return sum(entry.range_end - entry.next_index for key, descriptor_id in self.active.items()
                   if key.endswith(f"/{int(internal)}") and (entry := self.descriptors.get(descriptor_id)))

    # --- following the chain ---------------------------------------------------------------

    def _is_relevant(self, tx: Tx) -> bool:
        """Core's AddToWalletIfInvolvingMe: it pays one of our scripts or spends one of our coins."""
        if any(output.script_pubkey in self.scripts for output in tx.outputs):
            return True
        return any(self._credit_of(txin.prev_txid, txin.prev_index) is not None for txin in tx.inputs)

    def _credit_of(self, txid: bytes, index: int) -> int | None:
        parent = self.txs.get(txid)
        if parent is None or index >= len(parent.tx.outputs):
            return None
        output = parent.tx.outputs[index]
        return output.value if output.script_pubkey in self.scripts else None

    def _mark_used(self, tx: Tx) -> None:
        """Core's MarkUnusedAddresses: an output at a ranged index moves that descriptor's next
        index past it and tops its range up."""
        for output in tx.outputs:
            owner = self.scripts.get(output.script_pubkey)
            if owner is None:
                continue
            entry = self.descriptors[owner[0]]
            if entry.descriptor.is_range and owner[1] >= entry.next_index:
                entry.next_index = owner[1] + 1
                self._top_up(entry)

    def add_transaction(self, tx: Tx, block_hash: bytes | None, height: int | None, position: int) -> bool:
        """Keep `tx` if it involves the wallet (updating where it is confirmed); True if kept."""
        known = self.txs.get(tx.txid)
        if known is None and not self._is_relevant(tx):
            return False
        if known is None:
            known = self.txs[tx.txid] = WalletTx(tx, block_hash, height, position, int(self.node.clock()))
        elif block_hash is not None or known.block_hash is None:
            known.block_hash, known.height, known.position = block_hash, height, position
        self._mark_used(tx)
        self.database.put(_TX, tx.txid, known.record())
        return True

    def block_connected(self, block: Block, height: int) -> None:
        for position, tx in enumerate(block.transactions):
            self.add_transaction(tx, block.hash, height, position)
        self.best_block = block.hash
        self._save_meta()

    def block_disconnected(self, block: Block, height: int) -> None:
        """Transactions of a block leaving the chain are unconfirmed again (a coinbase among them
        can no longer confirm: it counts nowhere)."""
        for tx in block.transactions:
            known = self.txs.get(tx.txid)
            if known is not None and known.block_hash == block.hash:
                known.block_hash, known.height = None, None
                self.database.put(_TX, tx.txid, known.record())
        self.best_block = block.header.prev_block
        self._save_meta()

    def transaction_accepted(self, tx: Tx) -> None:
        self.add_transaction(tx, None, None, 0)

    def rescan(self, start_time: int) -> None:
        """Core's RescanFromTime: the active chain's blocks from the first whose time is within
        TIMESTAMP_WINDOW of `start_time`, then the mempool. The hub gets a turn between blocks;
        blocks connected meanwhile reach the wallet through its events."""
        if self.scan is not None:
            raise WalletError(-4, RESCANNING)
        chain = self.node.chain
        last = chain.height
        start = _first_height_from(chain, start_time - TIMESTAMP_WINDOW, last)
        if start <= last:
            log.info("Rescanning wallet %r from height %d to %d", self.name, start, last)
        self.scan = Scan(time.monotonic(), start, last, start)
        try:
            for height in range(start, last + 1):
                block_hash = chain.headers.at_height(height)
                if block_hash is None:  # the chain got shorter meanwhile
                    break
                block = chain.read_block(block_hash)
                for position, tx in enumerate(block.transactions):
                    self.add_transaction(tx, block_hash, height, position)
                self.scan.height = height
                gevent.sleep(0)
            for entry in list(self.node.mempool):
                self.add_transaction(entry.tx, None, None, 0)
        finally:
            self.scan = None
        self.best_block = chain.tip
        self._save_meta()

    def _save_meta(self) -> None:
        self.database.put(_META, b"", {"flags": sorted(self.flags), "birthtime": self.birthtime,
                                       "best_block": hash_to_hex(self.best_block) if self.best_block else None})

    def close(self) -> None:
        self.database.close()

    # --- coins and balances ------------------------------------------------------------------

    def depth(self, wtx: WalletTx) -> int:
        """Confirmations in the active chain (0: unconfirmed, or its block left the chain)."""
        chain = self.node.chain
        if wtx.block_hash is None or not chain.headers.is_active(wtx.block_hash):
            return 0
        return chain.height - chain.headers.height_of(wtx.block_hash) + 1

    def _in_mempool(self, wtx: WalletTx) -> bool:
        return wtx.tx.txid in self.node.mempool

    def _is_coinbase(self, wtx: WalletTx) -> bool:
        return len(wtx.tx.inputs) == 1 and wtx.tx.inputs[0].prev_txid == bytes(32)

    def immature(self, wtx: WalletTx) -> bool:
        """Core's IsTxImmatureCoinBase: a coinbase short of COINBASE_MATURITY + 1 confirmations."""
        return self._is_coinbase(wtx) and COINBASE_MATURITY + 1 - self.depth(wtx) > 0

    def is_trusted(self, wtx: WalletTx, seen: frozenset[bytes] = frozenset()) -> bool:
        """Core's CachedTxIsTrusted: confirmed, or in the mempool and spending only our own
        trusted outputs."""
        depth = self.depth(wtx)
        if depth >= 1:
            return True
        if not self._in_mempool(wtx) or self._is_coinbase(wtx):
            return False
        for txin in wtx.tx.inputs:
            parent = self.txs.get(txin.prev_txid)
            if parent is None or parent.tx.txid in seen or self._credit_of(txin.prev_txid, txin.prev_index) is None:
                return False
            if not self.is_trusted(parent, seen | {wtx.tx.txid}):
                return False
        return True

    def _spent(self) -> set[tuple[bytes, int]]:
        """Outputs some wallet transaction spends (confirmed, or unconfirmed and not a coinbase
        that left the chain)."""
        return {(txin.prev_txid, txin.prev_index) for wtx in self.txs.values() if not self._is_coinbase(wtx)
                for txin in wtx.tx.inputs}

    def _unspent_outputs(self) -> Iterable[tuple[WalletTx, int]]:
        spent = self._spent()
        for wtx in self.txs.values():
            for index, output in enumerate(wtx.tx.outputs):
                if output.script_pubkey in self.scripts and (wtx.tx.txid, index) not in spent:
                    yield wtx, index

    def balances(self, min_depth: int = 0) -> Balances:
        """Core's GetBalance."""
        trusted = pending = immature = 0
        for wtx, index in self._unspent_outputs():
            value = wtx.tx.outputs[index].value
            depth = self.depth(wtx)
            if self._is_coinbase(wtx):
                if depth >= 1 and self.immature(wtx):
                    immature += value
                elif depth >= max(min_depth, 1):
                    trusted += value
                continue
            if self.is_trusted(wtx):
                if depth >= min_depth:
                    trusted += value
            elif depth == 0 and self._in_mempool(wtx):
                pending += value
        return Balances(trusted, pending, immature)

    def unspent(self) -> list[UnspentOutput]:
        """Core's AvailableCoins (no filters): mature, confirmed or pooled unspent outputs."""
        found = []
        for wtx, index in self._unspent_outputs():
            depth = self.depth(wtx)
            if self.immature(wtx) or (depth == 0 and not self._in_mempool(wtx)):
                continue
            output = wtx.tx.outputs[index]
            descriptor_id, _, owner = self.scripts[output.script_pubkey]
            found.append(UnspentOutput(OutPoint(wtx.tx.txid, index), output.value, output.script_pubkey, depth,
                              self.is_trusted(wtx), owner, normalized_text(self.descriptors[descriptor_id].descriptor)))
        return found

    @property
    def tx_count(self) -> int:
        return len(self.txs)
