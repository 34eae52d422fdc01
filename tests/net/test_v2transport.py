"""BIP324's handshake and packet framing (pantheon.net.v2transport), without sockets: two of our
transports talking, Bitcoin Core's own test-framework implementation (an independent one, with
decoys) on the other side, and every way a peer can break the framing."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator

import pytest

from helpers.core import CORE_FUNCTIONAL, available
from pantheon import limits, params
from pantheon.frames import BAD_COMMAND
from pantheon.net.bip324 import V2CipherError
from pantheon.protocol import GARBAGE_TERMINATOR_SIZE, MAX_GARBAGE_SIZE
from pantheon.net.v2transport import V1_PREFIX_SIZE, V2State, V2Transport, V2TransportError

MAGIC = params.REGTEST.magic


def _shuttle(sender: V2Transport, receiver: V2Transport, chunk: int | None = None) -> list:
    """Move what `sender` has to write into `receiver` (in pieces of `chunk` bytes if given) and
    collect the frames that come out."""
    data = sender.take_output()
    frames = []
    pieces = [data] if chunk is None else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        receiver.feed(piece)
        while (frame := receiver.next_frame()) is not None:
            frames.append(frame)
    return frames


def _connected(garbage: bytes | None = None, chunk: int | None = None) -> tuple[V2Transport, V2Transport]:
    initiator = V2Transport(MAGIC, initiating=True, garbage=garbage)
    responder = V2Transport(MAGIC, initiating=False, garbage=garbage)
    for _ in range(3):  # key, then terminator and version packet, each way
        _shuttle(initiator, responder, chunk)
        _shuttle(responder, initiator, chunk)
    assert initiator.established and responder.established
    return initiator, responder


@pytest.mark.parametrize("garbage", [b"", os.urandom(MAX_GARBAGE_SIZE)], ids=["no-garbage", "max-garbage"])
@pytest.mark.parametrize("chunk", [None, 1], ids=["whole", "byte-by-byte"])
def test_two_transports_agree_and_carry_messages_both_ways(garbage: bytes, chunk: int | None) -> None:
    initiator, responder = _connected(garbage, chunk)
    assert initiator.session_id == responder.session_id and len(initiator.session_id or b"") == 32
    initiator.send("ping", b"12345678")
    initiator.send("sendaddrv2", b"")  # no short id: 12-byte form
    frames = _shuttle(initiator, responder, chunk)
    assert [(f.command, f.payload, f.error) for f in frames] == [("ping", b"12345678", None), ("sendaddrv2", b"", None)]
    assert frames[0].wire_size == 20 + 1 + 8 and frames[1].wire_size == 20 + 13
    responder.send("pong", b"12345678")
    assert [(f.command, f.payload) for f in _shuttle(responder, initiator, chunk)] == [("pong", b"12345678")]


def test_messages_sent_before_the_keys_wait_for_them() -> None:
    initiator = V2Transport(MAGIC, initiating=True, garbage=b"")
    responder = V2Transport(MAGIC, initiating=False, garbage=b"")
    initiator.send("version", b"v" * 100)  # an outbound peer queues its version message at once
    assert len(initiator.take_output()) == 64  # its key only: the message waits
    initiator = V2Transport(MAGIC, initiating=True, garbage=b"")
    initiator.send("version", b"v" * 100)
    _shuttle(initiator, responder)  # the responder now has the keys: what it sends is encrypted at once
    responder.send("version", b"w" * 90)
    assert [f.payload for f in _shuttle(responder, initiator)] == [b"w" * 90]
    assert [f.payload for f in _shuttle(initiator, responder)] == [b"v" * 100]


def test_ten_thousand_messages_cross_many_rekeyings() -> None:
    initiator, responder = _connected()
    for number in range(10_000):
        initiator.send("inv", number.to_bytes(4, "little"))
    frames = _shuttle(initiator, responder)
    assert [int.from_bytes(f.payload, "little") for f in frames] == list(range(10_000))


def test_an_initiator_sends_its_key_alone_until_the_peer_proves_v2() -> None:
    """A v1 peer reads our first bytes as headers (bcoin bans after ten bad ones): only the 64-byte
    key goes out first; the garbage follows with the terminator once the responder's key came."""
    initiator = V2Transport(MAGIC, initiating=True, garbage=b"G" * 4000)
    responder = V2Transport(MAGIC, initiating=False, garbage=b"")
    assert len(initiator.take_output()) == 64
    responder.feed(initiator._key.encoding)  # noqa: SLF001 - the key just taken
    responder.next_frame()
    initiator.feed(responder.take_output())
    initiator.next_frame()
    assert initiator.take_output().startswith(b"G" * 4000)


