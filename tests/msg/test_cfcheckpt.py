"""cfcheckpt (BIP157; btcd msgcfcheckpt_test.go): the filter header of every 1,000th block."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import CFCheckpt

STOP = "3212f2fefbc11b3785b6b0747a89f645946a4fd97909f12d3f6b796ee9aea810"
HEADER = "b8f0c5394bd31f1810b5b815943620b8a0bd4fa6717f6da8061a3fbdc51fca8d"
# chaintope/bitcoinrb spec/bitcoin/message/cfcheckpt_spec.rb:16 @4069b531; golden-vectors.json.
ONE = Layout((
    ("filter_type: 0 (BIP158 basic)", "00"),
    ("stop_hash", STOP),
    ("filter_headers count: 1", "01"),
    ("filter_headers[0]: at height 1000", HEADER),
))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["cfcheckpt"] == limits.MAX_MESSAGE_SIZE  # Core's length limit only
    largest = CFCheckpt(0xFF, b"\xff" * 32, [b"\xff" * 32] * ((limits.MAX_MESSAGE_SIZE - 38) // 32))
    payload = wire_impl.module.encode_cfcheckpt(largest)
    assert len(payload) > limits.MAX_MESSAGE_SIZE - 32 and wire_impl.module.decode_cfcheckpt(payload) == largest


def test_wire(wire_impl: Any) -> None:
    assert ONE.payload in golden("cfcheckpt", "cfcheckpt_spec.rb:16")
    check_wire(wire_impl.module, "cfcheckpt", CFCheckpt(0, bytes.fromhex(STOP), [bytes.fromhex(HEADER)]), ONE)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "cfcheckpt", ONE)
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(wire_impl.module, "cfcheckpt", ONE.payload[:33], ceiling + 1, "cfcheckpt.filter_headers", ceiling)
