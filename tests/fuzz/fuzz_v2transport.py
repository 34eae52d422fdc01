"""Fuzzer for BIP324's transport (pantheon.net.v2transport): one `V2Transport` is fed what a
peer could send, in any pieces, and must only ever fail with a typed error.

Run it for a campaign (libFuzzer options; new inputs go to CORPUS_DIR if given):

    python tests/fuzz/fuzz_v2transport.py -max_total_time=60 [CORPUS_DIR]

`tests/fuzz/test_fuzz_v2transport.py` runs it from pytest for a bounded time. Without atheris,
`helpers.fuzzing.random_campaign` drives the same `test_one_input` with seeded random bytes.

An input is read by `Choices` as: the receiving transport's role (responder, or initiator) and
`max_payload`; its and its peer's garbage; the messages (and decoys) a real peer transport sends
it once the handshake is done; how many of that peer's bytes to keep (none: a responder fed
arbitrary bytes from the start; the handshake's: an initiator after a valid handshake, then
arbitrary bytes; all: real encrypted packets); mutations of those bytes (a flipped bit, a byte
set, a range cut out, repeated or inserted); a tail (arbitrary bytes, one byte repeated up to
8,000 times to reach the garbage limit, or the start of a v1 `version` header); then the piece
sizes it is fed in. The
peer's bytes are made by a real transport talking to a twin of the receiver (same key and
garbage, so the same bytes), keys from BIP324's published vectors: every input replays exactly.
After every piece, once `next_frame` has returned None, checked:
  - only V2TransportError and V2CipherError escape (anything else fails the input);
  - `buffered` is below what the state waits for: 16 bytes while telling v1 from v2, a 64-byte
    key, 4,095 + 16 bytes of garbage and terminator, then one packet of the largest size;
  - the state never goes back (v1 detection, key, garbage, version, application; v1 only from
    detection), and a responder that saw a v1 `version` hands every byte it got to v1;
  - the receiver writes nothing but its own key, garbage, terminator and version packet;
  - every frame's contents (type and payload) are within `max_payload` and 13 type bytes, as
    Core caps them; with the peer's bytes whole and unchanged, the frames are exactly the
    messages it sent.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared input reader

from helpers.fuzzing import Choices, run_libfuzzer, split  # noqa: E402

try:
    import atheris
except ImportError:  # pragma: no cover - the random driver below still runs
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["pantheon.net.v2transport", "pantheon.net.bip324"]):
        import pantheon.net.v2transport  # noqa: F401  (instrumented: its branches guide the fuzzer)

from pantheon import limits, params  # noqa: E402  (after the instrumented imports)
from pantheon.net.bip324 import EllSwiftKey, V2CipherError  # noqa: E402
from pantheon.protocol import ELLSWIFT_SIZE, EXPANSION, GARBAGE_TERMINATOR_SIZE, MAX_GARBAGE_SIZE  # noqa: E402
from pantheon.net.v2transport import (  # noqa: E402
    V1_PREFIX_SIZE, V2State, V2Transport, V2TransportError, v2_wire_size,
)

MAGIC = params.REGTEST.magic
MAX_PAYLOADS = (limits.MAX_MESSAGE_SIZE, 1000, 100, 8, 0)
#: Messages a peer may send: short ids, the 12-byte form, and a v1 `version` header's look-alike.
COMMANDS = ("ping", "inv", "block", "tx", "addrv2", "version", "verack", "sendaddrv2", "wtxidrelay")
MAX_PIECES = 4096
MAX_RUN = 8000
_LONG_TYPE_SIZE = 1 + limits.COMMAND_SIZE
#: How far each state is along the handshake; V1 leaves detection sideways, never comes back.
_RANK = {V2State.MAYBE_V1: 0, V2State.KEY: 1, V2State.GARBAGE: 2, V2State.VERSION: 3, V2State.APPLICATION: 4,
         V2State.V1: 1}
_V1_VERSION = params.REGTEST.magic_bytes + b"version".ljust(limits.COMMAND_SIZE, b"\x00")


def _vector_keys() -> tuple[EllSwiftKey, EllSwiftKey]:
    """Two key pairs from BIP324's packet vectors (private key and its ElligatorSwift encoding)."""
    path = Path(__file__).resolve().parents[1] / "vectors" / "bip324" / "packet_encoding_test_vectors.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:2]
    first, second = (EllSwiftKey(bytes.fromhex(row["in_priv_ours"]), bytes.fromhex(row["in_ellswift_ours"]))
                     for row in rows)
    return first, second


RECEIVER_KEY, PEER_KEY = _vector_keys()


def _garbage(choices: Choices) -> bytes:
    size = choices.pick((0, 1, 16, 100, MAX_GARBAGE_SIZE, choices.number(0, MAX_GARBAGE_SIZE)))
    return random.Random(choices.number(0, 255)).randbytes(size)


def _shuttle(sender: V2Transport, receiver: V2Transport) -> bytes:
    data = sender.take_output()
    receiver.feed(data)
    while receiver.next_frame() is not None:
        pass
    return data


