"""Reading captures: pcap/pcapng files (through dpkt) down to the TCP segments they carry.

One responsibility: turn a capture file, read as a stream (never whole), into `Segment`s with
the frame number and time the reference and tshark count by. Link layers: Ethernet, Linux
cooked (SLL, SLL2), raw IP and BSD loopback (null/loop); IPv4 and IPv6. Anything else (ARP,
UDP, fragments, unknown link types, truncated headers) is counted in `CaptureReader.skipped`
with the reason, never raised. A capture whose file header cannot be read raises
`CaptureError`; a capture cut short ends the iteration and sets `CaptureReader.truncated`
(dpkt hands over a last record cut inside its data as it is: the IP length tells).
"""

from __future__ import annotations

import io
import socket
import struct
from collections import Counter
from functools import lru_cache
from typing import BinaryIO, Callable, Iterator, NamedTuple

import dpkt
from dpkt import ethernet, ip, ip6, pcap, pcapng, sll, sll2, tcp

__all__ = ["CaptureError", "CaptureReader", "Segment"]

_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
# AF_INET, then AF_INET6 as Linux, NetBSD/OpenBSD, FreeBSD and macOS number it.
_NULL_FAMILIES = frozenset({2, 10, 24, 28, 30})

class CaptureError(Exception):
    """The file is not a capture this tool can read (its header is missing or wrong)."""


class Segment(NamedTuple):
    """One TCP segment as captured: `frame` counts from 1, as tshark and the reference do."""

    frame: int
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    flags: int
    payload: bytes


class CaptureReader:
    """Iterates the TCP segments of a capture read from a binary file object, in file order.

    Plain IPv4/TCP frames are read by `_ipv4_tcp` without dpkt objects; `fast=False` sends
    every frame through dpkt instead.

    `skipped` counts frames that carried no usable TCP segment, by reason; `truncated` is set
    when the file ends inside a record; `linktype` is the capture's link type.
    """

    def __init__(self, stream: BinaryIO, *, fast: bool = True) -> None:
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(stream)  # type: ignore[arg-type]
        head = stream.peek(4)[:4]  # type: ignore[attr-defined]
        try:
            if head == _PCAPNG_MAGIC:
                self._reader: pcap.Reader | pcapng.Reader = pcapng.Reader(stream)
            else:
                self._reader = pcap.Reader(stream)
        except (ValueError, dpkt.UnpackError, struct.error) as error:
            raise CaptureError(f"not a pcap or pcapng capture ({error})") from None
        self.linktype: int = self._reader.datalink()
        self._fast = fast  # False: every frame through dpkt (the tests' oracle for the fast path)
        self.frames = 0
        self.skipped: Counter[str] = Counter()
        self.truncated: str | None = None
        self.short_frames = 0  # frames holding less than their IP length says
        self._last_short = False

    def __iter__(self) -> Iterator[Segment]:
        decode = self._link_decoder()
        fast = _IPV4_AT.get(self.linktype) if self._fast else None
        packets = iter(self._reader)
        while True:
            try:
                stamp, data = next(packets)
            except StopIteration:
                if self._last_short:
                    self.truncated = f"frame {self.frames}, the last, holds less than its IP length says (a cut file?)"
                return
            except (dpkt.UnpackError, struct.error, ValueError) as error:
                self.truncated = f"the capture ends inside a record after frame {self.frames} ({error or 'short read'})"
                return
            self.frames += 1
            if fast is not None:
                field, value, at = fast
                if data[field : field + len(value)] == value:
                    segment = _ipv4_tcp(data, at, self.frames, stamp)
                    if segment is not None:
                        self._last_short = False
                        yield segment
                        continue
            if decode is None:
                self.skipped[f"link type {self.linktype} not supported"] += 1
                continue
            try:
                packet = decode(data)
            except (dpkt.UnpackError, struct.error, ValueError, IndexError):
                packet = None
            if packet is None:
                self.skipped["not IP"] += 1
                continue
            segment = self._segment(packet, float(stamp))
            if segment is not None:
                yield segment

    def _segment(self, packet: ip.IP | ip6.IP6, stamp: float) -> Segment | None:
        if isinstance(packet, ip.IP):
            if packet.offset or packet.mf:
                self.skipped["IP fragment"] += 1
                return None
            family = socket.AF_INET
            short = packet.len > len(packet)
        else:
            family = socket.AF_INET6
            short = packet.plen > len(packet) - packet.__hdr_len__
        # Cut by the snap length or by the end of the file: the missing bytes become a gap.
        self._last_short = short
        self.short_frames += short
        segment = packet.data
        if not isinstance(segment, tcp.TCP):
            self.skipped["not TCP"] += 1
            return None
        return Segment(
            self.frames, stamp,
            socket.inet_ntop(family, packet.src), segment.sport,
            socket.inet_ntop(family, packet.dst), segment.dport,
            segment.seq, segment.flags, bytes(segment.data),
        )

    def _link_decoder(self) -> Callable[[bytes], ip.IP | ip6.IP6 | None] | None:
        """A function from one frame's bytes to its IP packet (None when it is not IP)."""
        linktype = self.linktype
        if linktype == pcap.DLT_EN10MB:
            return lambda data: _ip_of(ethernet.Ethernet(data))
        if linktype == pcap.DLT_LINUX_SLL:
            return lambda data: _ip_of(sll.SLL(data))
        if linktype == pcap.DLT_LINUX_SLL2:
            return lambda data: _ip_of(sll2.SLL2(data))
        if linktype in (pcap.DLT_RAW, 14, 228, 229):
            return _raw_ip
        if linktype in (pcap.DLT_NULL, pcap.DLT_LOOP):
            return _null
        return None


