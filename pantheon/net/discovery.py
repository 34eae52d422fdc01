"""Where the first peers come from: DNS seeds, fixed seeds and manual (`--addnode`/`--connect`) peers.

Everything here returns plain `Endpoint(ip, port)` pairs (an `ipaddress` address and a port) for
the network manager to hand to the address manager; nothing here connects to a peer.

DNS seeds (`discover`). Each seed name in `params.<NET>.dns_seeds` is asked for A and AAAA records;
every answer becomes an endpoint on the network's P2P port. Facts carried over from Bitcoin Core's
`CConnman::ThreadDNSAddressSeed` (net.cpp) and protocol.h:
- with a service filter Core asks `x<hex services>.<seed>`; it always filters on
  `SeedsServiceFlags()` = NODE_NETWORK | NODE_WITNESS, i.e. `x9.<seed>` (`protocol.FULL_RELAY_SERVICES`).
  `discover(services=None)` asks the bare names; pass `services=FULL_RELAY_SERVICES` to ask as Core does;
- at most 32 addresses are taken from one seed (`nMaxIPs`), so one seed cannot dominate addrman;
- a seed whose filtered name yields nothing is not queried again: Core makes an ADDR_FETCH
  connection to the bare seed name instead (`Discovery.addr_fetch` lists those seeds);
- Core also shuffles the seeds, waits before querying when addrman already has peers, and stamps
  each address with a random age of 3 to 7 days: policies for the manager and addrman, not here.

Resolution is a stub resolver over gevent's own sockets: dnspython builds each query and parses
each answer (`dns.message`), the datagram goes out on a `gevent.socket` (TCP when the answer is
truncated), so a query that waits costs one idle greenlet and never blocks the hub, whether or not
the process is monkey-patched. A gevent threadpool running dnspython's blocking resolver was the
alternative: it also keeps the hub free, but holds one of the pool's threads per query for as long
as the query waits (a silent seed holds one for the whole timeout), and that pool is the one gevent's
own getaddrinfo uses. `python -m benchmarks discovery` measures the three ways against a loopback
server: silent seeds cost one timeout in all (the pool pays more once seeds outnumber its
threads), the hub is never held up for long (the blocking resolver called in a greenlet holds it
for the whole query), and answered queries run at about the threadpool's rate.

Failures never raise out of `discover` or `resolve_peer`: each query ends with an answer or an
error kind (`TIMEOUT`, `MALFORMED`, `NETWORK`, `NO_NAMESERVER`, `BAD_NAME`, or the answer's
rcode in lower case: "nxdomain", "refused", "servfail", ...); every seed's outcome is logged on
the `pantheon.net.discovery` logger and the errors are counted in `Discovery.errors`.

Fixed seeds (`fixed_seeds`): a short, cited excerpt of Core's mainnet list, the fallback when the
DNS seeds give nothing. Manual peers: `parse_peer` reads "host", "host:port", "[v6]:port" with the
network's default port, `resolve_peer` resolves a name through the same resolver.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address
from itertools import chain, zip_longest
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.resolver
import gevent
import gevent.pool
from gevent import socket as gsocket

from pantheon import params
from pantheon.params import Network

logger = logging.getLogger(__name__)

IPAddress = IPv4Address | IPv6Address

MAX_ADDRESSES_PER_SEED = 32  # Core's nMaxIPs in ThreadDNSAddressSeed

DNS_PORT = 53
DEFAULT_QUERY_TIMEOUT = 5.0  # seconds for one name and type, over all name servers (glibc's 5 s)
DEFAULT_TOTAL_TIMEOUT = 15.0  # seconds for a whole discover()
DEFAULT_CONCURRENCY = 32  # queries in flight at once: 16 seeds, A and AAAA each

# Error kinds besides the rcodes ("nxdomain", "refused", "servfail", ...).
TIMEOUT = "timeout"  # no valid answer in time
MALFORMED = "malformed"  # only unparsable or mismatched answers arrived, or the answer is inconsistent
NETWORK = "network"  # the socket failed (port unreachable, no route, ...)
NO_NAMESERVER = "no-nameserver"  # the resolver has no name server to ask
BAD_NAME = "bad-name"  # the name cannot be put in a query

_RDTYPES = ("A", "AAAA")
_MAX_DATAGRAM = 65535


class Endpoint(NamedTuple):
    """A peer's IP address and port: what discovery hands to the address manager."""

    ip: IPAddress
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if self.ip.version == 6 else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Query:
    """One question (a name and A or AAAA) and how it ended: addresses, or an error kind."""

    name: str
    rdtype: str
    addresses: tuple[IPAddress, ...] = ()
    error: str | None = None
    detail: str = ""
    server: str | None = None  # the name server that gave the final answer or error
    transport: str = "udp"  # "tcp" when the UDP answer was truncated
    elapsed: float = 0.0


