"""Bitcoin Core's block policy fee estimator (`CBlockPolicyEstimator`, policy/fees/): how long
transactions of each fee rate took to confirm, and from that the fee rate a new one needs.

Transactions are grouped into fee-rate buckets (upper bounds from 100 sat/kvB, each 1.05 times
the last, up to 1e7 sat/kvB, plus an infinite one). Three horizons keep decaying averages, each
per bucket, of transactions confirmed within 1..N periods, of all confirmed, of those that left
the pool unconfirmed after so many periods, and of their fee rates:

| horizon | periods | scale (blocks a period) | decay a block | half-life |
|---|---|---|---|---|
| short  | 12 | 1  | 0.962   | 18 blocks |
| medium | 24 | 2  | 0.9952  | 144 blocks |
| long   | 42 | 24 | 0.99931 | 1008 blocks |

A transaction is tracked from the moment it enters the mempool (`process_transaction`: only when
the caller says it counts, as Core's: not re-added by a reorganisation, the chain current, no
parent in the pool, not part of a package; and only at the height of the last block seen) until
a block confirms it (`process_block`) or it leaves the pool otherwise (`remove_transaction`: a
failure for every period it waited in full). Blocks at or below the best height seen are
ignored (reorganisations), as Core does.

Estimates follow Core's `estimateSmartFee` (the largest of: 60% confirmed within target/2, 85%
within target, 95% within 2*target, each from the shortest horizon tracking it; conservative
mode also requires 95% at 2*target in the longer horizons) and `estimateRawFee`. Fee rates are
sat/kvB floats, as Core keeps them; 0 means "no estimate".

The state persists in Core 31's `fee_estimates.dat` layout (file version 309900): the version,
the best height seen, the recorded block range, the buckets, then each horizon's decay, scale
and averages, doubles as their IEEE 754 bits, little-endian. `save` writes it (the
node does so hourly and, after counting the transactions still pooled as unconfirmed, at stop);
`load` ignores a file older than 60 hours, and a missing or damaged file leaves the estimator
empty, with a log line. This module never reads the mempool or the chain: the node feeds it.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import struct
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterable

from pantheon import wire

__all__ = [
    "FeeEstimator", "Horizon", "HORIZONS", "SHORT", "MEDIUM", "LONG", "BucketRange", "EstimationResult",
    "FEE_ESTIMATES_FILENAME", "FILE_VERSION", "MAX_FILE_AGE", "FLUSH_INTERVAL",
    "HALF_SUCCESS_PCT", "SUCCESS_PCT", "DOUBLE_SUCCESS_PCT", "EstimatorFileError",
]

log = logging.getLogger(__name__)

FEE_ESTIMATES_FILENAME = "fee_estimates.dat"
#: Core 31's CURRENT_FEES_FILE_VERSION (written by its 30.99 development version, first released in
#: 31.0, when the buckets began at 100 sat/kvB): the layout written, and the only one read.
FILE_VERSION = 309900
#: Core's MAX_FILE_AGE: older estimates describe another network state and are not loaded.
MAX_FILE_AGE = 60 * 60 * 60
#: Core's FEE_FLUSH_INTERVAL: how often the node writes the estimates while running.
FLUSH_INTERVAL = 60 * 60

#: Bucket bounds (sat/kvB): Core 31's MIN_BUCKET_FEERATE (Core 30's minimum relay fee rate),
#: MAX_BUCKET_FEERATE and FEE_SPACING, and the last bucket's unbounded top (INF_FEERATE).
MIN_BUCKET_FEERATE = 100.0
MAX_BUCKET_FEERATE = 1e7
FEE_SPACING = 1.05
INF_FEERATE = 1e99

#: Core's success thresholds: within target/2, within target, within 2*target.
HALF_SUCCESS_PCT = 0.6
SUCCESS_PCT = 0.85
DOUBLE_SUCCESS_PCT = 0.95
#: Confirmed transactions a block a bucket range needs before it is judged (Core's
#: SUFFICIENT_FEETXS; SUFFICIENT_TXS_SHORT for the short horizon, which sees fewer blocks).
SUFFICIENT_FEETXS = 0.1
SUFFICIENT_TXS_SHORT = 0.5
#: Core's OLDEST_ESTIMATE_HISTORY: a saved block range older than this no longer counts.
OLDEST_ESTIMATE_HISTORY = 6 * 1008
#: Core reads at most this many buckets, and horizons tracking 1..1008 blocks.
MAX_FILE_BUCKETS = 1000
MAX_FILE_CONFIRMS = 6 * 24 * 7

_U32 = 0xFFFF_FFFF


class EstimatorFileError(ValueError):
    """fee_estimates.dat does not hold estimates this estimator can use (Core's "Corrupt
    estimates file" and version errors)."""


@dataclass(frozen=True)
class Horizon:
    """One of Core's three time horizons (FeeEstimateHorizon) and its TxConfirmStats settings."""

    name: str
    periods: int
    scale: int
    decay: float
    sufficient: float

    @property
    def max_confirms(self) -> int:
        return self.periods * self.scale


SHORT = Horizon("short", 12, 1, 0.962, SUFFICIENT_TXS_SHORT)
MEDIUM = Horizon("medium", 24, 2, 0.9952, SUFFICIENT_FEETXS)
LONG = Horizon("long", 42, 24, 0.99931, SUFFICIENT_FEETXS)
HORIZONS = (SHORT, MEDIUM, LONG)


@dataclass
class BucketRange:
    """Core's EstimatorBucket: a range of buckets and its counts (start/end -1: none)."""

    start: float = -1
    end: float = -1
    within_target: float = 0
    total_confirmed: float = 0
    in_mempool: float = 0
    left_mempool: float = 0


@dataclass
class EstimationResult:
    """Core's EstimationResult: the lowest passing and highest failing ranges, and the horizon's
    decay and scale."""

    passed: BucketRange = field(default_factory=BucketRange)
    failed: BucketRange = field(default_factory=BucketRange)
    decay: float = 0
    scale: int = 0


def default_buckets() -> list[float]:
    """Core's bucket upper bounds: MIN_BUCKET_FEERATE times FEE_SPACING until past the maximum,
    then INF_FEERATE (multiplied in order, as Core's loop does, so the bounds are its doubles)."""
    buckets = []
    bound = MIN_BUCKET_FEERATE
    while bound <= MAX_BUCKET_FEERATE:
        buckets.append(bound)
        bound *= FEE_SPACING
    buckets.append(INF_FEERATE)
    return buckets


def _round_half_away(value: float) -> int:
    """C's llround (halves away from zero), which Core's fee rates and RPC figures use."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


class ConfirmStats:
    """Core's TxConfirmStats: one horizon's decaying averages per bucket, and the transactions
    still unconfirmed by the block they entered at (a ring of max_confirms slots; older ones are
    lumped per bucket)."""

    def __init__(self, buckets: list[float], periods: int, decay: float, scale: int) -> None:
        if scale == 0:
            raise ValueError("scale must be non-zero")
        self.buckets = buckets
        self.decay = decay
        self.scale = scale
        size = len(buckets)
        self.tx_count = [0.0] * size  # Core's txCtAvg
        self.fee_rate_sum = [0.0] * size  # m_feerate_avg
        self.confirmed = [[0.0] * size for _ in range(periods)]  # confAvg[period][bucket]
        self.failed = [[0.0] * size for _ in range(periods)]  # failAvg[period][bucket]
        #: Whether any average is non-zero: none is until a tracked transaction confirms or
        #: fails, and zeros decay to zeros, so until then a block's decay has nothing to do.
        self.counting = False
        self._reset_unconfirmed()

    def _reset_unconfirmed(self) -> None:
        size = len(self.buckets)
        self.unconfirmed = [[0] * size for _ in range(self.max_confirms)]  # unconfTxs[block % ring][bucket]
        self.old_unconfirmed = [0] * size  # oldUnconfTxs

    @property
    def max_confirms(self) -> int:
        return self.scale * len(self.confirmed)

    def bucket_of(self, fee_rate: float) -> int:
        """The first bucket whose upper bound is at least `fee_rate` (Core's bucketMap.lower_bound)."""
        return bisect.bisect_left(self.buckets, fee_rate)

    def clear_current(self, height: int) -> None:
        """A new block: the ring slot it reuses moves to the old counts."""
        slot = self.unconfirmed[height % len(self.unconfirmed)]
        if not any(slot):  # nothing entered at that height (in initial block download, no height has)
            return
        for bucket, count in enumerate(slot):
            self.old_unconfirmed[bucket] += count
            slot[bucket] = 0

    def record(self, blocks_to_confirm: int, bucket: int, fee_rate: float) -> None:
        """A tracked transaction of `bucket` confirmed `blocks_to_confirm` (1-based) blocks after
        it entered: one more in every period at least that long (one by one, in Core's order:
        the counts are floats and stay bit for bit Core's)."""
        if blocks_to_confirm < 1:
            return
        periods_to_confirm = (blocks_to_confirm + self.scale - 1) // self.scale
        self.counting = True
        for row in self.confirmed[periods_to_confirm - 1:]:
            row[bucket] += 1
        self.tx_count[bucket] += 1
        self.fee_rate_sum[bucket] += fee_rate

    def update_moving_averages(self) -> None:
        """Decay every count, as Core does each block. A row of zeros stays zeros, so it is
        skipped, and so is everything while nothing was ever counted (`counting`): in initial
        block download every row is zero (the mempool is empty), and decaying them, or only
        looking at each of them for zeros, would be much of a syncing node's work per block."""
        if not self.counting:
            return
        decay = self.decay
        for row in (*self.confirmed, *self.failed, self.fee_rate_sum, self.tx_count):
            if any(row):
                row[:] = [value * decay for value in row]

    def new_tx(self, height: int, fee_rate: float) -> int:
        bucket = self.bucket_of(fee_rate)
        self.unconfirmed[height % len(self.unconfirmed)][bucket] += 1
        return bucket

    def remove_tx(self, entry_height: int, best_height: int, bucket: int, in_block: bool) -> None:
        """A tracked transaction left the pool: in a block, or not (then a failure for each whole
        period it waited, as Core counts them)."""
        blocks_ago = 0 if best_height == 0 else best_height - entry_height
        if blocks_ago < 0:
            log.debug("fee estimator: a mempool transaction entered above the best height seen")
            return
        if blocks_ago >= len(self.unconfirmed):
            if self.old_unconfirmed[bucket] > 0:
                self.old_unconfirmed[bucket] -= 1
        else:
            slot = self.unconfirmed[entry_height % len(self.unconfirmed)]
            if slot[bucket] > 0:
                slot[bucket] -= 1
        if not in_block and blocks_ago >= self.scale:
            self.counting = True
            for period in range(min(blocks_ago // self.scale, len(self.failed))):
                self.failed[period][bucket] += 1

    def estimate_median(self, target: int, sufficient: float, success: float, best_height: int,
                        result: EstimationResult | None = None) -> float:
        """Core's EstimateMedianVal: walking from the highest fee rates down, group buckets until
        each group has enough data, and keep the last group that still confirmed at least
        `success` of its transactions within `target` blocks; the average fee rate of the bucket
        holding that range's median transaction, or -1 when none passed."""
        period_target = (target + self.scale - 1) // self.scale
        buckets = self.buckets
        top = len(buckets) - 1
        ring = len(self.unconfirmed)
        # Per bucket, the pooled transactions unconfirmed for at least `target` blocks: the ring
        # slots of the blocks `target`.. max_confirms-1 back (Core's index wraps as unsigned).
        slots = [self.unconfirmed[((best_height - back) & _U32) % ring] for back in range(target, self.max_confirms)]
        waiting = [sum(column) for column in zip(*slots)] if slots else [0] * len(buckets)
        confirmed_row = self.confirmed[period_target - 1]
        failed_row = self.failed[period_target - 1]
        confirmed = total = failed = partial = 0.0
        extra = 0
        near = best_near = far = best_far = top
        found = False
        new_range = passing = True
        passed, failure = BucketRange(), BucketRange()
        for bucket in range(top, -1, -1):
            if new_range:
                near = bucket
                new_range = False
            far = bucket
            confirmed += confirmed_row[bucket]
            partial += self.tx_count[bucket]
            total += self.tx_count[bucket]
            failed += failed_row[bucket]
            extra += waiting[bucket] + self.old_unconfirmed[bucket]
            if partial < sufficient / (1 - self.decay):
                continue
            partial = 0
            if confirmed / (total + failed + extra) < success:
                if passing:
                    failure = self._range(min(near, far), max(near, far), confirmed, total, extra, failed)
                    passing = False
                continue
            failure = BucketRange()
            found = passing = True
            passed = BucketRange(-1, -1, confirmed, total, extra, failed)
            confirmed = total = failed = 0.0
            extra = 0
            best_near, best_far = near, far
            new_range = True
        median = -1.0
        low, high = min(best_near, best_far), max(best_near, best_far)
        half = sum(self.tx_count[low:high + 1])
        if found and half != 0:
            half /= 2
            for bucket in range(low, high + 1):
                if self.tx_count[bucket] < half:
                    half -= self.tx_count[bucket]
                else:
                    median = self.fee_rate_sum[bucket] / self.tx_count[bucket]
                    break
            passed.start = buckets[low - 1] if low else 0
            passed.end = buckets[high]
        if passing and not new_range:  # the lowest buckets lacked data: report them as failing
            failure = self._range(min(near, far), max(near, far), confirmed, total, extra, failed)
        if result is not None:
            result.passed, result.failed, result.decay, result.scale = passed, failure, self.decay, self.scale
        return median

    def _range(self, low: int, high: int, confirmed: float, total: float, extra: int, failed: float) -> BucketRange:
        return BucketRange(self.buckets[low - 1] if low else 0, self.buckets[high], confirmed, total, extra, failed)

    # --- the file ------------------------------------------------------------------------

    def write(self, out: BinaryIO) -> None:
        out.write(struct.pack("<d", self.decay) + struct.pack("<I", self.scale))
        for vector in (self.fee_rate_sum, self.tx_count):
            _write_doubles(out, vector)
        for rows in (self.confirmed, self.failed):
            out.write(wire.write_compact_size(len(rows)))
            for row in rows:
                _write_doubles(out, row)

    @classmethod
    def read(cls, stream: BinaryIO, buckets: list[float]) -> ConfirmStats:
        """Core's TxConfirmStats::Read with its sanity checks (EstimatorFileError)."""
        decay = _read_double(stream)
        if not 0 < decay < 1:
            raise EstimatorFileError("Decay must be between 0 and 1 (non-inclusive)")
        scale = _read_u32(stream)
        if scale == 0:
            raise EstimatorFileError("Scale must be non-zero")
        count = len(buckets)
        fee_rate_sum = _read_doubles(stream)
        tx_count = _read_doubles(stream)
        if len(fee_rate_sum) != count or len(tx_count) != count:
            raise EstimatorFileError("Mismatch in bucket count")
        confirmed = [_read_doubles(stream) for _ in range(_read_count(stream))]
        if not 0 < scale * len(confirmed) <= MAX_FILE_CONFIRMS:
            raise EstimatorFileError("Must maintain estimates for between 1 and 1008 (one week) confirms")
        failed = [_read_doubles(stream) for _ in range(_read_count(stream))]
        if len(failed) != len(confirmed) or any(len(row) != count for row in (*confirmed, *failed)):
            raise EstimatorFileError("Mismatch in confirms or bucket counts")
        stats = cls(buckets, len(confirmed), decay, scale)
        stats.fee_rate_sum, stats.tx_count, stats.confirmed, stats.failed = fee_rate_sum, tx_count, confirmed, failed
        stats.counting = any(any(row) for row in (fee_rate_sum, tx_count, *confirmed, *failed))
        return stats


@dataclass
class _Tracked:
    """A pooled transaction being watched: the height it entered at, its fee rate and bucket."""

    height: int
    fee_rate: float
    bucket: int


class FeeEstimator:
    """Core's CBlockPolicyEstimator over the transactions the node reports."""

    def __init__(self) -> None:
        self.buckets = default_buckets()
        self.stats = {horizon.name: ConfirmStats(self.buckets, horizon.periods, horizon.decay, horizon.scale)
                      for horizon in HORIZONS}
        self.best_height = 0  # Core's nBestSeenHeight
        self.first_recorded_height = 0
        self.historical_first = 0
        self.historical_best = 0
        self._tracked: dict[bytes, _Tracked] = {}

    def __len__(self) -> int:
        """Transactions tracked now."""
        return len(self._tracked)

    # --- what the node reports ----------------------------------------------------------

    def process_transaction(self, txid: bytes, fee: int, vsize: int, height: int, counts: bool) -> bool:
        """A transaction entered the mempool at chain height `height` paying `fee` for `vsize`
        vbytes; `counts`: it is valid for fee estimation (see the module docstring). Returns
        whether it is tracked."""
        if txid in self._tracked or height != self.best_height or not counts:
            return False  # Core ignores entries not at the height it last saw: a reorg or lagging
        fee_rate = float(fee * 1000 // vsize)  # Core's CFeeRate(fee, vsize).GetFeePerK()
        buckets = {stats.new_tx(height, fee_rate) for stats in self.stats.values()}
        self._tracked[txid] = _Tracked(height, fee_rate, buckets.pop())
        return True

    def remove_transaction(self, txid: bytes) -> bool:
        """A transaction left the mempool unconfirmed (evicted, conflicted, replaced, expired,
        or invalid after a reorganisation). Returns whether it was tracked."""
        return self._remove(txid, in_block=False) is not None

    def _remove(self, txid: bytes, in_block: bool) -> _Tracked | None:
        tracked = self._tracked.pop(txid, None)
        if tracked is not None:
            for stats in self.stats.values():
                stats.remove_tx(tracked.height, self.best_height, tracked.bucket, in_block)
        return tracked

    def process_block(self, height: int, txids: Iterable[bytes]) -> int:
        """A block at `height` joined the chain with these transactions (the fee rate and entry
        height of those tracked are the mempool entry's, kept since they entered). Returns how
        many were tracked."""
        if height <= self.best_height:
            return 0  # a reorganisation or a side chain: Core ignores it
        self.best_height = height
        for stats in self.stats.values():
            stats.clear_current(height)
            stats.update_moving_averages()
        counted = 0
        for txid in txids if self._tracked else ():  # none tracked in initial block download
            tracked = self._remove(txid, in_block=True)
            if tracked is None or height - tracked.height <= 0:
                continue
            for stats in self.stats.values():
                stats.record(height - tracked.height, tracked.bucket, tracked.fee_rate)
            counted += 1
        if self.first_recorded_height == 0 and counted:
            self.first_recorded_height = height
        return counted

    def flush_unconfirmed(self) -> int:
        """Count every tracked transaction as having left unconfirmed (Core does so at stop);
        returns how many."""
        count = len(self._tracked)
        for txid in list(self._tracked):
            self._remove(txid, in_block=False)
        return count

    # --- estimates ----------------------------------------------------------------------

    def highest_target(self, horizon: Horizon = LONG) -> int:
        """Core's HighestTargetTracked: the largest confirmation target `horizon` answers for."""
        return self.stats[horizon.name].max_confirms

    def block_span(self) -> int:
        return 0 if self.first_recorded_height == 0 else self.best_height - self.first_recorded_height

    def historical_block_span(self) -> int:
        if self.historical_first == 0 or self.best_height - self.historical_best > OLDEST_ESTIMATE_HISTORY:
            return 0
        return self.historical_best - self.historical_first

    def max_usable_target(self) -> int:
        """Core's MaxUsableEstimate: half the blocks of data seen (so failures had time to show)."""
        return min(self.highest_target(LONG), max(self.block_span(), self.historical_block_span()) // 2)

    def estimate_raw_fee(self, target: int, threshold: float, horizon: Horizon,
                         result: EstimationResult | None = None) -> int:
        """Core's estimateRawFee: sat/kvB at `threshold` from one horizon (0: none)."""
        stats = self.stats[horizon.name]
        if target <= 0 or target > stats.max_confirms or threshold > 1:
            return 0
        median = stats.estimate_median(target, horizon.sufficient, threshold, self.best_height, result)
        return 0 if median < 0 else _round_half_away(median)

    def estimate_smart_fee(self, target: int, conservative: bool) -> tuple[int, int]:
        """Core's estimateSmartFee: (sat/kvB, 0 when there is no estimate; the target answered,
        clamped to 2..max_usable_target)."""
        if target <= 0 or target > self.highest_target(LONG):
            return 0, target
        target = min(max(target, 2), self.max_usable_target())
        if target <= 1:
            return 0, target
        median = max(self._combined(target // 2, HALF_SUCCESS_PCT, True),
                     self._combined(target, SUCCESS_PCT, True),
                     self._combined(2 * target, DOUBLE_SUCCESS_PCT, not conservative))
        if conservative or median == -1:
            median = max(median, self._conservative(2 * target))
        return (0 if median < 0 else _round_half_away(median)), target

    def _median(self, horizon: Horizon, target: int, success: float) -> float:
        return self.stats[horizon.name].estimate_median(target, horizon.sufficient, success, self.best_height)

    def _combined(self, target: int, success: float, check_shorter: bool) -> float:
        """Core's estimateCombinedFee: from the shortest horizon tracking `target`; with
        `check_shorter`, a lower answer of a shorter horizon at its own longest target wins."""
        if not 1 <= target <= self.highest_target(LONG):
            return -1
        horizon = next(h for h in HORIZONS if target <= self.highest_target(h))
        estimate = self._median(horizon, target, success)
        if check_shorter:
            for shorter in (MEDIUM, SHORT):
                if target > self.highest_target(shorter):
                    other = self._median(shorter, self.highest_target(shorter), success)
                    if other > 0 and (estimate == -1 or other < estimate):
                        estimate = other
        return estimate

    def _conservative(self, double_target: int) -> float:
        """Core's estimateConservativeFee: 95% at 2*target in the medium and long horizons too."""
        estimate = -1.0
        if double_target <= self.highest_target(SHORT):
            estimate = self._median(MEDIUM, double_target, DOUBLE_SUCCESS_PCT)
        if double_target <= self.highest_target(MEDIUM):
            estimate = max(estimate, self._median(LONG, double_target, DOUBLE_SUCCESS_PCT))
        return estimate

    # --- the file ------------------------------------------------------------------------

    def serialize(self) -> bytes:
        """The estimates in Core's fee_estimates.dat layout (the module docstring)."""
        out = BytesIO()
        if self.block_span() > self.historical_block_span() // 2:
            first, best = self.first_recorded_height, self.best_height
        else:
            first, best = self.historical_first, self.historical_best
        out.write(struct.pack("<iIII", FILE_VERSION, self.best_height, first, best))
        _write_doubles(out, self.buckets)
        for horizon in (MEDIUM, SHORT, LONG):  # Core's order: feeStats, shortStats, longStats
            self.stats[horizon.name].write(out)
        return out.getvalue()

    def deserialize(self, data: bytes) -> None:
        """Replace the estimates with a file's; raises EstimatorFileError (nothing changed) when
        it is damaged or of another version."""
        stream = BytesIO(data)
        try:
            version, best = struct.unpack("<iI", _read_exact(stream, 8))
            if version > FILE_VERSION:
                raise EstimatorFileError(f"File version ({version}) too high to be read.")
            if version < FILE_VERSION:
                raise EstimatorFileError(f"Incompatible old fee estimation data. Version: {version}")
            first, historical_best = struct.unpack("<II", _read_exact(stream, 8))
            if first > historical_best or historical_best > best:
                raise EstimatorFileError("Historical block range for estimates is invalid")
            buckets = _read_doubles(stream)
            if not 1 < len(buckets) <= MAX_FILE_BUCKETS:
                raise EstimatorFileError("Must have between 2 and 1000 feerate buckets")
            stats = {horizon.name: ConfirmStats.read(stream, buckets) for horizon in (MEDIUM, SHORT, LONG)}
        except (struct.error, EOFError) as error:
            raise EstimatorFileError(f"truncated: {error}") from None
        self.buckets, self.stats = buckets, stats
        self.best_height, self.historical_first, self.historical_best = best, first, historical_best
        self.first_recorded_height = 0
        self._tracked.clear()

    def save(self, path: Path) -> None:
        """Write the estimates to `path` (a temporary file renamed over it: never half written)."""
        temporary = path.with_name(path.name + ".new")
        temporary.write_bytes(self.serialize())
        os.replace(temporary, path)

    def load(self, path: Path, now: float | None = None, accept_stale: bool = False) -> bool:
        """Read the estimates saved at `path`, unless missing, older than MAX_FILE_AGE (by its
        modification time against `now`, default the real clock; `accept_stale`: whatever its
        age) or damaged: then log why and stay as it is. Returns whether they were loaded."""
        try:
            age = (time.time() if now is None else now) - path.stat().st_mtime
            data = path.read_bytes()
        except FileNotFoundError:
            log.info("%s is not found. Continue anyway.", path)
            return False
        except OSError as error:
            log.warning("Failed to read fee estimates from %s: %s. Continue anyway.", path, error)
            return False
        if age > MAX_FILE_AGE and not accept_stale:
            log.warning("Fee estimation file %s too old (age=%d > %d hours) and will not be used to avoid serving "
                        "stale estimates.", path, age // 3600, MAX_FILE_AGE // 3600)
            return False
        try:
            self.deserialize(data)
        except EstimatorFileError as error:
            log.warning("Unable to read policy estimator data (non-fatal): %s. Continue anyway.", error)
            return False
        return True


def _write_doubles(out: BinaryIO, values: list[float]) -> None:
    out.write(wire.write_compact_size(len(values)) + struct.pack(f"<{len(values)}d", *values))


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f"{size} bytes wanted, {len(data)} left")
    return data


def _read_count(stream: BinaryIO) -> int:
    first = _read_exact(stream, 1)[0]
    if first < 0xFD:
        return first
    size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    count = int.from_bytes(_read_exact(stream, size), "little")
    if count > MAX_FILE_CONFIRMS * MAX_FILE_BUCKETS:
        raise EstimatorFileError(f"a vector of {count} values")
    return count


def _read_doubles(stream: BinaryIO) -> list[float]:
    count = _read_count(stream)
    return list(struct.unpack(f"<{count}d", _read_exact(stream, 8 * count)))


def _read_double(stream: BinaryIO) -> float:
    return struct.unpack("<d", _read_exact(stream, 8))[0]


def _read_u32(stream: BinaryIO) -> int:
    return struct.unpack("<I", _read_exact(stream, 4))[0]
