"""Captures for the decoder's tests, written with dpkt: TCP segments on any link type."""

# A test lays out the segments itself (order, duplicates, drops), so each case says exactly what
# went on the wire; `expected_frames` computes, independently of tools/, which frame first
# carried each byte: the reference's rule for a message's frame.

from __future__ import annotations

import io
import socket
import struct
from dataclasses import dataclass, field

import dpkt
from dpkt import ethernet, ip, ip6, pcap, pcapng, sll, sll2, tcp

from pantheon import wire

ACK, SYN, FIN, RST = tcp.TH_ACK, tcp.TH_SYN, tcp.TH_FIN, tcp.TH_RST
MAIN = 0xD9B4BEF9


def wire_message(command: str, payload: bytes, magic: int = MAIN) -> bytes:
    return wire.pack_header(magic, command, payload) + payload


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@dataclass
class CaptureBuilder:
    """Frames in capture order; `write()` gives the pcap (or pcapng) file's bytes."""

    linktype: int = pcap.DLT_EN10MB
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    # per (src, dst): (frame, absolute seq, payload) of every data segment, in capture order
    sent: dict[tuple[tuple[str, int], tuple[str, int]], list[tuple[int, int, bytes]]] = field(default_factory=dict)

    def segment(self, src: tuple[str, int], dst: tuple[str, int], seq: int, payload: bytes = b"", flags: int = ACK) -> int:
        segment = tcp.TCP(sport=src[1], dport=dst[1], seq=seq & 0xFFFFFFFF, flags=flags, data=payload)
        family = _family(src[0])
        source, target = socket.inet_pton(family, src[0]), socket.inet_pton(family, dst[0])
        if family == socket.AF_INET:
            packet: dpkt.Packet = ip.IP(src=source, dst=target, p=6, data=segment)
        else:
            packet = ip6.IP6(src=source, dst=target, nxt=6, hlim=64, plen=len(bytes(segment)), data=segment)
        kind = ethernet.ETH_TYPE_IP if family == socket.AF_INET else ethernet.ETH_TYPE_IP6
        self.frames.append((1_700_000_000 + len(self.frames) / 10, self._link(packet, kind, family)))
        if payload:
            self.sent.setdefault((src, dst), []).append((len(self.frames), seq, payload))
        return len(self.frames)

    def _link(self, packet: dpkt.Packet, kind: int, family: int) -> bytes:
        if self.linktype == pcap.DLT_EN10MB:
            return bytes(ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=kind, data=packet))
        if self.linktype == pcap.DLT_LINUX_SLL:
            return bytes(sll.SLL(ethtype=kind, data=packet))
        if self.linktype == pcap.DLT_LINUX_SLL2:
            return bytes(sll2.SLL2(ethtype=kind, data=packet))
        if self.linktype == pcap.DLT_NULL:  # macOS numbers AF_INET6 30
            return struct.pack("<I", 2 if family == socket.AF_INET else 30) + bytes(packet)
        return bytes(packet)  # raw IP

    def stream(self, src: tuple[str, int], dst: tuple[str, int], data: bytes, seq: int, size: int) -> list[tuple[int, bytes]]:
        """`data` cut into segments of `size` bytes: (absolute seq, payload) to lay out."""
        return [(seq + at, data[at : at + size]) for at in range(0, len(data), size)]

    def write(self, *, ng: bool = False) -> bytes:
        out = io.BytesIO()
        writer = pcapng.Writer(out, linktype=self.linktype) if ng else pcap.Writer(out, linktype=self.linktype)
        for stamp, frame in self.frames:
            writer.writepkt(frame, ts=stamp)
        return out.getvalue()

    def expected_frames(self, src: tuple[str, int], dst: tuple[str, int], base: int) -> dict[int, int]:
        """Stream offset -> the frame that first carried that byte (offsets from `base`)."""
        first: dict[int, int] = {}
        for frame, seq, payload in self.sent[(src, dst)]:
            for at in range(len(payload)):
                first.setdefault(seq - base + at, frame)
        return first
