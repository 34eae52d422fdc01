"""Block relay along a line of five Pantheon nodes on loopback, compact (BIP152) against full.

Each node is its own process (`benchmarks/relay_node.py`), linked to the one before it. Node 0
mines 130 blocks to P2WSH(OP_TRUE), then confirmed fan-outs of 200 outputs each; a first block
crosses the line (in compact mode it makes each node ask its upstream peer for high-bandwidth
announcements, Core's MaybeSetPeerAsAnnouncingHeaderAndIDs). Then 2,000 spends (500 with --quick)
are given to every node (sendrawtransaction) until every mempool holds them all, a block holding all of them is
built here and given to node 0 (`submitblock`), and the clock runs until node 4's tip is that
block (`waitforblock` on node 4, started before). Rows:
- time to reach the end of the line: until node 4 holds the whole block and it passed the checks
  made before a block is stored (`relay_node.py --times`), compact mode against full relay (the
  same line with every node ignoring sendcmpct: headers, getdata, block) in the same run; target
  3x faster;
- time to the last node's tip: until node 4 has connected it too, compact against full (five
  nodes share the machine's cores: where blocks are relayed before they are connected, the five
  connect at once and each takes longer);
- block bytes on the wire per hop (cmpctblock, getblocktxn, blocktxn, block, headers and getdata
  messages sent by all five nodes while the block crossed, headers included, divided by the four
  hops, from getpeerinfo's bytessent_per_msg): compact against full; target 95% fewer.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import Figure

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT / "tests"))  # the block builder and the anyone-can-spend spends

from helpers.chain import P2WSH_TRUE, block_on, prevouts_of, spend  # noqa: E402
from helpers.p2p import free_port  # noqa: E402

from pantheon import wire  # noqa: E402
from pantheon.chain.addresses import p2wsh_output, script_to_address  # noqa: E402
from pantheon.chain.script import OP_1  # noqa: E402
from pantheon.params import REGTEST  # noqa: E402
from pantheon.primitives import Tx, TxIn, TxOut  # noqa: E402

NODES = 5
FANOUT = 200
#: The spends are shaped like a P2WPKH payment with change (one input with a 72-byte signature
#: and a 33-byte key in its witness, two outputs: 235 bytes), so that the block is made of
#: transactions of a real size: the script drops both items and leaves true.
WITNESS_SCRIPT = bytes((0x6D, OP_1))  # OP_2DROP OP_TRUE
PAYMENT = p2wsh_output(WITNESS_SCRIPT)
BLOCK_MESSAGES = ("cmpctblock", "getblocktxn", "blocktxn", "block", "headers", "getdata")
_AUTH = "Basic " + base64.b64encode(b"u:p").decode()


class _Line:
    """Five relay_node.py processes, each dialling the one before it."""

    def __init__(self, workdir: Path, full: bool) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.processes: list[subprocess.Popen[str]] = []
        self.rpc_ports: list[int] = []
        p2p_ports = []
        for index in range(NODES):
            p2p, rpc = free_port(), free_port()
            process = subprocess.Popen(
                [sys.executable, str(_ROOT / "benchmarks" / "relay_node.py"), str(workdir / f"n{index}"), str(p2p),
                 str(rpc), "--times", str(workdir / f"times{index}"), *(["--full"] if full else [])],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.processes.append(process)
            self.rpc_ports.append(rpc)
            p2p_ports.append(p2p)
        for process in self.processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        for index in range(1, NODES):
            self.rpc(index, "addnode", f"127.0.0.1:{p2p_ports[index - 1]}", "add")
        self.until(lambda: all(self.rpc(i, "getconnectioncount") >= (1 if i in (0, NODES - 1) else 2)
                               for i in range(NODES)), 30, "the line to connect")

    def rpc(self, index: int, method: str, *params: Any, timeout: float = 120) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rpc_ports[index]}/",
            json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}).encode(),
            {"Authorization": _AUTH, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
        if reply.get("error"):
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def submit(self, index: int, tx_hex: str) -> None:
        """sendrawtransaction, a transaction the node already has (relayed meanwhile) included."""
        try:
            self.rpc(index, "sendrawtransaction", tx_hex)
        except RuntimeError as error:
            if "already" not in str(error):
                raise

    @staticmethod
    def until(condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def same_tip(self, timeout: float = 120) -> str:
        tip = self.rpc(0, "getbestblockhash")
        self.until(lambda: all(self.rpc(i, "getbestblockhash") == tip for i in range(NODES)), timeout, "one tip")
        return tip

    def block_bytes_sent(self) -> int:
        return sum(peer["bytessent_per_msg"].get(command, 0) for index in range(NODES)
                   for peer in self.rpc(index, "getpeerinfo") for command in BLOCK_MESSAGES)

    def when(self, index: int, event: str, block_hex: str) -> float:
        """time.time() of `event` ("checked" or "connected") for the block at node `index`."""
        for line in (self.workdir / f"times{index}").read_text().splitlines():
            what, block, moment = line.split()
            if what == event and block == block_hex:
                return float(moment)
        raise LookupError(f"no {event} {block_hex} at node {index}")

    def stop(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _payment(fanout: Tx, index: int) -> Tx:
    """A spend of the fan-out's output `index`, the size of a P2WPKH payment with change."""
    value = fanout.outputs[index].value - 2_000
    witness = (bytes(71) + b"\x01", b"\x02" + bytes(32), WITNESS_SCRIPT)
    return Tx(2, [TxIn(fanout.txid, index, b"", 0xFFFF_FFFD, witness)],
              [TxOut(value // 2, PAYMENT), TxOut(value - value // 2, PAYMENT)], 0)


def _relay_once(workdir: Path, full: bool, tx_count: int) -> tuple[float, float, float]:
    """(seconds for the block to reach node 4 and pass its checks, to become its tip, block bytes
    sent per hop)."""
    line = _Line(workdir, full)
    try:
        address = script_to_address(P2WSH_TRUE, REGTEST)
        fanouts_needed = -(-tx_count // FANOUT)
        mined = line.rpc(0, "generatetoaddress", 100 + fanouts_needed + 1, address)
        fanouts = []
        for block_hash in mined[:fanouts_needed]:
            coinbase = wire.decode_block(bytes.fromhex(line.rpc(0, "getblock", block_hash, 0))).transactions[0]
            value = coinbase.outputs[0].value // FANOUT - 1_000
            fanouts.append(spend(prevouts_of(coinbase)[:1], [TxOut(value, PAYMENT)] * FANOUT))
            line.rpc(0, "sendrawtransaction", wire.encode_tx(fanouts[-1]).hex())
        line.rpc(0, "generatetoaddress", 1, address)
        line.same_tip()
        line.rpc(0, "generatetoaddress", 1, address)  # the block that picks high-bandwidth peers
        line.same_tip()
        spends = [_payment(fanout, i) for fanout in fanouts for i in range(FANOUT)][:tx_count]
        for tx in spends:  # to every node: relay alone asks at most 100 txs of a peer at a time
            for index in range(NODES):
                line.submit(index, wire.encode_tx(tx).hex())
        line.until(lambda: all(line.rpc(i, "getmempoolinfo")["size"] == tx_count for i in range(NODES)), 300,
                   "every mempool to hold the transactions")
        tip = line.rpc(0, "getbestblockhash")
        parent = wire.decode_block(bytes.fromhex(line.rpc(0, "getblock", tip, 0))).header
        height = line.rpc(0, "getblockcount") + 1
        block = block_on(parent, height, REGTEST, spends)
        before = line.block_bytes_sent()
        arrived: list[float] = []
        block_hex = block.header.hash[::-1].hex()
        waiter = threading.Thread(target=lambda: (line.rpc(NODES - 1, "waitforblock", block_hex, 120_000),
                                                  arrived.append(time.perf_counter())))
        waiter.start()
        time.sleep(0.5)  # the waiter's request is in
        payload = wire.encode_block(block).hex()
        started, wall = time.perf_counter(), time.time()
        result = line.rpc(0, "submitblock", payload)
        assert result is None, f"submitblock: {result}"
        waiter.join()
        seconds = arrived[0] - started
        assert line.same_tip(30) == block_hex
        per_hop = (line.block_bytes_sent() - before) / (NODES - 1)
        return line.when(NODES - 1, "checked", block_hex) - wall, seconds, per_hop
    finally:
        line.stop()


def run(quick: bool) -> list[Figure]:
    tx_count = 500 if quick else 2_000
    workdir = Path(tempfile.mkdtemp(prefix="pantheon-blockrelay-"))
    try:
        compact_reach, compact_seconds, compact_bytes = _relay_once(workdir / "compact", False, tx_count)
        full_reach, full_seconds, full_bytes = _relay_once(workdir / "full", True, tx_count)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    name = f"block of {tx_count:,} mempool txs along 5 nodes"
    return [
        Figure(f"{name}: time to reach the last node (checked)", compact_reach, "s", "compact >= 3x faster",
               full_reach >= 3 * compact_reach, "full relay", full_reach),
        Figure(f"{name}: time to the last node's tip", compact_seconds, "s", "report", True, "full relay",
               full_seconds),
        Figure(f"{name}: block bytes per hop", compact_bytes, "B", "compact >= 95% fewer",
               compact_bytes <= 0.05 * full_bytes, "full relay", full_bytes),
    ]
