"""`pantheon.net.peer` over real loopback sockets (gevent's, no monkey-patching, no mocks).

A gevent StreamServer accepts inbound Pantheon peers. Bad input comes from `RawClient`, a bare
gevent socket that frames whatever the test wants; each reaction test also keeps a well-behaved
Pantheon peer connected to the same listener and checks it is unaffected. Every test runs
against both wire twins (`wire_impl`).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.pool
import gevent.server
import gevent.socket
import pytest

from helpers.p2p import RawClient
from helpers.waiting import WAIT, wait_for
from pantheon import limits, params, protocol, wire
from pantheon.net.address import PeerAddress
from pantheon.net.banlist import BanList
from pantheon.net.permissions import Permission
from pantheon.net.peer import USER_AGENT, Peer, PeerConfig, PeerState
from pantheon.primitives import InvVect, SendCmpct

REGTEST = params.REGTEST
FAST = PeerConfig(network=REGTEST, handshake_timeout=2.0, ping_interval=60.0, ping_timeout=60.0)


class Listener:
    """A StreamServer whose connections become inbound Pantheon peers (kept in `peers`)."""

    def __init__(self, wire: Any, config: PeerConfig, *, seen_as: str | None = None, **peer_options: Any) -> None:
        """`seen_as`: the host inbound peers get instead of loopback's, their port kept (Core treats
        a local peer differently: it never discourages one)."""
        self.peers: list[Peer] = []
        self.seen_as = seen_as
        self.wire = wire
        self.config = config
        self.options = peer_options
        self.group = gevent.pool.Group()
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle, spawn=gevent.pool.Pool(16))
        self.server.start()
        self.port = self.server.server_port

    def _handle(self, sock: gevent.socket.socket, address: tuple[str, int]) -> None:
        address = address if self.seen_as is None else (self.seen_as, address[1])
        peer = Peer(sock, address, inbound=True, config=self.config, wire=self.wire, group=self.group,
                    **self.options)
        self.peers.append(peer)
        peer.run()

    def dial(self, config: PeerConfig | None = None, **options: Any) -> Peer:
        return Peer(None, ("127.0.0.1", self.port), inbound=False, config=config or self.config,
                    wire=self.wire, group=self.group, **options).start()

    def stop(self) -> None:
        for peer in self.peers:
            peer.close("test over")
        self.server.stop(timeout=1)
        self.group.kill(timeout=1)


@pytest.fixture
def listener(wire_impl) -> Iterator[Listener]:
    server = Listener(wire_impl.module, FAST)
    yield server
    server.stop()


@pytest.fixture
def banlist(tmp_path: Path) -> BanList:
    return BanList(tmp_path / "banlist.json")


@pytest.fixture
def raw(listener: Listener) -> Iterator[RawClient]:
    client = RawClient(listener.port, listener.wire)
    yield client
    client.close()


@pytest.fixture
def good(listener: Listener) -> Iterator[Peer]:
    """A well-behaved Pantheon peer connected to the same listener."""
    peer = listener.dial()
    wait_for(lambda: peer.state is PeerState.CONNECTED)
    yield peer
    peer.close("test over")


def assert_unaffected(peer: Peer) -> None:
    """Still connected, and a ping is answered."""
    assert peer.state is PeerState.CONNECTED and not peer.closed
    wait_for(lambda: peer.ping_time is not None)  # the first ping, sent after the handshake
    before = peer.ping_time
    assert peer.ping()
    wait_for(lambda: peer.ping_time != before or peer.counters["messages received"] > 0 and peer.ping())
    assert peer.state is PeerState.CONNECTED


def server_peer(listener: Listener, client: RawClient | Peer | None = None) -> Peer:
    """The inbound peer serving `client` (a RawClient or an outbound Peer); any one without."""
    if client is None:
        wait_for(lambda: listener.peers)
        return listener.peers[-1]
    port = (client.sock if isinstance(client, RawClient) else client._sock).getsockname()[1]
    wait_for(lambda: any(peer.address[1] == port for peer in listener.peers))
    return next(peer for peer in listener.peers if peer.address[1] == port)


# --- handshake -------------------------------------------------------------------------------


def test_handshake_both_ways(listener: Listener) -> None:
    transitions = []
    outbound = listener.dial(start_height=lambda: 7, on_transition=lambda peer, t: transitions.append(t.new))
    wait_for(lambda: outbound.state is PeerState.CONNECTED)
    inbound = server_peer(listener, outbound)
    wait_for(lambda: inbound.state is PeerState.CONNECTED)
    assert transitions == [PeerState.HANDSHAKE, PeerState.CONNECTED]
    assert [t.new for t in inbound.transitions] == [PeerState.HANDSHAKE, PeerState.CONNECTED]
    assert [t.reason for t in outbound.transitions] == ["connected", "handshake complete"]
    for peer, other in ((outbound, inbound), (inbound, outbound)):
        assert peer.remote is not None and peer.remote.version == 70016
        assert peer.remote.user_agent == USER_AGENT == f"/Pantheon:{__import__('pantheon').__version__}/"
        assert peer.remote.nonce == other.local_nonce and peer.remote.relay is True
        assert peer.remote.services == protocol.NODE_NETWORK | protocol.NODE_WITNESS
        assert peer.common_version == 70016 and peer.wtxid_relay and peer.wants_addrv2
    assert inbound.remote.start_height == 7
    wait_for(lambda: inbound.prefers_headers and inbound.fee_filter == 1000 and outbound.fee_filter == 1000)
    wait_for(lambda: outbound.ping_time is not None and inbound.ping_time is not None)
    info = outbound.info()
    assert info["state"] == "connected" and info["subver"] == USER_AGENT and info["startingheight"] == 0
    assert info["transitions"] == [("handshake", "connected"), ("connected", "handshake complete")]
    assert info["services"] == "0000000000000009" and info["pingtime"] > 0 and info["bytesrecv"] > 0
    assert info["pingwait"] is None and outbound.ping() and outbound.info()["pingwait"] >= 0
    outbound.close("done")
    outbound.close("again")  # idempotent
    assert [t.reason for t in outbound.transitions][-1] == "done"
    assert outbound.state is PeerState.DISCONNECTED and outbound.send("ping", bytes(8)) is False
    wait_for(lambda: inbound.state is PeerState.DISCONNECTED)
    assert inbound.close_reason == "connection closed by peer"


def test_wtxidrelay_and_sendaddrv2_come_before_verack(raw: RawClient) -> None:
    raw.send("version", raw.version())
    raw.receive("verack")
    commands = [frame.command for frame in raw.received]
    assert commands == ["version", "wtxidrelay", "sendaddrv2", "verack"]
    raw.send("verack")
    raw.receive("feefilter")
    assert [frame.command for frame in raw.received][4:] == ["sendheaders", "sendcmpct", "feefilter"]
    # Core offers BIP152 version 2 in low-bandwidth mode to every peer that speaks it.
    assert raw.wire.decode_sendcmpct(raw.received[5].payload) == SendCmpct(False, 2)


def test_a_forcerelay_peer_gets_no_feefilter(wire_impl) -> None:
    """Core takes a forcerelay peer's transactions whatever their fee, so it does not filter them."""
    server = Listener(wire_impl.module, FAST, permissions=frozenset({Permission.FORCERELAY, Permission.RELAY}))
    client = RawClient(server.port, wire_impl.module)
    try:
        client.handshake()
        client.send("ping", bytes(8))
        client.receive("pong")
        assert "sendheaders" in [frame.command for frame in client.received]
        assert "feefilter" not in [frame.command for frame in client.received]
    finally:
        client.close()
        server.stop()


