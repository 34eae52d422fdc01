"""Core's block policy estimator (chain/feeestimator.py) fed a synthetic history: transactions at
known fee rates entering at known heights and confirming after known numbers of blocks. Every
expected figure is worked out from Core's algorithm in the comment beside it."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from pantheon.chain.feeestimator import (
    FILE_VERSION,
    LONG,
    MAX_FILE_AGE,
    MEDIUM,
    SHORT,
    EstimationResult,
    FeeEstimator,
    default_buckets,
)

HIGH, LOW = 10_000, 2_000  # sat/kvB: 10 and 2 sat/vB
PER_BLOCK = 20  # transactions of each fee rate entering before every block
BLOCKS = 40  # blocks of history


def txid(*parts: int) -> bytes:
    return b"".join(part.to_bytes(4, "little") for part in parts).ljust(32, b"\0")


def history(blocks: int = BLOCKS) -> FeeEstimator:
    """Block 1 starts the estimator; then before each block b (2..blocks+1) PER_BLOCK transactions
    at HIGH enter and are confirmed by b (1 block), and PER_BLOCK at LOW enter and are confirmed
    by b+2 (3 blocks). Fees are for 1,000 vB, so the fee rate in sat/kvB is the fee."""
    estimator = FeeEstimator()
    estimator.process_block(1, [])
    for block in range(2, blocks + 2):
        entered = block - 1
        for n in range(PER_BLOCK):
            assert estimator.process_transaction(txid(entered, n, 1), HIGH, 1000, entered, counts=True)
            assert estimator.process_transaction(txid(entered, n, 2), LOW, 1000, entered, counts=True)
        confirmed = [txid(block - 1, n, 1) for n in range(PER_BLOCK)]
        if block - 3 >= 1:
            confirmed += [txid(block - 3, n, 2) for n in range(PER_BLOCK)]
        estimator.process_block(block, confirmed)
    return estimator


def decayed_count(decay: float, blocks: int) -> float:
    """PER_BLOCK recorded after each of `blocks` blocks, each block first decaying what was there."""
    return PER_BLOCK * sum(decay ** age for age in range(blocks))


def test_buckets_are_cores() -> None:
    buckets = default_buckets()
    # 100 * 1.05^k <= 1e7 up to k = 235 (100 * 1.05^236 = 1.00154e7), then the infinite bucket: 237.
    assert len(buckets) == 237 and buckets[0] == 100 and buckets[1] == 105 and buckets[-1] == 1e99
    assert buckets[-2] == pytest.approx(100 * 1.05 ** 235)


def test_a_fast_and_a_slow_fee_rate_give_cores_estimates() -> None:
    estimator = history()
    assert estimator.best_height == BLOCKS + 1 and estimator.first_recorded_height == 2
    # Pending at the end: the LOW ones entered at 39 and 40 (due in blocks 42 and 43): 40 transactions.
    assert len(estimator) == 2 * PER_BLOCK

    # Short horizon, target 1, 85%: the ranges from the top down to HIGH's bucket hold
    # decayed_count(0.962, 40) = 20 (1 - 0.962^40) / 0.038 = 411.6 transactions, above the 0.5 / 0.038
    # = 13.2 needed, all confirmed within 1 block: that range passes. LOW's bucket has none confirmed
    # within 1 block: it fails. The estimate is the passing range's mean fee rate: HIGH.
    found = EstimationResult()
    assert estimator.estimate_raw_fee(1, 0.85, SHORT, found) == HIGH
    high_count = decayed_count(SHORT.decay, BLOCKS)
    assert found.passed.within_target == pytest.approx(high_count)
    assert found.passed.total_confirmed == pytest.approx(high_count)
    assert found.passed.end == 1e99  # from the top bucket down
    # LOW confirmed from block 4 on: 38 blocks of records; within 1 block none. Pending for at least
    # 1 block at height 41: the 20 entered at 40 and the 20 at 39.
    low_count = decayed_count(SHORT.decay, BLOCKS - 2)
    assert (found.failed.within_target, found.failed.total_confirmed, found.failed.in_mempool) == (
        0, pytest.approx(low_count), 40)

    # Target 3: LOW's range confirmed all within 3 blocks, none pending that long: it passes too.
    assert estimator.estimate_raw_fee(3, 0.85, SHORT) == LOW
    # Target 2: LOW's confirmed within 2 = 0 of (low_count + 20 pending >= 2 blocks): fails, HIGH.
    assert estimator.estimate_raw_fee(2, 0.85, SHORT) == HIGH

    # Medium horizon (scale 2), target 4 = 2 periods: LOW took 3 blocks = 2 periods: within. But
    # its range needs 0.1 / 0.0048 = 20.8 transactions: 38 blocks of 20 decayed at 0.9952 are 724.
    assert estimator.estimate_raw_fee(4, 0.95, MEDIUM) == LOW
    # Long horizon (scale 24): 1 period covers both; a range needs 0.1 / 0.00069 = 145 transactions:
    # HIGH's 40 blocks of 20 decayed at 0.99931 (789) pass. LOW's 38 blocks (750) all confirmed within
    # 24 blocks, but Core counts as "in mempool for 24 blocks or more" the ring slots of heights
    # 41 - 24 ... 41 - 1007 computed as unsigned: below height 0 they wrap to (2^32 + h) % 1008 =
    # 256 + h, which reaches slots 40 and 39 (h = -216, -217), where the 40 pending LOW ones sit.
    # So 750 / (750 + 40) = 0.949: under 95% (HIGH is the answer), over 90% (LOW).
    found = EstimationResult()
    assert estimator.estimate_raw_fee(24, 0.95, LONG, found) == HIGH
    low_long = decayed_count(LONG.decay, BLOCKS - 2)
    assert (found.failed.within_target, found.failed.in_mempool) == (pytest.approx(low_long), 40)
    assert low_long / (low_long + 40) == pytest.approx(0.9494, abs=1e-4)
    assert estimator.estimate_raw_fee(24, 0.90, LONG) == LOW


def test_smart_fee_takes_the_largest_of_three_thresholds() -> None:
    estimator = history()
    # block_span = 41 - 2 = 39, so targets up to 39 // 2 = 19 are usable.
    assert estimator.max_usable_target() == 19
    # Target 2: target/2 = 1 at 60% -> HIGH; 2 at 85% -> HIGH (LOW within 2 is 0%); 4 at 95% -> LOW.
    # The largest: HIGH. Conservative also asks the medium and long horizons at 4 at 95%: LOW; HIGH stays.
    assert estimator.estimate_smart_fee(2, conservative=False) == (HIGH, 2)
    assert estimator.estimate_smart_fee(2, conservative=True) == (HIGH, 2)
    # Target 1 is answered as 2, as Core does.
    assert estimator.estimate_smart_fee(1, conservative=False) == (HIGH, 2)
    # Target 6: 3 at 60%, 6 at 85%, 12 at 95%: LOW passes each (all confirmed within 3 blocks).
    assert estimator.estimate_smart_fee(6, conservative=False) == (LOW, 6)
    # Target 100 is clamped to the 19 usable: 9, 19 (medium) and 38 (medium) all give LOW.
    assert estimator.estimate_smart_fee(100, conservative=False) == (LOW, 19)
    # Out of range: no estimate, the target as asked.
    assert estimator.estimate_smart_fee(1009, conservative=False) == (0, 1009)


def test_thin_data_gives_no_estimate() -> None:
    # Two blocks of history: block_span 3 - 2 = 1, usable target 1 // 2 = 0: nothing to answer.
    estimator = history(blocks=2)
    assert estimator.estimate_smart_fee(2, conservative=False) == (0, 0)
    # The short horizon at target 1 needs 13.2 transactions a range: 2 blocks of 20 decayed are 39.2,
    # so the raw estimate exists, while the medium horizon's 20.8 is met and the long's 145 is not.
    assert estimator.estimate_raw_fee(1, 0.95, SHORT) == estimator.estimate_raw_fee(1, 0.95, MEDIUM) == HIGH
    assert estimator.estimate_raw_fee(1, 0.95, LONG) == 0
    # A fresh estimator has seen no block: nothing at all.
    assert FeeEstimator().estimate_smart_fee(6, conservative=True) == (0, 0)


def test_transactions_that_do_not_count_are_not_tracked() -> None:
    estimator = FeeEstimator()
    estimator.process_block(5, [])
    assert not estimator.process_transaction(txid(1), 5000, 200, 4, counts=True)  # not at the best height
    assert not estimator.process_transaction(txid(2), 5000, 200, 5, counts=False)  # a parent pooled, or behind
    assert estimator.process_transaction(txid(3), 5000, 200, 5, counts=True)
    assert not estimator.process_transaction(txid(3), 5000, 200, 5, counts=True)  # tracked already
    assert len(estimator) == 1
    # A block at or below the best height (a reorganisation) is ignored: txid 3 stays tracked.
    assert estimator.process_block(5, [txid(3)]) == 0 and len(estimator) == 1
    assert estimator.process_block(6, [txid(3)]) == 1 and len(estimator) == 0


def test_leaving_unconfirmed_counts_a_failure_per_whole_period() -> None:
    estimator = FeeEstimator()
    estimator.process_block(1, [])
    estimator.process_transaction(txid(1), 3000, 1000, 1, counts=True)  # 3000 sat/kvB
    for height in range(2, 7):
        estimator.process_block(height, [])
    bucket = estimator.stats["short"].bucket_of(3000.0)
    assert estimator.stats["short"].unconfirmed[1][bucket] == 1  # the ring slot of height 1 (1 % 12)
    assert estimator.remove_transaction(txid(1)) and not estimator.remove_transaction(txid(1))
    # Waited 6 - 1 = 5 blocks. Short (scale 1): 5 periods, failures in periods 1..5. Medium (scale 2):
    # 5 // 2 = 2 periods. Long (scale 24): under one period, no failure.
    short, medium, long_ = (estimator.stats[h.name] for h in (SHORT, MEDIUM, LONG))
    assert [row[bucket] for row in short.failed[:6]] == [1, 1, 1, 1, 1, 0]
    assert [row[bucket] for row in medium.failed[:3]] == [1, 1, 0]
    assert not any(row[bucket] for row in long_.failed)
    assert short.unconfirmed[1][bucket] == 0
    # At stop, whatever is still tracked leaves the same way (Core's FlushUnconfirmed).
    estimator.process_transaction(txid(2), 3000, 1000, 6, counts=True)
    assert estimator.flush_unconfirmed() == 1 and len(estimator) == 0


def test_estimates_survive_a_save_and_load(tmp_path: Path) -> None:
    estimator = history()
    path = tmp_path / "fee_estimates.dat"
    estimator.save(path)
    assert int.from_bytes(path.read_bytes()[:4], "little") == FILE_VERSION
    loaded = FeeEstimator()
    assert loaded.load(path)
    assert loaded.serialize() == estimator.serialize()
    assert (loaded.best_height, loaded.historical_first, loaded.historical_best) == (41, 2, 41)
    # The saved block range counts as history: span 39, usable 19, the same answers.
    for target in (2, 6, 30):
        assert loaded.estimate_smart_fee(target, False) == estimator.estimate_smart_fee(target, False)
    assert loaded.estimate_raw_fee(1, 0.85, SHORT) == HIGH
    estimator.process_block(42, [])
    loaded.process_block(42, [])
    for name, kept in estimator.stats.items():  # the loaded averages decay as the kept ones
        assert (loaded.stats[name].confirmed, loaded.stats[name].tx_count) == (kept.confirmed, kept.tx_count)


def test_a_failure_alone_starts_the_decay() -> None:
    """Nothing decays while every average is zero; the first count, here a failure, starts it."""
    estimator = FeeEstimator()
    estimator.process_block(1, [])
    estimator.process_transaction(txid(1), 3000, 1000, 1, counts=True)
    for height in range(2, 4):
        estimator.process_block(height, [])
    short = estimator.stats["short"]
    assert not short.counting
    assert estimator.remove_transaction(txid(1))  # waited 2 blocks: failures in short periods 1 and 2
    bucket = short.bucket_of(3000.0)
    assert short.counting and short.failed[0][bucket] == 1
    estimator.process_block(4, [])
    assert short.failed[0][bucket] == short.decay


def test_missing_stale_and_damaged_files_leave_it_empty(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "fee_estimates.dat"
    caplog.set_level(logging.INFO, "pantheon.chain.feeestimator")
    assert not FeeEstimator().load(path) and "is not found" in caplog.text
    history().save(path)
    old = time.time() - MAX_FILE_AGE - 3600
    os.utime(path, (old, old))
    stale = FeeEstimator()
    assert not stale.load(path) and "too old" in caplog.text and stale.best_height == 0
    assert FeeEstimator().load(path, now=old + 60)  # the same file, younger than 60 hours
    assert FeeEstimator().load(path, accept_stale=True)  # -acceptstalefeeestimates
    data = path.read_bytes()
    for damaged in (data[:1000], (FILE_VERSION + 1).to_bytes(4, "little") + data[4:],
                    (FILE_VERSION - 1).to_bytes(4, "little") + data[4:]):
        path.write_bytes(damaged)
        empty = FeeEstimator()
        assert not empty.load(path)
        assert empty.best_height == 0 and empty.serialize() == FeeEstimator().serialize()
    assert "Unable to read policy estimator data" in caplog.text and "too high" in caplog.text