def _peer_stream(choices: Choices, initiating: bool, garbage: bytes, max_payload: int) -> tuple[bytes, int, list]:
    """Everything a real peer sends the receiver: (its bytes, where its handshake ends, the
    messages it sent after it as (command, payload))."""
    twin = V2Transport(MAGIC, initiating=initiating, key=RECEIVER_KEY, garbage=garbage, max_payload=max_payload)
    peer = V2Transport(MAGIC, initiating=not initiating, key=PEER_KEY, garbage=_garbage(choices))
    sent = b""
    for _ in range(3):  # keys, then terminators and version packets, each way
        for sender, receiver in ((twin, peer), (peer, twin)):
            data = _shuttle(sender, receiver)
            if sender is peer:
                sent += data
    assert twin.established and peer.established
    handshake = len(sent)
    messages = []
    cipher = peer._cipher  # noqa: SLF001 - decoys: other implementations send them, we do not
    assert cipher is not None
    for _ in range(choices.number(0, 6)):
        if choices.number(0, 3) == 0:
            sent += cipher.encrypt(choices.take(choices.number(0, min(40, _LONG_TYPE_SIZE + max_payload))), ignore=True)
            continue
        command = choices.pick(COMMANDS)
        payload = choices.take(choices.number(0, 300))
        peer.send(command, payload)
        sent += peer.take_output()
        messages.append((command, payload))
    return sent, handshake, messages


def _mutate(choices: Choices, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(choices.number(0, 4)):
        kind = choices.number(0, 4)
        at = choices.number(0, max(len(buffer) - 1, 0))
        if kind == 0 and buffer:
            buffer[at] ^= 1 << choices.number(0, 7)
        elif kind == 1 and buffer:
            buffer[at] = choices.number(0, 255)
        elif kind == 2:
            del buffer[at : at + choices.number(1, 64)]
        elif kind == 3:
            buffer[at:at] = buffer[at : at + choices.number(1, 64)]
        else:
            buffer[at:at] = choices.take(choices.number(1, 32))
    return bytes(buffer)


def _tail(choices: Choices) -> bytes:
    kind = choices.number(0, 3)
    if kind == 0:
        return b""
    if kind == 1:
        return bytes((choices.number(0, 255),)) * choices.number(1, MAX_RUN)
    if kind == 2:
        return _V1_VERSION[: choices.number(1, len(_V1_VERSION))] + choices.take(choices.number(0, 64))
    return choices.rest()


def _pieces(choices: Choices, stream: bytes) -> list[bytes]:
    sizes = [choices.number(0, 200) for _ in range(choices.number(0, 8))]
    return split(stream, sizes, MAX_PIECES)


def _bound(transport: V2Transport, max_payload: int) -> int:
    """The most `buffered` may be, in its state, once `next_frame` has returned None."""
    state = transport.state
    if state is V2State.MAYBE_V1:
        return V1_PREFIX_SIZE - 1
    if state is V2State.KEY:
        return ELLSWIFT_SIZE - 1
    if state is V2State.GARBAGE:
        return MAX_GARBAGE_SIZE + GARBAGE_TERMINATOR_SIZE - 1
    return EXPANSION + _LONG_TYPE_SIZE + max_payload - 1  # one packet, less its last byte


def feed(receiver: V2Transport, pieces: list[bytes], max_payload: int, own_garbage: bytes) -> tuple[list, Exception | None]:
    """Feed `pieces`, taking out every frame after each, checking the invariants; the frames
    and the typed error that ended the stream, if any."""
    frames = []
    fed = b""
    written = len(receiver.take_output())
    state = receiver.state
    error: Exception | None = None
    for piece in pieces:
        receiver.feed(piece)
        fed += piece
        try:
            while (frame := receiver.next_frame()) is not None:
                contents = frame.wire_size - EXPANSION  # Core caps the contents: type and payload
                assert len(frame.payload) <= contents <= _LONG_TYPE_SIZE + max_payload, (frame, max_payload)
                frames.append(frame)
        except (V2TransportError, V2CipherError) as caught:
            error = caught
        new = receiver.state
        # V1 only from the start: a responder's first bytes, or an initiator answered by a v1 version.
        came_from = (V2State.MAYBE_V1, V2State.V1) + ((V2State.KEY,) if receiver.initiating else ())
        assert _RANK[new] >= _RANK[state] and (new is not V2State.V1 or state in came_from), \
            f"state went from {state} to {new}"
        state = new
        written += len(receiver.take_output())
        assert written <= ELLSWIFT_SIZE + len(own_garbage) + GARBAGE_TERMINATOR_SIZE + EXPANSION, written
        if error is not None:
            break
        if state is V2State.V1:  # the bytes are v1's now, all of them
            assert fed.startswith(_V1_VERSION) and receiver.v1_bytes() == fed
            break
        assert receiver.buffered <= _bound(receiver, max_payload), (state, receiver.buffered)
        assert receiver.established == (state is V2State.APPLICATION) == (receiver.session_id is not None)
    return frames, error


def test_one_input(data: bytes) -> None:
    choices = Choices(data)
    initiating = choices.flag()
    max_payload = choices.pick(MAX_PAYLOADS)
    own_garbage = _garbage(choices)
    real, handshake, messages = _peer_stream(choices, initiating, own_garbage, max_payload)
    keep = choices.pick((0, handshake, len(real), choices.number(0, len(real))))
    kept = real[:keep]
    mutated = _mutate(choices, kept)
    stream = mutated + _tail(choices)
    receiver = V2Transport(MAGIC, initiating=initiating, key=RECEIVER_KEY, garbage=own_garbage, max_payload=max_payload)
    frames, error = feed(receiver, _pieces(choices, stream), max_payload, own_garbage)
    if stream == real and all(v2_wire_size(*message) - EXPANSION <= _LONG_TYPE_SIZE + max_payload for message in messages):
        assert error is None and [(f.command, f.payload) for f in frames] == messages, (error, frames, messages)


if __name__ == "__main__":
    run_libfuzzer(sys.argv, test_one_input, atheris)
