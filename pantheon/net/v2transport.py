"""BIP324's transport for one connection, without I/O: bytes from the socket go in through
`feed`, messages come out of `next_frame` as the same `Frame`s the v1 decoder makes, and what
must be written (keys, garbage, terminator, packets) is collected by `take_output`. So a peer can
swap it for the v1 decoder without its reader, dispatch or relay changing.

The handshake, as Core's V2Transport runs it but for one thing: the initiator sends its
ElligatorSwift key alone, and its random garbage only with its terminator, once the responder's
key has shown the peer speaks v2. A v1 peer reads whatever we send first as bad headers, and
bcoin scores each 24 bytes of them 10 towards a ban at 100: garbage up to 4,095 bytes would get
us banned before we could reconnect with v1, the key alone scores 20. A responder says nothing until a received byte differs from a v1
`version` header's first 16 bytes (then the peer is v2; if all 16 match, it is v1 and
`v1_detected` says so, leaving the bytes to a v1 decoder). Each side, once it has the other's
key, sends its garbage terminator and a version packet authenticated with its garbage; it then
looks for the other's terminator within 4,095 bytes of garbage, and takes the first packet
that is not a decoy as the other's version packet. Messages sent before the keys are known wait.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import deque
from enum import Enum
from typing import Final

from .. import limits
from ..errors import ProtocolError
from ..frames import BAD_COMMAND, Frame
from ..protocol import (
    ELLSWIFT_SIZE, EXPANSION, GARBAGE_TERMINATOR_SIZE, HEADER_SIZE, LENGTH_SIZE, MAX_GARBAGE_SIZE, TAG_SIZE,
)
from .bip324 import IGNORE_BIT, SHORT_MESSAGE_IDS, SHORT_MESSAGE_TYPES, EllSwiftKey, PacketCipher, SessionKeys

__all__ = ["V1_PREFIX_SIZE", "V2TransportError", "V2State", "V2Transport", "v2_wire_size"]

#: A v1 `version` message's magic and command field: what tells a v1 peer from a v2 one.
V1_PREFIX_SIZE: Final = 4 + limits.COMMAND_SIZE
_LONG_TYPE_SIZE: Final = 1 + limits.COMMAND_SIZE  # a 0 byte, then the 12-byte command field
#: Core's GetMessageType: bytes 0x20-0x7F up to the first NUL, then only NULs.
_VALID_COMMAND_FIELD: Final = re.compile(rb"[\x20-\x7f]*\x00*")
_V1_VERSION_COMMAND: Final = b"version".ljust(limits.COMMAND_SIZE, b"\x00")
_NOT_A_DECOY: Final = b"\x00"  # the header byte of every packet we send
#: Output parts from this size on are handed to the writer alone: joining copies them.
_LARGE_PART: Final = 64 * 1024


class V2TransportError(ProtocolError):
    """The peer broke BIP324's framing: Core disconnects it."""


class V2State(Enum):
    """Where the receiving side of the handshake is."""

    MAYBE_V1 = "maybe v1"  # responder: the first bytes may still be a v1 version header
    KEY = "key"  # waiting for the peer's 64-byte key
    GARBAGE = "garbage"  # looking for the peer's garbage terminator
    VERSION = "version"  # waiting for the peer's version packet (decoys skipped)
    APPLICATION = "application"  # messages
    V1 = "v1"  # the peer speaks v1: a responder's bytes belong to a v1 decoder; an initiator must reconnect


