"""Pure-Python twin of the compiled SipHash (`_siphash.pxi`): SipHash-2-4 (Aumasson and
Bernstein), the one keyed hash of the wire core.

Keys are two 64-bit integers (k0, k1), as Core's CSipHasher takes them; a message of any length
is read as little-endian 64-bit words, the last one padded with zeros and carrying the length
(mod 256) in its top byte. Users: the inventory sets' fingerprints (32-byte hashes), BIP158's
filter elements (scripts of any length, keyed by a block hash's first 16 bytes) and BIP152's
short ids.
"""

from __future__ import annotations

import operator
import struct
from typing import Iterable

__all__ = ["siphash24"]

_MASK64 = (1 << 64) - 1
_WORD = struct.Struct("<Q")
_TWO, _FOUR = range(2), range(4)  # rounds per message word, rounds to finish
_FINISH = object()  # marks the finalization step after the message words


def _checked_key(k0: int, k1: int) -> tuple[int, int]:
    k0, k1 = operator.index(k0), operator.index(k1)
    if not (0 <= k0 <= _MASK64 and 0 <= k1 <= _MASK64):
        raise ValueError("SipHash key halves must be between 0 and 2**64 - 1")
    return k0, k1


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 of `data` (any bytes-like object) under the key (k0, k1), as an integer."""
    k0, k1 = _checked_key(k0, k1)
    with memoryview(data) as view:
        message = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        size = message.nbytes
        full = size & ~7
        words = [word for (word,) in _WORD.iter_unpack(message[:full])]
        last = int.from_bytes(message[full:], "little") | (size & 0xFF) << 56
    return sip_words(k0, k1, words, last)


def sip_words(k0: int, k1: int, words: Iterable[int], last: int) -> int:
    """SipHash-2-4 of a message already read as its 64-bit words, `last` the final word (its
    tail bytes and length byte); the key is not checked. Both users of this twin call it."""
    mask = _MASK64
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    for m in (*words, last, _FINISH):
        if m is _FINISH:  # after the last word: v2 ^= 0xff, then four rounds
            m, rounds = 0, _FOUR
            v2 ^= 0xFF
        else:
            rounds = _TWO
        v3 ^= m
        for _ in rounds:
            v0 = (v0 + v1) & mask
            v1 = ((v1 << 13) | (v1 >> 51)) & mask ^ v0
            v0 = ((v0 << 32) | (v0 >> 32)) & mask
            v2 = (v2 + v3) & mask
            v3 = ((v3 << 16) | (v3 >> 48)) & mask ^ v2
            v0 = (v0 + v3) & mask
            v3 = ((v3 << 21) | (v3 >> 43)) & mask ^ v0
            v2 = (v2 + v1) & mask
            v1 = ((v1 << 17) | (v1 >> 47)) & mask ^ v2
            v2 = ((v2 << 32) | (v2 >> 32)) & mask
        v0 ^= m
    return v0 ^ v1 ^ v2 ^ v3
