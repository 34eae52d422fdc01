"""BIP158's Golomb-coded sets (`gcs_encode`, `gcs_values`, `gcs_match_any`) against both twins.

The reference: every row of BIP158's testnet-19.json (tests/vectors/bip158), whose filters were
made by btcd's and Core's implementations; the elements come from the row's block and spent
scripts by BIP158's rules (the same rules `chain/blockfilter.py` applies, written out here
independently). Then the compiled twin against the pure one on random sets and parameters, and
every malformed encoding (each cut, excess bytes, impossible counts) raising the same error.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from helpers.twins import attempt
from helpers.vectors import BIP158

from pantheon import _wire_py, errors, protocol
from pantheon.wire import decode_block

P, M = protocol.BASIC_FILTER_P, protocol.BASIC_FILTER_M


def row_elements(row: list) -> tuple[bytes, set[bytes]]:
    """(key, elements) of a vector row: its block's output scripts but empty and OP_RETURN ones
    (0x6a), and its non-empty spent scripts."""
    block = decode_block(bytes.fromhex(row[2]))
    outputs = {bytes(o.script_pubkey) for tx in block.transactions for o in tx.outputs
               if o.script_pubkey and o.script_pubkey[0] != 0x6A}
    spent = {bytes.fromhex(script) for script in row[3] if script}
    return bytes.fromhex(row[1])[::-1][:16], outputs | spent


@pytest.mark.parametrize("row", BIP158, ids=[f"{row[0]}" for row in BIP158])
def test_bip158_vectors(wire_impl, row):
    key, elements = row_elements(row)
    encoded = wire_impl.module.gcs_encode(key, elements, P, M)
    assert encoded.hex() == row[5]
    values = wire_impl.module.gcs_values(encoded, P)
    assert len(values) == len(elements) and values == sorted(values)
    for element in elements:
        assert wire_impl.module.gcs_match_any(key, encoded, [element], P, M)
    assert wire_impl.module.gcs_match_any(key, encoded, list(elements) + [b"\x00" * 22], P, M) == bool(elements)


def test_empty_set_is_one_byte(wire_impl):
    assert wire_impl.module.gcs_encode(bytes(16), [], P, M) == b"\x00"
    assert wire_impl.module.gcs_values(b"\x00", P) == []
    assert not wire_impl.module.gcs_match_any(bytes(16), b"\x00", [b"a"], P, M)
    assert not wire_impl.module.gcs_match_any(bytes(16), BIP158[0][5] and bytes.fromhex(BIP158[0][5]), [], P, M)


def test_twins_agree(wire_impl):
    if wire_impl.name == "py":
        pytest.skip("the pure twin is the reference this test compares the compiled one against")
    rng = random.Random(158)
    for n in (1, 2, 3, 50, 999, 3_000):
        for p, m in ((1, 2), (5, 64), (P, M), (32, 1 << 31)):
            key = rng.randbytes(16)
            elements = {rng.randbytes(rng.randrange(80)) for _ in range(n)}
            encoded = wire_impl.module.gcs_encode(key, elements, p, m)
            assert encoded == _wire_py.gcs_encode(key, elements, p, m)
            assert wire_impl.module.gcs_values(encoded, p) == _wire_py.gcs_values(encoded, p)
            queries = [rng.randbytes(8) for _ in range(20)] + rng.sample(sorted(elements), 1)
            for query in (queries, queries[:-1]):
                assert (wire_impl.module.gcs_match_any(key, encoded, query, p, m)
                        == _wire_py.gcs_match_any(key, encoded, query, p, m))


def test_false_positive_rate_is_about_one_in_m(wire_impl):
    rng = random.Random(19)
    key = rng.randbytes(16)
    elements = [rng.randbytes(20) for _ in range(1_000)]
    encoded = wire_impl.module.gcs_encode(key, elements, P, M)
    misses = [rng.randbytes(21) for _ in range(2_000)]
    hits = sum(wire_impl.module.gcs_match_any(key, encoded, [miss], P, M) for miss in misses)
    assert hits <= 2  # expected 2,000 / 784,931: about 0.003


def test_every_cut_and_excess_fails_as_the_pure_twin(wire_impl):
    key, elements = row_elements(BIP158[4])  # 10 elements
    encoded = wire_impl.module.gcs_encode(key, elements, P, M)
    for cut in range(len(encoded)):
        piece = encoded[:cut]
        outcome = attempt(wire_impl.module.gcs_values, piece, P)
        assert outcome == attempt(_wire_py.gcs_values, piece, P)
        assert outcome[0] == "error" and outcome[1] in (errors.Truncated,)
        assert attempt(wire_impl.module.gcs_match_any, key, piece, [b"x"], P, M) == attempt(
            _wire_py.gcs_match_any, key, piece, [b"x"], P, M)
    for bad, error in ((encoded + b"\x00", errors.TrailingBytes),
                       (b"\x00\x00", errors.TrailingBytes),
                       (b"\xff" + (1 << 32).to_bytes(8, "little"), errors.InvalidValue),
                       (b"\xfd\x00\x10" + bytes(100), errors.Truncated),  # 4,096 values in 100 bytes
                       (b"\xfd\x01\x00", errors.InvalidValue)):  # not the shortest CompactSize
        outcome = attempt(wire_impl.module.gcs_values, bad, P)
        assert outcome == attempt(_wire_py.gcs_values, bad, P)
        assert outcome[1] is error


def test_a_long_unary_run_reads_as_the_pure_twin(wire_impl):
    data = b"\x01" + b"\xff" * 40 + b"\x00" * 3  # one value whose quotient is 320
    assert wire_impl.module.gcs_values(data, P) == _wire_py.gcs_values(data, P) == [320 << P]


@pytest.mark.parametrize("args, error", [
    ((bytes(15), [], P, M), ValueError),
    (("sixteen bytes!!!", [], P, M), TypeError),
    ((bytes(16), [], 0, M), ValueError),
    ((bytes(16), [], 33, M), ValueError),
    ((bytes(16), [], P, 0), ValueError),
    ((bytes(16), [], P, 1 << 32), ValueError),
    ((bytes(16), [b"a", b"b"], 1, (1 << 32) - 1), errors.OversizedMessage),  # 2**31 ones each
    ((bytes(16), ["text"], P, M), TypeError),
])
def test_bad_parameters(wire_impl, args, error):
    outcome = attempt(wire_impl.module.gcs_encode, *args)
    assert outcome[1] is attempt(_wire_py.gcs_encode, *args)[1] is error


def test_bad_values_parameter(wire_impl):
    for p in (0, 33):
        assert attempt(wire_impl.module.gcs_values, b"\x00", p)[1] is ValueError


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), p=st.integers(1, 32), queries=st.lists(st.binary(max_size=40), max_size=5))
def test_any_bytes_decode_and_match_as_the_pure_twin(wire_impl, data, p, queries):
    if wire_impl.name == "py":
        pytest.skip("the pure twin is the reference this test compares the compiled one against")
    key = bytes(range(16))
    assert attempt(wire_impl.module.gcs_values, data, p) == attempt(_wire_py.gcs_values, data, p)
    assert (attempt(wire_impl.module.gcs_match_any, key, data, queries, p, M)
            == attempt(_wire_py.gcs_match_any, key, data, queries, p, M))
