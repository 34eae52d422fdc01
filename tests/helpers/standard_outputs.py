"""Output scripts of the standard types, for the mempool and policy tests: the hashes and the key
are filler (no script runs there), the shapes are what Core's `Solver` reads."""

from __future__ import annotations

P2A = bytes.fromhex("51024e73")
P2PKH = bytes.fromhex("76a914" + "11" * 20 + "88ac")
P2SH = bytes.fromhex("a914" + "22" * 20 + "87")
KEY = b"\x02" + b"\x33" * 32


def multisig(required: int, keys: int) -> bytes:
    """A bare `required`-of-`keys` CHECKMULTISIG over copies of KEY."""
    return bytes((0x50 + required,)) + (b"\x21" + KEY) * keys + bytes((0x50 + keys, 0xAE))