class V2Transport:
    """One side of a BIP324 connection (see the module's docstring)."""

    __slots__ = ("initiating", "state", "_magic", "_max_contents", "_key", "_garbage", "_cipher", "_in", "_out",
                 "_held", "_aad", "_contents_length", "_frames", "_received")

    def __init__(self, magic: int, *, initiating: bool, max_payload: int = limits.MAX_MESSAGE_SIZE,
                 key: EllSwiftKey | None = None, garbage: bytes | None = None) -> None:
        self.initiating = initiating
        self._magic = magic.to_bytes(4, "little")
        self._max_contents = _LONG_TYPE_SIZE + max_payload
        self._key = key or EllSwiftKey.generate()
        self._garbage = os.urandom(secrets.randbelow(MAX_GARBAGE_SIZE + 1)) if garbage is None else garbage
        if len(self._garbage) > MAX_GARBAGE_SIZE:
            raise ValueError(f"BIP324 garbage is at most {MAX_GARBAGE_SIZE} bytes, not {len(self._garbage)}")
        self._cipher: PacketCipher | None = None
        self._in = bytearray()  # deleting from its front is cheap (CPython moves its start)
        self._out: list[bytes] = []  # what to write, in parts (a large packet is never copied to join)
        self._held: list[tuple[str, bytes]] = []  # messages sent before the session's keys exist
        self._aad = b""  # the peer's garbage: authenticated by its first packet
        self._contents_length: int | None = None  # of the packet being read, once its length is decrypted
        self._frames: deque[Frame] = deque()
        self._received = 0
        if initiating:
            self.state = V2State.KEY
            self._out.append(self._key.encoding)  # the garbage waits for the responder's key
        else:
            self.state = V2State.MAYBE_V1

    # --- what the peer's reader and writer call ------------------------------------------

    @property
    def session_id(self) -> bytes | None:
        """BIP324's session id (getpeerinfo shows it), once the peer's version packet has
        confirmed that both sides hold the same keys."""
        return self._cipher.keys.session_id if self._cipher and self.established else None

    @property
    def received_nothing(self) -> bool:
        """Whether not one byte has come from the peer (Core reconnects with v1 only then)."""
        return self._received == 0

    @property
    def buffered(self) -> int:
        """Received bytes not yet consumed. Once `next_frame` has returned None it is below what
        the state waits for: 16 bytes (v1 detection), a 64-byte key, 4,095 + 16 bytes of garbage
        and terminator, or one packet of the largest size `max_payload` allows."""
        return len(self._in)

    @property
    def established(self) -> bool:
        """Whether the peer's version packet has arrived: the handshake is over."""
        return self.state is V2State.APPLICATION

    def send(self, command: str, payload: bytes) -> None:
        """Encrypt one message into the output, or hold it until the handshake has the keys."""
        if self._cipher is None:
            self._held.append((command, payload))
            return
        self._out += self._cipher.seal(b"".join((_NOT_A_DECOY, _message_type(command), payload)))

    def take_output(self) -> bytes:
        """The bytes to write now, in order (empty when there are none)."""
        return b"".join(self.take_parts())

    def take_parts(self) -> list[bytes]:
        """The bytes to write now, as `take_output` gives them but in parts: a large packet's
        ciphertext stays the object the cipher made, not copied to be joined (a socket writer
        sends each part), and the small parts around it are joined."""
        parts: list[bytes] = []
        small: list[bytes] = []
        for part in self._out:
            if len(part) < _LARGE_PART:
                small.append(part)
                continue
            if small:
                parts.append(b"".join(small))
                small = []
            parts.append(part)
        if small:
            parts.append(b"".join(small))
        self._out = []
        return parts

    def feed(self, data: bytes) -> None:
        """Bytes as they came off the socket; they are processed by `next_frame`."""
        self._in += data
        self._received += len(data)

    def next_frame(self) -> Frame | None:
        """The next message, or None until more bytes arrive. Raises V2TransportError (or the
        cipher's V2CipherError) on anything Core disconnects for."""
        while not self._frames and self._step():
            pass
        return self._frames.popleft() if self._frames else None

    def v1_bytes(self) -> bytes:
        """When `state` is V1: everything received, for a responder's v1 decoder to read."""
        assert self.state is V2State.V1
        data, self._in = bytes(self._in), bytearray()
        return data

    # --- the receiving side's state machine ----------------------------------------------

    def _step(self) -> bool:
        """Advance on the buffered bytes; False when more are needed."""
        state = self.state
        if state is V2State.MAYBE_V1:
            return self._detect_v1()
        if state is V2State.KEY:
            return self._receive_key()
        if state is V2State.GARBAGE:
            return self._find_terminator()
        if state is V2State.V1:
            return False
        return self._receive_packet()

    def _detect_v1(self) -> bool:
        prefix = self._magic + _V1_VERSION_COMMAND
        seen = bytes(self._in[:V1_PREFIX_SIZE])
        if seen != prefix[: len(seen)]:
            self.state = V2State.KEY
            self._out += (self._key.encoding, self._garbage)
            return True
        if len(seen) == V1_PREFIX_SIZE:
            self.state = V2State.V1
        return False

    def _receive_key(self) -> bool:
        if self.initiating and self._in[:V1_PREFIX_SIZE] == self._magic + _V1_VERSION_COMMAND:
            # A v1 peer that speaks first (bcoin does) answered with its version: not a key.
            self.state = V2State.V1
            return False
        if not self.initiating and self._in[4:V1_PREFIX_SIZE] == _V1_VERSION_COMMAND:
            # A v1 version header under another network's magic: a peer from another network.
            raise V2TransportError(f"V2 transport error: V1 peer with wrong MessageStart {self._in[:4].hex()}")
        if len(self._in) < ELLSWIFT_SIZE:
            return False
        theirs = bytes(self._in[:ELLSWIFT_SIZE])
        del self._in[:ELLSWIFT_SIZE]
        secret = self._key.shared_secret(theirs, initiating=self.initiating)
        self._cipher = PacketCipher(SessionKeys.derive(secret, self._magic, initiating=self.initiating))
        if self.initiating and self._garbage:
            self._out.append(self._garbage)
        self._out.append(self._cipher.keys.send_garbage_terminator)
        self._out += self._cipher.seal(_NOT_A_DECOY, aad=self._garbage)  # the version packet: no contents yet
        for command, payload in self._held:
            self.send(command, payload)
        self._held.clear()
        self.state = V2State.GARBAGE
        return True

    def _find_terminator(self) -> bool:
        assert self._cipher is not None
        terminator = self._cipher.keys.recv_garbage_terminator
        at = self._in.find(terminator, 0, MAX_GARBAGE_SIZE + GARBAGE_TERMINATOR_SIZE)
        if at < 0:
            if len(self._in) >= MAX_GARBAGE_SIZE + GARBAGE_TERMINATOR_SIZE:
                raise V2TransportError("V2 transport error: missing garbage terminator")
            return False
        self._aad = bytes(self._in[:at])
        del self._in[: at + GARBAGE_TERMINATOR_SIZE]
        self.state = V2State.VERSION
        return True

    def _receive_packet(self) -> bool:
        cipher = self._cipher
        assert cipher is not None
        if self._contents_length is None:
            if len(self._in) < LENGTH_SIZE:
                return False
            length = cipher.decrypt_length(bytes(self._in[:LENGTH_SIZE]))
            del self._in[:LENGTH_SIZE]
            if length > self._max_contents:
                raise V2TransportError(f"V2 transport error: packet too large ({length} bytes)")
            self._contents_length = length
        size = HEADER_SIZE + self._contents_length + TAG_SIZE
        if len(self._in) < size:
            return False
        with memoryview(self._in) as buffered, buffered[:size] as ciphertext:  # decrypted in place, not copied
            plaintext = cipher.open(ciphertext, self._aad)
        del self._in[:size]
        self._aad = b""
        self._contents_length = None
        if plaintext[0] & IGNORE_BIT:
            return True  # a decoy
        if self.state is V2State.VERSION:
            self.state = V2State.APPLICATION  # its contents are for future versions: ignored
        else:
            self._frames.append(_frame(plaintext))
        return True


