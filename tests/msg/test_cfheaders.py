"""cfheaders (BIP157; btcd msgcfheaders_test.go): the filter header before a range and up to
2,000 filter hashes."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_largest, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import CFHeaders

# A thousand testnet3 filter hashes: chaintope/bitcoinrb spec/bitcoin/message/cfheaders_spec.rb:15
# @4069b531; golden-vectors.json.
PAYLOAD = golden("cfheaders", "cfheaders_spec.rb:15")[0]
THOUSAND = Layout((
    ("filter_type: 0 (BIP158 basic)", "00"),
    ("stop_hash", PAYLOAD[1:33].hex()),
    ("previous_filter_header", PAYLOAD[33:65].hex()),
    ("filter_hashes count: 1000", "fde803"),
    *((f"filter_hashes[{n}]", PAYLOAD[68 + 32 * n : 100 + 32 * n].hex()) for n in range(1000)),
))
THOUSAND_VALUE = CFHeaders(0, PAYLOAD[1:33], PAYLOAD[33:65], [bytes.fromhex(hex_text) for _, hex_text in THOUSAND.rows[4:]])


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_CFHEADERS == 2_000  # BIP157 MAX_CFHEADERS_RESULTS
    assert limits.MAX_PAYLOAD["cfheaders"] == 1 + 32 + 32 + 3 + 2_000 * 32
    largest = CFHeaders(0xFF, b"\xff" * 32, b"\xff" * 32, [b"\xff" * 32] * 2_000)
    check_largest(wire_impl.module, "cfheaders", largest)


def test_wire(wire_impl: Any) -> None:
    assert THOUSAND.payload == PAYLOAD and len(THOUSAND_VALUE.filter_hashes) == 1000
    check_wire(wire_impl.module, "cfheaders", THOUSAND_VALUE, THOUSAND)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "cfheaders", THOUSAND)
    check_over_cap(wire_impl.module, "cfheaders", PAYLOAD[:65], 2_001, "cfheaders.filter_hashes", 2_000)
