"""cfilter (BIP157; btcd msgcfilter_test.go): one block's compact filter."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import CFilter

BLOCK = "037f1dcd4c46e1305ceaef7083a56c3824db5439e5d09e349eed59500ee6c867"
# chaintope/bitcoinrb spec/bitcoin/message/cfilter_spec.rb:14 @4069b531; golden-vectors.json.
ONE_ELEMENT = Layout((
    ("filter_type: 0 (BIP158 basic)", "00"),
    ("block_hash", BLOCK),
    ("filter length: 4", "04"),
    ("filter: N=1, then the Golomb-coded set", "011c9340"),
))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["cfilter"] == limits.MAX_MESSAGE_SIZE  # no structural bound below it
    largest = CFilter(0xFF, b"\xff" * 32, b"\xff" * (limits.MAX_MESSAGE_SIZE - 38))
    payload = wire_impl.module.encode_cfilter(largest)
    assert len(payload) == limits.MAX_MESSAGE_SIZE and wire_impl.module.decode_cfilter(payload) == largest


def test_wire(wire_impl: Any) -> None:
    assert ONE_ELEMENT.payload in golden("cfilter", "cfilter_spec.rb:14")
    check_wire(wire_impl.module, "cfilter", CFilter(0, bytes.fromhex(BLOCK), bytes.fromhex("011c9340")), ONE_ELEMENT)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "cfilter", ONE_ELEMENT)
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(wire_impl.module, "cfilter", ONE_ELEMENT.payload[:33], ceiling + 1, "cfilter.filter", ceiling)
