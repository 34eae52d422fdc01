"""Block-level hashing: merkle roots with Core's mutation check, the BIP141 witness
commitment, and the display order of hashes.

Hashes are kept in internal byte order (as on the wire); `hash_to_hex` gives the
byte-reversed hex that Core's RPC and block explorers show.
"""

from __future__ import annotations

from typing import Sequence

from pantheon.chain.script import OP_RETURN
from pantheon.wire import double_sha256

#: OP_RETURN, push 36 (the tag and the 32-byte commitment), then BIP141's commitment tag aa21a9ed.
WITNESS_COMMITMENT_PREFIX = bytes((OP_RETURN, 36)) + bytes.fromhex("aa21a9ed")
_COMMITMENT_SCRIPT_MIN = len(WITNESS_COMMITMENT_PREFIX) + 32
_NULL_HASH = bytes(32)


def hash_to_hex(digest: bytes) -> str:
    return digest[::-1].hex()


def hex_to_hash(text: str) -> bytes:
    return bytes.fromhex(text)[::-1]


def merkle_root(leaves: Sequence[bytes]) -> tuple[bytes, bool]:
    """The merkle root of `leaves` and whether the tree is mutated (CVE-2012-2459).

    An odd level repeats its last hash, so two equal adjacent hashes in any level let a
    different transaction list produce the same root; Core reports that as mutation so a
    block forged that way is rejected without marking the real block invalid.
    """
    if not leaves:
        return _NULL_HASH, False
    level = list(leaves)
    mutated = False
    while len(level) > 1:
        mutated |= any(level[i] == level[i + 1] for i in range(0, len(level) - 1, 2))
        if len(level) % 2:
            level.append(level[-1])
        level = [double_sha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0], mutated


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
