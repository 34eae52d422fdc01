"""sendtxrcncl (BIP330, Erlay; sent before verack): the reconciliation version and a salt."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_wire, golden

from pantheon import limits
from pantheon.primitives import SendTxRcncl

# chaintope/bitcoinrb spec/bitcoin/message/send_tx_rcncl_spec.rb:3 @4069b531; golden-vectors.json.
VERSION_1 = Layout((("version: 1", "01000000"), ("salt: 0x1807f6e5d4c3b2a1", "a1b2c3d4e5f60718")))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["sendtxrcncl"] == 4 + 8
    largest = SendTxRcncl(0xFFFF_FFFF, (1 << 64) - 1)
    assert wire_impl.module.encode_sendtxrcncl(largest) == b"\xff" * 12
    assert wire_impl.module.decode_sendtxrcncl(b"\xff" * 12) == largest


def test_wire(wire_impl: Any) -> None:
    assert VERSION_1.payload in golden("sendtxrcncl", "send_tx_rcncl_spec.rb:3")
    check_wire(wire_impl.module, "sendtxrcncl", SendTxRcncl(1, 0x1807F6E5D4C3B2A1), VERSION_1)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "sendtxrcncl", VERSION_1)