@pytest.mark.parametrize("version", [70016, 70015])
def test_wtxidrelay_and_sendaddrv2_honoured_before_verack(listener: Listener, raw: RawClient, version: int) -> None:
    """Both are honoured before verack; wtxidrelay only from 70016 (ignored below, as Core)."""
    raw.send("version", raw.version(version))
    raw.send("wtxidrelay")
    raw.send("sendaddrv2")
    raw.receive("verack")
    raw.send("verack")
    peer = server_peer(listener, raw)
    wait_for(lambda: peer.state is PeerState.CONNECTED)
    assert peer.wtxid_relay is (version >= 70016) and peer.wants_addrv2
    assert peer.counters["ignored"] == (version < 70016)
    # Core sends neither to a peer below 70016
    assert ("wtxidrelay" in [frame.command for frame in raw.received]) is (version >= 70016)


@pytest.mark.parametrize("command", ["wtxidrelay", "sendaddrv2"])
def test_feature_negotiation_after_verack_disconnects(listener: Listener, raw: RawClient, good: Peer,
                                                       command: str) -> None:
    raw.handshake()
    peer = server_peer(listener, raw)
    wait_for(lambda: peer.state is PeerState.CONNECTED)
    raw.send(command)
    assert raw.is_closed()
    assert peer.state is PeerState.DISCONNECTED and peer.close_reason == f"{command} received after verack"
    assert_unaffected(good)


