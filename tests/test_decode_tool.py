"""pantheon-decode (tools/): the shared captures against the reference reassembler, our own
captures (built here with dpkt) for what they lack, and the command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import decode
from tools.pipeline import decode_capture

PCAPS = Path(__file__).parent / "vectors" / "pcaps"
CAPTURES = sorted(PCAPS.rglob("*.pcap"))


def run(data: bytes | Path, wire_impl=None, **options):
    """Decode a capture; the per-direction [frame, offset, command, length, status] lists and the report."""
    sequences: dict[tuple[int, str, str], list[list]] = {}
    kwargs = {"wire_module": wire_impl.module} if wire_impl is not None else {}
    kwargs.update(options)
    stream = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
    with stream:
        report = decode_capture(
            stream,
            lambda event: sequences.setdefault((event.stream, event.src, event.dst), []).append(
                [event.message.frame, event.message.offset, event.message.command, event.message.length, event.message.status]
            ),
            **kwargs,
        )
    return sequences, report


# --- the shared captures: the reference reassembler's sequences, exactly ------------------


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda path: path.stem)
def test_matches_reference(capture: Path, wire_impl) -> None:
    expected = json.loads(capture.with_suffix(".expected.json").read_text())["reference"]
    sequences, report = run(capture, wire_impl)
    want = {}
    for stream in expected["streams"]:
        for name, direction in stream["directions"].items():
            src, dst = (stream["A"], stream["B"]) if name == "A->B" else (stream["B"], stream["A"])
            want[(stream["index"], src, dst)] = direction["messages"]
            got = next(s for s in report.streams if (s.stream, s.src, s.dst) == (stream["index"], src, dst))
            assert got.walker.gaps == [tuple(gap) for gap in direction["gaps"]]
            assert got.direction.captured == direction["bytes_captured"]
            assert got.syn_seen == stream["syn_seen"]
    assert sequences == want
    assert sum(map(len, sequences.values())) == expected["total_messages"]


def test_peafowl_legacy_headers_and_tshark_misses() -> None:
    """The 2011 capture: 4 pre-209 headers, and the verack + getaddr segment tshark misframes."""
    capture = PCAPS / "peafowl_bitcoin_2011.pcap"
    expected = json.loads(capture.with_suffix(".expected.json").read_text())
    sequences, _ = run(capture)
    messages = [m for sequence in sequences.values() for m in sequence]
    assert sum(m[4] == "ok_no_checksum_20byte_header" for m in messages) == 4
    client = sequences[(0, "192.168.1.142:55383", "66.68.83.22:8333")]
    assert client[1:3] == [[19, 105, "verack", 0, "ok_no_checksum_20byte_header"], [19, 125, "getaddr", 0, "ok"]]
    counts: dict[str, int] = {}
    for m in messages:
        counts[m[2]] = counts.get(m[2], 0) + 1
    tshark = expected["tshark"]["totals"]
    assert {k: v - tshark.get(k, 0) for k, v in counts.items() if v != tshark.get(k, 0)} == {"verack": 2, "getaddr": 1}
