"""pantheon-decode on BIP324 v2 connections (tools/transports.py): a real capture of Pantheon
nodes (tests/vectors/pcaps/v2, one v2 and one v1 connection, with the nodes' own byte counters
as the oracle; dumpcap and tcpdump were not installed, so its capture.py took the frames off
`lo` with an AF_PACKET socket and wrote the pcap with dpkt), and captures built here with dpkt
for the shapes that are v2 and those that must keep their old reporting."""

from __future__ import annotations

import io
import json
import os
import random

import pytest
from helpers.capture import ACK, SYN, CaptureBuilder, wire_message
from helpers.vectors import VECTORS

from pantheon import params
from pantheon.protocol import ELLSWIFT_SIZE, MAX_GARBAGE_SIZE
from pantheon.net.v2transport import V2Transport
from tools import decode
from tools.pipeline import decode_capture
from tools.transports import V2_MAX_BEFORE_KEY, V2_MIN_BYTES

CAPTURE = VECTORS / "pcaps" / "v2" / "pantheon_v1_v2.pcap"
ORACLE = json.loads(CAPTURE.with_suffix(".json").read_text())
CLIENT, SERVER = ("10.0.0.1", 50123), ("10.0.0.2", 8333)


def _decode(path, *args: str) -> str:
    out = io.StringIO()
    assert decode.main([str(path), *args], out=out) == 0
    return out.getvalue()


def test_the_v2_connection_is_reported_with_the_peers_byte_counts(wire_impl) -> None:
    v2, v1 = ORACLE["connections"]
    assert (v2["transport"], v1["transport"]) == ("v2", "v1")
    messages = []
    with CAPTURE.open("rb") as stream:
        report = decode_capture(stream, messages.append, wire_module=wire_impl.module)
    (encrypted,) = report.encrypted
    assert (encrypted.stream, encrypted.src, encrypted.dst) == (0, v2["dialer"], v2["listener"])
    assert (encrypted.sent, encrypted.received, encrypted.gaps) == (v2["dialer_bytes_sent"], v2["listener_bytes_sent"], 0)
    assert v2["dialer_bytes_received"] == v2["listener_bytes_sent"]
    assert {event.stream for event in messages} == {1}  # not one v1 message read out of encrypted bytes
    sent = [event for event in messages if event.src == v1["dialer"]]
    assert len(sent) == v1["messages_sent_by_dialer"] and len(messages) - len(sent) == v1["messages_sent_by_listener"]
    assert {(s.stream, s.src, s.transport) for s in report.streams} == {
        (0, v2["dialer"], "v2"), (0, v2["listener"], "v2"), (1, v1["dialer"], "v1"), (1, v1["listener"], "v1")}


def test_the_command_line_shows_the_v2_connection_and_stats_count_both(capsys) -> None:
    v2, v1 = ORACLE["connections"]
    lines = _decode(CAPTURE).splitlines()
    shown = [line for line in lines if " #0 " in line]
    assert len(shown) == 1 and shown[0].endswith(
        f" #0 {v2['dialer']} → {v2['listener']} BIP324 v2 (encrypted), "
        f"{v2['dialer_bytes_sent']} bytes →, {v2['listener_bytes_sent']} bytes ←")
    assert len(lines) == 1 + v1["messages_sent_by_dialer"] + v1["messages_sent_by_listener"]
    assert capsys.readouterr().err == ""  # no "no Bitcoin message" for the encrypted directions

    (record,) = [json.loads(line) for line in _decode(CAPTURE, "--json", "--stream", "0").splitlines()]
    assert record["transport"] == "v2" and (record["src"], record["dst"]) == (v2["dialer"], v2["listener"])
    assert (record["bytes_sent"], record["bytes_received"], record["bytes_lost"]) == (
        v2["dialer_bytes_sent"], v2["listener_bytes_sent"], 0)
    assert _decode(CAPTURE, "--filter", "block", "--stream", "0") == ""  # encrypted: no command to match

    stats = _decode(CAPTURE, "--stats")
    assert f"       0         - {v2['dialer_bytes_sent'] + v2['listener_bytes_sent']:>12}     0" in stats
    assert "streams by transport: v1 1, v2 1, neither 0" in stats
    v1_row = next(line for line in stats.splitlines() if line.startswith("       1 "))
    assert v1_row.split()[1] == str(v1["messages_sent_by_dialer"] + v1["messages_sent_by_listener"])
    assert v1_row.endswith(" v1")


# --- captures built here: what is v2 and what is not --------------------------------------

