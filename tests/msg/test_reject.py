"""reject (BIP61; btcd msgreject_test.go): the rejected message's command, a code, a reason and
the rejected object's hash. Removed from Core 0.20; still decoded, as peers may send it."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import Reject

TXID = "577a9694da4ff41ae999f6591cff3749ad6a7db19435f3d8af5fecbcff824196"
# MetacoSA/NBitcoin NBitcoin.Tests/ProtocolTests.cs:1104 @1f9f0fc3; golden-vectors.json.
DUPLICATE = Layout((
    ("message length", "02"),
    ("message: tx", "7478"),
    ("ccode: 0x12 REJECT_DUPLICATE", "12"),
    ("reason length: 21", "15"),
    ("reason: bad-txns-inputs-spent", "6261642d74786e732d696e707574732d7370656e74"),
    ("data: the txid", TXID),
))
DUPLICATE_VALUE = Reject("tx", 0x12, "bad-txns-inputs-spent", bytes.fromhex(TXID))
NO_DATA = Layout((("message length", "05"), ("message: block", "626c6f636b"), ("ccode: 0x43 REJECT_CHECKPOINT", "43"),
                  ("reason length", "00"), ("data: none", "")))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["reject"] == limits.MAX_MESSAGE_SIZE  # reasons were never capped on the wire
    largest = Reject("", 0xFF, "r" * (limits.MAX_MESSAGE_SIZE - 7), b"")
    payload = wire_impl.module.encode_reject(largest)
    assert len(payload) == limits.MAX_MESSAGE_SIZE
    assert wire_impl.module.decode_reject(payload) == largest


def test_wire(wire_impl: Any) -> None:
    assert DUPLICATE.payload in golden("reject", "ProtocolTests.cs:1104")
    check_wire(wire_impl.module, "reject", DUPLICATE_VALUE, DUPLICATE)
    check_wire(wire_impl.module, "reject", Reject("block", 0x43, ""), NO_DATA)


@pytest.mark.parametrize("layout", [DUPLICATE, NO_DATA], ids=["duplicate", "no-data"])
def test_wire_errors(layout: Layout, wire_impl: Any) -> None:
    # Whatever follows the reason is data: a cut inside it or a byte too many is other data.
    check_cuts(wire_impl.module, "reject", Layout(layout.rows, rest="data"))
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(wire_impl.module, "reject", b"", ceiling + 1, "reject.message", ceiling)
    check_over_cap(wire_impl.module, "reject", DUPLICATE.payload[:4], ceiling + 1, "reject.reason", ceiling)
