"""Block-level hashing: the BIP141 witness commitment, merkle roots (the wire core's
`merkle_root`, with Core's mutation check) and the display order of hashes.

Hashes are kept in internal byte order (as on the wire); `hash_to_hex` gives the
byte-reversed hex that Core's RPC and block explorers show.
"""

from __future__ import annotations

from typing import Sequence

from pantheon.chain.script import OP_RETURN
from pantheon.wire import double_sha256, merkle_root

__all__ = ["WITNESS_COMMITMENT_PREFIX", "hash_to_hex", "hex_to_hash", "merkle_root", "witness_commitment",
           "expected_witness_commitment"]

#: OP_RETURN, push 36 (the tag and the 32-byte commitment), then BIP141's commitment tag aa21a9ed.
WITNESS_COMMITMENT_PREFIX = bytes((OP_RETURN, 36)) + bytes.fromhex("aa21a9ed")
_COMMITMENT_SCRIPT_MIN = len(WITNESS_COMMITMENT_PREFIX) + 32
_NULL_HASH = bytes(32)


def hash_to_hex(digest: bytes) -> str:
    return digest[::-1].hex()


def hex_to_hash(text: str) -> bytes:
    return bytes.fromhex(text)[::-1]


def witness_commitment(output_scripts: Sequence[bytes]) -> bytes | None:
    """The 32-byte commitment in a coinbase's outputs: BIP141 takes the last match."""
    for script in reversed(output_scripts):
        if len(script) >= _COMMITMENT_SCRIPT_MIN and script.startswith(WITNESS_COMMITMENT_PREFIX):
            return script[len(WITNESS_COMMITMENT_PREFIX) : _COMMITMENT_SCRIPT_MIN]
    return None


def expected_witness_commitment(wtxids: Sequence[bytes], reserved_value: bytes) -> bytes:
    """double-SHA256(witness merkle root || reserved value); the coinbase's wtxid counts as zero."""
    root, _ = merkle_root([_NULL_HASH, *wtxids[1:]])
    return double_sha256(root + reserved_value)