# The common case, read without building dpkt objects (about 10x less time per frame): an
# IPv4 packet without options or fragmentation carrying a whole TCP segment. By link type:
# where the link layer says "IPv4" (offset, bytes) and where the IP header starts. Anything
# else goes through dpkt; tests check both paths give the same segments.
_IPV4_AT = {
    pcap.DLT_EN10MB: (12, b"\x08\x00", 14),
    pcap.DLT_LINUX_SLL: (14, b"\x08\x00", 16),
    pcap.DLT_LINUX_SLL2: (0, b"\x08\x00", 20),
    pcap.DLT_RAW: (0, b"\x45", 0),
    228: (0, b"\x45", 0),
}
_IPV4 = struct.Struct("!BxHxxHxB")  # version/IHL, total length, flags/fragment offset, protocol
_TCP = struct.Struct("!HHI4xBB")  # ports, sequence number, data offset, flags
_ipv4_text = lru_cache(maxsize=4096)(socket.inet_ntoa)


def _ipv4_tcp(data: bytes, at: int, frame: int, stamp: float) -> Segment | None:
    if len(data) < at + 40:
        return None
    version_ihl, total, fragment, protocol = _IPV4.unpack_from(data, at)
    end = at + total
    if version_ihl != 0x45 or protocol != 6 or fragment & 0x3FFF or total < 40 or end > len(data):
        return None
    tcp_at = at + 20
    sport, dport, seq, offset, flags = _TCP.unpack_from(data, tcp_at)
    start = tcp_at + (offset >> 4) * 4
    if start > end or offset >> 4 < 5:
        return None
    return Segment(
        frame, float(stamp), _ipv4_text(data[at + 12 : at + 16]), sport, _ipv4_text(data[at + 16 : at + 20]), dport,
        seq, flags, data[start:end],
    )


def _ip_of(frame: dpkt.Packet) -> ip.IP | ip6.IP6 | None:
    data = frame.data
    return data if isinstance(data, (ip.IP, ip6.IP6)) else None


def _raw_ip(data: bytes) -> ip.IP | ip6.IP6 | None:
    if not data:
        return None
    version = data[0] >> 4
    if version == 4:
        return ip.IP(data)
    if version == 6:
        return ip6.IP6(data)
    return None


def _null(data: bytes) -> ip.IP | ip6.IP6 | None:
    """BSD loopback: a 4-byte address family in the writer's byte order, then the packet."""
    if len(data) < 4:
        return None
    families = {int.from_bytes(data[:4], "little"), int.from_bytes(data[:4], "big")}
    if families & _NULL_FAMILIES:
        return _raw_ip(data[4:])
    return None
