"""Fee estimation on a whole node over JSON-RPC: transactions submitted at a known fee rate and
mined one block later feed the estimator through the node's events; estimatesmartfee and
estimaterawfee answer as Core's would from that history, before it (thin data) and after a
restart (fee_estimates.dat), with Core's errors for bad arguments."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Callable

import pytest

from helpers.chain import P2WSH_TRUE, block_on, prevouts_of, spend
from helpers.node import FAST, rpc_call as call, rpc_error_of as error_of, settings
from pantheon.chain.feeestimator import FEE_ESTIMATES_FILENAME
from pantheon.node import Node
from pantheon.primitives import TxOut
from pantheon.service import NodeService

RATE = 25  # sat/vB of every transaction below: 0.00025 BTC/kvB
PER_BLOCK = 4
BLOCKS = 6
AUTH = ("--rpcuser", "u", "--rpcpassword", "p")


def feed_history(node: Node) -> None:
    """A mature coinbase split into PER_BLOCK * BLOCKS outputs; then BLOCKS times, PER_BLOCK
    transactions paying exactly RATE sat/vB enter the pool and the next block confirms them."""
    mined = node.generate(101, P2WSH_TRUE)
    coinbase = node.chain.read_block(mined[0]).transactions[0]
    count = PER_BLOCK * BLOCKS
    vsize = spend(prevouts_of(coinbase)[:1], [TxOut(0, P2WSH_TRUE)] * count).vsize
    value = (coinbase.outputs[0].value - vsize) // count  # 1 sat/vB, in a bucket far below RATE's
    fan = spend(prevouts_of(coinbase)[:1], [TxOut(value, P2WSH_TRUE)] * count)
    assert node.submit_transaction(fan) == "accepted"
    node.generate(1, P2WSH_TRUE)
    coins = prevouts_of(fan)
    for block in range(BLOCKS):
        for coin in coins[block * PER_BLOCK:(block + 1) * PER_BLOCK]:
            vsize = spend([coin]).vsize
            assert node.submit_transaction(spend([coin], fee=RATE * vsize)) == "accepted"
        node.generate(1, P2WSH_TRUE)


def test_estimates_follow_the_history_and_survive_a_restart(tmp_path: Path) -> None:
    service = NodeService(settings(tmp_path / "n", *AUTH, rpc=True), tuning=FAST, script_workers=0).start()
    node = service.node
    try:
        # Nothing seen yet: Core's thin-data answer, with the target it could use (none: 0).
        assert call(node, "estimatesmartfee", 6) == {"errors": ["Insufficient data or no feerate found"], "blocks": 0}
        feed_history(node)
        # The fan-out, entered at 101, is the first transaction block 102 confirms (the first
        # recorded height); blocks 103..108 follow: span 108 - 102 = 6, targets up to 3 usable.
        assert node.fee_estimator.max_usable_target() == 3
        # Every tracked transaction confirmed within 1 block, those of blocks 103..108 at 25 sat/vB
        # (the fan-out at 1 sat/vB, far below): target 6 is clamped to 3; at 3/2 = 1 (60%), 3 (85%)
        # and 6 (95%) the range from the top bucket down to 25 sat/vB's passes.
        expected = {"feerate": Decimal("0.00025"), "blocks": 3}
        assert call(node, "estimatesmartfee", 6) == expected
        assert call(node, "estimatesmartfee", 6, "CONSERVATIVE") == expected
        raw = call(node, "estimaterawfee", 1)
        # Short: 4 a block decayed at 0.962 for 6 blocks: 4 (1 - 0.962^6) / 0.038 = 21.83, over 13.2.
        assert raw["short"]["feerate"] == Decimal("0.00025") and raw["short"]["scale"] == 1
        assert raw["short"]["pass"]["withintarget"] == raw["short"]["pass"]["totalconfirmed"] == Decimal("21.83")
        assert raw["short"]["pass"]["endrange"] == Decimal("1e99")
        # Medium: 4 a block decayed at 0.9952 for 6 blocks is 23.7, over 20.8. Long: under 145.
        assert raw["medium"]["feerate"] == Decimal("0.00025")
        assert raw["long"]["errors"] == ["Insufficient data or no feerate found which meets threshold"]
        assert (raw["long"]["decay"], raw["long"]["scale"]) == (Decimal("0.99931"), 24)
        assert set(call(node, "estimaterawfee", 13)) == {"medium", "long"}  # the short horizon tracks 12
    finally:
        service.stop()
    assert (tmp_path / "n" / "regtest" / FEE_ESTIMATES_FILENAME).is_file()
    service = NodeService(settings(tmp_path / "n", *AUTH, rpc=True), tuning=FAST, script_workers=0).start()
    try:
        # The saved block range (102..108) still counts: the same estimate after the restart.
        assert call(service.node, "estimatesmartfee", 6) == expected
    finally:
        service.stop()


def test_bad_arguments_get_cores_errors(make_node: Callable[..., Node]) -> None:
    node = make_node("rpc", *AUTH, rpc=True)
    assert error_of(node, "estimatesmartfee", 0) == (-8, "Invalid conf_target, must be between 1 and 1008")
    assert error_of(node, "estimaterawfee", 1009) == (-8, "Invalid conf_target, must be between 1 and 1008")
    assert error_of(node, "estimatesmartfee", 2, "fast") == (
        -8, 'Invalid estimate_mode parameter, must be one of: "unset", "economical", "conservative"')
    assert error_of(node, "estimaterawfee", 2, 1.5) == (-8, "Invalid threshold")
    assert error_of(node, "estimaterawfee", 2, -0.1) == (-8, "Invalid threshold")
    code, message = error_of(node, "estimatesmartfee", "2")
    assert code == -3 and "JSON value of type string is not of expected type number" in message
    assert error_of(node, "estimatefee", 2) == (-32601, "Method not found")  # gone since Core 0.19
    blocksonly = make_node("b", *AUTH, "--blocksonly", rpc=True)
    assert blocksonly.fee_estimator is None
    assert error_of(blocksonly, "estimatesmartfee", 2) == (-32603, "Fee estimation disabled")


def test_a_transaction_conflicted_out_counts_as_a_failure(make_node: Callable[..., Node]) -> None:
    node = make_node("n")
    removed: list[tuple[bytes, str]] = []
    node.events.transaction_removed.subscribe(lambda tx, reason: removed.append((tx.txid, reason)))
    mined = node.generate(101, P2WSH_TRUE)
    coin = prevouts_of(node.chain.read_block(mined[0]).transactions[0])[0]
    waiting = spend([coin], fee=RATE * spend([coin]).vsize)
    assert node.submit_transaction(waiting) == "accepted" and len(node.fee_estimator) == 1
    tree = node.chain.headers
    empty = block_on(tree.header(node.chain.tip), 102, node.network)  # the pool's transaction left out
    node.process_block(empty)
    rival = spend([coin], fee=50_000)  # spends the same coin
    node.process_block(block_on(empty.header, 103, node.network, [rival], fees=50_000))
    # The pool dropped `waiting` for the conflict before block 103 was counted, one block after it
    # entered at 101: in the short horizon (1 block a period) one failure, in period 1 of its bucket.
    assert removed == [(waiting.txid, "conflict")] and len(node.fee_estimator) == 0
    short = node.fee_estimator.stats["short"]
    bucket = short.bucket_of(float(RATE * 1000))
    assert [row[bucket] for row in short.failed[:2]] == [pytest.approx(0.962), 0]  # decayed once by block 103
    assert node.fee_estimator.stats["medium"].failed[0][bucket] == 0  # under one 2-block period


def test_a_submitted_package_is_pooled_and_relayed_but_never_counted(make_node: Callable[..., Node]) -> None:
    """Core's validForFeeEstimation is false for package submissions: a lone transaction is
    tracked, the members of a parent-and-child package are not."""
    node = make_node("n")
    mined = node.generate(101, P2WSH_TRUE)
    lone_coin, package_coin = (prevouts_of(node.chain.read_block(block).transactions[0])[0] for block in mined[:2])
    assert node.submit_transaction(spend([lone_coin], fee=RATE * spend([lone_coin]).vsize)) == "accepted"
    assert len(node.fee_estimator) == 1
    parent = spend([package_coin], fee=RATE * spend([package_coin]).vsize)
    child = spend(prevouts_of(parent), fee=RATE * spend(prevouts_of(parent)).vsize)
    result = node.submit_package([parent, child])
    assert parent.txid in node.mempool and child.txid in node.mempool, result
    assert len(node.fee_estimator) == 1
