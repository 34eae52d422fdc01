"""filterload (BIP37; btcd msgfilterload_test.go): a bloom filter of up to 36,000 bytes, its hash
function count, tweak and update flags."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_largest, check_over_cap, check_wire, golden

from pantheon import errors, limits
from pantheon.primitives import FilterLoad

# chaintope/bitcoinrb spec/bitcoin/message/filter_load_spec.rb:24 @4069b531; golden-vectors.json.
SMALL = Layout((
    ("filter length", "02"),
    ("filter", "b50f"),
    ("hash_funcs: 11", "0b000000"),
    ("tweak: 0", "00000000"),
    ("flags: 0 (BLOOM_UPDATE_NONE)", "00"),
))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_BLOOM_FILTER_SIZE == 36_000  # Core MAX_BLOOM_FILTER_SIZE
    assert limits.MAX_PAYLOAD["filterload"] == 3 + 36_000 + 4 + 4 + 1
    largest = FilterLoad(b"\xff" * 36_000, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFF)
    check_largest(wire_impl.module, "filterload", largest)
    with pytest.raises(errors.OversizedMessage, match="^filterload.filter: 36001 exceeds the cap of 36000$"):
        wire_impl.module.encode_filterload(FilterLoad(bytes(36_001), 0, 0, 0))


def test_wire(wire_impl: Any) -> None:
    assert SMALL.payload in golden("filterload", "filter_load_spec.rb:24")
    check_wire(wire_impl.module, "filterload", FilterLoad(b"\xb5\x0f", 11, 0, 0), SMALL)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "filterload", SMALL)
    check_over_cap(wire_impl.module, "filterload", b"", 36_001, "filterload.filter", 36_000)
