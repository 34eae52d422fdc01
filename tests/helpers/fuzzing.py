"""What the fuzz harnesses share: `Choices`, which reads a fuzzer's input as a series of choices."""

from __future__ import annotations

from typing import Any


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
