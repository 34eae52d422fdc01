"""A real, independent Bitcoin node for interop tests: bcoin 1.0.2 from npm (tests/bcoin/).

`.ci/run` installs it with npm; on a laptop without it the tests that need it skip with the
reason, but under CI=true a missing bcoin is a failure, never a silent skip. bcoin runs on
regtest, in memory, on free loopback ports, and is always stopped (terminate, then kill).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

BCOIN = Path(__file__).parent / "bcoin" / "node_modules" / ".bin" / "bcoin"
START_TIMEOUT = 30.0
MINING_ADDRESS = "RDLF3X6D6GgHf2cf7eVehdzs8Mtgzv5DB1"  # a bcoin regtest address (DESIGN.md)


def require_bcoin() -> Path:
    """The bcoin executable, or skip (fail under CI=true) with the reason."""
    if BCOIN.exists():
        return BCOIN
    reason = f"bcoin is not installed at {BCOIN} (run: npm install --prefix tests/bcoin)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BcoinNode:
    """One bcoin process: regtest, in-memory chain, its own prefix and ports."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.p2p_port = free_port()
        self.http_port = free_port()
        self.wallet_port = free_port()
        self.api_key = secrets.token_hex(16)
        self.log_path = workdir / "bcoin.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BcoinNode:
        executable = require_bcoin()
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(executable),
                "--network=regtest",
                "--memory=true",
                f"--prefix={self.workdir / 'prefix'}",
                f"--port={self.p2p_port}",
                f"--http-port={self.http_port}",
                f"--wallet-http-port={self.wallet_port}",
                f"--api-key={self.api_key}",
                "--listen=true",
                "--public-host=127.0.0.1",  # no external-address discovery (there is no internet)
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.rpc("getblockcount")
                socket.create_connection(("127.0.0.1", self.p2p_port), timeout=1).close()
                return self
            except (OSError, urllib.error.URLError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"bcoin did not start; its log:\n{self.log_path.read_text()[-2000:]}")
                time.sleep(0.2)

    def rpc(self, method: str, *params: Any) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/",
            data=json.dumps({"method": method, "params": list(params)}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(f"x:{self.api_key}".encode()).decode()},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        if answer.get("error"):
            raise RuntimeError(f"bcoin {method}: {answer['error']}")
        return answer["result"]

    def mine(self, blocks: int) -> list[str]:
        """Mine `blocks` regtest blocks; returns their hashes. (getnewaddress is a wallet call,
        not on bcoin's node RPC, so a fixed regtest address takes the coinbase.)"""
        return self.rpc("generatetoaddress", blocks, MINING_ADDRESS)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