def test_old_version_refused(listener: Listener, raw: RawClient, good: Peer, caplog) -> None:
    caplog.set_level(logging.INFO, "pantheon.net.peer")
    raw.send("version", raw.version(70000))
    assert raw.is_closed()
    peer = server_peer(listener, raw)
    assert peer.close_reason == "obsolete version 70000 < 70001"
    assert "obsolete version 70000" in caplog.text
    assert_unaffected(good)


def test_outbound_peer_without_required_services_refused(listener: Listener) -> None:
    needy = replace(FAST, required_services=protocol.NODE_NETWORK | protocol.NODE_COMPACT_FILTERS)
    peer = listener.dial(needy)
    assert peer.join(WAIT)
    assert peer.close_reason == "peer does not offer the expected services (00000009 offered, 00000041 expected)"
    assert peer.info()["state"] == "disconnected" and peer.info()["version"] == 0


@pytest.mark.parametrize("connection_type, close_reason", [("manual", "test over"),
                                                           ("feeler", "feeler connection completed")])
def test_manual_and_feeler_connections_take_any_services(listener: Listener, connection_type: str,
                                                         close_reason: str) -> None:
    """Core checks services only where it relies on the peer; a feeler only learns that it answers."""
    needy = replace(FAST, required_services=protocol.NODE_NETWORK | protocol.NODE_COMPACT_FILTERS)
    peer = Peer(None, ("127.0.0.1", listener.port), inbound=False, config=needy, wire=listener.wire,
                group=listener.group)
    peer.connection_type = connection_type
    peer.start()
    wait_for(lambda: peer.remote is not None)
    if connection_type == "manual":
        wait_for(lambda: peer.state is PeerState.CONNECTED)
        peer.close("test over")
    assert peer.join(WAIT)
    assert peer.close_reason == close_reason


def test_self_connection_detected_by_nonce(wire_impl) -> None:
    nonces: set[int] = set()
    server = Listener(wire_impl.module, FAST, nonces=nonces)
    try:
        outbound = server.dial(nonces=nonces)
        assert outbound.join(WAIT)
        inbound = server_peer(server)
        assert inbound.join(WAIT)
        assert inbound.close_reason == "connected to self"  # Core's wording, logged with the address
        assert outbound.close_reason == "connection closed by peer"
        assert not nonces  # every nonce is released on close
    finally:
        server.stop()


def test_a_silent_connection_times_out_as_cores_inactivity_check_says(wire_impl) -> None:
    server = Listener(wire_impl.module, replace(FAST, handshake_timeout=0.2))
    client = RawClient(server.port, wire_impl.module)
    try:
        started = time.monotonic()
        assert client.is_closed()
        assert 0.15 < time.monotonic() - started < 2
        assert server_peer(server).close_reason == (
            "socket no message in first 0.2 seconds, never received from peer, never sent to peer")
    finally:
        client.close()
        server.stop()


def test_handshake_timeout(wire_impl) -> None:
    """A peer that sends its version but never a verack: Core's "version handshake timeout"."""
    server = Listener(wire_impl.module, replace(FAST, handshake_timeout=0.2))
    client = RawClient(server.port, wire_impl.module)
    try:
        client.send("version", client.version())
        client.receive("verack")
        assert client.is_closed()
        assert server_peer(server, client).close_reason == "version handshake timeout"
    finally:
        client.close()
        server.stop()


def test_outbound_connection_refused(wire_impl) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    peer = Peer(None, ("127.0.0.1", port), inbound=False, config=FAST, wire=wire_impl.module).start()
    assert peer.join(WAIT)
    assert peer.state is PeerState.DISCONNECTED and peer.close_reason.startswith("connection failed")
    assert [t.new for t in peer.transitions] == [PeerState.DISCONNECTED]


# --- ping ------------------------------------------------------------------------------------


def test_ping_latency_recorded_and_repeated(wire_impl) -> None:
    server = Listener(wire_impl.module, FAST)
    try:
        peer = server.dial(replace(FAST, ping_interval=0.05))
        wait_for(lambda: peer.ping_time is not None)
        first = peer.counters["messages sent"]
        wait_for(lambda: peer.counters["messages sent"] >= first + 3)  # pings keep coming
        assert 0 < peer.min_ping <= peer.ping_time < 1
        assert peer.state is PeerState.CONNECTED
    finally:
        server.stop()


