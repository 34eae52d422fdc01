"""DNS seed discovery: why queries go over gevent sockets rather than a threadpool.

A loopback DNS server in a subprocess answers every name with one A or AAAA record, except
names under `silent.` which it never answers. Three ways of resolving are timed in this process:
- `gevent-sockets`: `pantheon.net.discovery` (dnspython messages over gevent.socket);
- `threadpool`: dnspython's blocking resolver run in gevent's hub threadpool (its default size);
- `in-hub`: dnspython's blocking resolver called from a greenlet, unpatched: the hub waits.
Figures: the wall time of a mainnet-sized silent discovery (9 seeds, A and AAAA, 0.5 s timeout),
the longest the hub was held up while a ticker greenlet tried to run every 5 ms, and answered
queries per second.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable

import dns.exception
import dns.resolver
import gevent

from benchmarks.common import Figure
from pantheon import params
from pantheon.net.discovery import Resolver, discover

TIMEOUT = 0.5
SEEDS = len(params.MAIN.dns_seeds)

_SERVER = """
import sys
import dns.message, dns.rrset
from gevent.server import DatagramServer

def handle(data, address):
    query = dns.message.from_wire(data)
    question = query.question[0]
    if b"silent" in question.name.labels:
        return
    response = dns.message.make_response(query)
    value = "192.0.2.1" if question.rdtype == 1 else "2001:db8::1"
    response.answer.append(dns.rrset.from_text(question.name, 60, "IN", question.rdtype, value))
    server.sendto(response.to_wire(), address)

server = DatagramServer(("127.0.0.1", 0), handle)
server.start()
print(server.address[1], flush=True)
server.serve_forever()
"""


def _blocking_resolver(port: int) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = TIMEOUT
    return resolver


def _blocking_query(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> None:
    try:
        resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    except dns.exception.DNSException:  # the silent names time out
        pass


def _threadpool_all(resolver: dns.resolver.Resolver, names: list[str]) -> None:
    pool = gevent.get_hub().threadpool
    results = [
        pool.spawn(_blocking_query, resolver, name, rdtype) for name in names for rdtype in ("A", "AAAA")
    ]
    gevent.joinall(results)


def _in_hub_all(resolver: dns.resolver.Resolver, names: list[str]) -> None:
    jobs = [
        gevent.spawn(_blocking_query, resolver, name, rdtype) for name in names for rdtype in ("A", "AAAA")
    ]
    gevent.joinall(jobs)


def _measure(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, longest hub stall seconds) of `run` while a ticker greenlet runs every 5 ms."""
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            gevent.sleep(0.005)

    background = gevent.spawn(ticker)
    gevent.sleep(0.02)
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    background.kill()
    ticks.append(time.perf_counter())
    stall = max(later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False))
    return elapsed, stall


def run(quick: bool) -> list[Figure]:
    logging.getLogger("pantheon.net.discovery").setLevel(logging.ERROR)  # 500 seeds' lines otherwise
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return _figures(port, quick)
    finally:
        server.terminate()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def _figures(port: int, quick: bool) -> list[Figure]:
    ours = Resolver(["127.0.0.1"], port, timeout=TIMEOUT)
    blocking = _blocking_resolver(port)
    silent = [f"silent.seed{n}.example" for n in range(SEEDS)]
    answered = [f"seed{n}.example" for n in range(100 if quick else 500)]

    silent_ours, stall_ours = _measure(lambda: discover(params.MAIN, resolver=ours, seeds=silent))
    silent_pool, stall_pool = _measure(lambda: _threadpool_all(blocking, silent))
    _, stall_in_hub = _measure(lambda: _in_hub_all(blocking, silent[:1]))
    queries = 2 * len(answered)
    rate_ours = queries / _measure(lambda: discover(params.MAIN, resolver=ours, seeds=answered))[0]
    rate_pool = queries / _measure(lambda: _threadpool_all(blocking, answered))[0]
    return [
        Figure(
            f"discovery: {SEEDS} silent seeds, wall time",
            silent_ours,
            "s",
            f"<= 1.5 x the {TIMEOUT} s timeout",
            silent_ours <= 1.5 * TIMEOUT,
            "threadpool",
            silent_pool,
        ),
        Figure(
            "discovery: longest hub stall, silent seeds",
            stall_ours * 1000,
            "ms",
            "< 50 ms",
            stall_ours < 0.05,
            "in-hub blocking resolver",
            stall_in_hub * 1000,
        ),
        Figure(
            "discovery: longest hub stall, threadpool",
            stall_pool * 1000,
            "ms",
            "(reference)",
            True,
        ),
        Figure(
            "discovery: answered queries per second",
            rate_ours,
            "queries/s",
            ">= 0.5 x threadpool",
            rate_ours >= 0.5 * rate_pool,
            "threadpool",
            rate_pool,
        ),
    ]