def _capture(flights: list[tuple[bool, bytes]], *, syn: bool = True, lose: int | None = None) -> bytes:
    """One connection: each flight is (from the client?, bytes), in order; with `lose`, the
    client's segment holding that stream offset is left out."""
    builder = CaptureBuilder()
    if syn:
        builder.segment(CLIENT, SERVER, 999, flags=SYN)
        builder.segment(SERVER, CLIENT, 6999, flags=SYN | ACK)
    seq = {True: 1000, False: 7000}
    for from_client, data in flights:
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        for start, piece in builder.stream(src, dst, data, seq[from_client], 1400):
            offset = start - 1000
            if not (from_client and lose is not None and offset <= lose < offset + len(piece)):
                builder.segment(src, dst, start, piece)
        seq[from_client] += len(data)
    return builder.write()


def _judged(flights: list[tuple[bool, bytes]], **options) -> list:
    return decode_capture(io.BytesIO(_capture(flights, **options)), lambda event: None).encrypted


def _real_handshake() -> list[tuple[bool, bytes]]:
    """Two of our transports' flights as they would cross the wire, with maximal garbage."""
    client = V2Transport(params.MAIN.magic, initiating=True, garbage=os.urandom(MAX_GARBAGE_SIZE))
    server = V2Transport(params.MAIN.magic, initiating=False, garbage=os.urandom(100))
    flights = []
    for _ in range(3):
        for sender, receiver, from_client in ((client, server, True), (server, client, False)):
            data = sender.take_output()
            if data:
                flights.append((from_client, data))
                receiver.feed(data)
                while receiver.next_frame() is not None:
                    pass
    client.send("ping", bytes(8))
    flights.append((True, client.take_output()))
    assert client.established and server.established
    return flights


def test_our_transports_handshake_with_the_most_garbage_is_v2() -> None:
    flights = _real_handshake()
    (encrypted,) = _judged(flights)
    assert encrypted.sent == sum(len(data) for from_client, data in flights if from_client)
    assert encrypted.received == sum(len(data) for from_client, data in flights if not from_client)


def test_a_gap_after_the_keys_keeps_v2_and_is_counted(tmp_path, capsys) -> None:
    flights = _real_handshake()
    flights.append((True, os.urandom(3000)))  # the client's segments from offset 5000 on...
    client = b"".join(data for from_client, data in flights if from_client)
    lost = len(client) - 2000  # ...one of them lost
    (encrypted,) = _judged(flights, lose=lost)
    assert encrypted.gaps > 0 and encrypted.sent + encrypted.gaps == len(client)
    path = tmp_path / "gap.pcap"
    path.write_bytes(_capture(flights, lose=lost))
    line = _decode(path)
    assert f"BIP324 v2 (encrypted), {encrypted.sent} bytes →" in line and f"{encrypted.gaps} bytes lost to gaps" in line
    assert f"gap of {encrypted.gaps} bytes" in capsys.readouterr().err


def test_random_bytes_in_a_v2_shape_are_v2() -> None:
    """The decoder cannot tell ElligatorSwift keys from random bytes (no one can): the shape is
    what it judges, and random bytes in that shape are reported as encrypted."""
    rng = random.Random(1)
    flights = [(True, rng.randbytes(V2_MAX_BEFORE_KEY)), (False, rng.randbytes(V2_MIN_BYTES)),
               (True, rng.randbytes(V2_MIN_BYTES - ELLSWIFT_SIZE))]
    assert len(_judged(flights)) == 1


@pytest.mark.parametrize("case", [
    "client-says-too-much-before-the-key", "server-never-answers", "server-too-short", "no-syn", "key-lost",
    "v1-server",
])
def test_streams_that_are_not_v2_keep_their_reporting(case: str, tmp_path, capsys) -> None:
    rng = random.Random(case)
    flights = [(True, rng.randbytes(200)), (False, rng.randbytes(300)), (True, rng.randbytes(50))]
    options = {}
    if case == "client-says-too-much-before-the-key":
        flights[0] = (True, rng.randbytes(V2_MAX_BEFORE_KEY + 1))
    elif case == "server-never-answers":
        flights = [(True, rng.randbytes(5000))]
    elif case == "server-too-short":
        flights[1] = (False, rng.randbytes(V2_MIN_BYTES - 1))
    elif case == "no-syn":
        options["syn"] = False
    elif case == "key-lost":
        options["lose"] = 10
    else:
        flights[1] = (False, wire_message("ping", bytes(8)) * 5)
    assert _judged(flights, **options) == []
    path = tmp_path / "capture.pcap"
    path.write_bytes(_capture(flights, **options))
    out = _decode(path)
    assert "BIP324" not in out
    err = capsys.readouterr().err
    client_bytes = sum(len(data) for from_client, data in flights if from_client) - 200 * (case == "key-lost")
    assert f"stream 0 10.0.0.1:50123 → 10.0.0.2:8333: {client_bytes} bytes, no Bitcoin message" in err
    if case == "v1-server":
        assert out.count(" main ping 8B checksum=ok ") == 5
    stats = _decode(path, "--stats")
    transport = "v1" if case == "v1-server" else "neither"
    assert f"streams by transport: v1 {int(transport == 'v1')}, v2 0, neither {int(transport == 'neither')}" in stats
