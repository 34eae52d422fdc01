"""`pantheon.net.messages` against the oracle, `pantheon.spec`: the same bytes both ways, the same
error classes, and no construct loaded by `pantheon.net`."""

from __future__ import annotations

import pytest

from helpers.process import run_python
from pantheon import errors, limits, protocol, spec
from pantheon.errors import OversizedMessage, TrailingBytes, Truncated
from pantheon.net import messages
from pantheon.net.messages import Endpoint, Version

FULL = Version(
    version=70016,
    services=protocol.NODE_NETWORK | protocol.NODE_WITNESS,
    timestamp=1_700_000_000,
    addr_recv=Endpoint.from_host("127.0.0.1", 18444, services=1),
    addr_from=Endpoint.from_host("::1", 8333),
    nonce=0x0123456789ABCDEF,
    user_agent="/Pantheon:0.1.0/",
    start_height=471,
    relay=True,
)
VERSIONS = [
    FULL,
    Version(70001, 0, -5, Endpoint.from_host("not an ip", 1)),  # addr_recv only (pre-106 shape)
    Version(70001, 0, 0, Endpoint(), Endpoint(), 7),  # stops after the nonce
    Version(70001, 0, 0, Endpoint(), Endpoint(), 7, "", -1),  # no relay byte (pre-70001 shape)
    Version(70016, 1, 2, Endpoint(), Endpoint(), 2**64 - 1, "x" * 256, 0, False, b"future"),
]


def _as_spec(message: Version) -> dict:
    def endpoint(value: Endpoint | None) -> dict | None:
        return None if value is None else {"services": value.services, "ip": value.ip, "port": value.port}

    return {
        "version": message.version, "services": message.services, "timestamp": message.timestamp,
        "addr_recv": endpoint(message.addr_recv), "addr_from": endpoint(message.addr_from),
        "nonce": message.nonce, "user_agent": message.user_agent, "start_height": message.start_height,
        "relay": message.relay, "extra": message.extra,
    }


@pytest.mark.parametrize("message", VERSIONS)
def test_version_bytes_match_the_spec(message: Version) -> None:
    raw = messages.encode_version(message)
    assert raw == spec.build_payload("version", _as_spec(message))
    assert messages.decode_version(raw) == message
    parsed = spec.parse_payload("version", raw)
    assert parsed.nonce == message.nonce and parsed.user_agent == message.user_agent
    assert parsed.relay == message.relay and parsed.start_height == message.start_height


def test_version_cut_at_every_byte_fails_as_the_spec_does() -> None:
    raw = messages.encode_version(FULL)
    for end in range(len(raw)):
        cut = raw[:end]
        try:
            ours: object = messages.decode_version(cut)
        except errors.ProtocolError as error:
            ours = type(error)
        try:
            theirs: object = spec.parse_payload("version", cut)
        except errors.ProtocolError as error:
            theirs = type(error)
        if isinstance(ours, type) or isinstance(theirs, type):
            assert ours == theirs, end
        else:  # both read a shorter, valid version
            assert isinstance(ours, Version) and ours.start_height == theirs.start_height, end


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda raw: raw[:-1] + b"\x02", errors.InvalidValue),  # relay byte 2
        (lambda raw: raw[:80] + b"\xfd\x01\x01" + bytes(257) + raw[-5:], errors.OversizedMessage),
        (lambda raw: raw[:80] + b"\xfd\x10\x00", errors.InvalidValue),  # non-canonical CompactSize
    ],
)
def test_version_errors_match_the_spec(mutate, error) -> None:
    raw = mutate(messages.encode_version(FULL))
    with pytest.raises(error):
        messages.decode_version(raw)
    with pytest.raises(error):
        spec.parse_payload("version", raw)


def test_encode_version_refuses_a_long_user_agent() -> None:
    with pytest.raises(errors.OversizedMessage):
        messages.encode_version(Version(70016, 0, 0, Endpoint(), Endpoint(), 1, "y" * 257))


def test_small_messages_match_the_spec() -> None:
    for nonce in (0, 1, 2**64 - 1):
        assert messages.encode_ping(nonce) == spec.build_payload("ping", {"nonce": nonce})
        assert messages.encode_pong(nonce) == spec.build_payload("pong", {"nonce": nonce})
        assert messages.decode_ping(messages.encode_ping(nonce)) == nonce
        assert messages.decode_pong(messages.encode_pong(nonce)) == nonce
    assert messages.decode_ping(b"") is None and spec.parse_payload("ping", b"").nonce is None
    assert messages.encode_feefilter(1000) == spec.build_payload("feefilter", {"feerate": 1000})
    assert messages.decode_feefilter(messages.encode_feefilter(1000)) == 1000
    raw = messages.encode_sendcmpct(True, 2)
    assert raw == spec.build_payload("sendcmpct", {"announce": True, "version": 2})
    assert messages.decode_sendcmpct(raw) == (True, 2)
    for command in messages.EMPTY_COMMANDS:
        assert spec.build_payload(command, {}) == b"" and limits.MAX_PAYLOAD[command] == 0


@pytest.mark.parametrize(
    ("decode", "command", "raw", "error"),
    [
        (messages.decode_pong, "pong", b"\x00" * 7, errors.Truncated),
        (messages.decode_pong, "pong", b"\x00" * 9, errors.OversizedMessage),
        (messages.decode_ping, "ping", b"\x00" * 9, errors.OversizedMessage),
        (messages.decode_feefilter, "feefilter", b"\x00" * 3, errors.Truncated),
        (messages.decode_sendcmpct, "sendcmpct", b"\x02" + bytes(8), errors.InvalidValue),
    ],
)
def test_small_message_errors_match_the_spec(decode, command, raw, error) -> None:
    with pytest.raises(error):
        decode(raw)
    with pytest.raises(error):
        spec.parse_payload(command, raw)


def test_net_does_not_import_construct() -> None:
    loaded = run_python(
        "import sys, pantheon.net.messages, pantheon.net.peer; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'construct' or m == 'pantheon.spec'))"
    )
    assert loaded == "[]"


@pytest.mark.parametrize("command", ["getheaders", "getblocks"])
def test_locator_bytes_match_the_spec(command: str) -> None:
    hashes = tuple(bytes([i]) * 32 for i in range(12))
    for locator in (messages.Locator(70016, hashes, b"\x09" * 32), messages.Locator(70001, ())):
        raw = messages.encode_locator(locator)
        assert raw == spec.build_payload(command, {"version": locator.version, "locator": list(locator.hashes),
                                                   "hash_stop": locator.stop})
        assert messages.decode_locator(raw, command) == locator


@pytest.mark.parametrize(("raw", "error"), [
    (b"\x01\x00\x00\x00", Truncated),
    (b"\x01\x00\x00\x00\x01" + bytes(40), Truncated),
    (b"\x01\x00\x00\x00\x00" + bytes(33), TrailingBytes),
    (b"\x01\x00\x00\x00\x66" + bytes(32 * 103), OversizedMessage),
])
def test_locator_errors_match_the_spec(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        messages.decode_locator(raw)
    with pytest.raises(error):
        spec.parse_payload("getheaders", raw)
    with pytest.raises(OversizedMessage):
        messages.encode_locator(messages.Locator(1, (bytes(32),) * 102))
