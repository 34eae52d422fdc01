"""Many loopback Bitcoin clients in one process, for `bench_net`: each is a gevent greenlet on a
raw socket that speaks the real handshake bytes (version, verack) and answers pings.

    python benchmarks/net_clients.py HOST PORT COUNT [--magic HEX] [--in-flight N]

It raises RLIMIT_NOFILE to the hard limit, prints `ready <fd limit>`, waits for a line on stdin,
then opens COUNT connections with at most `--in-flight` handshakes under way at once (the
listener's backlog is small; a SYN dropped from a full backlog costs a 1 s retransmit, which would
measure the kernel rather than the manager). It prints `connected <n> failed <m>` once every
connection has finished its handshake (or failed), then holds them open, answering pings, until
stdin closes or it is killed. It imports only pantheon's plain vocabulary (no wire core, no node):
the bytes are built by hand, field by field, as the spec lays them out.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import struct
import sys
import time

import gevent
import gevent.lock
import gevent.socket
from gevent import os as gevent_os

from pantheon.protocol import FULL_RELAY_SERVICES, PROTOCOL_VERSION

SERVICES = FULL_RELAY_SERVICES
_HEADER = struct.Struct("<4s12sI4s")


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def message(magic: bytes, command: str, payload: bytes = b"") -> bytes:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return _HEADER.pack(magic, command.encode().ljust(12, b"\0"), len(payload), checksum) + payload


def version_payload(host: str, port: int, nonce: int) -> bytes:
    ipv4 = bytes(10) + b"\xff\xff" + bytes(int(part) for part in host.split("."))
    agent = b"/pantheon-bench:0/"
    return (
        struct.pack("<iQq", PROTOCOL_VERSION, SERVICES, int(time.time()))
        + struct.pack("<Q16s", 0, ipv4) + struct.pack(">H", port)  # addr_recv
        + struct.pack("<Q16s", SERVICES, bytes(16)) + struct.pack(">H", 0)  # addr_from
        + struct.pack("<Q", nonce)
        + bytes([len(agent)]) + agent
        + struct.pack("<i", 0)  # start height
        + b"\x00"  # relay
    )


class Clients:
    def __init__(self, host: str, port: int, count: int, magic: bytes, in_flight: int) -> None:
        self.host, self.port, self.count, self.magic = host, port, count, magic
        self.gate = gevent.lock.BoundedSemaphore(in_flight)
        self.connected = 0
        self.failed = 0
        self.pings = 0

    def run_one(self, index: int) -> None:
        magic = self.magic
        self.gate.acquire()
        released = False
        sock = None
        try:
            sock = gevent.socket.create_connection((self.host, self.port), timeout=30)
            sock.settimeout(None)
            sock.sendall(message(magic, "version", version_payload(self.host, self.port, index + 1)))
            buffer = b""
            while True:
                data = sock.recv(4096)
                if not data:
                    raise ConnectionError("closed by the manager")
                buffer += data
                while len(buffer) >= _HEADER.size:
                    _, command, length, _ = _HEADER.unpack_from(buffer)
                    if len(buffer) < _HEADER.size + length:
                        break
                    payload = buffer[_HEADER.size : _HEADER.size + length]
                    buffer = buffer[_HEADER.size + length :]
                    command = command.rstrip(b"\0")
                    if command == b"version":
                        sock.sendall(message(magic, "verack"))
                    elif command == b"verack" and not released:
                        # Both versions and both veracks have crossed: the handshake is done.
                        released = True
                        self.gate.release()
                        self._done(ok=True)
                    elif command == b"ping":
                        self.pings += 1
                        sock.sendall(message(magic, "pong", payload))
        except (OSError, ConnectionError) as error:
            if not released:
                print(f"connection {index} failed: {error}", file=sys.stderr, flush=True)
                released = True
                self.gate.release()
                self._done(ok=False)
        finally:
            if sock is not None:
                sock.close()

    def _done(self, ok: bool) -> None:
        if ok:
            self.connected += 1
        else:
            self.failed += 1
        if self.connected + self.failed == self.count:
            print(f"connected {self.connected} failed {self.failed}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--magic", default="f9beb4d9")
    parser.add_argument("--in-flight", type=int, default=100)
    args = parser.parse_args()
    limit = raise_fd_limit()
    print(f"ready {limit}", flush=True)
    gevent_os.make_nonblocking(0)
    if not gevent_os.nb_read(0, 100):
        return  # the parent went away
    clients = Clients(args.host, args.port, args.count, bytes.fromhex(args.magic), args.in_flight)
    greenlets = [gevent.spawn(clients.run_one, index) for index in range(args.count)]
    while gevent_os.nb_read(0, 100):  # until stdin closes
        pass
    gevent.killall(greenlets, timeout=5)
    os._exit(0)


if __name__ == "__main__":
    main()
