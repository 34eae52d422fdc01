"""headers (btcd msgheaders_test.go): up to 2,000 headers, each followed by a tx count."""

from __future__ import annotations

import hashlib
from typing import Any

from msg_tables import Layout, check_cuts, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import BlockHeader

# bitcoinrb spec/bitcoin/message/headers_spec.rb:22 @4069b531; golden-vectors.json.
ONE_HEADER = Layout((
    ("count", "01"),
    ("version: 0x20000000 (BIP9)", "00000020"),
    ("prev_block", "d74691935ea3e3a1a1b72191d9540ab6de1ac0f1ccb928b9a40b6f1c00000000"),
    ("merkle_root", "59b250a16ae1bdd0d066f0bbff76722550783076372d9687550c31f565f72836"),
    ("timestamp: 1498450639", "cf8a5059"),
    ("bits: 0x1d00ffff", "ffff001d"),
    ("nonce: 44219109", "e5baa202"),
    ("tx_count: 0 (read and ignored by Core)", "00"),
))
ONE_HEADER_VALUE = [BlockHeader(
    0x20000000,
    bytes.fromhex("d74691935ea3e3a1a1b72191d9540ab6de1ac0f1ccb928b9a40b6f1c00000000"),
    bytes.fromhex("59b250a16ae1bdd0d066f0bbff76722550783076372d9687550c31f565f72836"),
    1498450639, 0x1D00FFFF, 44219109,
)]


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_HEADERS == 2_000  # Core MAX_HEADERS_RESULTS
    assert limits.MAX_PAYLOAD["headers"] == 3 + 2_000 * (80 + 5)  # tx counts up to MAX_SIZE
    max_size = limits.MAX_MESSAGE_SIZE_CEILING  # Core's ReadCompactSize range check
    largest = [BlockHeader(-1, b"\xff" * 32, b"\xff" * 32, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, max_size)] * 2_000
    payload = wire_impl.module.encode_headers(largest)
    assert len(payload) == limits.MAX_PAYLOAD["headers"]
    decoded = wire_impl.module.decode_headers(payload)
    assert decoded == largest and {header.tx_count for header in decoded} == {max_size}


def test_wire(wire_impl: Any) -> None:
    assert ONE_HEADER.payload in golden("headers", "headers_spec.rb:22")
    check_wire(wire_impl.module, "headers", ONE_HEADER_VALUE, ONE_HEADER)
    check_wire(wire_impl.module, "headers", [], Layout((("count", "00"),)))
    (header,) = wire_impl.module.decode_headers(ONE_HEADER.payload)
    assert header.hash == hashlib.sha256(hashlib.sha256(ONE_HEADER.payload[1:81]).digest()).digest()


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "headers", ONE_HEADER)
    check_over_cap(wire_impl.module, "headers", b"", limits.MAX_HEADERS + 1, "headers.headers", limits.MAX_HEADERS)
