"""Coin- and chain-dependent consensus rules (`pantheon.chain.contextual`) on both wire twins:
Core's CheckTxInputs reasons, IsFinalTx, BIP68 sequence locks, sigop cost on real mainnet spends,
and the subsidy schedule."""

from __future__ import annotations


import pytest

from helpers.chain import spend
from helpers.vectors import TYPED_TXS
from pantheon import params, wire
from pantheon.chain.coins import Coin
from pantheon.chain.contextual import (
    COIN,
    block_subsidy,
    check_tx_inputs,
    is_final_tx,
    nonfinal_tx,
    sequence_locks,
    sequence_locks_met,
    tx_sigop_cost,
)
from pantheon.chain.validation import MAX_MONEY, TxRejected
from pantheon.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut

P2PKH_SCRIPT = bytes.fromhex("76a914" + "11" * 20 + "88ac")


class DictView:
    """A CoinView over a plain dict: the rules here read coins, they do not store them."""

    def __init__(self, coins: dict[OutPoint, Coin]) -> None:
        self.coins = coins

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        return self.coins.get(outpoint)


def test_subsidy_halves_on_schedule_and_ends_after_64_halvings() -> None:
    assert block_subsidy(0, params.MAIN) == 50 * COIN
    assert block_subsidy(209_999, params.MAIN) == 50 * COIN
    assert block_subsidy(210_000, params.MAIN) == 25 * COIN
    assert block_subsidy(840_000, params.MAIN) == 3 * COIN + COIN // 8
    assert block_subsidy(150, params.REGTEST) == 25 * COIN
    assert block_subsidy(33 * 210_000, params.MAIN) == 0  # 50 BTC >> 33 is already below one satoshi
    assert block_subsidy(64 * 150, params.REGTEST) == 0
    assert block_subsidy(63 * 150, params.REGTEST) == 0


def test_check_tx_inputs_returns_fee_and_coins_in_input_order() -> None:
    a, b = OutPoint(b"\xaa" * 32, 0), OutPoint(b"\xbb" * 32, 3)
    coins = {a: Coin(700, P2PKH_SCRIPT, 5, False), b: Coin(300, P2PKH_SCRIPT, 6, False)}
    fee, spent = check_tx_inputs(spend([(b.txid, b.index), (a.txid, a.index)], [900]), DictView(coins), 7)
    assert fee == 100
    assert spent == [coins[b], coins[a]]


@pytest.mark.parametrize(("coin", "value_out", "height", "reason"), [
    (None, 1, 10, "bad-txns-inputs-missingorspent"),
    (Coin(50, P2PKH_SCRIPT, 1, True), 1, 100, "bad-txns-premature-spend-of-coinbase"),
    (Coin(50, P2PKH_SCRIPT, 1, False), 51, 10, "bad-txns-in-belowout"),
    (Coin(MAX_MONEY + 1, P2PKH_SCRIPT, 1, False), 1, 10, "bad-txns-inputvalues-outofrange"),
    (Coin(-1, P2PKH_SCRIPT, 1, False), 0, 10, "bad-txns-inputvalues-outofrange"),
])
def test_check_tx_inputs_rejects_with_cores_reason(coin: Coin | None, value_out: int, height: int,
                                                   reason: str) -> None:
    outpoint = OutPoint(b"\xcc" * 32, 1)
    view = DictView({} if coin is None else {outpoint: coin})
    with pytest.raises(TxRejected) as caught:
        check_tx_inputs(spend([(outpoint.txid, 1)], [value_out]), view, height)
    assert caught.value.reason == reason


def test_coinbase_matures_after_exactly_100_blocks() -> None:
    outpoint = OutPoint(b"\xdd" * 32, 0)
    view = DictView({outpoint: Coin(50, P2PKH_SCRIPT, 10, True)})
    assert check_tx_inputs(spend([(outpoint.txid, 0)], [50]), view, 110)[0] == 0
    with pytest.raises(TxRejected, match="depth 99"):
        check_tx_inputs(spend([(outpoint.txid, 0)], [50]), view, 109)


def test_is_final_tx_reads_locktime_as_height_or_time() -> None:
    prevout = (b"\x01" * 32, 0)
    assert is_final_tx(spend([prevout], [1], sequence=0), 100, 0)
    assert is_final_tx(spend([prevout], [1], sequence=0, locktime=99), 100, 0)
    assert not is_final_tx(spend([prevout], [1], sequence=0, locktime=100), 100, 0)
    final = 0xFFFF_FFFF
    assert is_final_tx(spend([prevout], [1], sequence=final, locktime=100), 100, 0)  # every input's sequence is final
    assert is_final_tx(spend([prevout], [1], sequence=0, locktime=1_600_000_000), 1, 1_600_000_001)
    assert not is_final_tx(spend([prevout], [1], sequence=0, locktime=1_600_000_000), 10**6, 1_600_000_000)


