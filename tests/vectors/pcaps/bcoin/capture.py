"""How bcoin_regtest_sync.pcapng was made (run once; kept for provenance, not by the tests).

Two bcoin 1.0.2 nodes (tests/bcoin) on regtest, in memory: A mines 300 blocks, B connects to A
only (--only) and syncs them, while dumpcap captures A's P2P port on loopback.
A's RPC gives the hashes of the blocks it mined, written to bcoin_regtest_sync.json: the
independent oracle the decoder's block messages are checked against.

    .venv/bin/python tests/vectors/pcaps/bcoin/capture.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from helpers.bcoin import BcoinNode  # noqa: E402

BLOCKS = 300


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        a = BcoinNode(Path(work) / "a")
        a.workdir.mkdir()
        a.start()
        try:
            hashes = a.rpc("generatetoaddress", BLOCKS, "RDLF3X6D6GgHf2cf7eVehdzs8Mtgzv5DB1")  # DESIGN.md
            capture = HERE / "bcoin_regtest_sync.pcapng"
            dumpcap = subprocess.Popen(
                ["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {a.p2p_port}", "-w", str(capture)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(2)
            b = BcoinNode(Path(work) / "b")
            b.workdir.mkdir()
            _start_with(b, [f"--only=127.0.0.1:{a.p2p_port}"])  # B dials A and nobody else
            try:
                deadline = time.monotonic() + 120
                while b.rpc("getblockcount") < BLOCKS and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert b.rpc("getblockcount") == BLOCKS, "B did not sync"
                time.sleep(3)  # let the last inv/ping exchanges be captured
            finally:
                b.stop()
                time.sleep(1)
                dumpcap.terminate()
                dumpcap.wait(timeout=10)
        finally:
            a.stop()
    (HERE / "bcoin_regtest_sync.json").write_text(json.dumps({
        "what": f"bcoin 1.0.2 B syncing {BLOCKS} regtest blocks from bcoin 1.0.2 A on loopback, captured with dumpcap",
        "a_port": a.p2p_port,
        "block_hashes": hashes,
    }, indent=1) + "\n")


def _start_with(node: BcoinNode, extra: list[str]) -> None:
    """BcoinNode.start with extra command-line options (its Popen is wrapped for one call)."""
    real_popen = subprocess.Popen

    def popen(args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        return real_popen([*args, *extra], *rest, **kwargs)

    subprocess.Popen = popen  # type: ignore[misc]
    try:
        node.start()
    finally:
        subprocess.Popen = real_popen  # type: ignore[misc]


if __name__ == "__main__":
    main()
