"""BIP152 short ids and their matching, run against both twins (`wire_impl`).

References: the BIP's definition (low 6 bytes of SipHash-2-4 of the wtxid, little-endian)
computed here from `siphash24`, the wire core's one SipHash (checked against SipHash's published
vectors in test_siphash.py), and Core's InitData rules for what a receiver makes of its candidates."""

from __future__ import annotations

import hashlib
import random

import pytest

from pantheon import _wire_py

KEY = bytes(range(16))
K0, K1 = int.from_bytes(KEY[:8], "little"), int.from_bytes(KEY[8:], "little")


def hashes(count: int, tag: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(tag + i.to_bytes(8, "little")).digest() for i in range(count)]


def test_short_ids_check_their_arguments(wire_impl):
    short_ids = wire_impl.module.short_ids
    with pytest.raises(TypeError):
        short_ids(K0, K1, [bytearray(32)])
    with pytest.raises(ValueError):
        short_ids(K0, K1, [bytes(31)])
    with pytest.raises(ValueError):
        short_ids(1 << 64, K1, [bytes(32)])
    with pytest.raises(ValueError):
        short_ids(K0, -1, [bytes(32)])


def test_short_ids_are_the_low_six_bytes(wire_impl):
    wtxids = hashes(50)
    expected = [(wire_impl.module.siphash24(K0, K1, w) & (1 << 48) - 1).to_bytes(6, "little") for w in wtxids]
    assert wire_impl.module.short_ids(K0, K1, wtxids) == expected
    assert wire_impl.module.short_ids(K0, K1, []) == []


def test_match_finds_each_candidate(wire_impl):
    mod = wire_impl.module
    block = hashes(300)
    ids = mod.short_ids(K0, K1, block)
    pool = hashes(1000, b"other") + block[::-1]
    found = mod.match_short_ids(K0, K1, ids, pool)
    assert found == [len(pool) - 1 - i for i in range(300)]


def test_match_reports_missing_and_equal_ids(wire_impl):
    mod = wire_impl.module
    block = hashes(20)
    ids = mod.short_ids(K0, K1, block)
    assert mod.match_short_ids(K0, K1, ids, block[5:]) == [-1] * 5 + list(range(15))
    assert mod.match_short_ids(K0, K1, [ids[0], ids[1], ids[0]], block) is None  # Core: collision, FAILED
    assert mod.match_short_ids(K0, K1, [], block) == []


def test_two_candidates_for_one_id_leave_it_missing(monkeypatch):
    # Two wtxids with equal 48-bit short ids take ~2**24 tries to find, so the rule is checked
    # on the pure twin with ids cut to 8 bits; the twins' agreement is checked below.
    from pantheon import _shortids_py

    monkeypatch.setattr(_shortids_py, "_SHORT_ID_MASK", 0xFF)
    block = hashes(3)
    ids = [sid[:1] + bytes(5) for sid in _shortids_py.short_ids(K0, K1, block)]
    low = {sid[0] for sid in ids}
    twin = next(w for w in hashes(5000, b"twin") if _wire_py.siphash24(K0, K1, w) & 0xFF == ids[1][0]
                and w not in block)
    assert len(low) == 3
    found = _shortids_py.match_short_ids(K0, K1, ids, [block[0], block[1], twin, block[2], block[1]])
    assert found == [0, -1, 3]  # a second, different candidate: ask for it; later ones change nothing
    same = _shortids_py.match_short_ids(K0, K1, ids, [block[0], block[1], block[1], block[2]])
    assert same == [0, 1, 3]  # the same wtxid twice (mempool and extra pool) is one candidate


def test_match_checks_its_arguments(wire_impl):
    mod = wire_impl.module
    with pytest.raises(ValueError):
        mod.match_short_ids(K0, K1, [bytes(5)], [])
    with pytest.raises(TypeError):
        mod.match_short_ids(K0, K1, [bytearray(6)], [])
    with pytest.raises(ValueError):
        mod.match_short_ids(K0, K1, [bytes(6)], [bytes(31)])
    with pytest.raises(TypeError):
        mod.short_ids(K0, K1, ["x" * 32])


@pytest.mark.compiled
def test_twins_agree_on_random_blocks():
    from pantheon import _wire

    rng = random.Random(152)
    for _ in range(20):
        k0, k1 = rng.getrandbits(64), rng.getrandbits(64)
        block = [rng.randbytes(32) for _ in range(rng.randrange(0, 400))]
        pool = [rng.randbytes(32) for _ in range(rng.randrange(0, 400))] + rng.sample(block, len(block) // 2)
        rng.shuffle(pool)
        ids = _wire.short_ids(k0, k1, block)
        assert ids == _wire_py.short_ids(k0, k1, block)
        if block and rng.random() < 0.2:
            ids[-1] = ids[0]
        assert _wire.match_short_ids(k0, k1, ids, pool) == _wire_py.match_short_ids(k0, k1, ids, pool)
