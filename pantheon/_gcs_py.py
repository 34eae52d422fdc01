"""Pure-Python twin of the compiled Golomb-coded sets (`_gcs.pxi`): BIP158's GCS, the body of a
compact block filter. Both twins run the same steps and raise the same errors.

A set of N distinct byte strings (`elements`) under a 16-byte key becomes:
  1. each element hashed with SipHash-2-4 (`siphash24`, the key read as two little-endian words)
     and mapped onto 0 .. N*M-1 by (hash * N * M) >> 64;
  2. the values sorted, and each difference from the previous one (the first from 0)
     Golomb-Rice coded with parameter P: the quotient (difference >> P) in unary, ones ended by
     a zero, then the low P bits, most significant bit first, bits packed from each byte's top;
  3. the encoding is CompactSize(N) followed by those bits, the last byte padded with zeros.

Decoding reads N, refuses N >= 2**32 (InvalidValue, as Core) and an N the bytes cannot hold
(each value takes at least P+1 bits: Truncated, checked before anything is allocated), then
the N values; bytes left after the last value's byte are TrailingBytes (Core's "excess data").
Sums wrap at 64 bits, as Core's uint64_t does. Matching hashes the queries the same way and
walks both sorted lists once, stopping at the first match. What is never done here: choosing
which elements go in (that is the block filter's business, `chain/blockfilter.py`).
"""

from __future__ import annotations

import operator
from typing import Collection

from pantheon._codecs_py import read_compact_size, write_compact_size
from pantheon._siphash_py import siphash24
from pantheon.errors import InvalidValue, OversizedMessage, TrailingBytes, Truncated
from pantheon.limits import MAX_MESSAGE_SIZE_CEILING

__all__ = ["gcs_encode", "gcs_values", "gcs_match_any"]

KEY_SIZE = 16  # bytes of the SipHash key (BIP158: the block hash's first 16 bytes)
MAX_P = 32  # the widest remainder both twins write in one step (BIP158's basic filter uses 19)
MAX_ELEMENTS = (1 << 32) - 1  # Core's GCSFilter: N must be < 2**32
_MASK64 = (1 << 64) - 1


def _checked(key: bytes, p: int, m: int) -> tuple[int, int, int, int]:
    """(k0, k1, p, m) after the checks both twins make on the parameters."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"key must be bytes, not {type(key).__name__}")
    if len(key) != KEY_SIZE:
        raise ValueError(f"key must be {KEY_SIZE} bytes, got {len(key)}")
    p, m = operator.index(p), operator.index(m)
    if not 1 <= p <= MAX_P:
        raise ValueError(f"P must be between 1 and {MAX_P}, got {p}")
    if not 1 <= m <= 0xFFFFFFFF:
        raise ValueError(f"M must be between 1 and 2**32 - 1, got {m}")
    key = bytes(key)
    return int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little"), p, m


def _encoded_bound(n: int, p: int, f: int) -> int:
    """The most bytes the GCS of n values in 0 .. f-1 can take: the unary quotients add up to at
    most f >> P ones, plus N * (P + 1) bits and the CompactSize. Parameters whose encoding could
    pass MAX_MESSAGE_SIZE_CEILING are refused (OversizedMessage) before anything is hashed."""
    bound = 9 + ((f >> p) + n * (p + 1) + 7) // 8
    if bound > MAX_MESSAGE_SIZE_CEILING:
        raise OversizedMessage("GCS encoding", bound, MAX_MESSAGE_SIZE_CEILING)
    return bound


def _hashed(k0: int, k1: int, elements: Collection[bytes], f: int) -> list[int]:
    return sorted((siphash24(k0, k1, element) * f) >> 64 for element in elements)


def gcs_encode(key: bytes, elements: Collection[bytes], p: int, m: int) -> bytes:
    """The GCS of the distinct `elements` (bytes-like) under `key` with parameters P and M."""
    k0, k1, p, m = _checked(key, p, m)
    n = len(elements)
    if n > MAX_ELEMENTS:
        raise ValueError(f"a GCS holds at most {MAX_ELEMENTS} elements, got {n}")
    _encoded_bound(n, p, n * m)
    out = bytearray(write_compact_size(n))
    acc = nbits = previous = 0  # acc: bits not yet written (nbits of them, fewer than 8 between values)
    low = (1 << p) - 1
    for value in _hashed(k0, k1, elements, n * m):
        delta = value - previous
        previous = value
        quotient = delta >> p
        width = quotient + 1 + p
        acc = (acc << width) | (((1 << quotient) - 1) << (p + 1)) | (delta & low)
        nbits += width
        whole = nbits >> 3
        nbits &= 7
        out += (acc >> nbits).to_bytes(whole, "big")
        acc &= (1 << nbits) - 1
    if nbits:
        out.append((acc << (8 - nbits)) & 0xFF)
    return bytes(out)


class _Reader:
    """The bits after the CompactSize, most significant first, as one string of '0'/'1'."""

    __slots__ = ("bits", "pos")

    def __init__(self, body: bytes) -> None:
        self.bits = format(int.from_bytes(body, "big"), f"0{8 * len(body)}b") if body else ""
        self.pos = 0

    def value(self, p: int) -> int:
        """One Golomb-Rice coded difference; Truncated if the bits end inside it."""
        bits, pos = self.bits, self.pos
        end = bits.find("0", pos)
        if end < 0 or end + 1 + p > len(bits):
            raise Truncated("GCS: the filter ends inside a value")
        self.pos = end + 1 + p
        return ((end - pos) << p) | int(bits[end + 1:end + 1 + p], 2)


def _open(data: bytes, p: int) -> tuple[int, _Reader]:
    data = bytes(data)
    n, start = read_compact_size(data)
    if n > MAX_ELEMENTS:
        raise InvalidValue(f"GCS: N = {n} is not below 2**32")
    if n * (p + 1) > 8 * (len(data) - start):
        raise Truncated(f"GCS: {n} values need more than the {len(data) - start} bytes that follow")
    return n, _Reader(data[start:])


def gcs_values(data: bytes, p: int) -> list[int]:
    """The sorted hashed values an encoded GCS holds (Truncated, InvalidValue, TrailingBytes)."""
    if not 1 <= operator.index(p) <= MAX_P:
        raise ValueError(f"P must be between 1 and {MAX_P}, got {p}")
    n, reader = _open(data, p)
    values = []
    value = 0
    for _ in range(n):
        value = (value + reader.value(p)) & _MASK64
        values.append(value)
    if (reader.pos + 7) >> 3 != len(reader.bits) >> 3:
        raise TrailingBytes("GCS: bytes after the last value")
    return values


def gcs_match_any(key: bytes, data: bytes, elements: Collection[bytes], p: int, m: int) -> bool:
    """Whether any of `elements` is (probably: 1/M false positives) in the encoded GCS `data`
    made under `key` with P and M. Only the values up to the answer are read: Truncated if the
    bits end before it."""
    k0, k1, p, m = _checked(key, p, m)
    n, reader = _open(data, p)
    queries = _hashed(k0, k1, elements, n * m)
    q = 0
    value = 0
    for _ in range(n):
        if q == len(queries):
            return False
        value = (value + reader.value(p)) & _MASK64
        while queries[q] < value:
            q += 1
            if q == len(queries):
                return False
        if queries[q] == value:
            return True
    return False
