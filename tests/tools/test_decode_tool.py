"""pantheon-decode (tools/): the shared captures against the reference reassembler, our own
captures (built here with dpkt) for what they lack, and the command line."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from helpers.capture import ACK, FIN, MAIN, RST, SYN, CaptureBuilder, wire_message
from helpers.vectors import BIP158, GOLDEN, VECTORS
from dpkt import ip, pcap, udp
from dpkt.ethernet import Ethernet as dpkt_ethernet
from dpkt.pcapng import Reader as pcapng_reader
from dpkt.tcp import TCP as tcp_segment

from pantheon import _wire_py, params, wire
from pantheon.primitives import CFCheckpt, CFCheckptRequest, CFHeaders, CFilter, CFRequest
from tools import decode
from tools.framing import MessageWalker
from tools.pcap import CaptureError, CaptureReader
from tools.pipeline import decode_capture
from tools.summary import summarize, to_json

PCAPS = VECTORS / "pcaps"
#: The shared captures, each with the reference reassembler's sequences beside it.
CAPTURES = sorted(path for path in PCAPS.rglob("*.pcap") if path.with_suffix(".expected.json").exists())


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


# --- our own captures ----------------------------------------------------------------------

CLIENT, SERVER = ("10.0.0.1", 50123), ("10.0.0.2", 8333)


def _payloads() -> list[tuple[str, bytes]]:
    """One real payload per command (valid framing in the golden vectors), in a plausible order."""
    order = ["version", "verack", "sendcmpct", "ping", "pong", "feefilter", "inv", "getdata",
             "headers", "addr", "tx", "block", "getheaders"]
    found = {}
    for vector in GOLDEN:
        if vector["expect"] == "valid_framing" and vector["command"] in order:
            found.setdefault(vector["command"], bytes.fromhex(vector["hex"])[24:])
    return [(command, found[command]) for command in order]


PAYLOADS = _payloads()


def conversation(magic: int = MAIN, repeat: int = 2) -> tuple[bytes, list[tuple[int, str, int]]]:
    """The byte stream of one direction and its messages as (offset, command, payload length)."""
    data, layout = b"", []
    for _ in range(repeat):
        for command, payload in PAYLOADS:
            layout.append((len(data), command, len(payload)))
            data += wire_message(command, payload, magic)
    return data, layout


def expect(builder: CaptureBuilder, layout, base: int, *, status=None, keep=lambda offset: True) -> list[list]:
    """The reference's rows for `layout`: each message's frame is the one that first carried its
    last byte; `status` maps an offset to a status other than ok (incomplete: the header's frame)."""
    first = builder.expected_frames(CLIENT, SERVER, base)
    rows = []
    for offset, command, length in layout:
        if not keep(offset):
            continue
        state = (status or {}).get(offset, "ok")
        last = offset if state.startswith("incomplete") else offset + 24 + length - 1
        rows.append([first[last], offset, command, length, state])
    return rows


def handshake(builder: CaptureBuilder, isn: int) -> None:
    builder.segment(CLIENT, SERVER, isn, flags=SYN)
    builder.segment(SERVER, CLIENT, 7000, flags=SYN | ACK)


def test_in_order_with_syn_on_every_link_type(wire_impl) -> None:
    data, layout = conversation()
    for linktype in (pcap.DLT_EN10MB, pcap.DLT_LINUX_SLL, pcap.DLT_LINUX_SLL2, pcap.DLT_RAW, pcap.DLT_NULL):
        for ng in (False, True):
            builder = CaptureBuilder(linktype)
            handshake(builder, 1000)
            for seq, payload in builder.stream(CLIENT, SERVER, data, 1001, 1400):
                builder.segment(CLIENT, SERVER, seq, payload)
            builder.segment(CLIENT, SERVER, 1001 + len(data), flags=FIN | ACK)
            sequences, report = run(builder.write(ng=ng), wire_impl)
            assert sequences == {(0, "10.0.0.1:50123", "10.0.0.2:8333"): expect(builder, layout, 1001)}, (linktype, ng)
            assert report.streams[0].syn_seen and report.streams[0].network == "main"


def test_ipv6_and_sequence_wraparound(wire_impl) -> None:
    global CLIENT, SERVER
    saved = CLIENT, SERVER
    CLIENT, SERVER = ("2001:db8::1", 50123), ("2001:db8::2", 8333)
    try:
        data, layout = conversation()
        builder = CaptureBuilder()
        isn = (1 << 32) - 3000  # the sequence numbers wrap inside the stream
        handshake(builder, isn)
        for seq, payload in builder.stream(CLIENT, SERVER, data, isn + 1, 1000):
            builder.segment(CLIENT, SERVER, seq, payload)
        sequences, report = run(builder.write(), wire_impl)
        assert sequences == {(0, "[2001:db8::1]:50123", "[2001:db8::2]:8333"): expect(builder, layout, isn + 1)}
    finally:
        CLIENT, SERVER = saved


def test_out_of_order_and_retransmissions_first_arrival_wins(wire_impl) -> None:
    data, layout = conversation(repeat=3)
    builder = CaptureBuilder()
    handshake(builder, 5000)
    segments = builder.stream(CLIENT, SERVER, data, 5001, 300)
    order = list(range(len(segments)))
    for at in range(0, len(order) - 3, 4):  # swap pairs, and one segment three places late
        order[at], order[at + 1] = order[at + 1], order[at]
    order.append(order.pop(5))
    order.insert(8, order[2])
    for index in order:
        seq, payload = segments[index]
        builder.segment(CLIENT, SERVER, seq, payload)
        if index % 7 == 0:  # a retransmission with other bytes: the first arrival's are kept
            builder.segment(CLIENT, SERVER, seq + 10, b"\xee" * (len(payload) - 10))
        if index % 5 == 0:  # an overlapping one reaching into the next segment, maybe first
            at = seq - 5001
            builder.segment(CLIENT, SERVER, seq + 100, data[at + 100 : at + 450])
    sequences, _ = run(builder.write(), wire_impl)
    assert sequences == {(0, "10.0.0.1:50123", "10.0.0.2:8333"): expect(builder, layout, 5001)}


def test_a_dropped_segment_is_a_gap_then_resync(wire_impl) -> None:
    data, layout = conversation(repeat=3)
    builder = CaptureBuilder()
    handshake(builder, 100)
    segments = builder.stream(CLIENT, SERVER, data, 101, 200)
    dropped = segments.pop(len(segments) // 2)
    for seq, payload in segments:
        builder.segment(CLIENT, SERVER, seq, payload)
    gap = (dropped[0] - 101, dropped[0] - 101 + len(dropped[1]))
    # the message in progress at the gap is incomplete; those starting inside it are lost
    cut = {offset for offset, _, length in layout if offset < gap[0] < offset + 24 + length}
    lost = {offset for offset, _, _ in layout if gap[0] <= offset < gap[1]}
    after = min(offset for offset, _, _ in layout if offset >= gap[1])
    for window in (1 << 20, 1000):  # the hole found at the end, or as soon as the window fills
        sequences, report = run(builder.write(), wire_impl, window=window)
        rows = expect(builder, layout, 101, status={o: "incomplete_gap" for o in cut}, keep=lambda o: o not in lost and (o < gap[0] or o >= after))
        assert sequences == {(0, "10.0.0.1:50123", "10.0.0.2:8333"): rows}
        walker = report.streams[0].walker
        assert walker.gaps == [gap]
        assert [(start, end) for start, end, _ in walker.skipped] == [(gap[1], after)]


def test_capture_starting_mid_message(wire_impl) -> None:
    data, layout = conversation()
    builder = CaptureBuilder()
    start = layout[3][0] + 30  # inside the 4th message: no SYN, no handshake
    for seq, payload in builder.stream(CLIENT, SERVER, data[start:], 9000, 500):
        builder.segment(CLIENT, SERVER, seq, payload)
    sequences, report = run(builder.write(), wire_impl)
    shifted = [(offset - start, command, length) for offset, command, length in layout if offset > start]
    assert sequences == {(0, "10.0.0.1:50123", "10.0.0.2:8333"): expect(builder, shifted, 9000)}
    assert report.streams[0].walker.skipped == [(0, shifted[0][0], "no valid message header")]
    assert not report.streams[0].syn_seen


def test_non_bitcoin_stream_and_garbage_between_messages(wire_impl) -> None:
    builder = CaptureBuilder()
    other = ("10.0.0.9", 443)
    builder.segment(other, SERVER, 1, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n" * 40)
    data, layout = conversation()
    junk = b"\x00garbage\xf9\xbe\xb4\xd9\xff\xfe" + bytes(range(40))  # a magic, then no valid command
    cut = layout[5][0]
    data = data[:cut] + junk + data[cut:]
    layout = [(o + (len(junk) if o >= cut else 0), c, n) for o, c, n in layout]
    for seq, payload in builder.stream(CLIENT, SERVER, data, 1, 700):
        builder.segment(CLIENT, SERVER, seq, payload)
    sequences, report = run(builder.write(), wire_impl)
    assert sequences == {(1, "10.0.0.1:50123", "10.0.0.2:8333"): expect(builder, layout, 1)}
    http = next(s for s in report.streams if s.stream == 0)
    assert http.network is None and http.walker.messages == 0
    bitcoin = next(s for s in report.streams if s.stream == 1)
    assert [(a, b) for a, b, _ in bitcoin.walker.skipped] == [(cut, cut + len(junk))]


def test_bad_checksum_unknown_command_oversized_and_networks(wire_impl) -> None:
    testnet4 = 0x283F161C
    good = wire_message("ping", b"\x01" * 8, testnet4)
    bad = bytearray(wire_message("pong", b"\x02" * 8, testnet4))
    bad[20] ^= 0xFF
    unknown = wire_message("futurecmd", b"hello", testnet4)
    header = bytearray(wire_message("ping", b"", testnet4))
    header[16:20] = (1000).to_bytes(4, "little")  # ping's cap is 8 bytes
    data = good + bytes(bad) + unknown + bytes(header) + good
    builder = CaptureBuilder()
    handshake(builder, 0)
    builder.segment(CLIENT, SERVER, 1, data)
    sequences, report = run(builder.write(), wire_impl)
    at = [0, 32, 64, 64 + len(unknown), 64 + len(unknown) + 24]
    assert sequences[(0, "10.0.0.1:50123", "10.0.0.2:8333")] == [
        [3, at[0], "ping", 8, "ok"],
        [3, at[1], "pong", 8, "bad_checksum"],
        [3, at[2], "futurecmd", 5, "ok"],
        [3, at[3], "ping", 1000, "oversized"],
        [3, at[4], "ping", 8, "ok"],
    ]
    assert report.streams[0].network == "testnet4"


def test_legacy_headers_at_the_end_and_before_a_gap(wire_impl) -> None:
    legacy = next(bytes.fromhex(v["hex"]) for v in GOLDEN if v["expect"].startswith("valid_legacy") and v["command"] == "version")
    verack = wire.pack_header(MAIN, "verack", b"")[:20]
    builder = CaptureBuilder()
    handshake(builder, 0)
    builder.segment(CLIENT, SERVER, 1, legacy)  # a 2011 version, waiting for the answer
    builder.segment(SERVER, CLIENT, 7001, legacy + verack)
    builder.segment(SERVER, CLIENT, 7001 + len(legacy) + 20 + 500, wire_message("ping", b"\x00" * 8))
    builder.segment(CLIENT, SERVER, 1 + len(legacy), verack)  # the capture ends after it
    sequences, report = run(builder.write(), wire_impl)
    assert sequences == {
        (0, "10.0.0.1:50123", "10.0.0.2:8333"): [
            [3, 0, "version", 85, "ok_no_checksum_20byte_header"],
            [6, 105, "verack", 0, "ok_no_checksum_20byte_header"],
        ],
        (0, "10.0.0.2:8333", "10.0.0.1:50123"): [
            [4, 0, "version", 85, "ok_no_checksum_20byte_header"],
            [4, 105, "verack", 0, "ok_no_checksum_20byte_header"],
            [5, 625, "ping", 8, "ok"],  # found again after the gap: its checksum verifies
        ],
    }
    server = next(s for s in report.streams if s.src == "10.0.0.2:8333")
    assert server.walker.gaps == [(125, 625)]
    assert server.walker.skipped == []


def test_incomplete_at_capture_end_and_rst(wire_impl) -> None:
    data, layout = conversation(repeat=1)
    builder = CaptureBuilder()
    handshake(builder, 0)
    builder.segment(CLIENT, SERVER, 1, data[: layout[-1][0] + 30])
    builder.segment(CLIENT, SERVER, 1 + layout[-1][0] + 30, flags=RST)
    builder.segment(CLIENT, SERVER, 1 + layout[-1][0] + 30, b"late")  # after the reset: ignored
    sequences, _ = run(builder.write(), wire_impl)
    rows = sequences[(0, "10.0.0.1:50123", "10.0.0.2:8333")]
    assert rows[-1] == [3, layout[-1][0], layout[-1][1], layout[-1][2], "incomplete_capture_ended"]
    assert [row[1] for row in rows] == [offset for offset, _, _ in layout]


def test_truncated_and_unreadable_captures(tmp_path: Path) -> None:
    data, layout = conversation()
    builder = CaptureBuilder()
    handshake(builder, 0)
    for seq, payload in builder.stream(CLIENT, SERVER, data, 1, 1000):
        builder.segment(CLIENT, SERVER, seq, payload)
    raw = builder.write()
    sequences, report = run(raw[:-1500])  # the last record is cut
    assert report.reader.truncated and report.reader.frames == len(builder.frames) - 1
    rows = sequences[(0, "10.0.0.1:50123", "10.0.0.2:8333")]
    assert rows[:-1] == expect(builder, layout, 1)[: len(rows) - 1]
    path = tmp_path / "cut.pcap"
    path.write_bytes(raw[:-1500])
    out = io.StringIO()
    assert decode.main([str(path)], out=out) == 0
    assert out.getvalue().count("\n") == len(rows)
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a capture at all")
    assert decode.main([str(garbage)], out=io.StringIO()) == 2
    assert decode.main([str(tmp_path / "missing.pcap")], out=io.StringIO()) == 2


@pytest.mark.parametrize("linktype", [pcap.DLT_EN10MB, pcap.DLT_LINUX_SLL, pcap.DLT_LINUX_SLL2, pcap.DLT_RAW, pcap.DLT_NULL])
def test_fast_path_reads_what_dpkt_reads(linktype: int) -> None:
    """Plain IPv4/TCP frames skip dpkt's objects; dpkt's reading of the same frames is the oracle."""
    data, _ = conversation(repeat=1)
    builder = CaptureBuilder(linktype)
    handshake(builder, 77)
    for seq, payload in builder.stream(CLIENT, SERVER, data, 78, 333):
        builder.segment(CLIENT, SERVER, seq, payload, flags=ACK | 0x08)
    builder.segment(SERVER, CLIENT, 7001, b"x", flags=FIN | ACK)
    frames = builder.frames
    frames.append((9.0, frames[-1][1][:-1]))  # a frame shorter than its IP length
    frames.append((9.5, frames[-2][1]))  # and a duplicate
    raw = builder.write()
    fast = list(CaptureReader(io.BytesIO(raw)))
    oracle = list(CaptureReader(io.BytesIO(raw), fast=False))
    assert fast == oracle and len(fast) == len(frames)


def test_frames_that_are_not_tcp_are_counted() -> None:
    builder = CaptureBuilder()
    builder.frames.append((1.0, b"\x02" * 6 + b"\x04" * 6 + b"\x08\x06" + b"\x00" * 28))  # ARP
    builder.frames.append((2.0, b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + bytes(ip_udp())))
    sequences, report = run(builder.write())
    assert sequences == {}
    assert report.reader.skipped == {"not IP": 1, "not TCP": 1}
    unknown = CaptureBuilder(linktype=147)
    unknown.frames.append((1.0, b"\x00" * 40))
    _, report = run(unknown.write())
    assert report.reader.skipped == {"link type 147 not supported": 1}


def ip_udp():
    return ip.IP(src=b"\x01\x02\x03\x04", dst=b"\x05\x06\x07\x08", p=17, data=udp.UDP(sport=1, dport=2, data=b"x"))


# --- the command line ----------------------------------------------------------------------

PEAFOWL = PCAPS / "peafowl_bitcoin_2011.pcap"


def test_cli_lines_in_process(capsys) -> None:
    out = io.StringIO()
    assert decode.main([str(PEAFOWL)], out=out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 112
    assert lines[0] == (
        "2011-03-28T16:07:52.925065Z #0 192.168.1.142:55383 → 66.68.83.22:8333 main version 85B "
        "checksum=none version 32001 (no user agent) height=114400"
    )
    assert any(" getaddr 0B checksum=ok getaddr" in line for line in lines)
    assert any(" inv 248 MSG_BLOCK" in line for line in lines)
    assert any("block 0000" in line and "txs=" in line for line in lines)
    assert capsys.readouterr().err == ""


def test_cli_filter_stream_json_stats() -> None:
    out = io.StringIO()
    assert decode.main([str(PEAFOWL), "--filter", "verack,getaddr", "--json"], out=out) == 0
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(o["command"], o["status"], o["offset"]) for o in objects] == [
        ("verack", "ok_no_checksum_20byte_header", 105),
        ("verack", "ok_no_checksum_20byte_header", 105),
        ("getaddr", "ok", 125),
    ]
    out = io.StringIO()
    assert decode.main([str(PEAFOWL), "--filter", "tx,version", "--json", "--stream", "0"], out=out) == 0
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    tx = next(o for o in objects if o["command"] == "tx")
    assert len(tx["payload"]["inputs"][0]["prev_txid"]) == 64 and tx["summary"].startswith("tx ")
    assert tx["summary"].split()[1] == tx["payload"]["txid"] == tx["payload"]["wtxid"]  # 2011: no witness
    version = next(o for o in objects if o["command"] == "version")
    assert version["payload"]["addr_recv"]["ip"].count(".") == 3 and version["payload"]["version"] in (31900, 32001)
    out = io.StringIO()
    assert decode.main([str(PEAFOWL), "--stream", "1"], out=out) == 0
    assert out.getvalue() == ""
    out = io.StringIO()
    assert decode.main([str(PEAFOWL), "--stats"], out=out) == 0
    text = out.getvalue()
    assert "       0       112       104984     0            0          0" in text
    assert "     getaddr         1           24            0          0" in text


def test_json_of_blocks_and_headers() -> None:
    block = (VECTORS / "blocks" / "block_170.bin").read_bytes()
    decoded = to_json("block", block)
    assert decoded["hash"] == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    assert len(decoded["txids"]) == len(decoded["transactions"]) == 2
    assert decoded["header"]["prev_block"].startswith("000000002a22cfee")
    headers = to_json("headers", b"\x01" + block[:80] + b"\x00")
    assert headers["headers"][0]["hash"] == decoded["hash"]
    assert to_json("futurecmd", b"\x01\x02") == {"raw": "0102"}
    assert to_json("ping", b"\x01")["error"].startswith("Truncated")
    assert summarize("inv", b"\x05").startswith("inv (undecodable: Truncated")
    assert summarize("futurecmd", b"\x01") == "unknown command 'futurecmd', 1 bytes"


def test_cli_hex(capsys) -> None:
    out = io.StringIO()
    version = next(v["hex"] for v in GOLDEN if v["command"] == "version" and v["expect"] == "valid_framing")
    assert decode.main(["--hex", version], out=out) == 0
    assert out.getvalue().startswith("version 70015 /Satoshi:0.13.99/ height=0\nnetwork: regtest")
    out = io.StringIO()
    legacy = next(v["hex"] for v in GOLDEN if v["expect"].startswith("valid_legacy"))
    assert decode.main(["--hex", legacy, "--json"], out=out) == 0
    assert json.loads(out.getvalue())["status"] == "ok_no_checksum_20byte_header"
    assert decode.main(["--hex", "zz"], out=io.StringIO()) == 2
    assert decode.main(["--hex", "f9beb4d9"], out=io.StringIO()) == 1
    with pytest.raises(SystemExit):
        decode.main([], out=io.StringIO())
    capsys.readouterr()


def test_cli_subprocess_file_and_stdin(tmp_path: Path) -> None:
    script = [sys.executable, "-m", "tools.decode"]
    root = Path(__file__).parents[2]
    by_file = subprocess.run([*script, str(PEAFOWL)], capture_output=True, check=True, cwd=root)
    by_stdin = subprocess.run([*script, "-"], input=PEAFOWL.read_bytes(), capture_output=True, check=True, cwd=root)
    assert by_file.stdout == by_stdin.stdout and by_file.stdout.decode().count("\n") == 112
    garbage = subprocess.run([*script, "-"], input=b"nonsense", capture_output=True, cwd=root)
    assert garbage.returncode == 2 and b"not a pcap" in garbage.stderr


def test_cli_reports_gaps_and_skips(tmp_path: Path, capsys) -> None:
    builder = CaptureBuilder()
    builder.segment(("10.0.0.9", 443), SERVER, 1, b"not bitcoin")
    builder.frames.append((3.0, b"\x02" * 6 + b"\x04" * 6 + b"\x08\x06" + b"\x00" * 28))
    builder.segment(CLIENT, SERVER, 1, b"junk" + wire_message("ping", b"\x00" * 8))
    builder.segment(CLIENT, SERVER, 500, wire_message("ping", b"\x01" * 8))
    path = tmp_path / "gappy.pcap"
    path.write_bytes(builder.write()[:-10])
    assert decode.main([str(path)], out=io.StringIO()) == 0
    err = capsys.readouterr().err
    assert "stream 0 10.0.0.9:443 → 10.0.0.2:8333: 11 bytes, no Bitcoin message" in err
    assert "stream 1 10.0.0.1:50123 → 10.0.0.2:8333: gap of 463 bytes at offset 36" in err
    assert "skipped 4 bytes at offset 0" in err
    assert "1 frames skipped: not IP" in err
    assert "truncated capture: frame 4, the last, holds less than its IP length says" in err
    assert "at offset 499" not in err  # the ping cut by the end of the file is a message:
    out = io.StringIO()
    decode.main([str(path), "--stream", "1"], out=out)
    assert out.getvalue().splitlines()[-1].endswith("ping 8B checksum=- ping (incomplete: the capture ends)")


@pytest.mark.parametrize("vector", [v for v in GOLDEN if v["expect"] == "valid_framing"], ids=lambda v: v["command"])
def test_every_golden_message_has_a_summary_and_json(vector, wire_impl) -> None:
    command, payload = vector["command"], bytes.fromhex(vector["hex"])[24:]
    line = summarize(command, payload, wire_impl.module)
    assert line.startswith(command) and "undecodable" not in line
    json.dumps(to_json(command, payload))


class _GeneratedCapture(io.RawIOBase):
    """A pcap file produced as it is read: `repeat` copies of one connection's traffic, so a
    large capture never exists in memory (or on disk)."""

    def __init__(self, repeat: int) -> None:
        builder = CaptureBuilder()
        data, _ = conversation(repeat=4)
        for seq, payload in builder.stream(CLIENT, SERVER, data, 1, 1448):
            builder.segment(CLIENT, SERVER, seq, payload)
        raw = builder.write()
        self._header, records = raw[:24], raw[24:]
        self._length = len(data)
        self._records = records
        self._chunks = self._generate(repeat)
        self._pending = b""

    def _generate(self, repeat: int):
        yield self._header
        records = bytearray(self._records)
        for copy in range(repeat):
            # shift every record's TCP sequence number on by one copy of the stream
            yield bytes(records)
            at = 0
            while at < len(records):
                length = int.from_bytes(records[at + 8 : at + 12], "little")
                seq_at = at + 16 + 14 + 20 + 4
                seq = int.from_bytes(records[seq_at : seq_at + 4], "big")
                records[seq_at : seq_at + 4] = ((seq + self._length) & 0xFFFFFFFF).to_bytes(4, "big")
                at += 16 + length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def test_memory_stays_flat_as_the_capture_grows() -> None:
    """Peak traced memory while decoding 20x more of the same traffic (0.1 MB, then 2 MB of
    capture) stays about the same (~31 KB here): nothing grows with the file."""
    peaks, counts = [], []
    for repeat in (20, 400):
        seen = [0]
        tracemalloc.start()
        decode_capture(io.BufferedReader(_GeneratedCapture(repeat)), lambda event: seen.__setitem__(0, seen[0] + 1))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        counts.append(seen[0])
    assert counts[1] == 20 * counts[0] > 0
    assert peaks[1] < 1.5 * peaks[0] + 256 * 1024, peaks


def test_garbage_streams_never_crash_and_both_twins_agree() -> None:
    """Streams made of magics, legacy-looking headers, cut messages, oversize lengths and noise,
    fed in random pieces with random gaps: no exception, offsets only grow, and the compiled
    and pure FrameDecoder give the same messages."""
    rng = random.Random(7)
    magic = MAIN.to_bytes(4, "little")
    pieces = [
        magic, magic + b"version\0\0\0\0\0", magic + b"verack\0\0\0\0\0\0", b"\0" * 4,
        wire_message("ping", b"\1" * 8), wire_message("inv", b"\x01\x01\0\0\0" + b"\x22" * 32), bytes(range(97)),
        wire_message("ping", b"\1" * 8)[:20], (1000).to_bytes(4, "little"), (85).to_bytes(4, "little"), b"\x01\x7d\0\0",
    ]
    for _ in range(400):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        plan, at = [], 0
        while at < len(data):
            size = rng.randrange(1, 60)
            plan.append((at, size, rng.random() < 0.05))
            at += size
        results = []
        for module in (wire, _wire_py):
            found: list = []
            walker = MessageWalker(found.append, wire_module=module)
            for start, size, lost in plan:
                if lost:
                    walker.gap(start, start + size)
                else:
                    walker.data(start, data[start : start + size], start, 0.0)
            walker.end()
            offsets = [message.offset for message in found]
            assert offsets == sorted(offsets)
            results.append((found, walker.gaps, walker.skipped))
        assert results[0] == results[1]


def test_corrupted_captures_never_crash() -> None:
    """The 2011 capture with random bytes overwritten (headers, lengths, payloads) and random
    cuts: it decodes what it can and raises nothing but CaptureError for a broken file header."""
    raw = PEAFOWL.read_bytes()
    rng = random.Random(11)
    for _ in range(150):
        data = bytearray(raw)
        for _ in range(rng.choice([1, 5, 50, 500])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        try:
            run(bytes(data))
        except CaptureError:
            pass


# --- a real capture: bcoin syncing from bcoin on loopback -----------------------------------

BCOIN_SYNC = PCAPS / "bcoin" / "bcoin_regtest_sync.pcapng"
BCOIN_SYNC_FACTS = json.loads(BCOIN_SYNC.with_suffix(".json").read_text())


def _block_hashes(sequences_with_payloads) -> list[str]:
    """Display-order hashes of the blocks delivered as block or cmpctblock messages."""
    hashes = []
    for command, payload in sequences_with_payloads:
        if command in ("block", "cmpctblock"):
            hashes.append(wire.double_sha256(payload[:80])[::-1].hex())
    return hashes


def _decode_real(data: bytes, wire_impl=None):
    events = []
    kwargs = {"wire_module": wire_impl.module} if wire_impl is not None else {}
    report = decode_capture(io.BytesIO(data), events.append, **kwargs)
    return events, report


def test_bcoin_sync_every_block_mined_is_decoded(wire_impl) -> None:
    """The hashes bcoin's RPC gave for the 300 blocks it mined are the blocks in the capture."""
    events, report = _decode_real(BCOIN_SYNC.read_bytes(), wire_impl)
    assert all(event.message.status == "ok" for event in events)
    assert all(not s.walker.gaps and not s.walker.skipped and s.network == "regtest" for s in report.streams)
    served = [(e.message.command, e.message.payload) for e in events if e.src.endswith(f":{BCOIN_SYNC_FACTS['a_port']}")]
    assert sorted(_block_hashes(served)) == sorted(BCOIN_SYNC_FACTS["block_hashes"])
    commands = [e.message.command for e in events]
    assert commands.count("block") + commands.count("cmpctblock") == 300


def _resegmented(data: bytes, size: int, mangle) -> bytes:
    """The capture's TCP payloads cut into `size`-byte segments (real bytes, real sequence
    numbers), then `mangle(frames)` reorders, repeats or drops them."""
    reader = pcapng_reader(io.BytesIO(data))
    frames = []
    for stamp, raw in reader:
        eth = dpkt_ethernet(raw)
        packet, segment = eth.data, eth.data.data
        pieces = [(0, segment.data)] if not segment.data else [
            (at, segment.data[at : at + size]) for at in range(0, len(segment.data), size)
        ]
        for at, piece in pieces:
            copy = tcp_segment(sport=segment.sport, dport=segment.dport, seq=(segment.seq + at) & 0xFFFFFFFF,
                               ack=segment.ack, flags=segment.flags, data=piece)
            ip_packet = ip.IP(src=packet.src, dst=packet.dst, p=6, data=copy)
            frames.append((stamp, bytes(dpkt_ethernet(src=eth.src, dst=eth.dst, type=eth.type, data=ip_packet))))
    out = io.BytesIO()
    writer = pcap.Writer(out, linktype=pcap.DLT_EN10MB)
    for stamp, raw in mangle(frames):
        writer.writepkt(raw, ts=stamp)
    return out.getvalue()


def _rows(events) -> list:
    return [(e.stream, e.src, e.message.offset, e.message.command, e.message.length, e.message.status) for e in events]


def test_bcoin_sync_reordered_and_retransmitted(wire_impl) -> None:
    original, _ = _decode_real(BCOIN_SYNC.read_bytes())

    def shuffle(frames):
        frames = list(frames)
        for at in range(3, len(frames) - 1, 3):
            frames[at], frames[at + 1] = frames[at + 1], frames[at]
        return [frame for at, frame in enumerate(frames) for _ in range(2 if at % 11 == 0 else 1)]

    events, report = _decode_real(_resegmented(BCOIN_SYNC.read_bytes(), 700, shuffle), wire_impl)
    assert sorted(_rows(events)) == sorted(_rows(original))
    assert all(not s.walker.gaps for s in report.streams)


def test_bcoin_sync_with_lost_segments(wire_impl) -> None:
    """Two segments lost from the block download: the gaps are reported, the blocks they cut are
    incomplete, everything after is found again; every complete block is one bcoin mined."""
    def drop(frames):
        big = [at for at, (_, raw) in enumerate(frames) if len(raw) > 600]
        lost = {big[len(big) // 3], big[2 * len(big) // 3]}
        return [frame for at, frame in enumerate(frames) if at not in lost]

    events, report = _decode_real(_resegmented(BCOIN_SYNC.read_bytes(), 700, drop), wire_impl)
    assert sum(len(s.walker.gaps) for s in report.streams) == 2
    statuses = [e.message.status for e in events]
    assert statuses.count("incomplete_gap") == 2 and set(statuses) == {"ok", "incomplete_gap"}
    complete = [(e.message.command, e.message.payload) for e in events if e.message.status == "ok"]
    hashes = _block_hashes(complete)
    assert set(hashes) < set(BCOIN_SYNC_FACTS["block_hashes"]) and len(hashes) >= 290


def test_lost_last_segment_before_the_fin_is_a_gap(wire_impl) -> None:
    ping = wire_message("ping", b"\x03" * 8)
    builder = CaptureBuilder()
    handshake(builder, 0)
    builder.segment(CLIENT, SERVER, 1, ping + ping[:10])
    builder.segment(CLIENT, SERVER, 1 + 2 * len(ping), flags=FIN | ACK)  # ping[10:] never seen
    sequences, report = run(builder.write(), wire_impl)
    assert sequences == {(0, "10.0.0.1:50123", "10.0.0.2:8333"): [[3, 0, "ping", 8, "ok"]]}
    assert report.streams[0].walker.gaps == [(42, 64)]
    assert report.streams[0].walker.skipped == [(32, 42, "no complete message header")]


def test_compact_filter_messages_are_shown_decoded() -> None:
    """BIP157's six messages (a real basic filter from BIP158's vectors in the cfilter), each as
    `pantheon-decode --hex` shows it: a summary line, and the full decode in --json."""
    block_hash = bytes.fromhex(BIP158[0][1])[::-1]
    stop = "11" * 32
    payloads = {
        "getcfilters": wire.encode_getcfilters(CFRequest(0, 1, bytes.fromhex(stop))),
        "cfilter": wire.encode_cfilter(CFilter(0, block_hash, bytes.fromhex(BIP158[0][5]))),
        "getcfheaders": wire.encode_getcfheaders(CFRequest(0, 7, bytes.fromhex(stop))),
        "cfheaders": wire.encode_cfheaders(CFHeaders(0, bytes.fromhex(stop), bytes(32), (b"\x22" * 32,) * 3)),
        "getcfcheckpt": wire.encode_getcfcheckpt(CFCheckptRequest(255, bytes.fromhex(stop))),
        "cfcheckpt": wire.encode_cfcheckpt(CFCheckpt(0, bytes.fromhex(stop), (b"\x33" * 32,) * 2)),
    }
    expected = {
        "getcfilters": f"getcfilters basic from=1 stop={stop}",
        "cfilter": f"cfilter basic {BIP158[0][1]} 4 bytes",
        "getcfheaders": f"getcfheaders basic from=7 stop={stop}",
        "cfheaders": f"cfheaders basic 3 stop={stop}",
        "getcfcheckpt": f"getcfcheckpt type255 stop={stop}",
        "cfcheckpt": f"cfcheckpt basic 2 stop={stop}",
    }
    for command, payload in payloads.items():
        message = (wire.pack_header(params.REGTEST.magic, command, payload) + payload).hex()
        out = io.StringIO()
        assert decode.main(["--hex", message], out=out) == 0
        assert out.getvalue().splitlines()[0] == expected[command]
        out = io.StringIO()
        assert decode.main(["--hex", message, "--json"], out=out) == 0
        shown = json.loads(out.getvalue())
        assert shown["command"] == command and shown["status"] == "ok" and shown["summary"] == expected[command]
        if command == "cfilter":
            assert shown["payload"] == {"filter_type": 0, "block_hash": BIP158[0][1], "filter": BIP158[0][5]}
