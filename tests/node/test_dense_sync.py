"""Issue 19's shortened sync, run in CI: a chain at mainnet density from `tools.chaingen` (its
433-block preamble, then 20 blocks of 50 signed transactions of every output kind it makes, with
fan-in and fan-out) is fed to bcoin 1.0.2 by submitblock, and Pantheon syncs it from that bcoin
over P2P with every input's script verified, ending with the same tip and the same coins, its
connect loop going on with blocks bcoin has sent while the one before them was checked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers.bcoin import BCOIN_RULE_ARGS, BcoinNode
from helpers.waiting import wait_for
from pantheon import wire
from pantheon.chain import scripts
from pantheon.hashing import hash_to_hex
from pantheon.node import Node
from pantheon.primitives import Block, OutPoint
from tools.chaingen import PREAMBLE, ChainSpec, cached_chain, read_blocks

pytestmark = pytest.mark.skipif(not scripts.AVAILABLE, reason=scripts.UNAVAILABLE_REASON or "no kernel")

SPEC = ChainSpec(blocks=20, txs=50, seed=7)
SYNC_WAIT = 300.0


def test_pantheon_syncs_a_dense_chain_from_bcoin_checking_every_script(
        start_bcoin: Callable[..., BcoinNode], make_node: Callable[..., Node],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    raws = list(read_blocks(cached_chain(SPEC, tmp_path_factory.mktemp("chain"))))[1:]  # genesis is everyone's
    dense = [wire.decode_block(raw) for raw in raws[PREAMBLE + 1:]]
    inputs = sum(len(tx.inputs) for block in dense for tx in block.transactions[1:])
    source = start_bcoin("dense-source", wallet=False)
    for raw in raws:
        assert source.rpc("submitblock", raw.hex()) is None
    height, tip = source.tip()
    assert height == len(raws)

    node: Node = make_node("dense", *BCOIN_RULE_ARGS, "--addnode", f"127.0.0.1:{source.p2p_port}",
                           verify_scripts=True)
    taken_early: list[bytes] = []
    upcoming = node.chain.upcoming
    assert upcoming is not None

    def counted(block_hash: bytes) -> Block | None:
        block = upcoming(block_hash)
        if block is not None:
            taken_early.append(block_hash)
        return block

    node.chain.upcoming = counted
    wait_for(lambda: hash_to_hex(node.chain.tip) == tip, SYNC_WAIT, what="Pantheon at bcoin's tip")
    assert node.chain.scripts_verified and node.scripts is not None and node.scripts.skipped == 0
    assert len(taken_early) > len(raws) // 2  # most blocks connected while the one before them was checked
    assert inputs > SPEC.blocks * SPEC.txs  # fan-in: more inputs than transactions were checked
    # Every output the dense blocks created and no later block spent is a coin of Pantheon's.
    spent = {(txin.prev_txid, txin.prev_index) for block in dense for tx in block.transactions[1:] for txin in tx.inputs}
    last = dense[-1].transactions[1:]
    unspent = [(tx.txid, index) for tx in last for index in range(len(tx.outputs)) if (tx.txid, index) not in spent]
    assert unspent and all(node.chain.get_coin(OutPoint(*outpoint)) is not None for outpoint in unspent)
