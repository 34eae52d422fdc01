"""btcd's three tables (wire/msg*_test.go) for one message, shared by tests/msg/test_<command>.py.

A vector is declared as (field, hex) rows, so its bytes carry a comment per field and the
error table derives from the same rows: a cut at the start and in the middle of every field
must be Truncated, in the twin under test and in the spec.

- basic: the command's caps and largest payload (limits.py), a payload at the cap decodes;
- wire: value <-> bytes both ways, the spec as third voice;
- wire errors: every cut, each count one over its cap with nothing after it (OversizedMessage,
  so the check precedes any allocation), a byte too many (TrailingBytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from helpers.codec_oracle import plain, spec_plain

from pantheon import errors, spec


@dataclass(frozen=True)
class Layout:
    """A payload written field by field: `rows` are (field name, hex)."""

    rows: tuple[tuple[str, str], ...]

    @property
    def payload(self) -> bytes:
        return bytes.fromhex("".join(hex_text for _, hex_text in self.rows))

    def start(self, field: str) -> int:
        """Offset of the row named `field`."""
        return next(start for name, start, _ in self.fields() if name == field)

    def fields(self) -> list[tuple[str, int, int]]:
        spans, start = [], 0
        for name, hex_text in self.rows:
            end = start + len(hex_text) // 2
            spans.append((name, start, end))
            start = end
        return spans


def check_wire(module: Any, command: str, value: Any, layout: Layout) -> None:
    payload = layout.payload
    assert getattr(module, f"decode_{command}")(payload) == value
    assert getattr(module, f"encode_{command}")(value) == payload
    assert plain(command, value) == spec_plain(spec.parse_payload(command, payload))


def check_cuts(module: Any, command: str, layout: Layout) -> None:
    payload = layout.payload
    decode = getattr(module, f"decode_{command}")
    for name, start, end in layout.fields():
        for cut in sorted({start, (start + end) // 2}):
            message = f"{command}: data ends early ({cut} bytes)"
            for function, args in ((decode, (payload[:cut],)), (spec.parse_payload, (command, payload[:cut]))):
                with pytest.raises(errors.Truncated) as caught:
                    function(*args)
                assert str(caught.value) == message, name
    with pytest.raises(errors.TrailingBytes, match=rf"^{command}: 1 bytes after the last field$"):
        decode(payload + b"\x00")


def check_over_cap(module: Any, command: str, prefix: bytes, count: int, field: str, cap: int) -> None:
    """`prefix` then a CompactSize `count` one over `cap`, and nothing more."""
    payload = prefix + module.write_compact_size(count)
    message = f"{field}: {count} exceeds the cap of {cap}"
    for function, args in ((getattr(module, f"decode_{command}"), (payload,)), (spec.parse_payload, (command, payload))):
        with pytest.raises(errors.OversizedMessage) as caught:
            function(*args)
        assert str(caught.value) == message and (caught.value.field, caught.value.size, caught.value.cap) == (field, count, cap)