def test_we_answer_pings_with_the_nonce(raw: RawClient) -> None:
    raw.handshake()
    raw.send("ping", wire.encode_ping(0xDEADBEEF))
    while wire.decode_pong(raw.receive("pong").payload) != 0xDEADBEEF:
        pass
    raw.send("ping", b"")  # pre-BIP31 ping: no pong expected, no harm
    raw.send("pong", wire.encode_pong(5))  # unsolicited pong: ignored
    raw.send("ping", wire.encode_ping(7))
    while wire.decode_pong(raw.receive("pong").payload) != 7:
        pass


def test_pong_timeout(listener: Listener, good: Peer) -> None:
    """A peer that keeps talking (its own pings, which we answer) but never answers ours: Core's
    ping timeout, checked after the traffic timeouts, which this peer keeps away."""
    listener.config = replace(FAST, ping_timeout=0.3)
    client = RawClient(listener.port, listener.wire)
    try:
        client.handshake()  # our ping comes after the verack: it is read below, never answered
        peer = server_peer(listener, client)
        client.sock.settimeout(0.05)
        deadline = time.monotonic() + FAST.handshake_timeout + 2  # checks start after the peer timeout
        closed = False
        while time.monotonic() < deadline and not closed:  # our pings and their pongs flow; theirs we
            try:                                             # read, unanswered
                client.send("ping", wire.encode_ping(1))
                closed = not client.sock.recv(65536)
            except socket.timeout:
                pass
            except OSError:  # reset by the disconnect
                closed = True
            gevent.sleep(0.05)
        assert closed or client.is_closed(2)
        assert peer.close_reason.startswith("ping timeout: ")  # Core: seconds since the ping, %f
        assert float(peer.close_reason.removeprefix("ping timeout: ").removesuffix("s")) >= 0.3
        assert_unaffected(good)
    finally:
        client.close()


# --- reactions ---------------------------------------------------------------------------------


def test_wrong_magic_disconnects(listener: Listener, raw: RawClient, good: Peer, caplog) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    raw.handshake()
    raw.send_raw(raw.frame("ping", bytes(8), magic=params.MAIN.magic))
    assert raw.is_closed()
    peer = server_peer(listener, raw)
    assert peer.state is PeerState.DISCONNECTED
    assert peer.close_reason == "Header error: Wrong MessageStart f9beb4d9 received"  # Core's wording
    assert f"Header error: Wrong MessageStart f9beb4d9 received, disconnecting peer={peer.id}" in caplog.text
    assert_unaffected(good)


def test_declared_length_over_max_payload_disconnects_before_the_payload(wire_impl, caplog) -> None:
    """Core's transport refuses a message over 4,000,000 bytes from its header alone."""
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    server = Listener(wire_impl.module, FAST)
    raw = RawClient(server.port, wire_impl.module)
    try:
        raw.handshake()
        size = limits.MAX_MESSAGE_SIZE + 1
        raw.send_raw(REGTEST.magic.to_bytes(4, "little") + b"badmsg\x01".ljust(12, b"\0") + size.to_bytes(4, "little")
                     + bytes(4))
        assert raw.is_closed()  # the payload never comes: the peer must not wait for it
        peer = server_peer(server, raw)
        assert peer.close_reason == f"Header error: Size too large (badmsg, {limits.MAX_MESSAGE_SIZE + 1} bytes)"
        assert "Header error: Size too large (badmsg, 4000001 bytes)" in caplog.text
    finally:
        raw.close()
        server.stop()


def test_bad_checksum_drops_the_message_keeps_the_peer(listener: Listener, raw: RawClient, good: Peer,
                                                       caplog) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    raw.handshake()
    bad = bytearray(raw.frame("ping", wire.encode_ping(1)))
    bad[20:24] = b"\xff" * 4  # checksum
    raw.send_raw(bytes(bad))
    raw.send_raw(raw.frame("ping", wire.encode_ping(2)))
    while (nonce := wire.decode_pong(raw.receive("pong").payload)) != 2:
        assert nonce != 1, "the bad-checksum ping was answered"
    peer = server_peer(listener, raw)
    assert peer.counters["dropped: bad checksum"] == 1 and peer.state is PeerState.CONNECTED
    expected = wire.checksum(wire.encode_ping(1)).hex()
    assert f"Header error: Wrong checksum (ping, 8 bytes), expected {expected} was ffffffff, peer={peer.id}" in caplog.text
    assert peer.bytes_recv_per_msg["*other*"] == 32  # Core counts a rejected message under *other*
    assert_unaffected(good)


