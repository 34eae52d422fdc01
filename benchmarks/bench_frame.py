"""FrameDecoder: framing rate for small messages, and feeding a block in tiny pieces.

Rows:
  - ping (32 bytes on the wire) and 1-entry inv (61 bytes), many back to back in one buffer,
    fed once and taken out with `for frame in decoder`: messages/s of the compiled twin
    against the pure twin (target: at least 5,000,000/s and 5x the pure twin).
  - a 4 MB block message fed 1 byte at a time against 4 KB at a time (per-byte time, target
    3x). Every 1-byte piece costs two Python-level calls (feed, next_frame), so this ratio
    is bounded below by call overhead over the ~1 ns/byte that hashing and copying cost.
  - linearity: the per-byte time of a 4 MB message against a 4 KB one, both fed 1 byte at a
    time (target 3x: no cost grows with the frame's size).
  - context: 1-byte feeding against a loop making the same two calls per byte to builtins
    that do nothing (bytearray.extend, list.clear): the decoder's own share of that cost.
  - plot only (`--plots`): messages/s of both twins by message size, from a ping to a 1 MB
    block, each size as many messages back to back as fill about 4 MB (1 MB with --quick).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from benchmarks.common import Figure, Series, rate, seconds_per_call
from pantheon import _wire_py, limits

_compiled = importlib.import_module("pantheon._wire")  # an ImportError means a broken build
MAIN = int.from_bytes(bytes.fromhex("f9beb4d9"), "little")
BLOCK_SIZE = limits.MAX_MESSAGE_SIZE


def _message(command: str, payload: bytes) -> bytes:
    return _wire_py.pack_header(MAIN, command, payload) + payload


PING = _message("ping", bytes.fromhex("0c8e5ac3a00df32f"))
INV = _message("inv", b"\x01" + (1).to_bytes(4, "little") + bytes(range(32)))  # one MSG_TX entry


def _drain_all(module: Any, buffer: bytes, count: int) -> Callable[[], None]:
    def run() -> None:
        decoder = module.FrameDecoder(MAIN)
        decoder.feed(buffer)
        taken = 0
        for _ in decoder:
            taken += 1
        assert taken == count

    return run


def _feed_pieces(module: Any, pieces: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        decoder = module.FrameDecoder(MAIN)
        feed, next_frame = decoder.feed, decoder.next_frame
        frames = 0
        for piece in pieces:
            feed(piece)
            if next_frame() is not None:
                frames += 1
        assert frames == 1 and decoder.buffered == 0

    return run


def _null_pieces(pieces: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        feed, poll = bytearray().extend, [].clear
        for piece in pieces:
            feed(piece)
            if poll() is not None:
                raise AssertionError

    return run


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _small_messages(quick: bool) -> list[Figure]:
    count = 20_000 if quick else 200_000
    figures = []
    for name, message in (("ping 32 B", PING), ("inv 61 B", INV)):
        assert len(message) in (32, 61)
        buffer = message * count
        compiled = rate(_drain_all(_compiled, buffer, count), count, repeat=3 if quick else 7)
        pure = rate(_drain_all(_wire_py, buffer, count), count, repeat=2 if quick else 3)
        figures.append(Figure(
            f"frame {name}, compiled", compiled, "msgs/s", ">= 5,000,000/s and >= 5x pure",
            compiled >= 5_000_000 and compiled >= 5 * pure, "pure", pure,
        ))
    return figures


def _per_byte(function: Callable[[], None], size: int, repeat: int, min_time: float = 0.2) -> float:
    """Best nanoseconds per byte; `min_time=0` times single calls (for calls that take long)."""
    return seconds_per_call(function, repeat=repeat, min_time=min_time) / size * 1e9


def _tiny_pieces(quick: bool) -> list[Figure]:
    payload = (bytes(range(256)) * (BLOCK_SIZE // 256 + 1))[: BLOCK_SIZE // 4 if quick else BLOCK_SIZE]
    block = _message("block", payload)
    small = _message("block", payload[:4096])
    label = "1 MB" if quick else "4 MB"
    bytewise, small_bytewise = _split(block, 1), _split(small, 1)
    figures = []
    for twin, module, repeat in (("compiled", _compiled, 3), ("pure", _wire_py, 1 if quick else 2)):
        one = _per_byte(_feed_pieces(module, bytewise), len(block), repeat, min_time=0)
        four_k = _per_byte(_feed_pieces(module, _split(block, 4096)), len(block), 5)
        small_one = _per_byte(_feed_pieces(module, small_bytewise), len(small), 5)
        compiled_twin = module is _compiled  # the targets are the compiled twin's
        figures.append(Figure(
            f"{label} block in 1 B pieces, {twin}", one, "ns/B",
            "<= 3x 4 KB pieces" if compiled_twin else "reported",
            one <= 3 * four_k or not compiled_twin, "4 KB pieces", four_k,
        ))
        figures.append(Figure(
            f"{label} block in 1 B pieces, {twin} (linearity)", one, "ns/B", "<= 3x a 4 KB message",
            one <= 3 * small_one, "4 KB msg, 1 B pieces", small_one,
        ))
    floor = _per_byte(_null_pieces(bytewise), len(block), 3, min_time=0)
    compiled_one = figures[0].value
    figures.append(Figure(
        f"{label} block in 1 B pieces, compiled vs 2 no-op calls/B", compiled_one, "ns/B", "context", True,
        "no-op calls", floor,
    ))
    return figures


SIZES = (32, 61, 256, 1024, 4096, 16384, 65536, 262144, 1048576)  # bytes on the wire, header included


def _by_size(quick: bool) -> list[Series]:
    fill = (1 if quick else 4) * 1024 * 1024
    series = []
    for twin, module in (("compiled", _compiled), ("pure", _wire_py)):
        points = []
        for size in SIZES:
            message = _message("block", bytes(size - limits.HEADER_SIZE))
            count = max(fill // size, 4)
            points.append((size, rate(_drain_all(module, message * count, count), count, repeat=2, min_time=0.1)))
        series.append(Series("framing_by_size", "FrameDecoder: messages framed per second by size",
                             f"{twin} twin", "message size on the wire (bytes)", "messages/s", tuple(points),
                             log_x=True, log_y=True))
    return series


def run(quick: bool) -> list[Figure | Series]:
    return [*_small_messages(quick), *_tiny_pieces(quick), *_by_size(quick)]
