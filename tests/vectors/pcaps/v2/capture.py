"""How pantheon_v1_v2.pcap was made (run once, as root; kept for provenance, not by the tests).

Three Pantheon nodes on regtest in this process, on loopback: A (-v2transport=1) mines 20
blocks; B (-v2transport=1) dials A and syncs them over BIP324 (connection 0, encrypted); B
stops; C (v1 only) dials A and syncs over v1 (connection 1); C and A stop. dumpcap and tcpdump
are not on this machine, so the capture is taken as they take it: a raw AF_PACKET socket on
`lo` in a thread, keeping each frame once (the incoming copy, as libpcap does on loopback) and
only TCP to or from A's port, written as an Ethernet pcap with dpkt. The peers' own byte
counters (Peer.counters, what getpeerinfo's bytessent/bytesrecv show), read after the nodes
stopped, go to pantheon_v1_v2.json: the independent oracle for the decoder's byte counts.

    .venv/bin/python tests/vectors/pcaps/v2/capture.py
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import dpkt

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from helpers.chain import P2WSH_TRUE  # noqa: E402
from helpers.node import FAST, settings  # noqa: E402
from helpers.waiting import NODE_WAIT, wait_for  # noqa: E402
from pantheon.net.peer import PeerState  # noqa: E402
from pantheon.service import NodeService  # noqa: E402

BLOCKS = 20
ETH_P_ALL = 0x0003
PACKET_HOST = 0  # loopback shows each frame twice: outgoing (4) and incoming (0)


class LoopbackCapture(threading.Thread):
    """Frames on `lo` whose TCP source or destination port is `port`, with their times."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.port = 0
        self.frames: list[tuple[float, bytes]] = []
        self._socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024 * 1024)
        self._socket.bind(("lo", 0))
        self._socket.settimeout(0.2)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                frame, address = self._socket.recvfrom(1 << 18)
            except socket.timeout:
                continue
            if address[2] != PACKET_HOST or frame[12:14] != b"\x08\x00" or frame[23] != 6:
                continue
            header = (frame[14] & 0x0F) * 4
            sport, dport = struct.unpack_from("!HH", frame, 14 + header)
            if self.port in (sport, dport):
                self.frames.append((time.time(), frame))

    def stop(self) -> None:
        self._done.set()
        self.join()
        self._socket.close()


def _start(work: Path, name: str, *extra: str) -> NodeService:
    return NodeService(settings(work / name, *extra), tuning=FAST, script_workers=0).start()


def _sync(a: NodeService, client: NodeService) -> dict[str, object]:
    """`client` dials A and syncs; then it stops. Both ends' peers, for their counters."""
    client.node.add_peer(*a.node.manager.address)
    wait_for(lambda: client.node.chain.tip == a.node.chain.tip, NODE_WAIT, what="synced")
    (outbound,) = client.node.peers(PeerState.CONNECTED)
    inbound = next(peer for peer in a.node.peers(PeerState.CONNECTED) if peer.address[1] == outbound.local_address[1])
    time.sleep(1)  # the last pings and announcements
    client.stop()
    wait_for(lambda: inbound.state is PeerState.DISCONNECTED, NODE_WAIT, what="A saw the close")
    return {"dialer": outbound, "listener": inbound}


def main() -> None:
    capture = LoopbackCapture()
    with tempfile.TemporaryDirectory() as work:
        a = _start(Path(work), "a", "--v2transport=1")
        try:
            capture.port = a.node.manager.address[1]
            capture.start()
            a.node.generate(BLOCKS, P2WSH_TRUE)
            connections = [_sync(a, _start(Path(work), "b", "--v2transport=1")),
                           _sync(a, _start(Path(work), "c"))]
        finally:
            a.stop()
            time.sleep(1)
            capture.stop()
    path = HERE / "pantheon_v1_v2.pcap"
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_EN10MB)
        for stamp, frame in capture.frames:
            writer.writepkt(frame, ts=stamp)
    rows = []
    for peers in connections:
        dialer, listener = peers["dialer"], peers["listener"]
        rows.append({
            "transport": dialer.transport_protocol,
            "dialer": f"127.0.0.1:{dialer.local_address[1]}", "listener": f"127.0.0.1:{capture.port}",
            "dialer_bytes_sent": dialer.counters["bytes sent"], "dialer_bytes_received": dialer.counters["bytes received"],
            "listener_bytes_sent": listener.counters["bytes sent"],
            "listener_bytes_received": listener.counters["bytes received"],
            "messages_sent_by_dialer": dialer.counters["messages sent"],
            "messages_sent_by_listener": listener.counters["messages sent"],
        })
    (HERE / "pantheon_v1_v2.json").write_text(json.dumps({
        "what": f"Pantheon B syncing {BLOCKS} regtest blocks from Pantheon A over BIP324 v2 (stream 0), then "
                f"Pantheon C (v1 only) syncing them over v1 (stream 1), on loopback; AF_PACKET capture",
        "frames": len(capture.frames),
        "connections": rows,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