@pytest.mark.parametrize(("field", "logged"), [(b"pi\x01g" + bytes(8), "pig"), (b"pi\x00ng" + bytes(7), "pi")])
def test_bad_command_field_drops_the_message(listener: Listener, raw: RawClient, good: Peer, caplog,
                                             field: bytes, logged: str) -> None:
    """Core logs the type up to its first NUL, unsafe characters left out."""
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    raw.handshake()
    frame = bytearray(raw.frame("ping", wire.encode_ping(1)))
    frame[4:16] = field
    raw.send_raw(bytes(frame))
    raw.send("ping", wire.encode_ping(2))
    assert wire.decode_pong(raw.receive("pong").payload) == 2
    peer = server_peer(listener, raw)
    assert peer.counters["dropped: bad command"] == 1
    assert f"Header error: Invalid message type ({logged}, 8 bytes), peer={peer.id}" in caplog.text
    assert_unaffected(good)


def test_a_bad_checksum_is_reported_before_a_bad_command(listener: Listener, raw: RawClient, caplog) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    raw.handshake()
    frame = bytearray(raw.frame("ping", b"\x01d"))  # Core's test sends this payload: its checksum is 78df0a04
    frame[4:16] = b"badmsg\x01" + bytes(5)
    frame[20:24] = b"\xff" * 4
    raw.send_raw(bytes(frame))
    raw.send("ping", wire.encode_ping(2))
    raw.receive("pong")
    peer = server_peer(listener, raw)
    assert f"Header error: Wrong checksum (badmsg, 2 bytes), expected 78df0a04 was ffffffff, peer={peer.id}" in caplog.text
    assert peer.counters["dropped: bad checksum"] == 1 and peer.bytes_recv_per_msg["*other*"] == 26


def test_unknown_command_ignored_and_counted(listener: Listener, raw: RawClient, good: Peer) -> None:
    raw.handshake()
    raw.send("frobnicate", b"xyz")
    raw.send("ping", wire.encode_ping(3))
    assert wire.decode_pong(raw.receive("pong").payload) == 3
    peer = server_peer(listener, raw)
    assert peer.counters["unknown command"] == 1 and peer.state is PeerState.CONNECTED
    assert_unaffected(good)


def test_messages_before_version_ignored(listener: Listener, raw: RawClient, good: Peer) -> None:
    raw.send("ping", wire.encode_ping(1))
    raw.send("verack")
    raw.send("getaddr")
    raw.handshake()
    raw.send("version", raw.version(nonce=99))  # duplicate version: ignored
    raw.send("ping", wire.encode_ping(2))
    assert wire.decode_pong(raw.receive("pong").payload) == 2
    assert [frame.command for frame in raw.received].count("pong") == 1
    peer = server_peer(listener, raw)
    assert peer.counters["ignored"] == 4 and peer.remote.nonce == 42
    assert peer.state is PeerState.CONNECTED
    assert_unaffected(good)


def test_messages_between_version_and_verack_ignored(listener: Listener, raw: RawClient) -> None:
    raw.send("version", raw.version())
    raw.send("ping", wire.encode_ping(1))
    raw.receive("verack")
    raw.send("verack")
    raw.send("ping", wire.encode_ping(2))
    assert wire.decode_pong(raw.receive("pong").payload) == 2
    assert server_peer(listener, raw).counters["ignored"] == 1


def test_a_failing_handler_costs_the_message_not_the_peer(listener: Listener, caplog) -> None:
    def broken(peer: Peer, frame: Any) -> None:
        raise RuntimeError("bug")

    listener.options["handlers"] = {"getaddr": broken}
    client = RawClient(listener.port, listener.wire)
    try:
        client.handshake()
        client.send("getaddr")
        client.send("ping", wire.encode_ping(5))
        assert wire.decode_pong(client.receive("pong").payload) == 5
        peer = server_peer(listener, client)
        assert peer.counters["handler errors"] == 1 and peer.state is PeerState.CONNECTED
        assert "handler for getaddr failed" in caplog.text and "RuntimeError: bug" in caplog.text
    finally:
        client.close()


