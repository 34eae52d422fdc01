"""Core's fee RPCs (`rpc/fees.cpp`): `estimatesmartfee` and the test-oriented `estimaterawfee`,
answered from the node's fee estimator (chain/feeestimator.py). Core 31 has no `estimatefee`
(removed in 0.17, its stub since gone): it is "Method not found" here too."""

from __future__ import annotations

import math
from typing import Any

from pantheon.chain.feeestimator import HORIZONS, BucketRange, EstimationResult, FeeEstimator
from pantheon.rpc.arguments import check_types, int_arg
from pantheon.rpc.errors import RPC_INTERNAL_ERROR, RPC_INVALID_PARAMETER, RpcError
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
from pantheon.rpc.results import amount

__all__ = ["FeesRpc", "ESTIMATE_MODES"]

#: Core's fee estimate modes as estimatesmartfee reads them (any case); "unset" is economical.
ESTIMATE_MODES = ("unset", "economical", "conservative")
_INVALID_MODE = 'Invalid estimate_mode parameter, must be one of: "unset", "economical", "conservative"'
#: estimaterawfee's default share of a fee-rate range that must have confirmed in time.
DEFAULT_THRESHOLD = 0.95


class FeesRpc(RpcGroup):
    category = "util"

    def _estimator(self) -> FeeEstimator:
        """Core's EnsureAnyFeeEstimator."""
        estimator = self.node.fee_estimator
        if estimator is None:
            raise RpcError(RPC_INTERNAL_ERROR, "Fee estimation disabled")
        return estimator

    @rpc_method
    def estimatesmartfee(self, conf_target: Any, estimate_mode: Any = None) -> dict[str, Any]:
        """The fee rate (BTC/kvB) a transaction needs to start confirming within `conf_target`
        blocks (1 - 1008), and `blocks`, the target the estimate is for (clamped to 2 and to
        what the data seen so far allows); "errors" instead of "feerate" when there is too
        little data. `estimate_mode`: "economical" (the default, also "unset") or
        "conservative" (also requires the longer horizons' agreement)."""
        check_types(("conf_target", conf_target, "number"), ("estimate_mode", estimate_mode, "string"))
        estimator = self._estimator()
        target = _confirm_target(conf_target, estimator.highest_target())
        if estimate_mode is not None and estimate_mode.lower() not in ESTIMATE_MODES:
            raise RpcError(RPC_INVALID_PARAMETER, _INVALID_MODE)
        conservative = estimate_mode is not None and estimate_mode.lower() == "conservative"
        rate, blocks = estimator.estimate_smart_fee(target, conservative)
        result: dict[str, Any] = {}
        if rate:
            pool = self.node.mempool  # Core: never below what the mempool and relay accept now
            floor = max(math.floor(pool.min_fee_rate() * 1000 + 0.5), pool.min_relay_fee)
            result["feerate"] = amount(max(rate, floor))
        else:
            result["errors"] = ["Insufficient data or no feerate found"]
        result["blocks"] = blocks
        return result

    @rpc_method(category=HIDDEN)
    def estimaterawfee(self, conf_target: Any, threshold: Any = None) -> dict[str, Any]:
        """Unstable, tied to the estimator's workings: for each horizon (short, medium, long)
        tracking `conf_target` blocks, the lowest fee rate whose range confirmed at least
        `threshold` (default 0.95) of its transactions in time, with the passing and failing
        ranges' counts."""
        check_types(("conf_target", conf_target, "number"), ("threshold", threshold, "number"))
        estimator = self._estimator()
        target = _confirm_target(conf_target, estimator.highest_target())
        success = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        if not 0 <= success <= 1:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid threshold")
        result: dict[str, Any] = {}
        for horizon in HORIZONS:
            if target > estimator.highest_target(horizon):
                continue
            found = EstimationResult()
            rate = estimator.estimate_raw_fee(target, success, horizon, found)
            entry: dict[str, Any] = {}
            if rate:
                entry["feerate"] = amount(rate)
            entry.update({"decay": found.decay, "scale": found.scale})
            if rate:
                entry["pass"] = _range_json(found.passed)
                if found.failed.start != -1:  # -1: every range passed
                    entry["fail"] = _range_json(found.failed)
            else:
                entry["fail"] = _range_json(found.failed)
                entry["errors"] = ["Insufficient data or no feerate found which meets threshold"]
            result[horizon.name] = entry
        return result


def _confirm_target(value: Any, highest: int) -> int:
    """Core's ParseConfirmTarget."""
    target = int_arg(value, "conf_target")
    if not 1 <= target <= highest:
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid conf_target, must be between 1 and {highest}")
    return target


def _half_away(value: float) -> float:
    """C's round(): halves away from zero."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _number(value: float) -> float | int:
    """A whole figure as a JSON integer, as Core's UniValue prints it (1e99 stays a double)."""
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def _range_json(bucket: BucketRange) -> dict[str, Any]:
    """Core's pass/fail objects: the range's bounds (sat/kvB) and counts to two decimals."""
    return {"startrange": _number(_half_away(bucket.start)), "endrange": _number(_half_away(bucket.end)),
            **{name: _number(_half_away(value * 100) / 100) for name, value in (
                ("withintarget", bucket.within_target), ("totalconfirmed", bucket.total_confirmed),
                ("inmempool", bucket.in_mempool), ("leftmempool", bucket.left_mempool))}}
