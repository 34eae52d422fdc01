"""Raw P2P clients (`RawClient` for any bytes, `RawPeer` speaking the spec to bcoin), `free_port`."""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import gevent.socket

from helpers.waiting import WAIT
from pantheon import limits, params, spec
from pantheon.primitives import Endpoint, Version

REGTEST = params.REGTEST


def _ports_of_this_suite() -> range:
    """The ports free_port hands out: above the three ranges of Core's framework (11000-25999,
    its nodes' P2P, RPC and Tor ports), below the kernel's ephemeral range, where an outgoing
    connection's local port could take one the moment it is probed free, and split in two
    halves: CI runs the compiled and the pure suite side by side, each with its own half."""
    try:
        first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:  # not Linux: the BSDs' and macOS's ephemeral ports start higher (49152)
        first_ephemeral = 32768
    ports = range(26000, first_ephemeral)
    assert len(ports) >= 2000, f"the ephemeral ports start at {first_ephemeral}: too few ports below them"
    half = len(ports) // 2
    return ports[half:] if os.environ.get("PANTHEON_NO_EXTENSIONS") == "1" else ports[:half]


_SUITE_PORTS = _ports_of_this_suite()
_next_ports = itertools.islice(itertools.cycle(_SUITE_PORTS), os.getpid() % len(_SUITE_PORTS), None)


def free_port() -> int:
    """A loopback TCP port nobody listens on at the time of asking, never the same one twice
    in a row of a few thousand: the next of this suite's ports that can be bound."""
    for port in itertools.islice(_next_ports, len(_SUITE_PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_SUITE_PORTS}")


class RawClient:
    """A bare socket speaking whatever a test needs, bad input included."""

    def __init__(self, port: int, wire: Any, sock: gevent.socket.socket | None = None) -> None:
        """Dial `port`, or (with `sock`) speak on a connection a test server accepted."""
        self.sock = sock if sock is not None else gevent.socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.wire = wire
        self.decoder = wire.FrameDecoder(REGTEST.magic)
        self.received: list[Any] = []

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self, command: str, payload: bytes = b"", magic: int = REGTEST.magic) -> bytes:
        return self.wire.pack_header(magic, command, payload) + payload

    def send(self, command: str, payload: bytes = b"") -> None:
        self.send_raw(self.frame(command, payload))

    def version(self, version: int = 70016, nonce: int = 42, services: int = 0,
                addr_recv: Endpoint = Endpoint()) -> bytes:
        return self.wire.encode_version(Version(
            version, services, int(time.time()), addr_recv, Endpoint(), nonce, "/raw/", 0, True))

    def receive(self, command: str, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.decoder:
                self.received.append(frame)
                if frame.command == "ping":
                    self.send("pong", frame.payload)
                if frame.command == command:
                    return frame
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed while waiting for {command}")
            self.decoder.feed(data)

    def handshake(self, version: int = 70016, nonce: int = 42, services: int = 0) -> None:
        self.send("version", self.version(version, nonce, services))
        self.receive("verack")
        self.send("verack")

    def is_closed(self, timeout: float = WAIT) -> bool:
        """Whether the other side closes the connection within `timeout` (reading what comes)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except socket.timeout:
            return False
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()


def assert_nothing_asked(client: RawClient, command: str = "getdata", since: int = 0) -> None:
    """No `command` reached `client` (from its `since`-th frame on): the node answers a ping only
    after handling what came before."""
    client.send("ping", b"\x09" * 8)
    assert client.receive("pong").payload == b"\x09" * 8
    assert not any(frame.command == command for frame in client.received[since:])


class RawPeer:
    """A blocking socket that frames messages with a wire twin and decodes them with the spec."""

    def __init__(self, port: int, wire: Any) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.wire = wire
        self.received: list[spec.Message] = []

    def send(self, command: str, payload: Any) -> None:
        self.sock.sendall(spec.build_message(REGTEST.magic, command, payload))

    def _read_exactly(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                raise ConnectionError("bcoin closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> spec.Message:
        header = self._read_exactly(limits.HEADER_SIZE)
        command, length, checksum = self.wire.unpack_header(header, REGTEST.magic)
        assert length <= limits.max_payload(command)
        payload = self._read_exactly(length)
        assert self.wire.checksum(payload) == checksum
        message = spec.parse_message(header + payload, magic=REGTEST.magic)
        self.received.append(message)
        return message

    def receive_until(self, command: str, timeout: float = 15.0) -> spec.Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive()
            if message.command == command:
                return message
            if message.command == "ping":
                self.send("pong", {"nonce": message.payload.nonce})
        raise TimeoutError(f"no {command} from bcoin within {timeout} s")

    def handshake(self) -> spec.Message:
        """After our version (sent by the caller): read theirs and their verack, answer verack;
        their version message."""
        version = self.receive_until("version")
        self.receive_until("verack")
        self.send("verack", {})
        return version

    def close(self) -> None:
        self.sock.close()


def our_version(port: int) -> dict[str, Any]:
    """Our version message (the spec's fields) to a peer listening on loopback `port`."""
    return {
        "version": 70016,
        "services": 0,
        "timestamp": int(time.time()),
        "addr_recv": {"services": 1, "ip": bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]), "port": port},
        "addr_from": {"services": 0, "ip": bytes(16), "port": 0},
        "nonce": secrets.randbits(64),
        "user_agent": "/Pantheon:0.1.0/",
        "start_height": 0,
        "relay": True,
        "extra": None,
    }
