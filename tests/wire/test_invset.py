"""InventorySet, the per-peer "what this peer already knows" set, run against both twins.

Every test takes `wire_impl`. The references: SipHash's published test vector, the construct
spec (`pantheon.spec.parse_payload("inv", ...)`) for what a valid payload is and which error a
malformed one raises, the reference model in tests/helpers/invset_model.py (an exact FIFO set that
allows only fingerprint-collision false positives) and, for the differential tests, the pure
twin `pantheon._wire_py`.
"""

from __future__ import annotations

import array
import copy
import gc
import hashlib
import pickle
import random
import tracemalloc
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from helpers.invset_model import Model, inv_payload

from pantheon import _invset_py, _wire_py, errors, limits, spec

SEED = 0x5EED


def hashes(count: int, tag: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(tag + i.to_bytes(8, "little")).digest() for i in range(count)]


def entries_of(items: list[bytes], kind: int = 1) -> list[tuple[int, bytes]]:
    return [(kind, item) for item in items]


def raised(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


def assert_same_error(wire_impl: Any, call: Callable[[Any], Any], expected: type[BaseException]) -> None:
    """`call(module)` raises `expected` on the twin under test, with the pure twin's message."""
    error = raised(lambda: call(wire_impl.module))
    reference = raised(lambda: call(_wire_py))
    assert type(error) is type(reference) is expected
    assert str(error) == str(reference)


def longest_run(table: bytes) -> int:
    """The longest run of occupied slots, wrapping around, in a `_table_snapshot()`."""
    slots = array.array("Q")
    slots.frombytes(table)
    best = run = 0
    for value in [*slots, *slots]:
        run = run + 1 if value else 0
        best = max(best, run)
    return min(best, len(slots))


# --- the fingerprint ------------------------------------------------------------------------


def test_fingerprint_is_siphash_2_4(wire_impl):
    # SipHash reference implementation (github.com/veorq/SipHash, vectors.h, vectors_sip64[32]):
    # key 00 01 .. 0f, message 00 01 .. 1f -> ce 7c f2 72 2f 51 27 71 (little-endian).
    key = int.from_bytes(bytes(range(16)), "little")
    s = wire_impl.module.InventorySet(1, seed=key)
    assert s._fingerprint(bytes(range(32))) == 0x7127512F72F27CCE


def test_seed_keys_the_fingerprint(wire_impl):
    InventorySet = wire_impl.module.InventorySet
    item = hashes(1)[0]
    assert InventorySet(1, seed=1)._fingerprint(item) == InventorySet(1, seed=1)._fingerprint(item)
    assert InventorySet(1, seed=1)._fingerprint(item) != InventorySet(1, seed=2)._fingerprint(item)
    # seed=None draws a fresh random key per set (equal keys: probability 2**-128).
    assert InventorySet(1)._fingerprint(item) != InventorySet(1)._fingerprint(item)


# --- construction ---------------------------------------------------------------------------


def test_capacity_nbytes_repr(wire_impl):
    s = wire_impl.module.InventorySet(50_000, seed=SEED)
    assert s.capacity == 50_000
    assert len(s) == 0 and not s
    # ring (capacity) + table (capacity + capacity // 2 + 1), 8 bytes a slot
    assert s.nbytes == (50_000 + 75_001) * 8
    assert repr(s) == "<InventorySet 0/50000 entries>"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"capacity": 0}, ValueError),
        ({"capacity": -1}, ValueError),
        ({"capacity": _invset_py.MAX_CAPACITY + 1}, ValueError),
        ({"capacity": "10"}, TypeError),
        ({"capacity": 10.0}, TypeError),
        ({"capacity": None}, TypeError),
        ({"capacity": 1, "seed": -1}, ValueError),
        ({"capacity": 1, "seed": 1 << 128}, ValueError),
        ({"capacity": 1, "seed": "1"}, TypeError),
        ({"capacity": 1, "seed": 1.0}, TypeError),
    ],
    ids=repr,
)
def test_constructor_errors(wire_impl, kwargs, expected):
    assert_same_error(wire_impl, lambda module: module.InventorySet(**kwargs), expected)


