"""pantheon-decode against tshark's Bitcoin dissector on the same large capture, in the same run.

The capture (~260 MB; ~52 MB with --quick) is written with dpkt into a temporary directory and
deleted after: 40 (--quick: 8) mainnet connections interleaved segment by segment, each a handshake,
300 rounds of inv/getdata/tx/ping/pong with bcoin's transactions (tests/vectors/tx), then the
real blocks of tests/vectors/blocks (1 MB blocks included); 1,448-byte segments. Both tools run as child processes with their output to
/dev/null: `pantheon-decode FILE` (one line per message) and `tshark -r FILE -2 -Y bitcoin`.
Figures: wall time of each and the ratio (target: ours >= 5x faster), messages per second,
and each one's peak RSS (os.wait4's rusage of that child), which shows ours stays flat.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dpkt import ethernet, ip, pcap, tcp

from benchmarks.common import Figure
from pantheon import params, wire
from pantheon.primitives import InvVect

_ROOT = Path(__file__).resolve().parent.parent
_BLOCKS = _ROOT / "tests" / "vectors" / "blocks"
_MAIN = params.network("main").magic
_SEGMENT = 1448
# Connections interleaved segment by segment, as a node's peers are: 40 make ~260 MB.
_CONNECTIONS = {False: 40, True: 8}
_TX = _ROOT / "tests" / "vectors" / "tx"


def _message(command: str, payload: bytes) -> bytes:
    return wire.pack_header(_MAIN, command, payload) + payload


def _conversation() -> tuple[bytes, bytes, int]:
    """One connection's two byte streams (client, server) and their message count."""
    blocks = [path.read_bytes() for path in sorted(_BLOCKS.glob("block_*.bin"))]
    hashes = [wire.decode_block(block).hash for block in blocks]
    version = bytes.fromhex(  # Bitcoin Core 0.17.1's version (tests/vectors/messages)
        (_ROOT / "tests" / "vectors" / "messages" / "version-satoshi-0.17.1.bin").read_bytes()[24:].hex()
    )
    inventory = wire.encode_inv([InvVect(2, digest) for digest in hashes])
    txs = [path.read_bytes() for path in sorted(_TX.glob("bcoin_tx*.bin"))]
    client = [_message("version", version), _message("verack", b""), _message("getdata", inventory)]
    server = [_message("version", version), _message("verack", b""), _message("inv", inventory)]
    for round_number in range(300):  # transaction relay: announcements, requests, transactions, pings
        tx = txs[round_number % len(txs)]
        announced = wire.encode_inv([InvVect(1, wire.decode_tx(tx).txid)])
        server += [_message("inv", announced), _message("tx", tx), _message("ping", os.urandom(8))]
        client += [_message("getdata", announced), _message("pong", os.urandom(8))]
    server += [_message("block", block) for block in blocks]
    return b"".join(client), b"".join(server), len(client) + len(server)


def _segments(src: bytes, sport: int, dst: bytes, dport: int, data: bytes):  # type: ignore[no-untyped-def]
    for seq in range(0, len(data), _SEGMENT):
        yield src, sport, dst, dport, seq, data[seq : seq + _SEGMENT]


def _write_capture(path: Path, connections: int) -> int:
    """Write `connections` interleaved connections; the number of messages in them."""
    client, server, per_connection = _conversation()
    with path.open("wb") as handle:
        writer = pcap.Writer(handle, snaplen=65535, linktype=pcap.DLT_EN10MB)
        stamp = 1_700_000_000.0
        flows = []
        for number in range(connections):
            host, peer = socket.inet_aton(f"10.0.{number}.1"), socket.inet_aton(f"10.0.{number}.2")
            flows.append((host, 40000 + number, peer, 8333, client))
            flows.append((peer, 8333, host, 40000 + number, server))
        for segment in itertools.chain.from_iterable(itertools.zip_longest(*(_segments(*flow) for flow in flows))):
            if segment is None:
                continue
            src, sport, dst, dport, seq, payload = segment
            packet = ip.IP(src=src, dst=dst, p=6, data=tcp.TCP(sport=sport, dport=dport, seq=seq + 1, flags=tcp.TH_ACK, data=payload))
            frame = ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=ethernet.ETH_TYPE_IP, data=packet)
            stamp += 1e-5
            writer.writepkt(bytes(frame), ts=stamp)
    return per_connection * connections


def _measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process, its output discarded."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=_ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{command[0]} exited with {child.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def run(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="pantheon-bench-") as directory:
        capture = Path(directory) / "large.pcap"
        messages = _write_capture(capture, _CONNECTIONS[quick])
        megabytes = capture.stat().st_size / 1e6
        ours, our_rss = _measure([sys.executable, "-m", "tools.decode", str(capture)])
        figures = [Figure(f"decode a {megabytes:,.0f} MB capture ({messages:,} messages)", ours, "s", "reported", True)]
        tshark = shutil.which("tshark")
        if tshark is None:
            figures.append(Figure("tshark -2 -Y bitcoin: NOT INSTALLED (apt-get install tshark)", 0, "", ">= 5x faster", False))
            figures.append(Figure("pantheon-decode peak RSS", our_rss, "MB", "flat (< 200 MB)", our_rss < 200))
            return figures
        theirs, their_rss = _measure([tshark, "-r", str(capture), "-2", "-Y", "bitcoin"])
    figures[0] = Figure(
        f"decode a {megabytes:,.0f} MB capture ({messages:,} messages)", ours, "s", "<= tshark / 5",
        ours * 5 <= theirs, "tshark -2 -Y bitcoin", theirs,
    )
    figures.append(Figure("decode rate", messages / ours, "msgs/s", "reported", True, "tshark", messages / theirs))
    figures.append(Figure("pantheon-decode peak RSS", our_rss, "MB", "flat (< 200 MB)", our_rss < 200, "tshark", their_rss))
    return figures
