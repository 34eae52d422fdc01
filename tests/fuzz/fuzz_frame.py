"""Differential fuzzer for FrameDecoder: every twin available is fed the same bytes in the same
pieces, and they must agree frame for frame.

Run it for a campaign (libFuzzer options; new inputs go to CORPUS_DIR if given):

    python tests/fuzz/fuzz_frame.py -max_total_time=60 [CORPUS_DIR]

`tests/fuzz/test_fuzz_frame.py` runs it from pytest for a bounded time. Without atheris,
`helpers.fuzzing.random_campaign` drives the same `test_one_input` with seeded random bytes.

An input is read by `Choices` as: decoder settings (resync, max_payload, caps), then a stream
that is either the input's raw bytes or built from records (real headers with any command
field, payload, declared length and checksum; the magic or a part of it; raw bytes), then the
piece sizes the stream is fed in. Each piece is followed by taking out every complete frame,
as a peer reader does. Checked for every input:
  - only ProtocolError subclasses escape a decoder;
  - the twins agree on every frame, on `buffered` and `discarded` after every piece, and on
    the error (class and message) that ends the stream, if any;
  - `buffered` is exactly fed - taken out - discarded, and once the complete frames are out it
    is below one header plus max_payload (the declared payload of the frame in progress is
    within it);
  - after an error every call raises that error's class again;
  - the same stream fed whole ends in the same frames, error and counters (fragmentation
    never changes the result).
The compiled twin is not instrumented for coverage (only Python code is); the pure twin, which
takes the same branches, guides the fuzzer. PANTHEON_NO_EXTENSIONS=1 fuzzes the pure twin alone.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared input reader

from helpers.fuzzing import Choices, run_libfuzzer, split  # noqa: E402

try:
    import atheris
except ImportError:  # pragma: no cover - the random driver below still runs
    atheris = None


def _import_twins() -> list[Any]:
    names = ["pantheon._wire_py"]
    if os.environ.get("PANTHEON_NO_EXTENSIONS", "") in ("", "0"):
        names.insert(0, "pantheon._wire")  # an ImportError here is a broken build: let it fail
    return [importlib.import_module(name) for name in names]


if atheris is not None:
    with atheris.instrument_imports(include=["pantheon"]):
        TWINS = _import_twins()
else:  # pragma: no cover
    TWINS = _import_twins()

from pantheon import errors, limits  # noqa: E402  (after the instrumented imports)

MAGIC = int.from_bytes(bytes.fromhex("f9beb4d9"), "little")
MAGIC_WIRE = MAGIC.to_bytes(4, "little")
COMMANDS = (*sorted(limits.MAX_PAYLOAD), "mystery", "")
MAX_PAYLOADS = (limits.MAX_MESSAGE_SIZE, 1000, 100, 8, 0)
CAPS = (None, {}, {"ping": 4, "mystery": 40, "block": 200})
MAX_PIECES = 4096


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[: limits.CHECKSUM_SIZE]


def _record(choices: Choices) -> bytes:
    kind = choices.number(0, 7)
    if kind == 0:
        return choices.take(choices.number(0, 40))
    if kind == 1:
        return MAGIC_WIRE[: choices.number(1, 4)]
    if kind == 2:
        field = choices.take(limits.COMMAND_SIZE).ljust(limits.COMMAND_SIZE, b"\x00")
    else:
        field = choices.pick(COMMANDS).encode("ascii").ljust(limits.COMMAND_SIZE, b"\x00")
    payload = choices.take(choices.number(0, 300))
    length = choices.pick((len(payload), len(payload), len(payload) + 1, max(len(payload) - 1, 0), None))
    if length is None:
        length = choices.number(0, 0xFFFF_FFFF)
    check = _checksum(payload) if choices.flag() else choices.take(limits.CHECKSUM_SIZE).ljust(4, b"\x00")
    return MAGIC_WIRE + field + length.to_bytes(4, "little") + check + payload


def build(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Decoder settings and the pieces to feed, from one fuzzer input."""
    choices = Choices(data)
    settings = {
        "max_payload": choices.pick(MAX_PAYLOADS),
        "caps": choices.pick(CAPS),
        "resync": choices.flag(),
    }
    sizes = [choices.number(0, 80) for _ in range(choices.number(0, 8))]
    if choices.flag():
        stream = choices.rest()  # arbitrary bytes
    else:
        stream = b"".join(_record(choices) for _ in range(choices.number(0, 10)))
    return settings, split(stream, sizes, MAX_PIECES)


@dataclass
class Outcome:
    """What one decoder did with a stream: the frames and counters after each piece, and how
    it ended (frames, the error if any, the final counters)."""

    log: list[Any] = field(default_factory=list)
    frames: list[Any] = field(default_factory=list)
    error: tuple[type, str] | None = None
    buffered: int = 0
    discarded: int = 0

    def end(self) -> tuple[Any, ...]:
        return self.frames, self.error, self.buffered, self.discarded


def decode(module: Any, settings: dict[str, Any], pieces: list[bytes]) -> Outcome:
    """Feed `pieces`, taking out every complete frame after each piece, checking the counters."""
    decoder = module.FrameDecoder(MAGIC, **settings)
    out = Outcome()
    fed = taken = 0
    try:
        for piece in pieces:
            decoder.feed(piece)
            fed += len(piece)
            for frame in decoder:
                out.frames.append(frame)
                taken += frame.wire_size
            buffered = decoder.buffered
            assert buffered == fed - taken - decoder.discarded, (buffered, fed, taken, decoder.discarded)
            assert buffered < limits.HEADER_SIZE + settings["max_payload"], buffered
            out.log.append((len(out.frames), buffered, decoder.discarded))
    except errors.ProtocolError as error:
        out.error = (type(error), str(error))
        try:
            decoder.next_frame()
        except type(error):
            pass
        else:
            raise AssertionError(f"{module.__name__}: alive after {error!r}") from None
    out.buffered, out.discarded = decoder.buffered, decoder.discarded
    return out


def test_one_input(data: bytes) -> None:
    settings, pieces = build(data)
    first, *others = [decode(module, settings, pieces) for module in TWINS]
    for module, outcome in zip(TWINS[1:], others):
        assert outcome == first, f"{TWINS[0].__name__} and {module.__name__} disagree: {settings} {pieces!r}"
    whole = decode(TWINS[0], settings, [b"".join(pieces)])
    assert whole.end() == first.end(), f"fragmentation changed the result: {settings} {pieces!r}"


if __name__ == "__main__":
    run_libfuzzer(sys.argv, test_one_input, atheris)
