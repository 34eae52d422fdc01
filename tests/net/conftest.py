"""Fixtures of the net tests: a real DNS server (dnsmasq) and a name server that never answers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from helpers.dns import RECORDS, DnsServer, dnsmasq_binary, free_dns_port


@pytest.fixture(scope="module")
def blackhole() -> Iterator[socket.socket]:
    """A bound UDP socket nobody reads: a name server that never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory, blackhole: socket.socket) -> Iterator[DnsServer]:
    binary = dnsmasq_binary()
    log = tmp_path_factory.mktemp("dnsmasq") / "dnsmasq.log"
    silent_port = blackhole.getsockname()[1]
    records = [
        f"--host-record={name},{address}" for name, addresses in RECORDS.items() for address in addresses
    ]
    for attempt in range(3):  # the free port can be taken between the check and dnsmasq's bind
        port = free_dns_port()
        command = [
            binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",  # no /etc/dnsmasq.conf
            "--pid-file=",  # none
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",  # bind 127.0.0.1 itself, not the wildcard address
            "--no-resolv",  # no upstream from /etc/resolv.conf: unknown names are REFUSED
            "--no-hosts",
            "--log-facility=-",
            "--log-queries",
            "--address=/nx.example/",  # NXDOMAIN for nx.example and below
            f"--server=/silent.example/127.0.0.1#{silent_port}",  # forwarded to the blackhole
            "--cname=alias.example,seed-a.example",
            "--local=/v6only.example/",  # answered locally: its A query gets NOERROR with no records
            *records,
        ]
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        server = DnsServer(port, log)
        deadline = time.monotonic() + 5
        while process.poll() is None and time.monotonic() < deadline:
            if server.resolver(timeout=0.2).query("seed-a.example", "A").error is None:
                break
        else:
            process.kill()
            process.wait()
            if attempt == 2:
                pytest.fail(f"dnsmasq did not start: {log.read_text()}")
            continue
        try:
            yield server
        finally:
            process.terminate()
            process.wait(timeout=5)
        return
