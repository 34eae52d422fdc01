"""What the fuzz harnesses share: `Choices`, which reads a fuzzer's input as a series of choices;
`random_campaign`, the seeded random driver that runs a harness where atheris is missing (and
in-process under pytest); `run_libfuzzer`, a harness's command line; `load_harness`."""

from __future__ import annotations

import importlib
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable


class Choices:
    """Reads choices from the fuzzer's bytes; once they run out every choice is the smallest."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, size: int) -> bytes:
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def number(self, low: int, high: int) -> int:
        span = high - low
        raw = self.take((span.bit_length() + 7) // 8)
        return low + int.from_bytes(raw, "little") % (span + 1) if span else low

    def flag(self) -> bool:
        return bool(self.number(0, 1))

    def pick(self, options: tuple[Any, ...]) -> Any:
        return options[self.number(0, len(options) - 1)]

    def rest(self) -> bytes:
        return self.take(len(self._data))


def split(stream: bytes, sizes: list[int], max_pieces: int) -> list[bytes]:
    """`stream` cut into pieces of `sizes` in turn (at most `max_pieces` of them, the rest in one
    last piece): how a harness feeds a decoder the way a socket's reads would."""
    pieces, pos = [], 0
    if any(sizes):
        while pos < len(stream) and len(pieces) < max_pieces:
            size = sizes[len(pieces) % len(sizes)]
            pieces.append(stream[pos : pos + size])
            pos += size
    pieces.append(stream[pos:])
    return pieces


def random_campaign(one_input: Callable[[bytes], object], seconds: float, seed: int,
                    max_inputs: int | None = None) -> int:
    """Run `one_input` on seeded random inputs (16 bytes to 4 KB) for `seconds`, or until
    `max_inputs`; returns the number of inputs tried."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    tried = 0
    while time.monotonic() < deadline and (max_inputs is None or tried < max_inputs):
        one_input(rng.randbytes(rng.choice((16, 64, 256, 1024, 4096))))
        tried += 1
    return tried


def run_libfuzzer(argv: list[str], one_input: Callable[[bytes], object], atheris: ModuleType | None) -> None:
    """A harness run as a script: libFuzzer (atheris) on `one_input` with libFuzzer's arguments."""
    if atheris is None:  # pragma: no cover
        sys.exit("atheris is not installed: pip install atheris (or use helpers.fuzzing.random_campaign)")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def load_harness(path: Path) -> ModuleType:
    """Import the harness at `path` (tests/fuzz/fuzz_*.py) as a module, for its `test_one_input`."""
    sys.path.insert(0, str(path.parent))
    try:
        return importlib.import_module(path.stem)
    finally:
        sys.path.remove(str(path.parent))
