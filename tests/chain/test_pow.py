"""Proof of work: the facts Bitcoin Core's own unit tests pin down, so our targets match Core's bit
for bit (src/test/arith_uint256_tests.cpp `bignum_SetCompact`, src/test/pow_tests.cpp)."""

from __future__ import annotations

import dataclasses

import pytest

from pantheon.chain.pow import (
    Compact,
    block_work,
    calculate_next_work_required,
    check_proof_of_work,
    compact_to_target,
    permitted_difficulty_transition,
    target_to_compact,
)
from pantheon.params import MAIN, NETWORKS, REGTEST, TESTNET4

# bits -> (target, negative, overflow, GetCompact(negative) of that target): bignum_SetCompact.
SET_COMPACT = [
    (0x00000000, 0, False, False, 0x00000000),
    (0x00123456, 0, False, False, 0x00000000),
    (0x01003456, 0, False, False, 0x00000000),
    (0x02000056, 0, False, False, 0x00000000),
    (0x03000000, 0, False, False, 0x00000000),
    (0x04000000, 0, False, False, 0x00000000),
    (0x00923456, 0, False, False, 0x00000000),
    (0x01803456, 0, False, False, 0x00000000),
    (0x02800056, 0, False, False, 0x00000000),
    (0x03800000, 0, False, False, 0x00000000),
    (0x04800000, 0, False, False, 0x00000000),
    (0x01123456, 0x12, False, False, 0x01120000),
    (0x01FEDCBA, 0x7E, True, False, 0x01FE0000),
    (0x02123456, 0x1234, False, False, 0x02123400),
    (0x03123456, 0x123456, False, False, 0x03123456),
    (0x04123456, 0x12345600, False, False, 0x04123456),
    (0x04923456, 0x12345600, True, False, 0x04923456),
    (0x05009234, 0x92340000, False, False, 0x05009234),
    (0x20123456, 0x123456 << 232, False, False, 0x20123456),
]


@pytest.mark.parametrize(("bits", "target", "negative", "overflow", "compact"), SET_COMPACT,
                         ids=[f"{row[0]:08x}" for row in SET_COMPACT])
def test_set_compact_matches_core(bits: int, target: int, negative: bool, overflow: bool, compact: int) -> None:
    assert compact_to_target(bits) == Compact(target, negative, overflow)
    assert target_to_compact(target, negative) == compact


def test_compact_edge_cases() -> None:
    assert compact_to_target(0xFF123456).overflow  # Core: SetCompact(0xff123456) overflows
    assert target_to_compact(0x80) == 0x02008000  # a set top mantissa bit moves into the size byte
    assert compact_to_target(0x1D00FFFF).target == 0xFFFF << 208  # the genesis target
    assert target_to_compact(MAIN.pow_limit) == 0x1D00FFFF
    assert target_to_compact(REGTEST.pow_limit) == 0x207FFFFF
    assert compact_to_target(0x22000100).overflow and not compact_to_target(0x21000100).overflow
    assert compact_to_target(0x21010000).overflow and compact_to_target(0x23000001).overflow
    assert not compact_to_target(0x23000000).overflow  # a zero mantissa never overflows


@pytest.mark.parametrize("bits", [0x1D00FFFF, 0x1703D869, 0x207FFFFF, 0x03123456, 0x2000FFFF])
def test_canonical_bits_round_trip(bits: int) -> None:
    assert target_to_compact(compact_to_target(bits).target) == bits


def test_block_work() -> None:
    assert block_work(0x1D00FFFF) == 0x100010001  # Core's chainwork of the genesis block
    assert block_work(0x207FFFFF) == 2  # regtest: two hashes expected per block
    assert block_work(0) == 0 and block_work(0x04923456) == 0 and block_work(0xFF123456) == 0


