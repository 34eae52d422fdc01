"""One Pantheon node for `bench_blockrelay`, in its own process (each node of the line gets a
core of its own when there is one, as real nodes have):

    python benchmarks/relay_node.py DATADIR P2P_PORT RPC_PORT [--full] [--times FILE]

Regtest on loopback with JSON-RPC (user u, password p), the tests' fast trickle, scripts checked
in this process. `--full` makes the node ignore `sendcmpct`, so it neither asks for nor sends
compact blocks: blocks cross by headers, getdata and block, the baseline. `--times` appends
`checked HASH T` when a new block has passed the checks made before it is stored (it has reached
this node whole: the moment BIP152 relays it on) and `connected HASH T` when it joined the chain,
T being time.time(). It prints `ready` once listening and stops cleanly when stdin closes.
"""

from __future__ import annotations

import argparse
import time

from gevent import os as gevent_os

from pantheon.allocator import keep_freed_memory
from pantheon.collector import collect_less_often
from pantheon.config import load_config
from pantheon.hashing import hash_to_hex
from pantheon.node import NodeTuning
from pantheon.primitives import Block
from pantheon.service import NodeService

TUNING = NodeTuning(tick=0.02, trickle_outbound=0.05, trickle_inbound=0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datadir")
    parser.add_argument("p2p_port")
    parser.add_argument("rpc_port")
    parser.add_argument("--full", action="store_true", help="no compact blocks (ignore sendcmpct)")
    parser.add_argument("--times", help="append when each new block was checked and connected")
    args = parser.parse_args()
    keep_freed_memory()  # the process tuned as pantheon-gevent tunes its own (and collect_less_often below)
    config = load_config(["--datadir", args.datadir, "--network", "regtest", "--port", args.p2p_port,
                          "--bind", "127.0.0.1", "--connect", "0", "--rpcport", args.rpc_port,
                          "--rpcuser", "u", "--rpcpassword", "p", "--server", "1"])
    service = NodeService(config, tuning=TUNING, script_workers=0)
    if args.full:
        service.node.manager.handlers["sendcmpct"] = lambda peer, frame: None
    if args.times:
        times = open(args.times, "a", buffering=1)
        chain = service.node.chain
        def note(event: str, block: Block) -> None:
            times.write(f"{event} {hash_to_hex(block.hash)} {time.time()}\n")

        chain.on_pow_valid.insert(0, lambda block, height: note("checked", block))
        chain.on_connected.insert(0, lambda block, height: note("connected", block))
    service.start()
    collect_less_often()
    print("ready", flush=True)
    while gevent_os.tp_read(0, 1024):
        pass
    service.stop()


if __name__ == "__main__":
    main()
