"""Pure-Python twin of the compiled merkle root (`_merkle.pxi`): Bitcoin's merkle tree over
32-byte hashes (txids, or wtxids for BIP141's witness root), with Core's mutation flag.

A level of odd length repeats its last hash, so a list whose tail repeats gives the same root as
the list without it (CVE-2012-2459): Core's ComputeMerkleRoot reports two equal hashes at an even
position of any level as mutation, so a block forged that way is refused without the real block
being marked invalid. A block's validation computes two such trees per block, so the compiled twin
hashes each level in place in C.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from pantheon._header_py import double_sha256

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["merkle_root"]

HASH_SIZE = 32  # a merkle leaf and node: a SHA256 digest
_EMPTY_ROOT = bytes(HASH_SIZE)


def _leaf(index: int, leaf: Buffer) -> bytes:
    if type(leaf) is not bytes:
        with memoryview(leaf) as view:
            leaf = view.tobytes()
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"merkle leaf {index} is {len(leaf)} bytes, not {HASH_SIZE}")
    return leaf


def merkle_root(leaves: Iterable[Buffer]) -> tuple[bytes, bool]:
    """The merkle root of `leaves` (32-byte hashes, in order) and whether the tree is mutated;
    32 zero bytes (not mutated) for no leaves, as Core's ComputeMerkleRoot."""
    level = [_leaf(index, leaf) for index, leaf in enumerate(leaves)]
    if not level:
        return _EMPTY_ROOT, False
    mutated = False
    while len(level) > 1:
        mutated = mutated or any(level[i] == level[i + 1] for i in range(0, len(level) - 1, 2))
        if len(level) % 2:
            level.append(level[-1])
        level = [double_sha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0], mutated
