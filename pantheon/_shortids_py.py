"""Pure-Python twin of the compiled BIP152 short ids (`_shortids.pxi`, see `_wire_py`).

A compact block names each transaction it leaves out by a short id: the low 48 bits of
SipHash-2-4 of its wtxid, keyed by the first two little-endian 64-bit words of
SHA256(header || nonce) (`pantheon.compactblocks.short_id_key`), sent as 6 little-endian bytes.
The SipHash is the wire core's one (`_siphash_py`, shared with the inventory sets and BIP158).

`short_ids` computes them for a block being sent; `match_short_ids` is the receiver's hot
loop (Core's PartiallyDownloadedBlock::InitData over the mempool and the extra pool): which
candidate transaction, if exactly one, each short id names. Both functions check their
arguments the same way in both twins (TypeError for a non-bytes item, ValueError for a wrong
length) and never raise for what a peer chose: equal short ids in one block are reported as
None, for the caller to fall back to the full block as Core does.
"""

from __future__ import annotations

from typing import Sequence

from pantheon._invset_py import _LENGTH_WORD, _hash_words
from pantheon._siphash_py import _checked_key, sip_words
from pantheon.protocol import SHORTTXIDS_LENGTH

__all__ = ["match_short_ids", "short_ids"]

_SHORT_ID_MASK = (1 << (8 * SHORTTXIDS_LENGTH)) - 1
NO_MATCH = -1  # match_short_ids: no candidate, or more than one distinct candidate, has the id


def short_ids(k0: int, k1: int, wtxids: Sequence[bytes]) -> list[bytes]:
    """The 6-byte short id of each 32-byte wtxid under the key (k0, k1), in order."""
    k0, k1 = _checked_key(k0, k1)
    return [(sip_words(k0, k1, _hash_words(wtxid), _LENGTH_WORD) & _SHORT_ID_MASK).to_bytes(SHORTTXIDS_LENGTH, "little")
            for wtxid in wtxids]


def match_short_ids(k0: int, k1: int, ids: Sequence[bytes], wtxids: Sequence[bytes]) -> list[int] | None:
    """For each short id in `ids`, the index in `wtxids` of the one candidate whose short id it
    is, NO_MATCH (-1) when none is, or when two candidates with different wtxids are (the
    transaction must then be asked for; the same wtxid offered twice, from the mempool and the
    extra pool, is one candidate). None when two of `ids` are equal (Core: a short-id collision,
    READ_STATUS_FAILED). Candidates are read in order and the scan stops once every id has one,
    as Core's does."""
    k0, k1 = _checked_key(k0, k1)
    slots: dict[int, int] = {}
    for position, short_id in enumerate(ids):
        if not isinstance(short_id, bytes):
            raise TypeError(f"short id must be bytes, not {type(short_id).__name__}")
        if len(short_id) != SHORTTXIDS_LENGTH:
            raise ValueError(f"short id must be {SHORTTXIDS_LENGTH} bytes, got {len(short_id)}")
        slots[int.from_bytes(short_id, "little")] = position
    if len(slots) != len(ids):
        return None
    found = [NO_MATCH] * len(ids)
    ambiguous = [False] * len(ids)
    matched = 0
    for index, wtxid in enumerate(wtxids):
        if matched == len(ids):
            break
        position = slots.get(sip_words(k0, k1, _hash_words(wtxid), _LENGTH_WORD) & _SHORT_ID_MASK)
        if position is None or ambiguous[position]:
            continue
        previous = found[position]
        if previous == NO_MATCH:
            found[position] = index
            matched += 1
        elif wtxids[previous] != wtxid:
            found[position] = NO_MATCH
            ambiguous[position] = True
            matched -= 1
    return found