def v2_wire_size(command: str, payload: bytes) -> int:
    """The bytes a message takes on a v2 connection (Core counts these per message type)."""
    return EXPANSION + len(_message_type(command)) + len(payload)


def _message_type(command: str) -> bytes:
    """BIP324's encoding of a message type: its one-byte id, or 0 and the 12-byte field."""
    short = SHORT_MESSAGE_IDS.get(command)
    if short is not None:
        return bytes((short,))
    return b"\x00" + command.encode("ascii").ljust(limits.COMMAND_SIZE, b"\x00")


def _frame(plaintext: bytes) -> Frame:
    """A Frame from a decrypted packet (its header byte, then its contents); an unknown or
    malformed type is a BAD_COMMAND frame, which the peer drops as Core does (the connection
    stays). The payload is the one copy made of the plaintext."""
    wire_size = LENGTH_SIZE + len(plaintext) + TAG_SIZE
    kind = plaintext[HEADER_SIZE] if len(plaintext) > HEADER_SIZE else None
    if kind == 0 and len(plaintext) >= HEADER_SIZE + _LONG_TYPE_SIZE:  # Core: a shorter one is rejected
        field = plaintext[HEADER_SIZE + 1 : HEADER_SIZE + _LONG_TYPE_SIZE]
        command = field.rstrip(b"\x00").decode("latin-1")
        error = None if _VALID_COMMAND_FIELD.fullmatch(field) else BAD_COMMAND
        return Frame(command, plaintext[HEADER_SIZE + _LONG_TYPE_SIZE :], True, error, wire_size)
    if kind is not None and 0 < kind <= len(SHORT_MESSAGE_TYPES):
        return Frame(SHORT_MESSAGE_TYPES[kind - 1], plaintext[HEADER_SIZE + 1 :], True, None, wire_size)
    label = f"short id {kind}" if kind is not None else "empty"
    return Frame(label, plaintext[HEADER_SIZE + 1 :], True, BAD_COMMAND, wire_size)