def test_seed_limits_accepted(wire_impl):
    InventorySet = wire_impl.module.InventorySet
    assert InventorySet(1, seed=0).add(hashes(1)[0])
    assert InventorySet(1, seed=(1 << 128) - 1).add(hashes(1)[0])


def test_not_picklable_copyable_or_subclassable(wire_impl):
    InventorySet = wire_impl.module.InventorySet
    s = InventorySet(4, seed=SEED)
    for attempt in (lambda: pickle.dumps(s), lambda: copy.copy(s), lambda: copy.deepcopy(s)):
        with pytest.raises(TypeError, match="secret key"):
            attempt()
    with pytest.raises(TypeError):
        type("Sub", (InventorySet,), {})


# --- add, contains, len, clear --------------------------------------------------------------


def test_add_contains_len(wire_impl):
    s = wire_impl.module.InventorySet(10, seed=SEED)
    a, b = hashes(2)
    assert a not in s
    assert s.add(a) is True
    assert a in s and b not in s and len(s) == 1 and s
    assert s.add(a) is False
    assert len(s) == 1
    assert s.add(b) is True
    assert a in s and b in s and len(s) == 2
    assert repr(s) == "<InventorySet 2/10 entries>"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (bytes(31), ValueError),
        (bytes(33), ValueError),
        (b"", ValueError),
        (bytearray(32), TypeError),
        (memoryview(bytes(32)), TypeError),
        ("00" * 32, TypeError),
        (None, TypeError),
        (1, TypeError),
    ],
    ids=lambda value: f"{type(value).__name__}-{len(value) if hasattr(value, '__len__') else ''}",
)
def test_hash_argument_errors(wire_impl, item, expected):
    assert_same_error(wire_impl, lambda module: module.InventorySet(2, seed=SEED).add(item), expected)
    assert_same_error(wire_impl, lambda module: item in module.InventorySet(2, seed=SEED), expected)
    assert_same_error(wire_impl, lambda module: module.InventorySet(2, seed=SEED)._fingerprint(item), expected)


def test_bytes_subclass_is_a_hash(wire_impl):
    class Hash(bytes):
        pass

    s = wire_impl.module.InventorySet(2, seed=SEED)
    item = hashes(1)[0]
    assert s.add(Hash(item))
    assert item in s and Hash(item) in s


def test_clear(wire_impl):
    s = wire_impl.module.InventorySet(8, seed=SEED)
    items = hashes(12)
    for item in items:
        s.add(item)
    nbytes = s.nbytes
    s.clear()
    assert len(s) == 0 and s.nbytes == nbytes
    assert not any(item in s for item in items)
    assert s._table_snapshot() == bytes(len(s._table_snapshot()))
    # After clear the set fills and evicts from scratch, oldest first.
    for item in items:
        assert s.add(item)
    assert [item in s for item in items] == [False] * 4 + [True] * 8


# --- FIFO eviction --------------------------------------------------------------------------


def test_fifo_eviction_exactly_at_capacity(wire_impl):
    s = wire_impl.module.InventorySet(4, seed=SEED)
    h = hashes(7)
    for item in h[:4]:
        assert s.add(item)
    assert len(s) == 4 and all(item in s for item in h[:4])  # full, nothing evicted yet
    assert s.add(h[4])  # the fifth evicts the oldest, h[0]
    assert len(s) == 4
    assert [item in s for item in h[:5]] == [False, True, True, True, True]
    assert s.add(h[2]) is False  # known: no refresh, the order stays h1 h2 h3 h4
    assert s.add(h[5])
    assert [item in s for item in h[:6]] == [False, False, True, True, True, True]
    assert s.add(h[0])  # evicted entries are new again
    assert [item in s for item in h[:6]] == [True, False, False, True, True, True]


