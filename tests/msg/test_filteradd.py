"""filteradd (BIP37; btcd msgfilteradd_test.go): one element of up to 520 bytes for the filter."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_largest, check_over_cap, check_wire, golden

from pantheon import limits

ELEMENT = "fdacf9b3eb077412e7a968d2e4f11b9a9dee312d666187ed77ee7d26af16cb0b"
# chaintope/bitcoinrb spec/bitcoin/message/filter_add_spec.rb:19 @4069b531; golden-vectors.json.
HASH = Layout((("data length: 32", "20"), ("data: a 32-byte element", ELEMENT)))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_FILTERADD_SIZE == 520  # Core MAX_SCRIPT_ELEMENT_SIZE
    assert limits.MAX_PAYLOAD["filteradd"] == 3 + 520
    check_largest(wire_impl.module, "filteradd", b"\xff" * 520)


def test_wire(wire_impl: Any) -> None:
    assert HASH.payload in golden("filteradd", "filter_add_spec.rb:19")
    check_wire(wire_impl.module, "filteradd", bytes.fromhex(ELEMENT), HASH)
    check_wire(wire_impl.module, "filteradd", b"", Layout((("data length: 0", "00"),)))


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "filteradd", HASH)
    check_over_cap(wire_impl.module, "filteradd", b"", 521, "filteradd.data", 520)