def test_an_initiator_answered_by_a_v1_version_knows_the_peer_is_v1() -> None:
    """bcoin speaks first: its version header where the responder's key should be."""
    initiator = V2Transport(MAGIC, initiating=True)
    initiator.feed(params.REGTEST.magic_bytes + b"version".ljust(12, b"\x00") + bytes(8))
    assert initiator.next_frame() is None and initiator.state is V2State.V1


def test_a_responder_hands_a_v1_version_to_the_v1_decoder() -> None:
    responder = V2Transport(MAGIC, initiating=False)
    v1_version_start = params.REGTEST.magic_bytes + b"version".ljust(12, b"\x00") + b"\x66\x00\x00\x00"
    responder.feed(v1_version_start[:10])
    assert responder.next_frame() is None and responder.state is V2State.MAYBE_V1
    responder.feed(v1_version_start[10:])
    assert responder.next_frame() is None and responder.state is V2State.V1
    assert responder.take_output() == b""  # a responder never writes to a v1 peer
    assert responder.v1_bytes() == v1_version_start


def test_a_responder_answers_at_the_first_byte_that_is_not_v1() -> None:
    responder = V2Transport(MAGIC, initiating=False, garbage=b"g" * 10)
    responder.feed(params.REGTEST.magic_bytes + b"vers" + b"X")
    responder.next_frame()
    assert responder.state is V2State.KEY and len(responder.take_output()) == 64 + 10


def test_a_v1_version_from_another_network_is_refused() -> None:
    responder = V2Transport(MAGIC, initiating=False)
    responder.feed(params.MAIN.magic_bytes + b"version".ljust(12, b"\x00"))
    with pytest.raises(V2TransportError, match="V1 peer with wrong MessageStart f9beb4d9"):
        responder.next_frame()


def test_garbage_without_a_terminator_is_refused_at_the_limit() -> None:
    initiator = V2Transport(MAGIC, initiating=True)
    responder = V2Transport(MAGIC, initiating=False)
    _shuttle(initiator, responder)
    initiator.feed(responder.take_output()[:64])  # its key, then garbage that never ends
    initiator.feed(bytes(MAX_GARBAGE_SIZE + GARBAGE_TERMINATOR_SIZE - 1))
    assert initiator.next_frame() is None and initiator.buffered == MAX_GARBAGE_SIZE + GARBAGE_TERMINATOR_SIZE - 1
    initiator.feed(b"\x00")
    with pytest.raises(V2TransportError, match="missing garbage terminator"):
        initiator.next_frame()


def test_a_packet_longer_than_the_largest_message_is_refused_before_it_is_read() -> None:
    initiator = V2Transport(MAGIC, initiating=True)
    responder = V2Transport(MAGIC, initiating=False, max_payload=100)
    for _ in range(3):
        _shuttle(initiator, responder)
        _shuttle(responder, initiator)
    initiator.send("block", bytes(101 + limits.COMMAND_SIZE))
    responder.feed(initiator.take_output()[:3])  # only the length: the rest is never awaited
    with pytest.raises(V2TransportError, match="packet too large"):
        responder.next_frame()


def test_a_flipped_bit_ends_the_session() -> None:
    initiator, responder = _connected()
    initiator.send("ping", bytes(8))
    packet = bytearray(initiator.take_output())
    packet[5] ^= 0x01
    responder.feed(bytes(packet))
    with pytest.raises(V2CipherError, match="failed authentication"):
        responder.next_frame()


def _contents_frames(contents: list[bytes]) -> list:
    """What the responder makes of packets with these raw contents (type byte included)."""
    initiator, responder = _connected()
    cipher = initiator._cipher  # noqa: SLF001 - writing packets no well-behaved sender makes
    assert cipher is not None
    for content in contents:
        responder.feed(cipher.encrypt(content))
    return [responder.next_frame() for _ in contents]


def test_unknown_and_malformed_message_types_are_dropped_frames() -> None:
    frames = _contents_frames([
        b"\x1d" + b"payload",  # short id 29: not assigned by BIP324
        b"\x00" + b"vers\x00ion\x00\x00\x00\x00\x00",  # a byte after the NUL padding
        b"\x00short",  # the long form needs 12 type bytes
        b"",  # no type at all
        b"\x00" + b"\x80".ljust(12, b"\x00"),  # above 0x7f
    ])
    assert [frame.error for frame in frames] == [BAD_COMMAND] * 5


