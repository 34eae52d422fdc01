"""dnsmasq for the discovery tests (its fixtures are in net/conftest.py): RECORDS, DnsServer, ports."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import gevent.socket
import pytest

from helpers.outside import missing
from pantheon.net.discovery import Resolver

QUERY_TIMEOUT = 0.8  # seconds: long enough for loopback, short enough to keep the suite fast

RECORDS = {  # name -> its A and AAAA addresses, served by dnsmasq as host records
    "seed-a.example": ["192.0.2.1", "192.0.2.2", "2001:db8::1"],
    "seed-b.example": ["192.0.2.2", "198.51.100.7", "2001:db8::1", "2001:db8::2"],  # overlaps seed-a
    "x9.seed-a.example": ["203.0.113.9"],  # seed-a supports the service filter, seed-b does not
    "v6only.example": ["2001:db8::6"],
    "big.example": [f"198.51.100.{n}" for n in range(1, 41)],  # too many for 512 bytes: truncated
    "public.example": ["20.1.2.3", "21.4.5.6", "2600:1f00::1"],  # routable: AddrMan keeps these
}


@dataclass(frozen=True)
class DnsServer:
    """A dnsmasq serving `RECORDS` on loopback `port`, logging its queries to `log`."""

    port: int
    log: Path

    def resolver(self, timeout: float = QUERY_TIMEOUT) -> Resolver:
        return Resolver(["127.0.0.1"], self.port, timeout=timeout)


def dnsmasq_binary() -> str:
    """The dnsmasq executable, or skip (fail under CI=true) with the reason."""
    path = shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if path is None:
        missing("dnsmasq is not installed (apt-get install dnsmasq-base)")
    return path


def bound_pair() -> tuple[gevent.socket.socket, gevent.socket.socket]:
    """A UDP and a TCP socket bound to one loopback port number (DNS serves both). The number
    the kernel picks for UDP may already be taken for TCP: then both close and it tries again."""
    for _ in range(50):
        udp = gevent.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind(("127.0.0.1", 0))
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
    pytest.fail("no loopback port number was free for both UDP and TCP")


def free_dns_port() -> int:
    """A loopback port free for both UDP and TCP at the time of asking (for dnsmasq)."""
    udp, tcp = bound_pair()
    with udp, tcp:
        return udp.getsockname()[1]
