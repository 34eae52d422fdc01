"""btcd's three tables (wire/msg*_test.go) for one message, shared by tests/msg/test_<command>.py.

A vector is declared as (field, hex) rows, so its bytes carry a comment per field and the
error table derives from the same rows: a cut at every offset must be Truncated, in the twin
under test and in the spec, except where the layout says the message may end (optional
trailing fields, as in `version`).

- basic: the command's caps and largest payload (limits.py), a payload at the cap decodes;
- wire: value <-> bytes both ways, the spec as third voice;
- wire errors: every cut, each count one over its cap with nothing after it (OversizedMessage,
  so the check precedes any allocation), a byte too many (TrailingBytes, or OversizedMessage
  where the payload is already at its cap), and bad values with the spec's class and message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from helpers.codec_oracle import outcome, plain, spec_plain

from pantheon import errors, hashing, limits, spec
from pantheon.primitives import BlockHeader


GOLDEN = json.loads((Path(__file__).parent.parent / "vectors" / "messages" / "golden-vectors.json").read_text())


def golden(command: str, where: str) -> list[bytes]:
    """The payloads of the golden messages of `command` from a source ending with `where`
    (`file` or `file:line`): the real bytes a layout's rows must spell."""
    found = []
    for entry in GOLDEN:
        source = entry["source"]
        place = f"{source['path']}:{source.get('line')}"
        if entry["command"] == command and (place.endswith(where) or source["path"].endswith(where)):
            legacy = entry["expect"].startswith("valid_legacy")
            found.append(bytes.fromhex(entry["hex"])[limits.LEGACY_HEADER_SIZE if legacy else limits.HEADER_SIZE:])
    assert found, (command, where)
    return found


@dataclass(frozen=True)
class Layout:
    """A payload written field by field: `rows` are (field name, hex); `ends` names the rows
    before which the payload may stop (optional trailing fields); with `open_end`, bytes after
    the last row are read as further fields, not refused as trailing; `rest` names a last row
    that takes whatever remains (any cut inside it is a shorter value, and it is open-ended)."""

    rows: tuple[tuple[str, str], ...]
    ends: tuple[str, ...] = ()
    open_end: bool = False
    rest: str = ""

    @property
    def payload(self) -> bytes:
        return bytes.fromhex("".join(hex_text for _, hex_text in self.rows))

    def start(self, field: str) -> int:
        """Offset of the row named `field` (its name, or its name before `: ` and a comment)."""
        return next(start for name, start, _ in self.fields() if field in (name, name.partition(": ")[0]))

    def fields(self) -> list[tuple[str, int, int]]:
        spans, start = [], 0
        for name, hex_text in self.rows:
            end = start + len(hex_text) // 2
            spans.append((name, start, end))
            start = end
        return spans


def header_rows(raw: bytes, prefix: str = "header.") -> tuple[tuple[str, str], ...]:
    """The rows of an 80-byte block header, each named with its value."""
    header = BlockHeader.from_bytes(raw)
    return (
        (f"{prefix}version: {header.version:#x}", raw[:4].hex()),
        (f"{prefix}prev_block: {hashing.hash_to_hex(header.prev_block)}", raw[4:36].hex()),
        (f"{prefix}merkle_root", raw[36:68].hex()),
        (f"{prefix}timestamp: {header.timestamp}", raw[68:72].hex()),
        (f"{prefix}bits: {header.bits:#010x}", raw[72:76].hex()),
        (f"{prefix}nonce: {header.nonce}", raw[76:80].hex()),
    )


def check_largest(module: Any, command: str, value: Any) -> None:
    """`value` encodes to exactly the command's payload cap and decodes back to itself."""
    payload = getattr(module, f"encode_{command}")(value)
    assert len(payload) == limits.MAX_PAYLOAD[command]
    assert getattr(module, f"decode_{command}")(payload) == value


def check_wire(module: Any, command: str, value: Any, layout: Layout) -> None:
    payload = layout.payload
    assert getattr(module, f"decode_{command}")(payload) == value
    assert getattr(module, f"encode_{command}")(value) == payload
    assert plain(command, value) == spec_plain(spec.parse_payload(command, payload))


@lru_cache(maxsize=None)
def _spec_cuts(command: str, payload: bytes) -> tuple[tuple[Any, ...], ...]:
    """The spec's outcome for every cut of `payload`, computed once for both twins."""
    return tuple(outcome(spec.parse_payload, command, payload[:cut]) for cut in range(len(payload)))


def check_cuts(module: Any, command: str, layout: Layout) -> None:
    """Cut `layout`'s payload at every offset: Truncated with the spec's message in the twin and
    in the spec, or, at the start of a row in `layout.ends`, the same shorter value in both; then
    a byte too many (unless the layout is open-ended)."""
    payload = layout.payload
    decode = getattr(module, f"decode_{command}")
    ends = {layout.start(name) for name in layout.ends}
    if layout.rest:
        ends.update(range(layout.start(layout.rest), len(payload)))
    spec_cuts = _spec_cuts(command, payload)
    for name, start, end in layout.fields():
        for cut in range(start, end):
            where = f"{name} (cut at {cut})"
            if cut in ends:
                assert spec_cuts[cut][0] == "value", where
                assert plain(command, decode(payload[:cut])) == spec_plain(spec_cuts[cut][1]), where
                continue
            message = f"{command}: data ends early ({cut} bytes)"
            assert spec_cuts[cut] == ("error", errors.Truncated, message), where
            with pytest.raises(errors.Truncated) as caught:
                decode(payload[:cut])
            assert str(caught.value) == message, where
    longer = len(payload) + 1
    cap = limits.max_payload(command)
    if layout.open_end or layout.rest:
        return
    if longer > cap:
        error, message = errors.OversizedMessage, f"{command} payload: {longer} exceeds the cap of {cap}"
    else:
        error, message = errors.TrailingBytes, f"{command}: 1 bytes after the last field"
    check_error(module, command, payload + b"\x00", error, message)


def check_error(module: Any, command: str, payload: bytes, error: type[errors.ProtocolError], message: str) -> None:
    """`payload` fails with `error` and `message` in the twin and in the spec."""
    for function, args in ((getattr(module, f"decode_{command}"), (payload,)), (spec.parse_payload, (command, payload))):
        with pytest.raises(error) as caught:
            function(*args)
        assert type(caught.value) is error and str(caught.value) == message, function


def check_over_cap(module: Any, command: str, prefix: bytes, count: int, field: str, cap: int) -> None:
    """`prefix` then a CompactSize `count` one over `cap`, and nothing more."""
    payload = prefix + module.write_compact_size(count)
    check_error(module, command, payload, errors.OversizedMessage, f"{field}: {count} exceeds the cap of {cap}")
    with pytest.raises(errors.OversizedMessage) as caught:
        getattr(module, f"decode_{command}")(payload)
    assert (caught.value.field, caught.value.size, caught.value.cap) == (field, count, cap)
