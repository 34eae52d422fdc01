"""Core's per-block statistics (`getblockstats`): fees, fee rates, sizes, weights and the UTXO
set's growth of one connected block, computed from the block and the coins it spent (its undo
data). All amounts in satoshis, fee rates in sat/vB, integer arithmetic as Core's."""

from __future__ import annotations

from typing import Any, Sequence

from pantheon import wire
from pantheon.chain.coins import Coin
from pantheon.chain.script import is_unspendable
from pantheon.primitives import Block, TxOut

__all__ = ["STAT_NAMES", "block_stats", "truncated_median", "percentiles_by_weight"]

#: Core's stat names, in its (alphabetical) order.
STAT_NAMES = (
    "avgfee", "avgfeerate", "avgtxsize", "blockhash", "feerate_percentiles", "height", "ins", "maxfee",
    "maxfeerate", "maxtxsize", "medianfee", "mediantime", "mediantxsize", "minfee", "minfeerate", "mintxsize",
    "outs", "subsidy", "swtotal_size", "swtotal_weight", "swtxs", "time", "total_out", "total_size",
    "total_weight", "totalfee", "txs", "utxo_increase", "utxo_size_inc", "utxo_increase_actual",
    "utxo_size_inc_actual",
)
#: Core's PER_UTXO_OVERHEAD: an outpoint (36 bytes), a height (4) and the coinbase flag (1).
PER_UTXO_OVERHEAD = 36 + 4 + 1
WITNESS_SCALE_FACTOR = 4


def _utxo_size(txout: TxOut) -> int:
    """Core's GetSerializeSize of an output plus PER_UTXO_OVERHEAD."""
    script = txout.script_pubkey
    return 8 + len(wire.write_compact_size(len(script))) + len(script) + PER_UTXO_OVERHEAD


def truncated_median(values: list[int]) -> int:
    """Core's CalculateTruncatedMedian: the middle value, or the two middle ones' mean rounded
    down; 0 for none."""
    if not values:
        return 0
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2


def percentiles_by_weight(rates: list[tuple[int, int]], total_weight: int) -> list[int]:
    """Core's CalculatePercentilesByWeight: the fee rates at the 10th, 25th, 50th, 75th and 90th
    percentile weight unit of the block's transactions, lowest rate first."""
    if not rates:
        return [0] * 5
    ordered = sorted(rates)
    marks = (total_weight / 10.0, total_weight / 4.0, total_weight / 2.0, total_weight * 3.0 / 4.0,
             total_weight * 9.0 / 10.0)
    result: list[int] = []
    cumulative = 0
    for rate, weight in ordered:
        cumulative += weight
        while len(result) < len(marks) and cumulative >= marks[len(result)]:
            result.append(rate)
    return result + [ordered[-1][0]] * (len(marks) - len(result))


def block_stats(block: Block, spent: Sequence[Sequence[Coin]], *, block_hash: str, height: int,
                median_time: int, subsidy: int, bip30_repeat: bool) -> dict[str, Any]:
    """Every statistic of Core's getblockstats for a block whose non-coinbase transactions spent
    `spent` (per transaction, per input). The genesis block's outputs and a BIP30 repeat's
    coinbase outputs (`bip30_repeat`) never entered the UTXO set: the "actual" figures skip them."""
    fees: list[int] = []
    sizes: list[int] = []
    rates: list[tuple[int, int]] = []
    inputs = outputs = total_out = total_size = total_weight = 0
    sw_txs = sw_size = sw_weight = utxos = utxo_size = utxo_size_actual = 0
    for position, tx in enumerate(block.transactions):
        outputs += len(tx.outputs)
        tx_out = 0
        for txout in tx.outputs:
            tx_out += txout.value
            size = _utxo_size(txout)
            utxo_size += size
            if height and not (bip30_repeat and position == 0) and not is_unspendable(txout.script_pubkey):
                utxos += 1
                utxo_size_actual += size
        if position == 0:
            continue
        inputs += len(tx.inputs)
        total_out += tx_out
        size, weight = tx.size, tx.weight
        sizes.append(size)
        total_size += size
        total_weight += weight
        if tx.has_witness:
            sw_txs += 1
            sw_size += size
            sw_weight += weight
        tx_in = 0
        for coin in spent[position - 1]:
            tx_in += coin.value
            spent_size = _utxo_size(TxOut(coin.value, coin.script_pubkey))
            utxo_size -= spent_size
            utxo_size_actual -= spent_size
        fee = tx_in - tx_out
        fees.append(fee)
        rates.append((fee * WITNESS_SCALE_FACTOR // weight if weight else 0, weight))
    count = len(block.transactions)
    return {
        "avgfee": sum(fees) // (count - 1) if count > 1 else 0,
        "avgfeerate": sum(fees) * WITNESS_SCALE_FACTOR // total_weight if total_weight else 0,
        "avgtxsize": total_size // (count - 1) if count > 1 else 0,
        "blockhash": block_hash,
        "feerate_percentiles": percentiles_by_weight(rates, total_weight),
        "height": height, "ins": inputs,
        "maxfee": max(fees, default=0), "maxfeerate": max((rate for rate, _ in rates), default=0),
        "maxtxsize": max(sizes, default=0), "medianfee": truncated_median(fees), "mediantime": median_time,
        "mediantxsize": truncated_median(sizes), "minfee": min(fees, default=0),
        "minfeerate": min((rate for rate, _ in rates), default=0), "mintxsize": min(sizes, default=0),
        "outs": outputs, "subsidy": subsidy, "swtotal_size": sw_size, "swtotal_weight": sw_weight,
        "swtxs": sw_txs, "time": block.header.timestamp, "total_out": total_out, "total_size": total_size,
        "total_weight": total_weight, "totalfee": sum(fees), "txs": count, "utxo_increase": outputs - inputs,
        "utxo_size_inc": utxo_size, "utxo_increase_actual": utxos - inputs,
        "utxo_size_inc_actual": utxo_size_actual,
    }