def test_capacity_one(wire_impl):
    s = wire_impl.module.InventorySet(1, seed=SEED)
    a, b = hashes(2)
    assert s.nbytes == (1 + 2) * 8
    assert s.add(a) and a in s
    assert s.add(a) is False
    assert s.add(b) and b in s and a not in s and len(s) == 1
    # Several new entries in one payload: each evicts the one before; the answer holds them all.
    payload = inv_payload(entries_of([a, b, *hashes(3, b"x")]))
    assert s.filter_new(payload) == entries_of([a, *hashes(3, b"x")])
    assert len(s) == 1 and hashes(3, b"x")[-1] in s


def test_large_capacity_fifo(wire_impl):
    """Core's per-peer size: one full 50,000-entry inv fills the set; 1,000 more evict the
    first 1,000 and nothing else."""
    s = wire_impl.module.InventorySet(limits.MAX_INV_ENTRIES, seed=SEED)
    first = entries_of(hashes(limits.MAX_INV_ENTRIES))
    payload = inv_payload(first)
    assert payload[:3] == b"\xfd\x50\xc3"  # CompactSize 50,000
    assert s.filter_new(payload) == first
    assert len(s) == limits.MAX_INV_ENTRIES
    more = entries_of(hashes(1_000, b"more"))
    assert s.filter_new(inv_payload(more)) == more
    assert len(s) == limits.MAX_INV_ENTRIES
    # The first 1,000 are new again; the 1,000 after them (and the rest) are still known.
    assert s.filter_new(inv_payload(first[:2_000]), add=False) == first[:1_000]
    assert s.filter_new(inv_payload(first[-2:] + more[-2:]), add=False) == []


def test_million_capacity(wire_impl):
    s = wire_impl.module.InventorySet(1_000_000, seed=SEED)
    assert s.nbytes / 1_000_000 <= 40  # the memory target: 20.000008 bytes an entry
    items = hashes(2_000)
    assert s.filter_new(inv_payload(entries_of(items))) == entries_of(items)
    assert all(item in s for item in items[::97]) and len(s) == 2_000


# --- filter_new -----------------------------------------------------------------------------


def test_filter_new_order_and_duplicates(wire_impl):
    s = wire_impl.module.InventorySet(100, seed=SEED)
    a, b, c, d = hashes(4)
    s.add(c)
    payload = inv_payload([(1, a), (5, b), (1, a), (2, c), (0x40000001, b), (7, d), (1, d)])
    assert s.filter_new(payload) == [(1, a), (5, b), (7, d)]  # first occurrence, its own type
    assert len(s) == 4 and a in s and b in s and d in s
    assert s.filter_new(payload) == []


def test_filter_new_add_false(wire_impl):
    s = wire_impl.module.InventorySet(100, seed=SEED)
    a, b, c = hashes(3)
    s.add(a)
    before = s._table_snapshot()
    payload = inv_payload([(1, a), (1, b), (1, c), (1, b)])
    assert s.filter_new(payload, add=False) == [(1, b), (1, c)]
    assert s.filter_new(payload, add=False) == [(1, b), (1, c)]
    assert len(s) == 1 and b not in s and s._table_snapshot() == before
    assert s.filter_new(payload, add=True) == [(1, b), (1, c)]
    assert len(s) == 3


def test_filter_new_answers_against_the_set_at_the_call(wire_impl):
    """The answer never depends on `add`: an entry known when the call starts stays known even
    if adding earlier entries of the same payload evicts it."""
    s = wire_impl.module.InventorySet(2, seed=SEED)
    a, b, c, d = hashes(4)
    s.add(a)
    s.add(b)
    payload = inv_payload(entries_of([c, d, a]))
    assert s.filter_new(payload, add=False) == entries_of([c, d])
    assert s.filter_new(payload, add=True) == entries_of([c, d])
    assert [item in s for item in (a, b, c, d)] == [False, False, True, True]