@dataclass(frozen=True)
class Lookup:
    """One host name (a DNS seed or a manual peer) resolved to endpoints.

    `name` is the name as configured; `host` the name asked (`x9.<seed>` under a service filter).
    It succeeded (`ok`) when at least one of its queries got an answer, even an empty one.
    """

    name: str
    host: str
    endpoints: tuple[Endpoint, ...]
    queries: tuple[Query, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.queries or any(query.error is None for query in self.queries)

    @property
    def error(self) -> str | None:
        """None when `ok`; else the first query's error kind."""
        return None if self.ok else self.queries[0].error


@dataclass(frozen=True)
class Discovery:
    """What `discover` found: de-duplicated endpoints, each seed's lookup, error counts."""

    network: str
    services: int | None
    endpoints: tuple[Endpoint, ...]
    lookups: tuple[Lookup, ...]
    errors: Mapping[str, int] = field(default_factory=dict)  # error kind -> how many queries
    elapsed: float = 0.0

    @property
    def failed(self) -> tuple[Lookup, ...]:
        return tuple(lookup for lookup in self.lookups if not lookup.ok)

    @property
    def addr_fetch(self) -> tuple[str, ...]:
        """Seeds whose filtered name gave no address: Core makes an ADDR_FETCH connection to
        each bare seed name (`AddAddrFetch(seed)`). Empty without a service filter."""
        if self.services is None:
            return ()
        return tuple(lookup.name for lookup in self.lookups if not lookup.endpoints)


class _Failed(Exception):
    """Internal: one exchange with one name server ended without a usable answer."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


class Resolver:
    """A stub resolver on gevent sockets: asks `nameservers` (IP addresses) on `port`.

    `timeout` bounds one query (a name and a type) over all name servers: each gets an equal share,
    in order, until one answers. An NXDOMAIN or an answer ends the query; a timeout, a refusal, a
    server failure, a malformed answer or a socket error moves on to the next server.
    """

    def __init__(
        self,
        nameservers: Iterable[str],
        port: int = DNS_PORT,
        *,
        timeout: float = DEFAULT_QUERY_TIMEOUT,
    ) -> None:
        self.nameservers = tuple(str(ipaddress.ip_address(server)) for server in nameservers)
        if not 0 < port < 65536:
            raise ValueError(f"name server port {port} is out of range 1-65535")
        if timeout <= 0:
            raise ValueError(f"query timeout must be positive, got {timeout}")
        self.port = port
        self.timeout = timeout

    @classmethod
    def system(
        cls, filename: str = "/etc/resolv.conf", *, timeout: float = DEFAULT_QUERY_TIMEOUT
    ) -> Resolver:
        """The name servers of the system's resolv.conf (read by dnspython). Without any, every
        query fails with `NO_NAMESERVER`: nothing raises."""
        try:
            config = dns.resolver.Resolver(filename=filename, configure=True)
        except dns.resolver.NoResolverConfiguration as exc:
            logger.warning("no name server configured in %s (%s): DNS lookups will fail", filename, exc)
            return cls((), timeout=timeout)
        return cls([ns for ns in config.nameservers if isinstance(ns, str)], config.port, timeout=timeout)

    def __repr__(self) -> str:
        return f"Resolver({list(self.nameservers)!r}, port={self.port}, timeout={self.timeout})"

    def query(self, name: str, rdtype: str) -> Query:
        """Ask for `name`'s A or AAAA records. Cooperative; never raises for DNS or socket errors."""
        started = time.monotonic()
        outcome = self._ask(name, rdtype)
        return replace(outcome, elapsed=time.monotonic() - started)

    def _ask(self, name: str, rdtype: str) -> Query:
        if not self.nameservers:
            return Query(name, rdtype, error=NO_NAMESERVER, detail="no name server configured")
        try:
            message = dns.message.make_query(name, rdtype)
        except dns.exception.DNSException as exc:
            return Query(name, rdtype, error=BAD_NAME, detail=str(exc))
        share = self.timeout / len(self.nameservers)
        failure = _Failed(TIMEOUT)
        for server in self.nameservers:
            try:
                response, transport = self._exchange(message, server, share)
                rcode = response.rcode()
                if rcode == dns.rcode.NXDOMAIN:
                    return Query(name, rdtype, error="nxdomain", server=server, transport=transport)
                if rcode != dns.rcode.NOERROR:
                    raise _Failed(dns.rcode.to_text(rcode).lower())
                addresses = _addresses(response)
            except _Failed as failed:
                failure = failed
                continue
            return Query(name, rdtype, addresses, server=server, transport=transport)
        return Query(name, rdtype, error=failure.kind, detail=failure.detail, server=server)

    def _exchange(
        self, message: dns.message.Message, server: str, timeout: float
    ) -> tuple[dns.message.Message, str]:
        """One query to one server: UDP, then TCP if the answer came back truncated."""
        malformed = ""
        timer = gevent.Timeout(timeout)
        timer.start()
        try:
            family = gsocket.AF_INET6 if ":" in server else gsocket.AF_INET
            with gsocket.socket(family, gsocket.SOCK_DGRAM) as sock:
                # Connected: the kernel drops datagrams from other sources and reports an ICMP
                # port-unreachable as ECONNREFUSED instead of letting us wait for the timeout.
                sock.connect((server, self.port))
                sock.send(message.to_wire())
                while True:
                    wire = sock.recv(_MAX_DATAGRAM)
                    try:
                        response = dns.message.from_wire(wire, raise_on_truncation=True)
                    except dns.message.Truncated as exc:
                        # The header and question parsed, the rest was cut (maybe mid-record).
                        response = cast(dns.message.Message, exc.message())  # type: ignore[no-untyped-call]
                    except dns.exception.DNSException as exc:
                        malformed = f"unparsable answer: {exc}"
                        # As glibc and dnspython's resolver do: a forged datagram must not end the query.
                        continue
                    if message.is_response(response):
                        break
                    malformed = f"answer does not match the query (id {response.id})"
            if response.flags & dns.flags.TC:
                return self._exchange_tcp(message, server, family), "tcp"
            return response, "udp"
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            if malformed:
                raise _Failed(MALFORMED, malformed) from None
            raise _Failed(TIMEOUT, f"no answer in {timeout:g}s") from None
        except OSError as exc:
            raise _Failed(NETWORK, str(exc)) from None
        finally:
            timer.close()

    def _exchange_tcp(self, message: dns.message.Message, server: str, family: int) -> dns.message.Message:
        """The same query over TCP (RFC 1035 4.2.2: a two-byte length before each message)."""
        with gsocket.socket(family, gsocket.SOCK_STREAM) as sock:
            sock.connect((server, self.port))
            wire = message.to_wire()
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
            size = int.from_bytes(_recv_exactly(sock, 2), "big")
            try:
                response = dns.message.from_wire(_recv_exactly(sock, size))
            except dns.exception.DNSException as exc:
                raise _Failed(MALFORMED, f"unparsable answer over TCP: {exc}") from None
        if not message.is_response(response):
            raise _Failed(MALFORMED, f"answer over TCP does not match the query (id {response.id})")
        return response


def _recv_exactly(sock: gsocket.socket, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(missing)
        if not chunk:
            raise _Failed(MALFORMED, f"TCP answer ended {missing} bytes early")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _addresses(response: dns.message.Message) -> tuple[IPAddress, ...]:
    """The answer's A or AAAA addresses, following a CNAME chain to the asked type."""
    try:
        # from_wire() makes a QueryMessage of every QUERY answer, and is_response() checked the opcode.
        answer = cast(dns.message.QueryMessage, response).resolve_chaining().answer
    except dns.exception.DNSException as exc:
        raise _Failed(MALFORMED, f"inconsistent answer: {exc!r}") from None
    if answer is None:
        return ()
    return tuple(ipaddress.ip_address(rdata.address) for rdata in answer)


def _network(network: Network | str) -> Network:
    return network if isinstance(network, Network) else params.network(network)


def seed_host(seed: str, services: int | None = None) -> str:
    """The name to ask a seed for: `x<hex services>.<seed>` under a service filter (Core's
    `strprintf("x%x.%s", ...)`), else the seed itself."""
    if services is None:
        return seed
    if services <= 0:
        raise ValueError(f"a service filter must be a positive bit mask, got {services}")
    return f"x{services:x}.{seed}"


def _lookup_all(
    resolver: Resolver,
    names: Sequence[tuple[str, str]],
    port: int,
    *,
    total_timeout: float | None,
    concurrency: int,
    max_per_name: int | None,
) -> list[Lookup]:
    """Resolve each (name, host) pair's A and AAAA at once in a bounded pool, within `total_timeout`."""
    results: dict[tuple[str, str], Query] = {}

    def ask(host: str, rdtype: str) -> None:
        results[host, rdtype] = resolver.query(host, rdtype)

    pool = gevent.pool.Pool(concurrency)
    started = time.monotonic()
    try:
        with gevent.Timeout(total_timeout, False):
            for _, host in names:
                for rdtype in _RDTYPES:
                    pool.spawn(ask, host, rdtype)
            pool.join()
    finally:
        pool.kill()
    lookups = []
    for name, host in names:
        queries = tuple(
            results.get((host, rdtype))
            or Query(
                host,
                rdtype,
                error=TIMEOUT,
                detail="stopped by the total timeout",
                elapsed=time.monotonic() - started,
            )
            for rdtype in _RDTYPES
        )
        interleaved = (
            ip
            for pair in zip_longest(*(query.addresses for query in queries))
            for ip in pair
            if ip is not None
        )
        endpoints = tuple(dict.fromkeys(Endpoint(ip, port) for ip in interleaved))
        lookups.append(Lookup(name, host, endpoints[:max_per_name], queries))
    return lookups


def discover(
    network: Network | str,
    *,
    resolver: Resolver | None = None,
    services: int | None = None,
    port: int | None = None,
    seeds: Sequence[str] | None = None,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_per_seed: int = MAX_ADDRESSES_PER_SEED,
) -> Discovery:
    """Ask every DNS seed of `network` (or `seeds`) at once; return what they gave, de-duplicated.

    `resolver` defaults to the system's (`Resolver.system()`); `services` asks `x<hex>.<seed>`;
    `port` defaults to the network's P2P port. All queries run concurrently, at most `concurrency`
    at a time; the call returns within about `total_timeout` seconds whatever the seeds do, and
    never raises for DNS or network failures (see the module docstring).
    """
    net = _network(network)
    resolver = resolver or Resolver.system()
    seed_names = tuple(net.dns_seeds if seeds is None else seeds)
    names = [(seed, seed_host(seed, services)) for seed in seed_names]
    started = time.monotonic()
    lookups = _lookup_all(
        resolver,
        names,
        net.p2p_port if port is None else port,
        total_timeout=total_timeout,
        concurrency=concurrency,
        max_per_name=max_per_seed,
    )
    elapsed = time.monotonic() - started
    errors = Counter(query.error for lookup in lookups for query in lookup.queries if query.error)
    endpoints = tuple(dict.fromkeys(chain.from_iterable(lookup.endpoints for lookup in lookups)))
    for lookup in lookups:
        _log_lookup("DNS seed", lookup)
    logger.info(
        "DNS seeds (%s): %d addresses from %d of %d seeds in %.2fs%s",
        net.name,
        len(endpoints),
        sum(1 for lookup in lookups if lookup.endpoints),
        len(lookups),
        elapsed,
        "; errors: " + ", ".join(f"{kind} {count}" for kind, count in sorted(errors.items()))
        if errors
        else "",
    )
    return Discovery(net.name, services, endpoints, tuple(lookups), MappingProxyType(dict(errors)), elapsed)


def _log_lookup(what: str, lookup: Lookup) -> None:
    def describe(query: Query) -> str:
        if query.error is None:
            return f"{query.rdtype} {len(query.addresses)}" + (" (tcp)" if query.transport == "tcp" else "")
        return f"{query.rdtype} {query.error}" + (f" ({query.detail})" if query.detail else "")

    slowest = max((query.elapsed for query in lookup.queries), default=0.0)
    summary = ", ".join(describe(query) for query in lookup.queries)
    if lookup.ok:
        logger.info(
            "%s %s: %d addresses [%s] in %.2fs", what, lookup.host, len(lookup.endpoints), summary, slowest
        )
    else:
        logger.warning("%s %s failed: [%s] in %.2fs", what, lookup.host, summary, slowest)


# --- fixed seeds -------------------------------------------------------------------------------

# A small excerpt of Bitcoin Core's contrib/seeds/nodes_main.txt (the list its chainparamsseeds.h
# is generated from), copied verbatim from the file as stored at commit
# 0022c847165dfc7e3f984f3769abd480e4d5dab2 of github.com/bitcoin/bitcoin: its first twelve IPv4
# lines from distinct ASes and its first four IPv6 lines. Core's list also carries onion, I2P and
# CJDNS addresses, which Pantheon cannot reach. Nodes come and go: refresh from Core's current file
# rather than adding addresses by hand. The test networks get no list (Core's are not carried over).
_FIXED_SEEDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "main": (
            "2.39.163.191:8333",  # AS30722
            "2.83.248.77:8333",  # AS3243
            "2.87.72.235:8333",  # AS6799
            "3.9.188.44:8333",  # AS16509
            "3.231.154.195:8333",  # AS14618
            "5.2.23.226:8333",  # AS21472
            "5.45.72.11:8333",  # AS50673
            "5.78.71.173:8333",  # AS212317
            "5.128.87.126:8333",  # AS31200
            "5.144.88.83:8333",  # AS61349
            "5.172.132.104:8333",  # AS15600
            "5.186.60.13:8333",  # AS44869
            "[2001:13d8:1c01:21:215:17ff:fe63:2a7e]:8333",  # AS3790
            "[2001:1528:111:ffff:214::207]:8333",  # AS15685
            "[2001:1620:542c:210::100]:8333",  # AS13030
            "[2001:18b8:0:100:0:b00b:420:69]:8333",  # AS29789
        ),
    }
)