def test_decoys_are_skipped() -> None:
    initiator, responder = _connected()
    cipher = initiator._cipher  # noqa: SLF001 - we never send decoys; other implementations do
    assert cipher is not None
    responder.feed(cipher.encrypt(b"decoy", ignore=True) + cipher.encrypt(bytes((18,)) + bytes(8)))
    frame = responder.next_frame()
    assert frame is not None and frame.command == "ping" and responder.next_frame() is None


def test_garbage_over_the_limit_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="at most 4095"):
        V2Transport(MAGIC, initiating=True, garbage=bytes(MAX_GARBAGE_SIZE + 1))


# --- against Bitcoin Core's test framework (an independent implementation) ---------------------

@pytest.fixture
def core_v2() -> Iterator[type]:
    """Core's EncryptedP2PState, from ../shared/core-functional (regtest only)."""
    if not available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Core's functional test framework is missing: {CORE_FUNCTIONAL}")
        pytest.skip(f"Core's functional test framework is not at {CORE_FUNCTIONAL}")
    sys.path.insert(0, str(CORE_FUNCTIONAL / "functional"))
    try:
        from test_framework.v2_p2p import EncryptedP2PState
        yield EncryptedP2PState
    finally:
        sys.path.remove(str(CORE_FUNCTIONAL / "functional"))


def test_core_frameworks_initiator_talks_to_our_responder(core_v2: type) -> None:
    """Core's side sends up to 10 decoys before its version packet and random garbage."""
    theirs = core_v2(initiating=True, net="regtest")
    ours = V2Transport(MAGIC, initiating=False)
    ours.feed(theirs.initiate_v2_handshake())
    assert ours.next_frame() is None
    reply = ours.take_output()
    consumed, to_send = theirs.complete_handshake(io.BytesIO(reply[:64]))
    assert consumed == 64
    ours.feed(to_send + theirs.v2_enc_packet(bytes((18,)) + b"8 bytes!"))
    frame = ours.next_frame()
    assert ours.established and frame is not None and (frame.command, frame.payload) == ("ping", b"8 bytes!")
    processed, ok = theirs.authenticate_handshake(reply[64:])
    assert ok and theirs.tried_v2_handshake
    assert theirs.peer["session_id"] == ours.session_id
    ours.send("pong", b"8 bytes!")
    length, contents = theirs.v2_receive_packet(ours.take_output())
    assert contents == bytes((19,)) + b"8 bytes!"


def test_our_initiator_talks_to_core_frameworks_responder(core_v2: type) -> None:
    ours = V2Transport(MAGIC, initiating=True)
    theirs = core_v2(initiating=False, net="regtest")
    hello = ours.take_output()
    consumed, response = theirs.respond_v2_handshake(io.BytesIO(hello))
    assert isinstance(response, bytes) and len(response) >= 64  # it saw at once that we are not v1
    _, finish = theirs.complete_handshake(io.BytesIO(hello[consumed:]))
    ours.feed(response + finish)
    assert ours.next_frame() is None and ours.established
    ours.send("ping", b"8 bytes!")
    assert len(hello) == 64  # our garbage goes with our terminator, now that the peer is known to be v2
    processed, ok = theirs.authenticate_handshake(ours.take_output())
    assert ok and theirs.tried_v2_handshake and theirs.peer["session_id"] == ours.session_id


def test_a_large_packet_is_handed_out_apart_and_small_ones_joined() -> None:
    """take_parts: the writer gets a large packet's ciphertext as the cipher made it (no copy to
    join it with its 3-byte length); the parts still read as one stream."""
    initiator, responder = _connected()
    initiator.send("ping", bytes(8))
    initiator.send("block", bytes(200_000))
    initiator.send("pong", bytes(8))
    parts = initiator.take_parts()
    assert [len(part) for part in parts] == [20 + 1 + 8 + 3, 200_000 + 1 + 17, 20 + 1 + 8]
    assert initiator.take_parts() == [] and initiator.take_output() == b""
    responder.feed(b"".join(parts))
    assert [(f.command, len(f.payload)) for f in iter(responder.next_frame, None)] == [
        ("ping", 8), ("block", 200_000), ("pong", 8)]