@pytest.mark.parametrize(("command", "payload", "what"), [
    ("feefilter", b"\x01\x02", "Exception 'end of data: "),
    ("addrv2", b"", "Exception 'end of data: "),
    ("addrv2", bytes([1]) + bytes(4) + bytes([1, 1]) + bytes([0xFD]) + (513).to_bytes(2, "little") + bytes(515),
     "Exception 'Address too long: 513 > 512' (OversizedMessage) caught"),
])
def test_malformed_payload_dropped_in_cores_words(listener: Listener, good: Peer, caplog, command: str,
                                                  payload: bytes, what: str) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    listener.options["handlers"] = {"addrv2": lambda peer, frame: listener.wire.decode_addrv2(frame.payload)}
    raw = RawClient(listener.port, listener.wire)
    raw.handshake()
    raw.send(command, payload)
    raw.send("ping", wire.encode_ping(4))
    assert wire.decode_pong(raw.receive("pong").payload) == 4
    peer = server_peer(listener, raw)
    assert peer.counters["malformed"] == 1 and peer.state is PeerState.CONNECTED
    assert f"ProcessMessages({command}, {len(payload)} bytes): {what}" in caplog.text
    assert_unaffected(good)
    raw.close()


OVER_COUNT = [
    ("addr", limits.MAX_ADDR),
    ("addrv2", limits.MAX_ADDR),
    ("inv", limits.MAX_INV_ENTRIES),
    ("getdata", limits.MAX_INV_ENTRIES),
    ("headers", limits.MAX_HEADERS),
]


@pytest.mark.parametrize(("command", "cap"), OVER_COUNT)
def test_oversized_counts_are_misbehaviour(wire_impl, banlist: BanList, command: str, cap: int, caplog) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    server = Listener(wire_impl.module, FAST, banlist=banlist, seen_as="203.0.113.7")
    try:
        good = server.dial()
        wait_for(lambda: good.state is PeerState.CONNECTED)
        raw = RawClient(server.port, wire_impl.module)
        raw.handshake()
        raw.send(command, wire_impl.module.write_compact_size(cap + 1) + bytes(36))
        assert raw.is_closed()
        peer = server_peer(server, raw)
        assert peer.state is PeerState.BANNED
        assert peer.close_reason == f"misbehaving: {command} message size = {cap + 1}"  # Core's words
        assert banlist.is_discouraged(PeerAddress.from_ip("203.0.113.7")) and not banlist.list()
        assert f"Misbehaving: peer={peer.id}: {command} message size = {cap + 1}" in caplog.text
        assert_unaffected(good)
        raw.close()
    finally:
        server.stop()


def test_a_local_misbehaving_peer_is_disconnected_not_discouraged(wire_impl, banlist: BanList, caplog) -> None:
    """Core: discouraging 127.0.0.1 would discourage every local peer at once."""
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    server = Listener(wire_impl.module, FAST, banlist=banlist)
    raw = RawClient(server.port, wire_impl.module)
    try:
        raw.handshake()
        raw.send("inv", wire_impl.module.write_compact_size(limits.MAX_INV_ENTRIES + 1))
        assert raw.is_closed()
        peer = server_peer(server, raw)
        assert peer.state is PeerState.BANNED and not banlist.is_discouraged("127.0.0.1")
        assert f"Warning: disconnecting but not discouraging local peer {peer.id}!" in caplog.text
    finally:
        raw.close()
        server.stop()


def test_a_manually_connected_peer_is_not_punished(listener: Listener, caplog) -> None:
    """Core never disconnects or discourages a peer the operator asked for."""
    caplog.set_level(logging.DEBUG, "pantheon.net.peer")
    peer = Peer(None, ("127.0.0.1", listener.port), inbound=False, config=FAST, wire=listener.wire,
                group=listener.group)
    peer.connection_type = "manual"
    peer.start()
    wait_for(lambda: peer.state is PeerState.CONNECTED)
    peer.misbehaving("test: bad")
    assert peer.state is PeerState.CONNECTED
    assert f"Warning: not punishing manually connected peer {peer.id}!" in caplog.text
    peer.close("test over")


def test_full_oversized_inv_is_misbehaviour(listener: Listener, raw: RawClient, good: Peer) -> None:
    """50,001 real entries: read whole (within the 4 MB cap), then counted, as Core does."""
    raw.handshake()
    count = limits.MAX_INV_ENTRIES + 1
    raw.send("inv", listener.wire.write_compact_size(count) + bytes(36) * count)
    assert raw.is_closed()
    peer = server_peer(listener, raw)
    assert peer.state is PeerState.BANNED and peer.close_reason == f"misbehaving: inv message size = {count}"
    assert_unaffected(good)


