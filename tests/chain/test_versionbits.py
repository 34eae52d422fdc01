"""BIP9 version bits on headers mined here: regtest's testdummy through every state, with the
period's boundaries where Core puts them, and the block version a miner signals."""

from __future__ import annotations

import dataclasses

from helpers.chain import header_on
from pantheon.chain.headers import HeaderTree
from pantheon.chain.versionbits import (
    ACTIVE,
    DEFINED,
    FAILED,
    LOCKED_IN,
    STARTED,
    VERSIONBITS_TOP_BITS,
    VersionBits,
    signals,
)
from pantheon.params import NEVER_ACTIVE, REGTEST, Deployment

NOW = 1_800_000_000.0
TESTDUMMY = next(d for d in REGTEST.deployments if d.name == "testdummy")
SIGNAL = VERSIONBITS_TOP_BITS | 1 << TESTDUMMY.bit


def grow(tree: HeaderTree, count: int, version: int) -> None:
    for _ in range(count):
        tip = tree.header(tree.tip)
        tree.add_header(header_on(tree.tip, tip.timestamp + 600, version=version))


def test_testdummy_starts_locks_in_and_activates_by_periods() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    bits = VersionBits(tree, REGTEST.deployments)
    grow(tree, 142, VERSIONBITS_TOP_BITS)
    assert bits.state(TESTDUMMY, tree.tip) == DEFINED  # block 143: the first period
    assert bits.block_version(tree.tip) == VERSIONBITS_TOP_BITS
    grow(tree, 1, VERSIONBITS_TOP_BITS)
    assert bits.state(TESTDUMMY, tree.tip) == STARTED  # block 144 on
    assert bits.block_version(tree.tip) == SIGNAL == 0x3000_0000
    grow(tree, 107, SIGNAL)
    grow(tree, 37, VERSIONBITS_TOP_BITS)  # 107 of 144: one short
    assert tree.height == 287 and bits.state(TESTDUMMY, tree.tip) == STARTED
    grow(tree, 108, SIGNAL)
    grow(tree, 36, 4)  # not BIP9 versions: not counted, whatever their bits
    assert bits.state(TESTDUMMY, tree.tip) == LOCKED_IN
    assert bits.block_version(tree.tip) == SIGNAL  # still signalling while locked in
    grow(tree, 144, VERSIONBITS_TOP_BITS)
    assert bits.state(TESTDUMMY, tree.tip) == ACTIVE and bits.block_version(tree.tip) == VERSIONBITS_TOP_BITS
    assert [bits.state(d, tree.tip) for d in REGTEST.deployments] == [ACTIVE, ACTIVE]  # taproot: always
    assert bits.state(TESTDUMMY, tree.ancestor(tree.tip, 200)) == STARTED  # the cache is per period


def test_never_active_timeout_and_min_activation_height() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    genesis_time = tree.header(tree.tip).timestamp
    never = dataclasses.replace(TESTDUMMY, name="never", start_time=NEVER_ACTIVE)
    late = dataclasses.replace(TESTDUMMY, name="late", min_activation_height=500)
    timed_out = dataclasses.replace(TESTDUMMY, name="timeout", bit=1, timeout=genesis_time + 600 * 200)
    bits = VersionBits(tree, (never, late, timed_out))
    grow(tree, 143, VERSIONBITS_TOP_BITS)
    grow(tree, 144, SIGNAL)
    assert [bits.state(d, tree.tip) for d in (never, late, timed_out)] == [FAILED, LOCKED_IN, FAILED]
    grow(tree, 144, VERSIONBITS_TOP_BITS)
    assert bits.state(late, tree.tip) == LOCKED_IN  # block 432 < 500
    grow(tree, 144, VERSIONBITS_TOP_BITS)
    assert bits.state(late, tree.tip) == ACTIVE


def test_signalling_needs_the_top_bits() -> None:
    deployment = Deployment("x", 5, start_time=0)
    assert signals(VERSIONBITS_TOP_BITS | 1 << 5, deployment)
    assert not signals(VERSIONBITS_TOP_BITS, deployment) and not signals(0x6000_0020, deployment)
