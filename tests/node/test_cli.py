"""`pantheon-gevent` as an operator runs it (`python -m pantheon.cli`, the console script's target):
cookie authentication, plain curl, SIGTERM and the `stop` RPC stopping it cleanly, the next start
resuming where it stopped, mainnet waiting politely without any network, and a bad flag refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.chain import P2WSH_TRUE
from helpers.node import FAST, settings
from helpers.p2p import free_port
from pantheon.node import Node
from pantheon.service import NodeService

ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
needs_curl = pytest.mark.skipif(shutil.which("curl") is None and os.environ.get("CI") != "true",
                                reason="curl not installed (CI installs it)")


def start(datadir: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pantheon.cli", "--datadir", str(datadir), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"node exited {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)
    return path.read_text()


def curl(port: int, cookie: str, method: str, *params: object) -> object:
    body = json.dumps({"jsonrpc": "1.0", "id": "curl", "method": method, "params": list(params)})
    output = subprocess.check_output(["curl", "-s", "--user", cookie, "--data-binary", body,
                                      "-H", "content-type: text/plain;", f"http://127.0.0.1:{port}/"], timeout=30)
    reply = json.loads(output)
    assert reply["error"] is None, reply
    return reply["result"]


def regtest_flags() -> tuple[int, tuple[str, ...]]:
    """A regtest node's flags on free loopback ports, and its JSON-RPC port."""
    rpc_port = free_port()
    return rpc_port, ("--network", "regtest", "--port", str(free_port()), "--bind", "127.0.0.1",
                      "--rpcport", str(rpc_port), "--dnsseed", "0")


def finish(process: subprocess.Popen[bytes], timeout: float = 30.0) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, stderr.decode()


@needs_curl
def test_run_stop_by_signal_and_by_rpc_and_resume(tmp_path: Path) -> None:
    rpc_port, flags = regtest_flags()
    cookie_file = tmp_path / "regtest" / ".cookie"
    node = start(tmp_path, *flags)
    cookie = wait_for_file(cookie_file, node)
    assert cookie.startswith("__cookie__:")
    hashes = curl(rpc_port, cookie, "generatetoaddress", 5, ADDRESS)
    assert isinstance(hashes, list) and len(hashes) == 5
    node.send_signal(signal.SIGTERM)
    code, log = finish(node)
    assert code == 0, log
    assert "node stopped" in log and not cookie_file.exists()
    again = start(tmp_path, *flags)
    cookie = wait_for_file(cookie_file, again)
    assert curl(rpc_port, cookie, "getblockcount") == 5
    assert curl(rpc_port, cookie, "getbestblockhash") == hashes[-1]
    assert curl(rpc_port, cookie, "stop") == "Pantheon server stopping"
    code, log = finish(again)
    assert code == 0, log


@needs_curl
def test_a_killed_node_restarts_at_the_same_tip_with_the_same_coins(tmp_path: Path) -> None:
    """The node writes its chain state as Core does (hourly, when the cache is full, at a clean
    stop), so a SIGKILL finds most blocks' coins unwritten: the next start reconnects them from
    the block files, to the same tip and the same UTXO set."""
    rpc_port, flags = regtest_flags()
    cookie_file = tmp_path / "regtest" / ".cookie"
    node = start(tmp_path, *flags)
    cookie = wait_for_file(cookie_file, node)
    hashes = curl(rpc_port, cookie, "generatetoaddress", 120, ADDRESS)
    utxo = curl(rpc_port, cookie, "gettxoutsetinfo")
    node.kill()
    code, _ = finish(node)
    assert code == -signal.SIGKILL
    cookie_file.unlink()  # a killed node leaves its cookie behind
    again = start(tmp_path, *flags)
    cookie = wait_for_file(cookie_file, again)
    assert curl(rpc_port, cookie, "getbestblockhash") == hashes[-1]
    assert curl(rpc_port, cookie, "gettxoutsetinfo") == utxo
    assert curl(rpc_port, cookie, "stop") == "Pantheon server stopping"
    code, log = finish(again)
    assert code == 0, log