def fixed_seeds(network: Network | str) -> tuple[Endpoint, ...]:
    """The network's built-in peers, the fallback when DNS seeds give nothing (Core adds its fixed
    seeds after a minute with an empty addrman, or at once with -dnsseed=0 and no other source).

    Mainnet: a sixteen-address excerpt of Core's list (see `_FIXED_SEEDS` for the source). The other
    networks: none, so the mechanism returns an empty tuple there.
    """
    net = _network(network)
    endpoints = []
    for text in _FIXED_SEEDS.get(net.name, ()):
        peer = parse_peer(text, net)
        assert peer.ip is not None, text  # the table holds addresses only
        endpoints.append(Endpoint(peer.ip, peer.port))
    return tuple(endpoints)


# --- manual peers (--addnode / --connect) ------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_UNREACHABLE_SUFFIXES = (".onion", ".i2p")  # Core reaches these through Tor or I2P; Pantheon cannot


class HostPort(NamedTuple):
    """A parsed `--addnode`/`--connect` value: a host name or an IP address, and a port."""

    host: str
    port: int

    @property
    def ip(self) -> IPAddress | None:
        """The host as an address, or None for a name that needs resolving."""
        return _ip(self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_peer(text: str, network: Network | str) -> HostPort:
    """Parse "host", "host:port", "1.2.3.4[:port]", "[v6]:port", "[v6]" or a bare IPv6 address.

    The port defaults to the network's P2P port. As in Core's SplitHostPort, the last ':' separates
    the port when the host is bracketed or has no other ':', so an unbracketed IPv6 address takes
    the default port, and port 0 is refused. Anything else malformed raises ValueError saying what.
    """
    default_port = _network(network).p2p_port
    value = text.strip()
    if not value:
        raise ValueError("empty peer address")
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            raise ValueError(f"{text!r}: '[' without a closing ']'")
        inside, rest = value[1:close], value[close + 1 :]
        ip = _ip(inside)
        if not isinstance(ip, IPv6Address):
            raise ValueError(f"{text!r}: brackets hold an IPv6 address, not {inside!r}")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected ':PORT' after ']', found {rest!r}")
        return HostPort(str(ip), _port(rest[1:], text) if rest else default_port)
    if value.count(":") > 1:
        ip = _ip(value)
        if ip is None:
            raise ValueError(f"{text!r}: not an IPv6 address; write an address with a port as [ADDRESS]:PORT")
        return HostPort(str(ip), default_port)
    host, colon, port_text = value.partition(":")
    port = _port(port_text, text) if colon else default_port
    ip = _ip(host)
    return HostPort(str(ip) if ip is not None else _host_name(host, text), port)


def _port(port_text: str, text: str) -> int:
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"{text!r}: the port {port_text!r} is not a number")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: the port {port} is out of range 1-65535")
    return port