def test_filter_new_types_and_hashes_as_spec_parses(wire_impl):
    items = hashes(300)
    kinds = [0, 1, 2, 3, 4, 5, 0x40000001, 0x40000002, 0xFFFFFFFF]
    entries = [(kinds[i % len(kinds)], item) for i, item in enumerate(items)]
    payload = spec.build_payload(
        "inv", {"inventory": [{"type": kind, "hash": item} for kind, item in entries]}
    )
    assert payload == inv_payload(entries)  # the test helper builds what the spec builds
    parsed = [(vector.type, vector.hash) for vector in spec.parse_payload("inv", payload).inventory]
    assert wire_impl.module.InventorySet(1_000, seed=SEED).filter_new(payload) == parsed == entries


def test_filter_new_empty_inv(wire_impl):
    s = wire_impl.module.InventorySet(3, seed=SEED)
    assert s.filter_new(b"\x00") == [] and s.filter_new(b"\x00", add=False) == []
    assert len(s) == 0


def test_filter_new_takes_any_contiguous_buffer(wire_impl):
    entries = entries_of(hashes(5))
    payload = inv_payload(entries)
    for form in (payload, bytearray(payload), memoryview(payload), array.array("B", payload)):
        assert wire_impl.module.InventorySet(8, seed=SEED).filter_new(form) == entries
    assert_same_error(
        wire_impl, lambda module: module.InventorySet(8, seed=SEED).filter_new(payload.hex()), TypeError
    )
    strided = memoryview(payload * 2)[::2]
    with pytest.raises(BufferError):
        wire_impl.module.InventorySet(8, seed=SEED).filter_new(strided)


# Malformed payloads, each with the class pantheon.spec raises for it.
_ENTRY = (1).to_bytes(4, "little") + bytes(range(32))
_CAP = limits.max_payload("inv")
MALFORMED = [
    ("empty", b"", errors.Truncated),
    ("fd, no value", b"\xfd", errors.Truncated),
    ("fd, one byte of two", b"\xfd\x01", errors.Truncated),
    ("fe, three bytes of four", b"\xfe\x00\x00\x01", errors.Truncated),
    ("ff, seven bytes of eight", b"\xff" + bytes(7), errors.Truncated),
    ("fd 0: non-canonical", b"\xfd\x00\x00", errors.InvalidValue),
    ("fd 252: non-canonical", b"\xfd\xfc\x00" + _ENTRY * 252, errors.InvalidValue),
    ("fe 65535: non-canonical", b"\xfe\xff\xff\x00\x00", errors.InvalidValue),
    ("ff 2**32-1: non-canonical", b"\xff" + (2**32 - 1).to_bytes(8, "little"), errors.InvalidValue),
    ("count 50,001", b"\xfd" + (50_001).to_bytes(2, "little"), errors.OversizedMessage),
    ("count 65,536", b"\xfe" + (65_536).to_bytes(4, "little"), errors.OversizedMessage),
    ("count 2**32", b"\xff" + (2**32).to_bytes(8, "little"), errors.OversizedMessage),
    ("count 2**64-1", b"\xff" * 9, errors.OversizedMessage),
    ("count 50,001, all entries", b"\xfd" + (50_001).to_bytes(2, "little") + _ENTRY * 50_001,
     errors.OversizedMessage),
    ("payload over the cap", b"\x00" + bytes(_CAP), errors.OversizedMessage),
    ("1 entry, 35 bytes", b"\x01" + _ENTRY[:-1], errors.Truncated),
    ("2 entries, 1 given", b"\x02" + _ENTRY, errors.Truncated),
    ("253 entries, fd, 252 given", b"\xfd\xfd\x00" + _ENTRY * 252, errors.Truncated),
    ("1 entry, 37 bytes", b"\x01" + _ENTRY + b"\x00", errors.TrailingBytes),
    ("0 entries, 1 byte more", b"\x00\x00", errors.TrailingBytes),
]


