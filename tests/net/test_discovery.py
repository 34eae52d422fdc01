"""Discovery: DNS seeds against a real DNS server (dnsmasq on a free loopback port), fixed seeds,
and manual (`--addnode`/`--connect`) peers.

The server answers A and AAAA records for the seed names below, NXDOMAIN under nx.example,
REFUSED for names it does not know, and forwards silent*.example to a UDP socket that never
replies. Malformed answers come from small loopback servers in this process, since dnsmasq
only sends well-formed ones. No query ever leaves 127.0.0.0/8.

Without dnsmasq the server tests skip, unless CI=true, where they fail: CI must install it
(`.ci/run` checks for the dnsmasq-base package).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import dns.flags
import dns.message
import dns.rrset
import gevent
import gevent.server
import gevent.socket
import pytest

from helpers.dns import QUERY_TIMEOUT, RECORDS, DnsServer, bound_pair
from helpers.net import CORE_DETERMINISTIC_KEY
from pantheon import params, protocol
from pantheon.net import discovery
from pantheon.net.address import PeerAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.manager import NetworkManager
from pantheon.store import Store
from pantheon.net.discovery import (
    Endpoint,
    HostPort,
    Resolver,
    discover,
    fixed_seeds,
    parse_peer,
    resolve_peer,
)

SEED_A = {"192.0.2.1", "192.0.2.2", "2001:db8::1"}
SEED_B = {"192.0.2.2", "198.51.100.7", "2001:db8::1", "2001:db8::2"}


def _ips(endpoints: tuple[Endpoint, ...]) -> set[str]:
    return {str(endpoint.ip) for endpoint in endpoints}


def _by_name(result: discovery.Discovery) -> dict[str, discovery.Lookup]:
    return {lookup.name: lookup for lookup in result.lookups}


def _timed_discover(
    server: DnsServer, seeds: list[str], timeout: float = QUERY_TIMEOUT, **options: object
) -> tuple[discovery.Discovery, float]:
    """discover() on mainnet through `server`, and how long it took."""
    started = time.monotonic()
    resolver = server.resolver(timeout)
    result = discover(params.MAIN, resolver=resolver, seeds=seeds, **options)  # type: ignore[arg-type]
    return result, time.monotonic() - started


# --- discover() against dnsmasq -------------------------------------------------------------


@pytest.mark.parametrize("network", [params.MAIN, params.REGTEST], ids=lambda net: net.name)
def test_a_and_aaaa_records_come_back_deduplicated_on_the_network_port(
    dns_server: DnsServer, network: params.Network
) -> None:
    result = discover(network, resolver=dns_server.resolver(), seeds=["seed-a.example", "seed-b.example"])

    assert _ips(result.endpoints) == SEED_A | SEED_B
    assert len(result.endpoints) == len(SEED_A | SEED_B)  # 192.0.2.2 and 2001:db8::1 once each
    assert {endpoint.port for endpoint in result.endpoints} == {network.p2p_port}
    assert all(isinstance(endpoint.ip, type(ip_address(str(endpoint.ip)))) for endpoint in result.endpoints)
    lookups = _by_name(result)
    assert _ips(lookups["seed-a.example"].endpoints) == SEED_A
    assert _ips(lookups["seed-b.example"].endpoints) == SEED_B
    assert [query.rdtype for query in lookups["seed-a.example"].queries] == ["A", "AAAA"]
    assert not result.failed and not result.errors and result.addr_fetch == ()


def test_port_override(dns_server: DnsServer) -> None:
    result = discover("main", resolver=dns_server.resolver(), seeds=["seed-a.example"], port=8334)
    assert {endpoint.port for endpoint in result.endpoints} == {8334}


def test_failures_are_logged_and_counted_never_raised(
    dns_server: DnsServer, caplog: pytest.LogCaptureFixture
) -> None:
    seeds = ["seed-a.example", "nx.example", "silent.example", "refused.example"]
    caplog.set_level(logging.INFO, logger="pantheon.net.discovery")

    result, elapsed = _timed_discover(dns_server, seeds)

    assert _ips(result.endpoints) == SEED_A
    lookups = _by_name(result)
    assert lookups["seed-a.example"].ok and lookups["seed-a.example"].error is None
    assert lookups["nx.example"].error == "nxdomain"
    assert lookups["silent.example"].error == discovery.TIMEOUT
    assert lookups["refused.example"].error == "refused"
    assert [lookup.name for lookup in result.failed] == seeds[1:]
    assert dict(result.errors) == {"nxdomain": 2, "timeout": 2, "refused": 2}  # A and AAAA each
    assert QUERY_TIMEOUT * 0.9 <= elapsed < QUERY_TIMEOUT + 0.6  # the silent seed, not more
    records = [record for record in caplog.records if record.name == "pantheon.net.discovery"]
    for seed in seeds:
        (line,) = [record for record in records if f" {seed}" in record.getMessage()]
        assert line.levelno == (logging.INFO if seed == "seed-a.example" else logging.WARNING)
    assert "nxdomain" in caplog.text and "refused" in caplog.text and "timeout" in caplog.text
    assert any("3 addresses from 1 of 4 seeds" in record.getMessage() for record in records)


def test_seeds_are_queried_concurrently(dns_server: DnsServer) -> None:
    seeds = ["silent.example", "a.silent.example", "b.silent.example", "seed-a.example"]
    result, elapsed = _timed_discover(dns_server, seeds)
    # Six silent queries: one after another they would take 6 x 0.8 s.
    assert dict(result.errors) == {"timeout": 6}
    assert elapsed < QUERY_TIMEOUT + 0.6


def test_concurrency_is_bounded(dns_server: DnsServer) -> None:
    result, elapsed = _timed_discover(dns_server, ["silent.example", "a.silent.example"], 0.3, concurrency=2)
    assert dict(result.errors) == {"timeout": 4}
    assert elapsed >= 2 * 0.3 * 0.9  # two rounds of two


def test_another_greenlet_keeps_running_while_queries_wait(dns_server: DnsServer) -> None:
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    background = gevent.spawn(ticker)
    try:
        gevent.sleep(0)
        result = discover(
            params.MAIN, resolver=dns_server.resolver(), seeds=["silent.example", "seed-a.example"]
        )
    finally:
        background.kill()
    assert result.lookups[0].error == discovery.TIMEOUT
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) >= QUERY_TIMEOUT / 0.01 / 3  # it ran through the whole wait ...
    assert max(gaps) < 0.2  # ... and was never held up for long


def test_total_timeout_stops_pending_queries(dns_server: DnsServer) -> None:
    result, elapsed = _timed_discover(
        dns_server, ["seed-a.example", "silent.example"], 10.0, total_timeout=0.5
    )
    assert elapsed < 1.2
    lookups = _by_name(result)
    assert _ips(lookups["seed-a.example"].endpoints) == SEED_A
    assert lookups["silent.example"].error == discovery.TIMEOUT
    assert {query.detail for query in lookups["silent.example"].queries} == {"stopped by the total timeout"}


def test_service_filter_asks_x_hex_names_and_lists_addr_fetch_seeds(dns_server: DnsServer) -> None:
    result = discover(
        params.MAIN,
        resolver=dns_server.resolver(),
        seeds=["seed-a.example", "seed-b.example"],
        services=protocol.FULL_RELAY_SERVICES,
    )
    lookups = _by_name(result)
    assert lookups["seed-a.example"].host == "x9.seed-a.example"
    assert _ips(result.endpoints) == {"203.0.113.9"}
    assert lookups["seed-b.example"].error == "refused"  # dnsmasq knows no x9.seed-b.example
    assert result.addr_fetch == ("seed-b.example",)


@pytest.mark.parametrize(
    ("services", "host"),
    [
        (None, "seed.example"),
        (protocol.FULL_RELAY_SERVICES, "x9.seed.example"),
        (protocol.NODE_NETWORK, "x1.seed.example"),
        (protocol.NODE_WITNESS | protocol.NODE_NETWORK_LIMITED | protocol.NODE_NETWORK, "x409.seed.example"),
    ],
)
def test_seed_host(services: int | None, host: str) -> None:
    assert discovery.seed_host("seed.example", services) == host


def test_seed_host_refuses_an_empty_filter() -> None:
    with pytest.raises(ValueError, match="positive bit mask"):
        discovery.seed_host("seed.example", 0)


def test_truncated_answer_is_retried_over_tcp_and_capped_per_seed(dns_server: DnsServer) -> None:
    result = discover(params.MAIN, resolver=dns_server.resolver(), seeds=["big.example"])
    (lookup,) = result.lookups
    a_query = lookup.queries[0]
    assert (a_query.rdtype, a_query.transport, len(a_query.addresses)) == ("A", "tcp", 40)
    assert len(result.endpoints) == discovery.MAX_ADDRESSES_PER_SEED == 32
    assert (
        len(
            discover(
                params.MAIN, resolver=dns_server.resolver(), seeds=["big.example"], max_per_seed=5
            ).endpoints
        )
        == 5
    )


def test_cname_chain_and_single_family_answers(dns_server: DnsServer) -> None:
    result = discover(params.MAIN, resolver=dns_server.resolver(), seeds=["alias.example", "v6only.example"])
    lookups = _by_name(result)
    assert _ips(lookups["alias.example"].endpoints) == SEED_A
    assert _ips(lookups["v6only.example"].endpoints) == {"2001:db8::6"}
    a_query = lookups["v6only.example"].queries[0]
    assert (a_query.error, a_query.addresses) == (None, ())  # NOERROR without records: not a failure
    assert not result.failed


def test_per_seed_cap_takes_both_families(dns_server: DnsServer) -> None:
    (lookup,) = discover(
        params.MAIN, resolver=dns_server.resolver(), seeds=["seed-b.example"], max_per_seed=2
    ).lookups
    assert {endpoint.ip.version for endpoint in lookup.endpoints} == {4, 6}


# --- the resolver: name servers, errors ---------------------------------------------------------


def test_next_name_server_is_asked_when_one_is_silent(dns_server: DnsServer) -> None:
    # A second loopback address, same port as dnsmasq, bound by a socket that never answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.2", dns_server.port))
        resolver = Resolver(["127.0.0.2", "127.0.0.1"], dns_server.port, timeout=2 * QUERY_TIMEOUT)
        query = resolver.query("seed-a.example", "A")
    assert query.error is None and query.server == "127.0.0.1"
    assert {str(ip) for ip in query.addresses} == {"192.0.2.1", "192.0.2.2"}
    assert query.elapsed >= QUERY_TIMEOUT * 0.9  # it waited out its share on the first


def test_unreachable_name_server_fails_fast_and_the_next_is_asked(dns_server: DnsServer) -> None:
    # Nothing listens on 127.0.0.3 at this port: the ICMP port-unreachable ends the wait at once.
    resolver = Resolver(["127.0.0.3", "127.0.0.1"], dns_server.port, timeout=4.0)
    query = resolver.query("seed-a.example", "A")
    assert query.error is None and query.server == "127.0.0.1" and query.elapsed < 1.0
    alone = Resolver(["127.0.0.3"], dns_server.port, timeout=4.0).query("seed-a.example", "A")
    assert alone.error == discovery.NETWORK and alone.elapsed < 1.0


def _reply(query_wire: bytes, mangle: str) -> bytes:
    """An answer to `query_wire`, spoiled as `mangle` says."""
    query = dns.message.from_wire(query_wire)
    response = dns.message.make_response(query)
    if mangle == "garbage":
        return b"\x00\x01 not a DNS message"
    if mangle == "wrong-id":
        response.id = (query.id + 1) % 65536
    if mangle in ("truncated", "cut", "ok"):
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.99"))
    if mangle == "truncated":
        response.flags |= dns.flags.TC
    if mangle == "cut":  # truncated in the middle of its A record, as a careless server may do
        response.flags |= dns.flags.TC
        return response.to_wire()[:-3]
    if mangle == "cname-loop":  # parses, but the CNAME chain never reaches an A record
        response.answer.append(
            dns.rrset.from_text(query.question[0].name, 60, "IN", "CNAME", str(query.question[0].name))
        )
    return response.to_wire()


@pytest.fixture
def bad_server() -> Iterator[tuple[int, dict[str, str]]]:
    """UDP and TCP servers on one loopback port whose answers are spoiled as `modes` says."""
    modes = {"udp": "garbage", "tcp": "garbage"}

    def handle_tcp(sock: socket.socket, address: object) -> None:
        size = int.from_bytes(sock.recv(2), "big")
        wire = sock.recv(size)
        if modes["tcp"] == "short":
            sock.sendall(b"\x00\x40" + b"\x00" * 10)  # announces 64 bytes, sends 10
        else:
            answer = _reply(wire, modes["tcp"])
            sock.sendall(len(answer).to_bytes(2, "big") + answer)

    udp_socket, tcp_socket = bound_pair()
    tcp_socket.listen()
    port = udp_socket.getsockname()[1]
    udp = gevent.server.DatagramServer(
        udp_socket, lambda data, address: udp.sendto(_reply(data, modes["udp"]), address)
    )
    tcp = gevent.server.StreamServer(tcp_socket, handle_tcp)
    udp.start()
    tcp.start()
    try:
        yield port, modes
    finally:
        udp.stop()
        tcp.stop()


@pytest.mark.parametrize(
    ("udp_mode", "tcp_mode", "detail"),
    [
        ("garbage", "-", "unparsable answer"),
        ("wrong-id", "-", "does not match"),
        ("truncated", "garbage", "unparsable answer over TCP"),
        ("truncated", "wrong-id", "over TCP does not match"),
        ("truncated", "short", "ended 54 bytes early"),
        ("cname-loop", "-", "inconsistent answer: ChainTooLong"),
    ],
)
def test_malformed_answers_are_reported(
    bad_server: tuple[int, dict[str, str]], udp_mode: str, tcp_mode: str, detail: str
) -> None:
    port, modes = bad_server
    modes.update(udp=udp_mode, tcp=tcp_mode)
    query = Resolver(["127.0.0.1"], port, timeout=0.3).query("seed.example", "A")
    assert query.error == discovery.MALFORMED
    assert detail in query.detail


@pytest.mark.parametrize("udp_mode", ["truncated", "cut"])
def test_truncated_answers_go_to_tcp(bad_server: tuple[int, dict[str, str]], udp_mode: str) -> None:
    port, modes = bad_server
    modes.update(udp=udp_mode, tcp="ok")
    query = Resolver(["127.0.0.1"], port, timeout=0.5).query("seed.example", "A")
    assert (query.error, query.transport, query.addresses) == (None, "tcp", (ip_address("192.0.2.99"),))


def test_a_caller_timeout_is_not_swallowed(dns_server: DnsServer) -> None:
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.1):
        dns_server.resolver().query("silent.example", "A")


def test_no_name_server_and_bad_names_fail_without_raising() -> None:
    nowhere = Resolver([])
    assert nowhere.query("seed.example", "A").error == discovery.NO_NAMESERVER
    result = discover(params.MAIN, resolver=nowhere)
    assert len(result.lookups) == len(params.MAIN.dns_seeds) and not result.endpoints
    assert dict(result.errors) == {discovery.NO_NAMESERVER: 2 * len(params.MAIN.dns_seeds)}
    too_long = "a" * 64 + ".example"
    assert Resolver(["127.0.0.1"]).query(too_long, "A").error == discovery.BAD_NAME  # nothing sent


def test_system_resolver_reads_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# test\nnameserver 127.0.0.1\nnameserver ::1\noptions timeout:1\n")
    resolver = Resolver.system(str(conf), timeout=1.5)
    assert (resolver.nameservers, resolver.port, resolver.timeout) == (("127.0.0.1", "::1"), 53, 1.5)
    assert "127.0.0.1" in repr(resolver)


def test_system_resolver_without_configuration(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    resolver = Resolver.system(str(tmp_path / "missing"))
    assert resolver.nameservers == ()
    assert "no name server configured" in caplog.text
    # discover() builds the system resolver itself; with no seeds it asks nothing.
    assert discover(params.REGTEST).lookups == ()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((["localhost"],), "does not appear to be an IPv4 or IPv6 address"),
        ((["127.0.0.1"], 0), "port 0 is out of range"),
        ((["127.0.0.1"], 53, 0.0), "timeout must be positive"),
    ],
)
def test_resolver_rejects_bad_settings(arguments: tuple[object, ...], message: str) -> None:
    nameservers, *rest = arguments
    port = rest[0] if rest else 53
    timeout = rest[1] if len(rest) > 1 else 1.0
    with pytest.raises(ValueError, match=message):
        Resolver(nameservers, port, timeout=timeout)  # type: ignore[arg-type]


def test_endpoint_text() -> None:
    assert str(Endpoint(ip_address("192.0.2.1"), 8333)) == "192.0.2.1:8333"
    assert str(Endpoint(ip_address("2001:db8::1"), 8333)) == "[2001:db8::1]:8333"
    assert Endpoint(ip_address("192.0.2.1"), 8333) == (ip_address("192.0.2.1"), 8333)


# --- manual peers: the parser ----------------------------------------------------------------

PARSED = [  # (text, network, host, port)
    ("192.0.2.1", "main", "192.0.2.1", 8333),
    ("192.0.2.1:18333", "main", "192.0.2.1", 18333),
    ("  192.0.2.1:8333 ", "main", "192.0.2.1", 8333),
    ("192.0.2.1", "regtest", "192.0.2.1", 18444),
    ("[2001:db8::1]:8333", "main", "2001:db8::1", 8333),
    ("[2001:DB8:0::1]", "testnet", "2001:db8::1", 18333),
    ("2001:db8::1", "main", "2001:db8::1", 8333),  # unbracketed IPv6: no port, as in Core
    ("::1", "regtest", "::1", 18444),
    ("[fe80::1%eth0]:1", "main", "fe80::1%eth0", 1),
    ("seed.example", "main", "seed.example", 8333),
    ("Node-1.Example.COM.:18444", "main", "node-1.example.com", 18444),
    ("localhost", "signet", "localhost", 38333),
    ("localhost:065535", "main", "localhost", 65535),
    ("xn--bcher-kva.example", "main", "xn--bcher-kva.example", 8333),
]

REFUSED = [  # (text, what the error says)
    ("", "empty peer address"),
    ("   ", "empty peer address"),
    ("[2001:db8::1", "'\\[' without a closing '\\]'"),
    ("[seed.example]:8333", "brackets hold an IPv6 address, not 'seed.example'"),
    ("[192.0.2.1]:8333", "brackets hold an IPv6 address"),
    ("[::1]8333", "expected ':PORT' after '\\]', found '8333'"),
    ("[::1]:", "the port '' is not a number"),
    ("192.0.2.1:abc", "the port 'abc' is not a number"),
    ("192.0.2.1:-1", "the port '-1' is not a number"),
    ("192.0.2.1:\uff18\uff13", "is not a number"),  # full-width digits
    ("192.0.2.1:0", "the port 0 is out of range 1-65535"),
    ("192.0.2.1:65536", "the port 65536 is out of range"),
    ("192.0.2.1:8333:1", "not an IPv6 address; write an address with a port as \\[ADDRESS\\]:PORT"),
    ("2001:db8::g", "not an IPv6 address"),
    (":8333", "no host before the port"),
    ("seed_1.example", "neither an IP address nor a host name"),
    ("-seed.example", "neither an IP address nor a host name"),
    ("seed..example", "neither an IP address nor a host name"),
    ("a" * 64 + ".example", "neither an IP address nor a host name"),
    (".".join(["a" * 60] * 5), "neither an IP address nor a host name"),  # 304 characters
    ("my host", "neither an IP address nor a host name"),
    ("192.0.2", "'192.0.2' is not a valid IPv4 address"),
    ("256.1.1.1:8333", "is not a valid IPv4 address"),
    ("expyuzz4wqqyqhjn.onion:8333", "Tor and I2P addresses need a proxy"),
    ("ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p", "Tor and I2P"),
]


@pytest.mark.parametrize(("text", "network", "host", "port"), PARSED, ids=[row[0] for row in PARSED])
def test_parse_peer(text: str, network: str, host: str, port: int) -> None:
    assert parse_peer(text, network) == HostPort(host, port)


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[row[0][:40] or "empty" for row in REFUSED])
def test_parse_peer_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_peer(text, params.MAIN)


def test_parse_peer_unknown_network() -> None:
    with pytest.raises(ValueError, match="unknown network 'mars'"):
        parse_peer("192.0.2.1", "mars")


def test_host_port_ip_and_text() -> None:
    assert HostPort("192.0.2.1", 8333).ip == ip_address("192.0.2.1")
    assert HostPort("seed.example", 8333).ip is None
    assert str(HostPort("2001:db8::1", 8333)) == "[2001:db8::1]:8333"
    assert str(HostPort("seed.example", 18444)) == "seed.example:18444"
    assert parse_peer(str(parse_peer("[2001:db8::1]:1", "main")), "main") == HostPort("2001:db8::1", 1)


# --- fixed seeds ---------------------------------------------------------------------------------


def test_mainnet_fixed_seeds() -> None:
    seeds = fixed_seeds(params.MAIN)
    assert seeds == fixed_seeds("main")
    assert len(seeds) == len(set(seeds)) == 16
    assert [endpoint.ip.version for endpoint in seeds].count(6) == 4
    assert {endpoint.port for endpoint in seeds} == {8333}
    assert all(endpoint.ip.is_global for endpoint in seeds)
    assert Endpoint(ip_address("2.39.163.191"), 8333) in seeds  # the excerpt's first line


@pytest.mark.parametrize("network", ["testnet3", "testnet4", "signet", "regtest"])
def test_other_networks_have_no_fixed_seeds(network: str) -> None:
    assert fixed_seeds(network) == ()


# --- resolving manual peers ----------------------------------------------------------------------


def test_an_address_is_not_resolved() -> None:
    nowhere = Resolver([])  # any query would fail: none is made
    lookup = resolve_peer("[2001:db8::1]:18444", "regtest", resolver=nowhere)
    assert lookup.endpoints == (Endpoint(ip_address("2001:db8::1"), 18444),)
    assert lookup.ok and lookup.queries == ()
    assert resolve_peer(HostPort("192.0.2.1", 1), "main", resolver=nowhere).endpoints == (
        Endpoint(ip_address("192.0.2.1"), 1),
    )


def test_a_name_in_the_hosts_file_is_not_asked_of_dns(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "# hosts\n127.0.0.1 localhost\n127.0.0.5 node1 node1.local  # regtest box\n"
        "::1 localhost NODE1.\nnot-an-address node1\n\n"
    )
    lookup = resolve_peer("node1:18444", "regtest", resolver=Resolver([]), hosts_file=str(hosts))
    assert lookup.endpoints == (
        Endpoint(ip_address("127.0.0.5"), 18444),
        Endpoint(ip_address("::1"), 18444),
    )
    assert lookup.queries == ()


def test_a_name_is_resolved_through_the_resolver(dns_server: DnsServer, tmp_path: Path) -> None:
    lookup = resolve_peer(
        "seed-a.example:18444",
        params.REGTEST,
        resolver=dns_server.resolver(),
        hosts_file=str(tmp_path / "no-hosts-file"),
    )
    assert {str(endpoint.ip) for endpoint in lookup.endpoints} == SEED_A
    assert {endpoint.port for endpoint in lookup.endpoints} == {18444}


def test_a_failed_peer_lookup_is_logged_not_raised(
    dns_server: DnsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lookup = resolve_peer(
        "nx.example", "main", resolver=dns_server.resolver(), hosts_file=str(tmp_path / "none")
    )
    assert lookup.endpoints == () and lookup.error == "nxdomain"
    assert [(record.levelno, record.name) for record in caplog.records] == [
        (logging.WARNING, "pantheon.net.discovery")
    ]
    assert "peer nx.example failed" in caplog.text
    assert discovery.Lookup("x", "x", ()).ok  # a lookup without queries (an address) is fine


def test_discovered_addresses_reach_the_address_manager(dns_server: DnsServer, tmp_path: Path) -> None:
    """dnsmasq -> discover() -> NetworkManager.seed_from -> AddrMan on LevelDB. The documentation
    ranges of the other seeds are unroutable, so AddrMan keeps only public.example's."""
    result = discover(params.REGTEST, resolver=dns_server.resolver(), seeds=["public.example", "seed-a.example"])
    store = Store.open(tmp_path / "db")
    try:
        manager = NetworkManager(addrman=AddrMan(store, secret=CORE_DETERMINISTIC_KEY))
        assert manager.seed_from(result) == 3
        assert manager.addrman is not None
        for ip in RECORDS["public.example"]:
            info = manager.addrman.get(PeerAddress.from_ip(ip, params.REGTEST.p2p_port))
            assert info is not None and info.source == PeerAddress.internal("public.example")
        assert manager.addrman.flush() == 3
    finally:
        store.close()