def test_locator_over_101_disconnects_without_discouraging(wire_impl, banlist: BanList) -> None:
    server = Listener(wire_impl.module, FAST, banlist=banlist)
    raw = RawClient(server.port, wire_impl.module)
    try:
        raw.handshake()
        raw.send("getheaders", (70016).to_bytes(4, "little") + bytes([102]) + bytes(32))
        assert raw.is_closed()
        peer = server_peer(server, raw)
        assert peer.state is PeerState.DISCONNECTED and peer.close_reason == "getheaders locator size 102 > 101"
        assert not banlist.is_discouraged("127.0.0.1")
    finally:
        raw.close()
        server.stop()


def test_counts_within_caps_pass(listener: Listener) -> None:
    seen = []
    listener.options["handlers"] = {"addr": lambda peer, frame: seen.append(frame.command)}
    raw2 = RawClient(listener.port, listener.wire)
    try:
        raw2.handshake()
        raw2.send("addr", listener.wire.write_compact_size(limits.MAX_ADDR))  # truncated, within cap
        raw2.send("getheaders", b"\x01")  # too short to hold a count
        raw2.send("inv", b"\xfd\x01\x00")  # non-canonical count: left to the decoder
        raw2.send("ping", wire.encode_ping(9))
        assert wire.decode_pong(raw2.receive("pong").payload) == 9
        peer = server_peer(listener, raw2)
        assert seen == ["addr"] and peer.state is PeerState.CONNECTED
        assert peer.counters["malformed"] == 1 and peer.counters["unhandled"] == 1
    finally:
        raw2.close()


# --- the send queue ----------------------------------------------------------------------------


def test_send_queue_pauses_then_disconnects(wire_impl) -> None:
    config = replace(FAST, send_pause=64 * 1024, send_limit=4 * 1024 * 1024)
    server = Listener(wire_impl.module, config)
    try:
        good = server.dial(FAST)
        wait_for(lambda: good.state is PeerState.CONNECTED)
        client = RawClient(server.port, wire_impl.module)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.handshake()
        peer = server_peer(server, client)
        client.receive("ping")  # and answers it: nothing is outstanding while the queue fills
        wait_for(lambda: peer.ping_time is not None)
        block = bytes(200_000)
        while not peer.paused:  # the client reads nothing more: the queue fills
            assert peer.send("block", block)
            gevent.sleep(0.01)
        assert peer.queued_bytes > config.send_pause
        received = peer.counters["messages received"]
        client.send("ping", wire.encode_ping(1))
        gevent.sleep(0.2)
        assert peer.counters["messages received"] == received  # not served while paused
        assert_unaffected(good)
        while peer.send("block", block):
            pass
        assert peer.state is PeerState.DISCONNECTED and peer.close_reason.startswith("send queue")
        assert peer.queued_bytes == 0
        assert_unaffected(good)
        client.close()
    finally:
        server.stop()


def test_writer_exists_only_while_sending(listener: Listener, good: Peer) -> None:
    wait_for(lambda: good._writer is None)
    good.send("frobnicate", b"x")
    assert good._writer is not None
    wait_for(lambda: good._writer is None)


# --- inventory -------------------------------------------------------------------------------


def test_known_inventory_never_announced_back(listener: Listener, raw: RawClient) -> None:
    raw.handshake()
    peer = server_peer(listener, raw)
    wait_for(lambda: peer.state is PeerState.CONNECTED)
    theirs = InvVect(1, b"\x11" * 32)
    raw.send("inv", listener.wire.encode_inv([theirs]))
    wait_for(lambda: theirs.hash in peer.known_inventory)
    ours = InvVect(1, b"\x22" * 32)
    assert peer.announce([theirs, ours, ours]) == 1
    assert listener.wire.decode_inv(raw.receive("inv").payload) == [ours]
    assert peer.announce([ours]) == 0


# --- reading ahead while a handler runs ---------------------------------------------------------


