"""What the status page costs the node: the node's process CPU time while 0, 1, 10 and 50
viewers poll it as the page does (one `status.json` a second each, on kept-alive connections,
starting at random phases).

The node is `pantheon-gevent` in its own process (regtest, a 300-block chain mined through its
JSON-RPC, no peers, `--statusport`); the viewers are greenlets in this process. For each count,
after 2 s of warm-up, the node's utime + stime (from /proc/PID/stat) over `WINDOW` seconds (60,
10 with --quick) is the figure, as a percentage of one core; the row for 50 viewers also gives
the cost of one viewer, (CPU with 50 - CPU with 0) / 50, in CPU milliseconds per second.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode

import gevent
import gevent.event
import gevent.socket

from benchmarks.common import Figure, Series

VIEWERS = (0, 1, 10, 50)
WINDOW, QUICK_WINDOW = 60.0, 10.0
WARM_UP = 2.0
POLL = 1.0  # seconds a viewer waits after each answer, as the page's script does
BLOCKS = 300
ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15 of stat(5)


def _rpc(port: int, method: str, *params: object) -> object:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", json.dumps({"method": method, "params": params}).encode(),
                                     {"Authorization": "Basic " + b64encode(b"u:p").decode()})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.load(reply)["result"]


def _viewer(port: int, stop: gevent.event.Event, served: list[int]) -> None:
    """Poll status.json as the page does, on one kept-alive connection."""
    gevent.sleep(random.random() * POLL)
    with gevent.socket.create_connection(("127.0.0.1", port)) as sock:
        reader = sock.makefile("rb")
        while not stop.is_set():
            sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: bench\r\n\r\n")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            served.append(len(reader.read(length)))
            gevent.sleep(POLL)


def _measure(pid: int, port: int, viewers: int, window: float) -> tuple[float, list[int]]:
    stop, served = gevent.event.Event(), []
    greenlets = [gevent.spawn(_viewer, port, stop, served) for _ in range(viewers)]
    gevent.sleep(WARM_UP)
    before = _cpu_seconds(pid)
    gevent.sleep(window)
    used = _cpu_seconds(pid) - before
    stop.set()
    gevent.joinall(greenlets, timeout=POLL + 5, raise_error=True)
    return 100 * used / window, served


def run(quick: bool) -> list[Figure | Series]:
    window = QUICK_WINDOW if quick else WINDOW
    rpc_port, status_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="pantheon-bench-status-") as datadir:
        node = subprocess.Popen(
            [sys.executable, "-m", "pantheon.cli", "--datadir", datadir, "--network", "regtest", "--port", "0",
             "--bind", "127.0.0.1", "--connect", "0", "--rpcport", str(rpc_port), "--rpcuser", "u",
             "--rpcpassword", "p", "--statusport", str(status_port), "--printtoconsole", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    _rpc(rpc_port, "generatetoaddress", BLOCKS, ADDRESS)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    gevent.sleep(0.2)
            results = {count: _measure(node.pid, status_port, count, window) for count in VIEWERS}
        finally:
            node.terminate()
            node.wait(30)
    idle = results[0][0]
    figures: list[Figure | Series] = [
        Series("status_cpu", "Status page: the node's CPU against viewers polling once a second", "pantheon-gevent",
               "viewers", "% of one core", tuple((count, cpu) for count, (cpu, _) in results.items())),
    ]
    for count, (cpu, served) in results.items():
        size = f", {sum(served) // max(len(served), 1):,} B each" if served else ""
        figures.append(Figure(f"status page: node CPU, {count} viewers ({len(served):,} polls{size})", cpu,
                              "% core", "report", True, "no viewer" if count else "", idle if count else None))
    per_viewer = (results[VIEWERS[-1]][0] - idle) / VIEWERS[-1] * 10  # % of a core -> ms per second
    figures.append(Figure(f"status page: CPU per viewer (from {VIEWERS[-1]} viewers)", per_viewer, "ms/s",
                          "<= 10 ms/s (1% of a core)", per_viewer <= 10))
    return figures
