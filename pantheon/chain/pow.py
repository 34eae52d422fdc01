"""Proof of work: the compact `bits` encoding, chain work, and Bitcoin Core's difficulty rules.

Targets are plain Python ints. The compact form is Core's `arith_uint256::SetCompact` /
`GetCompact` (a base-256 float: one size byte, a 23-bit mantissa and a sign bit), including
its quirks, because `bits` in a header must be compared byte for byte with what we compute: a
mantissa whose top bit is set is shifted down a byte on encoding, and values wrap at 256 bits
as Core's fixed-width integer does. `calculate_next_work_required` is Core's
`CalculateNextWorkRequired`; the walk over the tree that feeds it lives in `headers.py`.
"""

from __future__ import annotations

from typing import NamedTuple

from pantheon.params import Network

__all__ = [
    "Compact",
    "compact_to_target",
    "target_to_compact",
    "block_work",
    "check_proof_of_work",
    "calculate_next_work_required",
    "permitted_difficulty_transition",
]

_U256 = (1 << 256) - 1
_SIGN = 0x0080_0000
_MANTISSA = 0x007F_FFFF


class Compact(NamedTuple):
    """A decoded `bits`: the target and Core's two flags (either makes the target unusable)."""

    target: int
    negative: bool
    overflow: bool


def compact_to_target(bits: int) -> Compact:
    """Core's `SetCompact`: the target `bits` encodes and whether it is negative or overflows."""
    size = bits >> 24
    word = bits & _MANTISSA
    if size <= 3:
        word >>= 8 * (3 - size)  # Core tests the flags on the shifted word, as here
        target = word
    else:
        target = (word << (8 * (size - 3))) & _U256
    negative = word != 0 and bits & _SIGN != 0
    overflow = word != 0 and (size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32))
    return Compact(target, negative, overflow)


def target_to_compact(target: int, negative: bool = False) -> int:
    """Core's `GetCompact`: the canonical `bits` of `target` (0 <= target < 2**256)."""
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = (target << (8 * (3 - size))) & 0xFFFF_FFFF
    else:
        compact = target >> (8 * (size - 3))
    if compact & _SIGN:  # the mantissa's top bit is the sign: move a byte into the size
        compact >>= 8
        size += 1
    compact |= size << 24
    if negative and compact & _MANTISSA:
        compact |= _SIGN
    return compact


def block_work(bits: int) -> int:
    """Core's `GetBlockProof`: the expected hashes to meet `bits`, 2**256 // (target + 1).

    An unusable target (negative, overflowing or zero) is worth nothing, as in Core.
    """
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0:
        return 0
    return (1 << 256) // (target + 1)


def check_proof_of_work(block_hash: bytes, bits: int, pow_limit: int) -> bool:
    """Core's `CheckProofOfWork`: `bits` is a usable target no easier than `pow_limit` and the
    hash (internal byte order, so read little-endian) is at or below it."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0 or target > pow_limit:
        return False
    return int.from_bytes(block_hash, "little") <= target


def calculate_next_work_required(last_bits: int, last_time: int, first_time: int, network: Network,
                                 first_bits: int | None = None) -> int:
    """Core's `CalculateNextWorkRequired`: the `bits` for the first block of a new period.

    `last_*` describe the period's last block, `first_time` its first block's time (Core's
    off-by-one: the span covers 2,015 intervals, not 2,016). The span is clamped to [1/4, 4x]
    of the target timespan and the result capped at the network's limit. BIP94 (testnet4)
    scales the first block's `bits` instead of the last's; pass them as `first_bits`.
    """
    if network.pow_no_retargeting:
        return last_bits
    timespan = network.pow_target_timespan
    actual = min(max(last_time - first_time, timespan // 4), timespan * 4)
    base = last_bits if first_bits is None else first_bits
    target = ((compact_to_target(base).target * actual) & _U256) // timespan
    return target_to_compact(min(target, network.pow_limit))


def permitted_difficulty_transition(network: Network, height: int, old_bits: int, new_bits: int) -> bool:
    """Core's `PermittedDifficultyTransition`: could a block at `height` carry `new_bits` after a
    parent with `old_bits`, whatever the timestamps? Unchanged inside a period; at a period's
    start within the 4x clamp either way (compared after a compact round trip, as Core does).
    Networks allowing minimum-difficulty blocks permit anything. Headers presync checks only this,
    as it keeps no timestamps to compute the exact value."""
    if network.pow_allow_min_difficulty:
        return True
    timespan = network.pow_target_timespan
    if height % (timespan // network.pow_target_spacing):
        return old_bits == new_bits
    old_target = compact_to_target(old_bits).target
    observed = compact_to_target(new_bits).target

    def bound(span: int) -> int:
        return compact_to_target(target_to_compact(min((old_target * span) // timespan, network.pow_limit))).target

    return bound(timespan // 4) <= observed <= bound(timespan * 4)