class _SlowHandler:
    """A handler for `feefilter` frames (any 8-byte payload) that holds the first one until
    `release` is set, recording each payload with what the peer prepared for it; with `take`, the
    first frame's handler takes the next frame out of its turn when its payload is `take`."""

    def __init__(self, take: bytes | None = None) -> None:
        self.release = gevent.event.Event()
        self.handled: list[tuple[bytes, object]] = []
        self.taken: list[object] = []
        self.take = take

    def __call__(self, peer: Peer, frame: Any) -> None:
        first = not self.handled
        self.handled.append((frame.payload, peer.prepared(frame)))
        if first:
            self.release.wait(WAIT)
            if self.take is not None:
                wanted = self.take
                self.taken.append(peer.take_read_ahead(lambda ahead, prepared: ahead.payload == wanted))
                self.taken.append(peer.take_read_ahead(lambda ahead, prepared: ahead.payload == wanted))


def _slow_peer(listener: Listener, handler: _SlowHandler, **config: Any) -> tuple[RawClient, Peer]:
    listener.options["handlers"] = {"feefilter": handler}
    listener.options["preparers"] = {"feefilter": lambda payload: ("prepared", payload)}
    if config:
        listener.config = replace(listener.config, **config)
    client = RawClient(listener.port, listener.wire)
    client.handshake()
    return client, server_peer(listener, client)


def _payload(number: int) -> bytes:
    return number.to_bytes(8, "little")


def test_frames_arriving_while_a_handler_runs_are_read_ahead_prepared_and_dispatched_in_order(
        listener: Listener) -> None:
    handler = _SlowHandler()
    client, peer = _slow_peer(listener, handler)
    try:
        for number in range(4):
            client.send("feefilter", _payload(number))
        wait_for(lambda: handler.handled and peer._ahead is not None and len(peer._ahead.frames) == 3)
        assert len(handler.handled) == 1  # the others wait, read and prepared
        handler.release.set()
        wait_for(lambda: len(handler.handled) == 4)
        assert handler.handled == [(_payload(0), None)] + [(_payload(n), ("prepared", _payload(n))) for n in (1, 2, 3)]
        client.send("ping", wire.encode_ping(6))  # read the usual way again
        assert wire.decode_pong(client.receive("pong").payload) == 6
        assert peer.counters["messages received"] >= 6 and peer.state is PeerState.CONNECTED
    finally:
        client.close()


def test_a_handler_takes_the_next_frame_read_ahead_out_of_its_turn_only_if_it_wants_it(listener: Listener) -> None:
    handler = _SlowHandler(take=_payload(1))
    client, peer = _slow_peer(listener, handler)
    try:
        for number in range(3):
            client.send("feefilter", _payload(number))
        wait_for(lambda: peer._ahead is not None and len(peer._ahead.frames) == 2)
        received = peer.counters["messages received"]
        handler.release.set()
        wait_for(lambda: len(handler.handled) == 2)
        assert handler.taken == [("prepared", _payload(1)), None]  # the second ask: frame 2 is not wanted
        assert [payload for payload, _ in handler.handled] == [_payload(0), _payload(2)]  # frame 1 not again
        assert peer.counters["messages received"] == received + 2  # the taken one counted when taken
    finally:
        client.close()


def test_reading_ahead_stops_at_the_receive_buffer(listener: Listener) -> None:
    handler = _SlowHandler()
    client, peer = _slow_peer(listener, handler, receive_buffer=100)
    try:
        for number in range(10):
            client.send("feefilter", _payload(number))  # 32 bytes each on the wire
        wait_for(lambda: peer._ahead is not None and len(peer._ahead.frames) == 4)
        gevent.sleep(0.2)
        assert len(peer._ahead.frames) == 4  # 128 bytes: it stopped once past 100
        handler.release.set()
        wait_for(lambda: len(handler.handled) == 10)
        assert [payload for payload, _ in handler.handled] == [_payload(n) for n in range(10)]
    finally:
        client.close()


def test_an_error_met_reading_ahead_comes_after_the_frames_before_it(listener: Listener) -> None:
    handler = _SlowHandler()
    client, peer = _slow_peer(listener, handler)
    try:
        client.send("feefilter", _payload(0))
        client.send("feefilter", _payload(1))
        client.send_raw(client.frame("ping", bytes(8), magic=params.MAIN.magic))
        wait_for(lambda: peer._ahead is not None and peer._ahead.error is not None)
        assert peer.state is PeerState.CONNECTED  # not before the frames ahead of it
        handler.release.set()
        assert client.is_closed()
        assert [payload for payload, _ in handler.handled] == [_payload(0), _payload(1)]
        assert peer.close_reason == "Header error: Wrong MessageStart f9beb4d9 received"
    finally:
        client.close()