@needs_curl
def test_mainnet_waits_politely_without_a_network(tmp_path: Path) -> None:
    rpc_port = free_port()
    node = start(tmp_path, "--port", str(free_port()), "--bind", "127.0.0.1", "--rpcport", str(rpc_port),
                 "--dnsserver", "127.0.0.1:9")  # a name server that never answers
    cookie = wait_for_file(tmp_path / ".cookie", node)
    time.sleep(2)
    assert node.poll() is None
    info = curl(rpc_port, cookie, "getblockchaininfo")
    assert isinstance(info, dict) and info["chain"] == "main" and info["blocks"] == 0
    assert curl(rpc_port, cookie, "getconnectioncount") == 0
    node.send_signal(signal.SIGINT)
    code, log = finish(node)
    assert code == 0, log


def test_a_bad_flag_is_refused_with_its_name(tmp_path: Path) -> None:
    node = start(tmp_path, "--rpcport", "99999")
    code, log = finish(node)
    assert code == 1 and log.startswith("Error: ") and "--rpcport" in log  # bitcoind's init error


@needs_curl
def test_started_as_cores_test_framework_starts_bitcoind(tmp_path: Path) -> None:
    """bitcoind's argv and bitcoin.conf: nothing on standard error, Core's lines in
    regtest/debug.log (appended across restarts), wallet options it does not act on named once, exit 0."""
    rpc_port = free_port()
    (tmp_path / "bitcoin.conf").write_text(
        f"regtest=1\n[regtest]\nport={free_port()}\nrpcport={rpc_port}\nfallbackfee=0.0002\nserver=1\n"
        "dnsseed=0\nfixedseeds=0\nlistenonion=0\nprinttoconsole=0\nconnect=0\nbind=127.0.0.1\n")
    argv = (f"-datadir={tmp_path}", "-logtimemicros", "-debug", "-debugexclude=leveldb", "-uacomment=testnode0",
            "-disablewallet", "-logthreadnames", "-loglevel=trace")
    for run in range(2):
        node = subprocess.Popen([sys.executable, "-m", "pantheon.cli", *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cookie = wait_for_file(tmp_path / "regtest" / ".cookie", node)
        assert curl(rpc_port, cookie, "getblockcount") == 0
        assert curl(rpc_port, cookie, "stop") == "Pantheon server stopping"
        code, stderr = finish(node)
        assert (code, stderr) == (0, "")
    log = (tmp_path / "regtest" / "debug.log").read_text(encoding="utf-8")
    assert log.count("Ignoring -fallbackfee") == 2 and "Ignoring -disablewallet" not in log  # -disablewallet acts
    first = log.splitlines()[0]
    assert first[:4].isdigit() and first[19] == "." and first[26:28] == "Z "  # microseconds, UTC


def test_help_and_an_init_error_as_bitcoind_prints_them(tmp_path: Path) -> None:
    helped = subprocess.run([sys.executable, "-m", "pantheon.cli", "-help"], capture_output=True, timeout=60)
    assert helped.returncode == 0 and b"-peertimeout" in helped.stdout
    refused = subprocess.run([sys.executable, "-m", "pantheon.cli", f"-datadir={tmp_path}", "-regtest",
                              "-peertimeout=0"], capture_output=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.decode().strip() == "Error: peertimeout must be a positive integer."  # Core's text


def test_a_tip_from_the_future_refuses_the_start_as_core_words_it(tmp_path: Path) -> None:
    """Core's question dialog text: two lines, no `Error: ` prefix, exit 1."""
    node = Node(settings(tmp_path / "n"), tuning=FAST, script_workers=0).start()
    node.generate(2, P2WSH_TRUE)
    tip_time = node.chain.headers.header(node.chain.tip).timestamp
    node.stop()
    argv = [sys.executable, "-m", "pantheon.cli", f"-datadir={tmp_path / 'n'}", "-regtest", "-printtoconsole=0",
            "-listen=0", "-server=0"]
    refused = subprocess.run([*argv, f"-mocktime={tip_time - 7_201}"], capture_output=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.decode().strip() == (
        "The block database contains a block which appears to be from the future. This may be due to your "
        "computer's date and time being set incorrectly. Only rebuild the block database if you are sure that "
        f"your computer's date and time are correct.{os.linesep}Please restart with -reindex or "
        "-reindex-chainstate to recover.")


def test_stopatheight_stops_cleanly_once_the_chain_is_that_high(tmp_path: Path) -> None:
    service = NodeService(settings(tmp_path / "n", "-stopatheight=3"), tuning=FAST, script_workers=0).start()
    service.node.generate(2, P2WSH_TRUE)
    assert not service.wait_stopped(0.5)
    service.node.generate(1, P2WSH_TRUE)
    assert service.wait_stopped(10) and service.node.store.closed