def test_nonfinal_tx_names_the_first_nonfinal_transaction() -> None:
    coinbase = Tx(1, [TxIn(bytes(32), 0xFFFF_FFFF, b"\x01\x01")], [TxOut(50, P2PKH_SCRIPT)], 0)
    late = spend([(b"\x02" * 32, 0)], [1], sequence=0, locktime=200)
    header = BlockHeader(4, bytes(32), bytes(32), 0, 0x207FFFFF, 0)
    block = Block(header, (coinbase, late))
    assert nonfinal_tx(block, 200, 0) is late
    assert nonfinal_tx(block, 201, 0) is None


def test_sequence_locks_by_height_and_time() -> None:
    mtp = {h: 1_000_000 + 600 * h for h in range(300)}.__getitem__
    by_height = spend([(b"\x03" * 32, 0)], [1], sequence=10)
    assert sequence_locks(by_height, [100], mtp) == (109, -1)
    assert not sequence_locks_met((109, -1), 109, mtp(108))
    assert sequence_locks_met((109, -1), 110, mtp(109))
    by_time = spend([(b"\x03" * 32, 0)], [1], sequence=(1 << 22) | 2)  # 2 x 512 s after the coin's parent MTP
    assert sequence_locks(by_time, [100], mtp) == (-1, mtp(99) + 1024 - 1)
    assert not sequence_locks_met((-1, mtp(99) + 1023), 200, mtp(99) + 1023)
    assert sequence_locks_met((-1, mtp(99) + 1023), 200, mtp(99) + 1024)


def test_sequence_locks_are_off_for_version_1_and_disabled_inputs() -> None:
    mtp = lambda height: 0  # noqa: E731 - never asked
    assert sequence_locks(spend([(b"\x04" * 32, 0)], [1], sequence=10, version=1), [5], mtp) == (-1, -1)
    assert sequence_locks(spend([(b"\x04" * 32, 0)], [1], sequence=(1 << 31) | 10), [5], mtp) == (-1, -1)


def test_sequence_locks_read_the_version_unsigned_as_core() -> None:
    mtp = lambda height: 0  # noqa: E731 - never asked
    negative = spend([(b"\x04" * 32, 0)], [1], sequence=10, version=-1)  # 0xffffffff on the wire: >= 2 unsigned
    assert sequence_locks(negative, [5], mtp) == (14, -1)
    assert sequence_locks(spend([(b"\x04" * 32, 0)], [1], sequence=10, version=-(2**31)), [5], mtp) == (14, -1)


def typed(kind: str) -> tuple[Tx, list[Coin]]:
    """A typed mainnet spend and its spent outputs: the known one, and empty scripts for the rest."""
    entry = next(e for e in TYPED_TXS if e["type"] == kind)
    tx = wire.decode_tx(bytes.fromhex(entry["hex"]))
    spent = entry["spent_output"]
    coins = [Coin(spent["amount_sat"] or 0, bytes.fromhex(spent["script_pubkey_hex"]), 1, False)
             if i == spent["input_index"] else Coin(0, b"", 1, False) for i in range(len(tx.inputs))]
    return tx, coins


@pytest.mark.parametrize(("kind", "cost", "without_p2sh", "without_witness"), [
    ("P2PKH", 8, 8, 8),  # two P2PKH outputs x4; a P2PKH input's sigop is in the spent script
    ("multisig P2SH", 16, 4, 16),  # a P2PKH output x4 + a 2-of-3 redeem script: accurate count 3, x4
    ("P2SH-P2WPKH", 1, 1, 0),  # a P2SH output counts nothing; the nested P2WPKH program counts 1
    ("native P2WPKH", 1, 1, 0),
    ("P2WSH", 1, 1, 0),  # the HTLC witness script holds one OP_CHECKSIG
    ("P2TR key-path", 0, 0, 0),  # taproot has a per-input budget instead of sigops
])
def test_sigop_cost_of_real_mainnet_spends(kind: str, cost: int, without_p2sh: int, without_witness: int) -> None:
    tx, coins = typed(kind)
    assert tx_sigop_cost(tx, coins) == cost
    assert tx_sigop_cost(tx, coins, p2sh=False) == without_p2sh
    assert tx_sigop_cost(tx, coins, witness=False) == without_witness