@pytest.mark.parametrize(("payload", "expected"), [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_malformed_payload_errors_match_spec(wire_impl, payload, expected):
    spec_error = raised(lambda: spec.parse_payload("inv", payload))
    assert type(spec_error) is expected
    s = wire_impl.module.InventorySet(4, seed=SEED)
    s.add(hashes(1)[0])
    before = s._table_snapshot()
    for add in (True, False):
        error = raised(lambda: s.filter_new(payload, add=add))
        assert type(error) is expected
        if expected is errors.OversizedMessage:
            assert (error.field, error.size, error.cap) == (spec_error.field, spec_error.size, spec_error.cap)
    assert len(s) == 1 and s._table_snapshot() == before  # checked whole before the set is touched
    assert_same_error(wire_impl, lambda module: module.InventorySet(4, seed=SEED).filter_new(payload), expected)


def test_canonical_fd_count_accepted(wire_impl):
    entries = entries_of(hashes(253))
    payload = inv_payload(entries)
    assert payload[:3] == b"\xfd\xfd\x00"
    assert len(spec.parse_payload("inv", payload).inventory) == 253
    assert wire_impl.module.InventorySet(300, seed=SEED).filter_new(payload) == entries


def test_every_cut_is_truncated_and_every_extension_trailing(wire_impl):
    payload = inv_payload(entries_of(hashes(3)))
    s = wire_impl.module.InventorySet(8, seed=SEED)
    for cut in range(len(payload)):
        assert type(raised(lambda: spec.parse_payload("inv", payload[:cut]))) is errors.Truncated
        with pytest.raises(errors.Truncated):
            s.filter_new(payload[:cut])
    for extra in (b"\x00", b"\xff" * 36):
        assert type(raised(lambda: spec.parse_payload("inv", payload + extra))) is errors.TrailingBytes
        with pytest.raises(errors.TrailingBytes):
            s.filter_new(payload + extra)
    assert len(s) == 0


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=120) | st.builds(
    lambda count, body: count + body,
    st.sampled_from([b"\x00", b"\x01", b"\x02", b"\x03", b"\xfd\x01\x00", b"\xfd\xfd\x00", b"\xff" * 9]),
    st.binary(max_size=110),
))
def test_payload_validity_agrees_with_spec(wire_impl, data):
    """Any bytes: the twin and the spec agree on valid (and then on the entries) or on the class."""
    try:
        parsed = spec.parse_payload("inv", data)
    except errors.ProtocolError as spec_error:
        with pytest.raises(type(spec_error)):
            wire_impl.module.InventorySet(4, seed=SEED).filter_new(data)
    else:
        entries = [(vector.type, vector.hash) for vector in parsed.inventory]
        deduplicated = list({item: (kind, item) for kind, item in reversed(entries)}.values())[::-1]
        assert wire_impl.module.InventorySet(4, seed=SEED).filter_new(data, add=False) == deduplicated


# --- against the reference model, and twin against twin ------------------------------------


def run_script(s: Any, capacity: int, seed: int, steps: int, model: Model | None = None) -> list[Any]:
    """A random script of adds, lookups, filter_new calls and clears over a pool of hashes a
    little larger than the capacity (so entries are known, evicted and re-added). Checks every
    answer against `model` if given; returns the answers."""
    rng = random.Random(seed)
    pool = hashes(2 * capacity + 8, seed.to_bytes(4, "little"))
    answers: list[Any] = []
    for _ in range(steps):
        roll = rng.random()
        item = rng.choice(pool)
        if roll < 0.4:
            answer = s.add(item)
            if model is not None:
                model.check_add(item, answer)
        elif roll < 0.75:
            answer = item in s
            if model is not None:
                model.check_contains(item, answer)
        elif roll < 0.995:
            entries = [(rng.choice((1, 2, 5, 0x40000001)), rng.choice(pool)) for _ in range(rng.randrange(25))]
            add = rng.random() < 0.7
            answer = s.filter_new(inv_payload(entries), add=add)
            if model is not None:
                model.check_filter_new(entries, add, answer)
        else:
            answer = s.clear()
            if model is not None:
                model.clear()
        answers.append((answer, len(s)))
        if model is not None:
            assert len(s) == len(model) <= capacity
    return answers


