"""What an Electrum server costs and gets from Pantheon: ElectrumX (e-x 2.0.0, unmodified) indexing a
5,000-block regtest chain with transactions from a `pantheon-gevent` process (-txindex,
-txospenderindex), and Pantheon's JSON-RPC throughput for the calls ElectrumX makes most.

    python -m benchmarks electrum [--quick]

The chain is `tools.chaingen`'s (signed transactions at `TXS` per block after its preamble, then
coinbase-only blocks up to `BLOCKS`; 1,000 blocks with --quick), cached beside bench_density's, fed
to the node by `submitblock`. The figures, each with its baseline from the same run:
- ElectrumX's time from its start to the node's tip (blocks/s, tx/s), against the node's own time
  to accept the same blocks by submitblock (scripts verified);
- `getblock HASH 0` calls/s on one kept-alive connection, against `getblockcount` (the server's
  per-call floor: authentication, JSON, dispatch);
- batched `getblockhash` (100 calls per request, as ElectrumX sends them), calls/s, against the
  same calls one per request.
"""

from __future__ import annotations

import http.client
import json
import random
import tempfile
import time
from base64 import b64encode
from pathlib import Path
from typing import Any

import benchmarks.bcoin_sync  # noqa: F401 (puts tests/ on the path for helpers.electrum)
from benchmarks.bench_density import CACHE
from benchmarks.common import Figure, rate, submit_blocks
from pantheon import wire
from tools.chaingen import PREAMBLE, ChainSpec, read_blocks, write_chain

BLOCKS, QUICK_BLOCKS = 5_000, 1_000
SPENDING_BLOCKS, TXS = 100, 100
BATCH = 100


def run(quick: bool) -> list[Figure]:
    from helpers.electrum import RPC_PASSWORD, RPC_USER, ElectrumX, NodeProcess

    total = QUICK_BLOCKS if quick else BLOCKS
    spec = ChainSpec(blocks=SPENDING_BLOCKS, txs=TXS, seed=2, tail=total - PREAMBLE - 1 - SPENDING_BLOCKS)
    path = CACHE / spec.name
    figures: list[Figure] = []
    if not path.exists():
        counts = write_chain(spec, path)
        figures.append(Figure(f"chaingen {spec.blocks}x{spec.txs} + {spec.tail} empty", counts["seconds"], "s",
                              "report", True))
    raws = list(read_blocks(path))[1:]  # genesis is the node's own
    txs = sum(len(wire.decode_block(raw).transactions) for raw in raws)
    with tempfile.TemporaryDirectory(prefix="pantheon-bench-electrum-") as work:
        with NodeProcess(Path(work) / "node", "--txindex", "--txospenderindex") as node:
            client = _Client(node.rpc_port, f"{RPC_USER}:{RPC_PASSWORD}")
            accepted = submit_blocks(lambda raw_hex: client.call("submitblock", raw_hex), raws, "Pantheon")
            started = time.perf_counter()
            with ElectrumX(Path(work) / "electrumx", node) as server:
                server.wait_for_height(len(raws), timeout=3600)
                indexed = time.perf_counter() - started
            figures += [
                Figure(f"ElectrumX indexes {len(raws):,} blocks, {txs:,} txs from Pantheon", indexed, "s", "report",
                       True, "Pantheon's submitblock of them", accepted),
                Figure("ElectrumX indexing rate", len(raws) / indexed, "blocks/s", "report", True),
                Figure("ElectrumX indexing rate", txs / indexed, "tx/s", "report", True),
            ]
            figures += _rpc_throughput(client, len(raws))
    return figures


def _rpc_throughput(client: _Client, height: int) -> list[Figure]:
    picker = random.Random(1)
    hashes = [client.call("getblockhash", h) for h in range(1, height + 1, max(1, height // 500))]
    floor = rate(lambda: client.call("getblockcount"))
    getblock = rate(lambda: client.call("getblock", picker.choice(hashes), 0))
    batch = [("getblockhash", [picker.randrange(height + 1)]) for _ in range(BATCH)]
    batched = rate(lambda: client.batch(batch), BATCH)
    single = rate(lambda: client.call("getblockhash", picker.randrange(height + 1)))
    return [
        Figure("JSON-RPC getblock HASH 0, one connection", getblock, "calls/s", "report", True,
               "getblockcount", floor),
        Figure(f"JSON-RPC getblockhash in batches of {BATCH}", batched, "calls/s", "report", True,
               "one per request", single),
    ]


class _Client:
    """JSON-RPC over one kept-alive HTTP connection, as ElectrumX's aiohttp session keeps it."""

    def __init__(self, port: int, credentials: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self._headers = {"Authorization": "Basic " + b64encode(credentials.encode()).decode(),
                         "Content-Type": "application/json"}

    def _post(self, body: Any) -> Any:
        self._connection.request("POST", "/", json.dumps(body), self._headers)
        return json.loads(self._connection.getresponse().read())

    def call(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "1.0", "id": 0, "method": method, "params": list(params)})
        if reply.get("error"):
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        replies = self._post([{"jsonrpc": "1.0", "id": n, "method": method, "params": params}
                              for n, (method, params) in enumerate(calls)])
        return [reply["result"] for reply in replies]