def _host_name(host: str, text: str) -> str:
    name = host.lower().removesuffix(".")
    if not name:
        raise ValueError(f"{text!r}: no host before the port")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"{text!r}: {host!r} is neither an IP address nor a host name "
            "(labels of 1-63 letters, digits or '-', 253 characters at most)"
        )
    if labels[-1].isdigit():
        raise ValueError(f"{text!r}: {host!r} is not a valid IPv4 address")
    if name.endswith(_UNREACHABLE_SUFFIXES):
        raise ValueError(f"{text!r}: Tor and I2P addresses need a proxy, which Pantheon does not support")
    return name


def _hosts_file(name: str, filename: str) -> tuple[IPAddress, ...]:
    """`name`'s addresses in a hosts file (as glibc reads /etc/hosts before DNS); () if none."""
    try:
        lines = Path(filename).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    found = []
    for line in lines:
        fields = line.partition("#")[0].split()
        if name in (alias.lower().removesuffix(".") for alias in fields[1:]):
            ip = _ip(fields[0])
            if ip is not None:
                found.append(ip)
    return tuple(dict.fromkeys(found))


def resolve_peer(
    peer: str | HostPort,
    network: Network | str,
    *,
    resolver: Resolver | None = None,
    hosts_file: str = "/etc/hosts",
) -> Lookup:
    """A manual peer's endpoints: an address as is; a name from `hosts_file`, else from A and
    AAAA queries through `resolver` (the system's by default), as for the seeds.

    A string is parsed first (`parse_peer`, which raises ValueError); a failed lookup does not
    raise: the Lookup has no endpoints, its queries say why, and it is logged.
    """
    target = peer if isinstance(peer, HostPort) else parse_peer(peer, network)
    if target.ip is not None:
        return Lookup(target.host, target.host, (Endpoint(target.ip, target.port),))
    listed = _hosts_file(target.host, hosts_file)
    if listed:
        logger.debug("peer %s: %d addresses from %s", target.host, len(listed), hosts_file)
        return Lookup(target.host, target.host, tuple(Endpoint(ip, target.port) for ip in listed))
    (lookup,) = _lookup_all(
        resolver or Resolver.system(),
        [(target.host, target.host)],
        target.port,
        total_timeout=None,  # each query is bounded by the resolver's timeout
        concurrency=len(_RDTYPES),
        max_per_name=None,
    )
    _log_lookup("peer", lookup)
    return lookup