@pytest.mark.parametrize("network", NETWORKS.values(), ids=list(NETWORKS))
def test_check_proof_of_work_rejects_what_core_rejects(network: object) -> None:
    limit = network.pow_limit  # type: ignore[attr-defined]
    bits = target_to_compact(limit)
    target = compact_to_target(bits).target
    at_target = target.to_bytes(32, "little")
    assert check_proof_of_work(at_target, bits, limit)
    assert not check_proof_of_work((target + 1).to_bytes(32, "little"), bits, limit)  # hash above target
    assert not check_proof_of_work(bytes(32), bits ^ 0x0080_0000, limit)  # negative target
    assert not check_proof_of_work(bytes(32), ~0x0080_0000 & 0xFFFF_FFFF, limit)  # overflow
    assert not check_proof_of_work(bytes(32), target_to_compact(0), limit)  # zero target
    easier = target_to_compact(limit * 2) if limit * 2 < 1 << 256 else 0x2100FFFF
    assert not check_proof_of_work(bytes(32), easier, limit)  # easier than the network allows


# (last bits, last time, first time, expected): pow_tests.cpp's mainnet retargets.
CORE_RETARGETS = [
    pytest.param(0x1D00FFFF, 1262152739, 1261130161, 0x1D00D86A, id="block-32256"),
    pytest.param(0x1D00FFFF, 1233061996, 1231006505, 0x1D00FFFF, id="capped-at-pow-limit"),
    pytest.param(0x1C05A3F4, 1279297671, 1279008237, 0x1C0168FD, id="quarter-timespan-clamp"),
    pytest.param(0x1C387F6F, 1269211443, 1263163443, 0x1D00E1FD, id="four-times-timespan-clamp"),
]


@pytest.mark.parametrize(("last_bits", "last_time", "first_time", "expected"), CORE_RETARGETS)
def test_calculate_next_work_required(last_bits: int, last_time: int, first_time: int, expected: int) -> None:
    assert calculate_next_work_required(last_bits, last_time, first_time, MAIN) == expected


def test_no_retargeting_and_bip94_base() -> None:
    assert calculate_next_work_required(0x207FFFFF, 10**9, 0, REGTEST) == 0x207FFFFF
    two_weeks = TESTNET4.pow_target_timespan
    # BIP94 scales the period's first bits, not the (possibly min-difficulty) last block's.
    assert calculate_next_work_required(0x1D00FFFF, two_weeks, 0, TESTNET4, first_bits=0x1C0FFFFF) == 0x1C0FFFFF
    no_cap = dataclasses.replace(MAIN, pow_limit=(1 << 256) - 1)
    assert calculate_next_work_required(0x1C0FFFFF, 2 * two_weeks, 0, no_cap) == 0x1C1FFFFE


def test_permitted_difficulty_transition() -> None:
    """Core's PermittedDifficultyTransition: bits unchanged inside a period; at a period's start
    anything within the 4x clamp of the old target (after a compact round trip); regtest, which
    allows minimum-difficulty blocks, permits anything."""
    old = 0x1B0404CB
    old_target = compact_to_target(old).target
    assert permitted_difficulty_transition(MAIN, 2017, old, old)
    assert not permitted_difficulty_transition(MAIN, 2017, old, old - 1)
    easiest = target_to_compact(old_target * 4)
    hardest = target_to_compact(old_target // 4)
    for bits in (old, easiest, hardest):
        assert permitted_difficulty_transition(MAIN, 2016 * 3, old, bits)
    assert not permitted_difficulty_transition(MAIN, 2016 * 3, old, target_to_compact(old_target * 5))
    assert not permitted_difficulty_transition(MAIN, 2016 * 3, old, target_to_compact(old_target // 5))
    limit = target_to_compact(MAIN.pow_limit)
    assert permitted_difficulty_transition(MAIN, 2016, limit, limit)  # capped at the limit, not above
    assert permitted_difficulty_transition(REGTEST, 5, 0x207FFFFF, 0x1D00FFFF)
