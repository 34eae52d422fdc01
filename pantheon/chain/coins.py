"""What the UTXO set holds and how its readers see it: the types shared by the UTXO set, the
mempool, the miner and (later) script verification, so none of them imports another to agree on a
coin's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pantheon.primitives import OutPoint

__all__ = ["COINBASE_MATURITY", "Coin", "CoinView"]

#: Blocks a coinbase output waits before it can be spent (Core's COINBASE_MATURITY).
COINBASE_MATURITY = 100


@dataclass(frozen=True, slots=True)
class Coin:
    """One unspent output and where it was created: the height and whether it came from a
    coinbase are what maturity and BIP68 relative locks need."""

    value: int
    script_pubkey: bytes
    height: int
    coinbase: bool


class CoinView(Protocol):
    """Read access to unspent outputs, as of some chain tip (plus, for the mempool, its own)."""

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent output at `outpoint`, or None if it does not exist or is spent."""
        ...