@pytest.mark.parametrize(("capacity", "seed"), [(1, 11), (3, 12), (17, 13), (64, 14), (500, 15)])
def test_random_script_against_model(wire_impl, capacity, seed):
    s = wire_impl.module.InventorySet(capacity, seed=seed)
    model = Model(capacity, s._fingerprint)
    run_script(s, capacity, seed, steps=1_500, model=model)
    # A false positive needs two 64-bit fingerprints to collide: at most 2 * capacity / 2**64 per
    # lookup, under 1e-13 for this whole script. With fixed seeds the count is fixed: none.
    assert model.false_positives == 0


@pytest.mark.parametrize(("capacity", "seed"), [(1, 21), (9, 22), (100, 23)])
def test_twins_agree(wire_impl, capacity, seed):
    if wire_impl.name == "py":
        pytest.skip("the pure twin is the reference this test compares the compiled one against")
    compiled = wire_impl.module.InventorySet(capacity, seed=seed)
    pure = _wire_py.InventorySet(capacity, seed=seed)
    assert run_script(compiled, capacity, seed, steps=1_500) == run_script(pure, capacity, seed, steps=1_500)
    assert compiled._table_snapshot() == pure._table_snapshot()  # same algorithm, same layout


# --- adversarial inputs and memory ----------------------------------------------------------


CRAFTED = {
    # Hash families that would pile into one slot of a table indexed by the raw hash bytes.
    "sequential": [i.to_bytes(32, "little") for i in range(3_000)],
    "shared prefix": [bytes(24) + i.to_bytes(8, "big") for i in range(3_000)],
    "first word equal": [b"\xff" * 8 + hashlib.sha256(i.to_bytes(4, "little")).digest()[:24] for i in range(3_000)],
}


@pytest.mark.parametrize("family", list(CRAFTED))
def test_crafted_hashes_spread_like_random_ones(wire_impl, family):
    """The table is indexed by a keyed hash, so hashes built to collide without the key spread
    as random ones do: at load 2/3 with 4,501 slots the longest run of occupied slots stays
    near 50 (random hashes: 40 to 100 over seeds); one shared slot would make it 3,000."""
    items = CRAFTED[family]
    layouts = set()
    for seed in (1, 2):
        s = wire_impl.module.InventorySet(len(items), seed=seed)
        assert s.filter_new(inv_payload(entries_of(items))) == entries_of(items)
        layouts.add(s._table_snapshot())
        assert longest_run(s._table_snapshot()) < 200
    assert len(layouts) == 2  # the key, not the hashes, decides where each lands


def test_memory_is_allocated_once(wire_impl):
    """tracemalloc sees the compiled twin's PyMem_Calloc as it sees the pure twin's arrays: the
    storage is `nbytes` (and a small header), allocated at construction; filling, evicting,
    filtering and clearing never grow it. (Small sizes: tracemalloc slows the pure twin ~50x.)"""
    InventorySet = wire_impl.module.InventorySet
    payloads = [inv_payload(entries_of(hashes(120, bytes([tag])))) for tag in range(4)]
    loose = hashes(20, b"loose")
    InventorySet(2, seed=SEED).filter_new(inv_payload(entries_of(loose[:3])))  # warm every path
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        s = InventorySet(200, seed=SEED)
        built = tracemalloc.get_traced_memory()[0]
        assert s.nbytes == (200 + 301) * 8
        assert s.nbytes <= built - start <= s.nbytes + 1_024  # ring and table, a small header
        for payload in payloads:  # fill, then evict 280
            s.filter_new(payload)
            s.filter_new(payload, add=False)
        for item in loose:
            s.add(item)
            assert item in s
        s.clear()
        s.filter_new(payloads[0])
        gc.collect()
        assert abs(tracemalloc.get_traced_memory()[0] - built) <= 1_024  # nothing grew
    finally:
        tracemalloc.stop()
