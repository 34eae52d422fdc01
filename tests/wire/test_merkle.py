"""Merkle roots, run against both twins (`wire_impl`).

References: the roots real mainnet and testnet blocks carry in their headers (the spec parses the
blocks, hashlib hashes their transactions), a tree built here from the definition with hashlib,
and Core's ComputeMerkleRoot for the mutation flag (CVE-2012-2459: two equal hashes at an even
position of any level)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pantheon import _wire_py, spec


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def reference_root(leaves: list[bytes]) -> bytes:
    """The root by the definition: pair up each level, the odd one out paired with itself."""
    level = list(leaves)
    while len(level) > 1:
        level = [sha256d(level[i] + level[min(i + 1, len(level) - 1)]) for i in range(0, len(level), 2)]
    return level[0]


def leaves(count: int, tag: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(tag + i.to_bytes(4, "little")).digest() for i in range(count)]


def test_real_blocks_roots(wire_impl: Any, block_vector: tuple[dict[str, Any], bytes, Any]) -> None:
    _, _, block = block_vector
    txids = [sha256d(spec.serialize_tx(tx, include_witness=False)) for tx in block.transactions]
    assert wire_impl.module.merkle_root(txids) == (block.header.merkle_root, False)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8, 9, 127, 128, 129, 1000])
def test_roots_by_the_definition(wire_impl: Any, count: int) -> None:
    """Sizes on both sides of every pairing case and of the compiled twin's threshold for
    releasing the GIL (128 leaves)."""
    tree = leaves(count)
    assert wire_impl.module.merkle_root(tree) == (reference_root(tree), False)


def test_no_leaves_and_one_leaf(wire_impl: Any) -> None:
    assert wire_impl.module.merkle_root([]) == (bytes(32), False)
    (only,) = leaves(1)
    assert wire_impl.module.merkle_root([only]) == (only, False)


def test_a_repeated_tail_is_the_same_root_but_mutated(wire_impl: Any) -> None:
    root = wire_impl.module.merkle_root
    a, b, c, d, e, f = leaves(6)
    assert root([a, b, c, c]) == (root([a, b, c])[0], True)
    assert root([a, b, c, d, e, f, e, f]) == (root([a, b, c, d, e, f])[0], True)  # a repeated pair: level 2
    assert root([a, b, b, c]) == (reference_root([a, b, b, c]), False)  # equal, but not a pair
    assert root([b, b]) == (sha256d(b + b), True)


def test_any_bytes_like_leaf_and_any_iterable(wire_impl: Any) -> None:
    tree = leaves(5)
    expected = (reference_root(tree), False)
    assert wire_impl.module.merkle_root([bytearray(tree[0]), memoryview(tree[1]), *tree[2:]]) == expected
    assert wire_impl.module.merkle_root(tuple(tree)) == expected
    assert wire_impl.module.merkle_root(iter(tree)) == expected


@pytest.mark.parametrize("bad, error, message", [
    ([bytes(32), bytes(31)], ValueError, "merkle leaf 1 is 31 bytes, not 32"),
    ([bytes(33)], ValueError, "merkle leaf 0 is 33 bytes, not 32"),
    ([bytes(32), "0" * 32], TypeError, None),
    ([32], TypeError, None),
])
def test_bad_leaves(wire_impl: Any, bad: list[Any], error: type[Exception], message: str | None) -> None:
    with pytest.raises(error) as raised:
        wire_impl.module.merkle_root(bad)
    if message is not None:
        assert str(raised.value) == message


@pytest.mark.compiled
@given(st.lists(st.sampled_from(leaves(3, b"few")) | st.binary(min_size=32, max_size=32), max_size=70))
def test_twins_agree(tree: list[bytes]) -> None:
    """Trees drawn from three hashes as often as from random ones, so equal neighbours (and so
    the mutation flag) come up at every level."""
    from pantheon import _wire

    assert _wire.merkle_root(tree) == _wire_py.merkle_root(tree)
