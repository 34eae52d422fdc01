"""Consensus rules that need the spent coins or the chain: Bitcoin Core's `Consensus::CheckTxInputs`,
`IsFinalTx`, BIP68 sequence locks, the signature-operation cost with P2SH and witness sigops, and
the block subsidy.

Shared by block connection (`chainstate`) and the mempool, which apply the same rules at
different points (a block at its height; a transaction as if in the block after the tip). Pure
functions over our types: no store, no scripts run (script execution is `chain/scripts`).
Rejections raise `TxRejected` with Core's reason strings.
"""

from __future__ import annotations

from typing import Callable, Sequence

from pantheon.chain.coins import COINBASE_MATURITY, Coin, CoinView
from pantheon.chain.script import OP_16, MalformedScript, is_p2sh, script_ops, witness_program
from pantheon.chain.validation import (
    COIN,
    MAX_MONEY,
    WITNESS_SCALE_FACTOR,
    TxRejected,
    is_coinbase,
    legacy_sigop_count,
    tx_legacy_sigop_count,
)
from pantheon.params import Network
from pantheon.primitives import Block, Tx

__all__ = [
    "LOCKTIME_THRESHOLD",
    "SEQUENCE_FINAL",
    "block_subsidy",
    "check_spent_values",
    "check_tx_inputs",
    "is_final_tx",
    "missing_inputs",
    "sequence_locks",
    "sequence_locks_met",
    "tx_sigop_cost",
    "nonfinal_tx",
]

#: nLockTime below this is a height, at or above it a UNIX time.
LOCKTIME_THRESHOLD = 500_000_000
SEQUENCE_FINAL = 0xFFFF_FFFF
# BIP68: bit 31 disables the relative lock, bit 22 makes it time-based in 512 s units.
_SEQUENCE_DISABLE = 1 << 31
_SEQUENCE_TYPE_TIME = 1 << 22
_SEQUENCE_MASK = 0xFFFF
_SEQUENCE_GRANULARITY = 9
_MAX_HALVINGS = 64
_P2WPKH_START, _P2TR_START = b"\x00\x14", b"\x51\x20"  # version 0 + push 20; OP_1 + push 32
_P2PKH_START = b"\x76\xa9"  # DUP HASH160: no 25-byte script so starting is P2SH or a witness program


def block_subsidy(height: int, network: Network) -> int:
    """Core's `GetBlockSubsidy`: 50 coins halved every `subsidy_halving_interval` blocks, 0 after 64."""
    halvings = height // network.subsidy_halving_interval
    return 0 if halvings >= _MAX_HALVINGS else (50 * COIN) >> halvings


def check_tx_inputs(tx: Tx, view: CoinView, spend_height: int) -> tuple[int, list[Coin]]:
    """Core's `Consensus::CheckTxInputs`: every input's coin exists, coinbase coins are mature at
    `spend_height`, values are in range and cover the outputs. Returns (fee, coins in input order)."""
    coins: list[Coin] = []
    for txin in tx.inputs:
        coin = view.get_coin(txin.outpoint)
        if coin is None:
            raise missing_inputs(tx)
        coins.append(coin)
    return check_spent_values(tx, coins, spend_height), coins


def missing_inputs(tx: Tx) -> TxRejected:
    """CheckTxInputs' rejection of a transaction an input of which spends no unspent coin."""
    return TxRejected("bad-txns-inputs-missingorspent", tx.txid, "inputs missing/spent")


def check_spent_values(tx: Tx, coins: Sequence[Coin], spend_height: int) -> int:
    """The rest of `check_tx_inputs` once the coins are found (a block's connect finds them by
    their keys): maturity, value ranges, inputs covering outputs. Returns the fee."""
    value_in = 0
    for coin in coins:
        if coin.coinbase and spend_height - coin.height < COINBASE_MATURITY:
            raise TxRejected("bad-txns-premature-spend-of-coinbase", tx.txid,
                             f"tried to spend coinbase at depth {spend_height - coin.height}")
        value_in += coin.value
        if not 0 <= coin.value <= MAX_MONEY or value_in > MAX_MONEY:
            raise TxRejected("bad-txns-inputvalues-outofrange", tx.txid)
    value_out = sum(txout.value for txout in tx.outputs)
    if value_in < value_out:
        raise TxRejected("bad-txns-in-belowout", tx.txid, f"value in ({value_in}) < value out ({value_out})")
    return value_in - value_out


