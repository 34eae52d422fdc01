"""getcfcheckpt (BIP157; btcd msggetcfcheckpt_test.go): a filter type and a stop hash."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_wire, golden

from pantheon import limits
from pantheon.primitives import CFCheckptRequest

STOP = "24b7278b7099b25da182ad89cdc6505ec1ee5a1a7124535963b86a8e37064648"
# chaintope/bitcoinrb spec/bitcoin/message/get_cfcheckpt_spec.rb:13 @4069b531; golden-vectors.json.
REQUEST = Layout((("filter_type: 0 (BIP158 basic)", "00"), ("stop_hash", STOP)))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["getcfcheckpt"] == 1 + 32
    largest = CFCheckptRequest(0xFF, b"\xff" * 32)
    assert wire_impl.module.encode_getcfcheckpt(largest) == b"\xff" * 33
    assert wire_impl.module.decode_getcfcheckpt(b"\xff" * 33) == largest


def test_wire(wire_impl: Any) -> None:
    assert REQUEST.payload in golden("getcfcheckpt", "get_cfcheckpt_spec.rb:13")
    check_wire(wire_impl.module, "getcfcheckpt", CFCheckptRequest(0, bytes.fromhex(STOP)), REQUEST)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "getcfcheckpt", REQUEST)