def is_final_tx(tx: Tx, height: int, cutoff_time: int) -> bool:
    """Core's `IsFinalTx`: nLockTime is 0 or already passed (as a height, or as a time against
    `cutoff_time`), or every input opted out with a final sequence."""
    locktime = tx.locktime
    if locktime == 0:
        return True
    if locktime < (height if locktime < LOCKTIME_THRESHOLD else cutoff_time):
        return True
    return all(txin.sequence == SEQUENCE_FINAL for txin in tx.inputs)


def nonfinal_tx(block: Block, height: int, cutoff_time: int) -> Tx | None:
    """The first transaction of `block` that is not final at `height` (Core's ContextualCheckBlock:
    `cutoff_time` is the parent's median-time-past once BIP113/CSV is active, else the block's time)."""
    for tx in block.transactions:
        if not is_final_tx(tx, height, cutoff_time):
            return tx
    return None


def sequence_locks(tx: Tx, coin_heights: Sequence[int], mtp_at: Callable[[int], int]) -> tuple[int, int]:
    """Core's `CalculateSequenceLocks` with BIP68 enforced: the (height, time) a transaction's
    relative locks must be *past*, -1 meaning none. `mtp_at(h)` is the median-time-past of the
    spending chain's block at height h. The caller decides whether BIP68 is active (CSV)."""
    min_height = min_time = -1
    if tx.version & 0xFFFF_FFFF < 2:  # Core compares the version unsigned: -1 is 0xffffffff, BIP68 applies
        return min_height, min_time
    for txin, coin_height in zip(tx.inputs, coin_heights, strict=True):
        sequence = txin.sequence
        if sequence & _SEQUENCE_DISABLE:
            continue
        value = sequence & _SEQUENCE_MASK
        if sequence & _SEQUENCE_TYPE_TIME:
            coin_time = mtp_at(max(coin_height - 1, 0))
            min_time = max(min_time, coin_time + (value << _SEQUENCE_GRANULARITY) - 1)
        else:
            min_height = max(min_height, coin_height + value - 1)
    return min_height, min_time


def sequence_locks_met(locks: tuple[int, int], height: int, parent_mtp: int) -> bool:
    """Core's `EvaluateSequenceLocks`: a block at `height` whose parent's MTP is `parent_mtp`
    may include the transaction."""
    min_height, min_time = locks
    return min_height < height and min_time < parent_mtp


def tx_sigop_cost(tx: Tx, coins: Sequence[Coin], p2sh: bool = True, witness: bool = True) -> int:
    """Core's `GetTransactionSigOpCost`: legacy sigops x4, plus P2SH redeem-script sigops x4, plus
    witness sigops x1 (when those rules are active); `coins` are the spent outputs in input order."""
    cost = tx_legacy_sigop_count(tx) * WITNESS_SCALE_FACTOR
    if is_coinbase(tx):
        return cost
    for txin, coin in zip(tx.inputs, coins, strict=True):
        spent = coin.script_pubkey
        # Most spends are of three shapes, told by their size and first two bytes, none P2SH:
        # P2WPKH counts one witness sigop, P2TR and P2PKH none here (what the general path finds).
        shape = spent[:2]
        size = len(spent)
        if size == 22 and shape == _P2WPKH_START:
            cost += 1 if witness else 0
            continue
        if (size == 34 and shape == _P2TR_START) or (size == 25 and shape == _P2PKH_START):
            continue
        redeem = _p2sh_redeem_script(spent, txin.script_sig)
        if p2sh and redeem is not None:
            cost += legacy_sigop_count(redeem, accurate=True) * WITNESS_SCALE_FACTOR
        if witness:
            found = witness_program(spent)
            if found is None and redeem is not None:  # P2SH-wrapped: the redeem script is the program
                found = witness_program(redeem)
            if found is not None and found[0] == 0:
                cost += _witness_v0_sigops(found[1], txin.witness)
    return cost


def _p2sh_redeem_script(script_pubkey: bytes, script_sig: bytes) -> bytes | None:
    """The redeem script a P2SH spend reveals: the scriptSig's last push when the scriptSig is
    push-only (Core's `GetSigOpCount(scriptSig)`); None if the output is not P2SH or the
    scriptSig does not qualify."""
    if not is_p2sh(script_pubkey):
        return None
    last = b""
    try:
        for opcode, data in script_ops(script_sig):
            if opcode > OP_16:
                return None
            last = data if data is not None else b""
    except MalformedScript:
        return None
    return last


def _witness_v0_sigops(program: bytes, witness: tuple[bytes, ...]) -> int:
    """Core's `WitnessSigOps` for version 0: P2WPKH counts 1, P2WSH the witness script's accurate
    count; other versions (taproot included) count nothing here."""
    size = len(program)
    if size == 20:
        return 1
    if size == 32 and witness:
        return legacy_sigop_count(witness[-1], accurate=True)
    return 0
