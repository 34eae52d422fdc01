"""The UTXO set (`pantheon.chain.utxo`) under the chain state, on both wire twins: the record
formats, the write-back cache, and the 471-block regtest chain bcoin mined with real wallet spends
connected from genesis, disconnected back byte for byte, and reconnected."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import pytest

from helpers.chain import CHAIN_JSON, read_chain, recompute_utxo, snapshot
from pantheon.chain.chainstate import BCOIN_REGTEST, Chainstate
from pantheon.chain.coins import Coin
from pantheon.chain.script import is_unspendable
from pantheon.chain.utxo import (
    ENTRY_OVERHEAD,
    UtxoSet,
    coin_key,
    decode_coin,
    decode_undo,
    encode_coin,
    encode_undo,
)
from pantheon.hashing import hash_to_hex
from pantheon.params import REGTEST, Network
from pantheon.primitives import Block, OutPoint
from pantheon.store import Store

P2PKH = bytes.fromhex("76a914" + "11" * 20 + "88ac")
NETWORKS = [pytest.param(REGTEST, id="core-heights"), pytest.param(BCOIN_REGTEST, id="bcoin-heights")]


@pytest.fixture(scope="module")
def chain(wire_impl: Any) -> list[Block]:
    return read_chain(wire_impl.module.decode_block)


def open_chainstate(path: Path, network: Network = REGTEST, **options: Any) -> tuple[Store, Chainstate]:
    store = Store.open(path)
    return store, Chainstate(store, network, **options)


# --- records -------------------------------------------------------------------------------

@pytest.mark.parametrize(("coin", "record"), [
    # varint(height*2+coinbase) | varint(value) | script
    (Coin(50_0000_0000, b"\x51", 1, True), "03" "80e497d012" "51"),
    (Coin(1, P2PKH, 300, False), "d804" "01" + P2PKH.hex()),
    (Coin(0, b"", 0, False), "00" "00"),
])
def test_coin_record_layout(coin: Coin, record: str) -> None:
    assert encode_coin(coin).hex() == record
    assert decode_coin(bytes.fromhex(record)) == coin


def test_undo_record_is_length_prefixed_coins_in_order() -> None:
    coins = [Coin(7, P2PKH, 3, False), Coin(2**40, b"", 2**20, True)]
    data = encode_undo(coins)
    assert data[0] == len(encode_coin(coins[0]))
    assert decode_undo(data) == coins
    assert decode_undo(b"") == []


def test_keys_sort_a_transactions_outputs_together() -> None:
    assert coin_key(b"\xaa" * 32, 1) == b"\xaa" * 32 + b"\x00\x00\x00\x01"
    assert sorted([coin_key(b"\x01" * 32, 256), coin_key(b"\x01" * 32, 2)])[0].endswith(b"\x02")


def test_unspendable_outputs_are_cores() -> None:
    assert is_unspendable(b"\x6a\x04abcd")
    assert is_unspendable(b"\x51" * 10_001)
    assert not is_unspendable(b"")
    assert not is_unspendable(P2PKH)


# --- the cache -----------------------------------------------------------------------------

def test_a_coin_created_and_spent_between_flushes_never_reaches_the_database(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        coins = UtxoSet(store)
        coins.set_tip(b"\x01" * 32, 1)
        coins.add(b"k" * 36, Coin(5, P2PKH, 1, False))
        assert coins.spend(b"k" * 36) == Coin(5, P2PKH, 1, False)
        assert not coins.dirty and coins.cache_bytes == 0
        coins.flush()
        assert snapshot(store) == {}
        assert UtxoSet(store).tip == (b"\x01" * 32, 1)


def test_flush_writes_coins_and_tip_together_and_spends_delete(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        coins = UtxoSet(store, max_cache_bytes=10**6)
        coins.set_tip(b"\x01" * 32, 1)
        key = coin_key(b"\xab" * 32, 0)
        coins.add(key, Coin(5, P2PKH, 1, False))
        assert snapshot(store) == {}
        coins.flush()
        assert snapshot(store) == {key: encode_coin(Coin(5, P2PKH, 1, False))}
        assert coins.cache_bytes == ENTRY_OVERHEAD + len(P2PKH)  # kept, clean: under the bound
        coins.spend(key)
        coins.set_tip(b"\x02" * 32, 2)
        coins.flush()
        assert snapshot(store) == {}
        reopened = UtxoSet(store)
        assert reopened.tip == (b"\x02" * 32, 2)
        assert reopened.get_coin(OutPoint(b"\xab" * 32, 0)) is None


def test_over_its_bound_the_cache_empties_on_flush_and_reads_back_from_the_database(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        coins = UtxoSet(store, max_cache_bytes=ENTRY_OVERHEAD)
        coins.set_tip(b"\x01" * 32, 1)
        for index in range(3):
            coins.add(coin_key(b"\xcd" * 32, index), Coin(index, P2PKH, 1, False))
        assert coins.over_bound
        coins.flush()
        assert coins.cache_bytes == 0
        assert coins.get_coin(OutPoint(b"\xcd" * 32, 2)) == Coin(2, P2PKH, 1, False)
        assert coins.cache_bytes == ENTRY_OVERHEAD + len(P2PKH)


def test_the_cursor_walks_flushed_and_unflushed_coins_in_key_order_as_of_its_call(tmp_path: Path) -> None:
    """Core's CCoinsViewCursor over a flushed view: the database's coins overlaid with the
    cache's changes (new coins in, spent ones out), and changes after the call unseen."""
    def walk(cursor: Iterator[tuple[OutPoint, Coin]]) -> list[tuple[bytes, int, int]]:
        return [(outpoint.txid[:1], outpoint.index, coin.value) for outpoint, coin in cursor]

    with Store.open(tmp_path) as store:
        coins = UtxoSet(store)
        coins.set_tip(b"\x01" * 32, 1)
        for txid, index, value in ((b"\x05", 1, 51), (b"\x05", 0, 50), (b"\x09", 0, 90), (b"\x02", 300, 20)):
            coins.add(coin_key(txid * 32, index), Coin(value, P2PKH, 1, False))
        coins.flush()
        coins.spend(coin_key(b"\x09" * 32, 0))
        coins.add(coin_key(b"\x07" * 32, 0), Coin(70, P2PKH, 2, True))
        cursor = coins.cursor()
        coins.add(coin_key(b"\x03" * 32, 0), Coin(30, P2PKH, 2, False))  # after the call: not walked
        coins.spend(coin_key(b"\x05" * 32, 0))
        coins.set_tip(b"\x02" * 32, 2)
        coins.flush()
        assert walk(cursor) == [(b"\x02", 300, 20), (b"\x05", 0, 50), (b"\x05", 1, 51), (b"\x07", 0, 70)]
        assert walk(coins.cursor()) == [(b"\x02", 300, 20), (b"\x03", 0, 30), (b"\x05", 1, 51), (b"\x07", 0, 70)]


def test_adding_over_an_unspent_coin_needs_possible_overwrite(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        coins = UtxoSet(store)
        coins.add(b"k" * 36, Coin(5, P2PKH, 1, True))
        with pytest.raises(ValueError, match="overwrite"):
            coins.add(b"k" * 36, Coin(6, P2PKH, 2, True))
        coins.add(b"k" * 36, Coin(6, P2PKH, 2, True), possible_overwrite=True)
        assert coins.get(b"k" * 36) == Coin(6, P2PKH, 2, True)


def test_a_blocks_changes_in_one_pass_leave_the_cache_as_spends_then_adds_do(tmp_path: Path) -> None:
    """`apply_block` against `spend` of each key then `add` of each coin (coinbase ones may
    overwrite): the same coins, usage and dirty entries, and the same records once flushed.
    The changes cover a flushed coin spent while only in the database, a fresh one spent, one
    absent, a coinbase coin over an unspent cached one, and new coins."""
    def prepared(path: Path) -> tuple[Store, UtxoSet]:
        store = Store.open(path)
        coins = UtxoSet(store)
        coins.set_tip(b"\x01" * 32, 1)
        for index in range(3):
            coins.add(coin_key(b"\x0a" * 32, index), Coin(index, P2PKH, 1, False))
        coins.flush()
        coins = UtxoSet(store)  # the flushed coins in the database only, none cached
        coins.get(coin_key(b"\x0a" * 32, 1))  # this one cached too
        coins.add(coin_key(b"\x0b" * 32, 0), Coin(7, P2PKH, 1, False))  # fresh: never flushed
        return store, coins

    spent = [coin_key(b"\x0a" * 32, 0), coin_key(b"\x0b" * 32, 0), coin_key(b"\x0c" * 32, 0)]
    added = {coin_key(b"\x0a" * 32, 1): Coin(9, b"\x51", 2, True), coin_key(b"\x0d" * 32, 0): Coin(4, P2PKH, 2, False)}
    (tmp_path / "one").mkdir()
    (tmp_path / "each").mkdir()
    one_store, one = prepared(tmp_path / "one")
    each_store, each = prepared(tmp_path / "each")
    with one_store, each_store:
        one.apply_block(spent, added)
        for key in spent:
            each.spend(key)
        for key, coin in added.items():
            each.add(key, coin, possible_overwrite=coin.coinbase)
        assert one.cache_bytes == each.cache_bytes
        assert one._cache == each._cache and one._dirty == each._dirty and one._fresh == each._fresh
        one.set_tip(b"\x02" * 32, 2)
        each.set_tip(b"\x02" * 32, 2)
        one.flush()
        each.flush()
        assert snapshot(one_store) == snapshot(each_store)
        with pytest.raises(ValueError, match="overwrite"):
            one.apply_block([], {coin_key(b"\x0d" * 32, 0): Coin(5, P2PKH, 3, False)})


def test_a_reverted_block_leaves_the_coins_as_they_were(tmp_path: Path) -> None:
    """`revert_block` after `apply_block` (a block whose scripts failed after its changes went
    in): every coin as before, flushed or not, the ones coinbase outputs overwrote included,
    whether they were cached or only in the database."""
    with Store.open(tmp_path) as store:
        coins = UtxoSet(store)
        coins.set_tip(b"\x01" * 32, 1)
        keys = [coin_key(b"\x0a" * 32, index) for index in range(4)] + [coin_key(b"\x0b" * 32, 0)]
        for index in range(4):
            coins.add(keys[index], Coin(index, P2PKH, 1, index == 3))
        coins.flush()
        before = {key: decode_coin(record) for key, record in snapshot(store).items()}
        coins = UtxoSet(store)  # in the database only, none cached
        for cached in keys[1:3]:
            coins.get(cached)
        before[keys[4]] = Coin(7, P2PKH, 1, False)
        coins.add(keys[4], before[keys[4]])  # fresh
        spent = {key: before[key] for key in (keys[0], keys[1], keys[4])}  # from the database, cached, fresh
        added = {keys[2]: Coin(20, b"\x51", 2, True), keys[3]: Coin(30, b"\x51", 2, True),  # over unspent ones
                 coin_key(b"\x0c" * 32, 0): Coin(4, P2PKH, 2, False)}
        displaced: dict[bytes, Coin] = {}
        coins.apply_block(spent, added, displaced)
        assert displaced == {keys[2]: before[keys[2]], keys[3]: before[keys[3]]}  # cached, and database only
        assert coins.get(keys[0]) is None and coins.get(keys[3]) == added[keys[3]]
        coins.revert_block(spent, added, displaced)
        assert {key: coins.get(key) for key in keys} == before
        assert coins.get(coin_key(b"\x0c" * 32, 0)) is None
        coins.flush()
        assert {key: decode_coin(record) for key, record in snapshot(store).items()} == before


# --- the bcoin regtest chain -----------------------------------------------------------------

@pytest.mark.parametrize("network", NETWORKS)
def test_the_bcoin_chain_connects_from_genesis_and_disconnects_back_byte_for_byte(
        tmp_path: Path, chain: list[Block], network: Network) -> None:
    store, chainstate = open_chainstate(tmp_path, network)
    with store:
        assert chainstate.height == 0 and not chainstate.scripts_verified
        at_genesis = snapshot(store)
        assert at_genesis == {}  # Core never connects genesis: its coinbase is not spendable
        for expected, block in zip(CHAIN_JSON["blocks"][1:], chain[1:]):
            change = chainstate.accept_block(block)
            assert change is not None and change.connected == (block.hash,)
            assert (chainstate.height, hash_to_hex(chainstate.tip)) == (expected["height"], expected["hash"])
        assert hash_to_hex(chainstate.tip) == CHAIN_JSON["tip_hash"] and chainstate.height == CHAIN_JSON["tip_height"]
        chainstate.flush()
        at_tip = snapshot(store)
        assert at_tip == recompute_utxo(chain[1:])
        assert sum(1 for block in chain for _ in block.transactions) == CHAIN_JSON["total_txs"]
        while chainstate.height:
            chainstate.disconnect_tip()
        chainstate.flush()
        assert snapshot(store) == at_genesis


def test_disconnect_and_reconnect_in_the_middle_gives_identical_bytes(tmp_path: Path, chain: list[Block]) -> None:
    store, chainstate = open_chainstate(tmp_path, BCOIN_REGTEST)
    with store:
        for block in chain[1:301]:
            chainstate.accept_block(block)
        chainstate.flush()
        at_300 = snapshot(store)
        assert at_300 == recompute_utxo(chain[1:301])
        for block in chain[301:]:
            chainstate.accept_block(block)
        chainstate.flush()
        at_tip, undo_at_tip = snapshot(store), snapshot(store, "undo")
        disconnected = [chainstate.disconnect_tip() for _ in range(171)]
        assert [block.hash for block in disconnected] == [block.hash for block in reversed(chain[301:])]
        chainstate.flush()
        assert chainstate.height == 300 and snapshot(store) == at_300
        change = chainstate.activate_best_chain()  # the header tree still knows the longer chain
        assert change is not None and len(change.connected) == 171 and not change.disconnected
        chainstate.flush()
        assert snapshot(store) == at_tip
        assert snapshot(store, "undo") == undo_at_tip


def test_the_coins_answer_as_of_the_tip(tmp_path: Path, chain: list[Block]) -> None:
    store, chainstate = open_chainstate(tmp_path)
    with store:
        for block in chain[1:231]:  # bcoin's wallets spend from block 222
            chainstate.accept_block(block)
        coinbase = chain[150].transactions[0]
        coin = chainstate.get_coin(OutPoint(coinbase.txid, 0))
        assert coin is not None and coin.coinbase and coin.height == 150
        assert coin.value == coinbase.outputs[0].value
        spender = next(tx for block in chain[1:231] for tx in block.transactions[1:])
        spent = spender.inputs[0]
        assert chainstate.view().get_coin(spent.outpoint) is None  # spent in the chain


def test_bcoins_mempool_at_the_tip_spends_coins_the_set_has(tmp_path: Path, chain: list[Block],
                                                            wire_impl: Any) -> None:
    store, chainstate = open_chainstate(tmp_path, BCOIN_REGTEST)
    with store:
        for block in chain[1:]:
            chainstate.accept_block(block)
        pending: dict[OutPoint, Coin] = {}  # outputs of earlier mempool transactions
        view = chainstate.view()
        for entry in CHAIN_JSON["mempool_at_tip"]:
            tx = wire_impl.module.decode_tx(bytes.fromhex(entry["hex"]))
            assert hash_to_hex(tx.txid) == entry["txid"]
            coins = [pending.get(txin.outpoint) or view.get_coin(txin.outpoint) for txin in tx.inputs]
            assert all(coin is not None for coin in coins), "a mempool input is missing from the set"
            for index, txout in enumerate(tx.outputs):
                pending[OutPoint(tx.txid, index)] = Coin(txout.value, txout.script_pubkey, 472, False)


def test_a_tiny_cache_flushes_mid_chain_with_the_same_result(tmp_path: Path, chain: list[Block]) -> None:
    store, chainstate = open_chainstate(tmp_path, BCOIN_REGTEST, cache_bytes=4 * ENTRY_OVERHEAD)
    with store:
        for block in chain[1:]:
            chainstate.accept_block(block)
            assert chainstate.coins.cache_bytes <= 4 * ENTRY_OVERHEAD  # flushed and emptied when over
        assert chainstate.coins.flushes > 100
        chainstate.flush()
        assert snapshot(store) == recompute_utxo(chain[1:])


class RecordingBatch:
    """A `store.Batch` that also notes each (operation, namespace, key) it is given."""

    def __init__(self, batch: Any, operations: list[tuple[str, str, bytes]]) -> None:
        self.batch, self.operations = batch, operations

    def put(self, namespace: str, key: bytes, value: bytes) -> None:
        self.operations.append(("put", namespace, key))
        self.batch.put(namespace, key, value)

    def delete(self, namespace: str, key: bytes) -> None:
        self.operations.append(("delete", namespace, key))
        self.batch.delete(namespace, key)


def record_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str, bytes]]]:
    """Every `store.write_batch()` written from now on, as its list of operations."""
    batches: list[list[tuple[str, str, bytes]]] = []
    real = store.write_batch

    @contextlib.contextmanager
    def recording() -> Iterator[RecordingBatch]:
        operations: list[tuple[str, str, bytes]] = []
        with real() as batch:
            yield RecordingBatch(batch, operations)
        batches.append(operations)

    monkeypatch.setattr(store, "write_batch", recording)
    return batches


def coin_changes(block: Block) -> set[tuple[str, str, bytes]]:
    """The `utxo` writes connecting `block` makes: its spendable outputs put, the coins its
    inputs spend deleted, where a coin both made and spent in the block is never written."""
    made = {coin_key(tx.txid, index) for tx in block.transactions
            for index, txout in enumerate(tx.outputs) if not is_unspendable(txout.script_pubkey)}
    spent = {coin_key(txin.prev_txid, txin.prev_index) for tx in block.transactions[1:] for txin in tx.inputs}
    return ({("put", "utxo", key) for key in made - spent} | {("delete", "utxo", key) for key in spent - made})


def test_by_default_each_connect_and_disconnect_is_one_batch_with_its_undo_and_the_tip(
        tmp_path: Path, chain: list[Block], monkeypatch: pytest.MonkeyPatch) -> None:
    store, chainstate = open_chainstate(tmp_path, BCOIN_REGTEST)
    with store:
        batches = record_batches(store, monkeypatch)
        for height, block in enumerate(chain[1:], start=1):
            chainstate.accept_block(block)
            assert len(batches) == height, "one batch per block connected"
            operations = batches[-1]
            assert ("put", "tip", b"tip") in operations and ("put", "undo", block.hash) in operations
            assert set(operations) - {("put", "tip", b"tip"), ("put", "undo", block.hash)} == coin_changes(block)
            assert store.namespace("tip").get(b"tip") == block.hash + height.to_bytes(4, "big")
        spending = sum(any(operation == "delete" for operation, _, _ in coin_changes(block)) for block in chain)
        assert spending > 50  # blocks with bcoin's wallet spends were among them
        assert snapshot(store) == recompute_utxo(chain[1:])
        tip = chain[-1]
        chainstate.disconnect_tip()
        assert len(batches) == len(chain)
        undone = {(("delete" if operation == "put" else "put"), namespace, key)
                  for operation, namespace, key in coin_changes(tip)}
        assert set(batches[-1]) == undone | {("put", "tip", b"tip")}  # the undo record stays
        assert snapshot(store) == recompute_utxo(chain[1:-1])


def test_every_n_blocks_the_set_is_flushed(tmp_path: Path, chain: list[Block]) -> None:
    store, chainstate = open_chainstate(tmp_path, flush_every=50)
    with store:
        for block in chain[1:101]:
            chainstate.accept_block(block)
        assert chainstate.coins.flushes == 1 + 2  # at genesis, then at 50 and 100
        assert snapshot(store) == recompute_utxo(chain[1:101])


def test_by_time_the_set_is_flushed_once_the_interval_has_passed(tmp_path: Path, chain: list[Block]) -> None:
    """The node's policy (Core's periodic write): no write per block, one when the interval has
    passed since the last, whatever the count."""
    store, chainstate = open_chainstate(tmp_path, flush_every=None, flush_interval=3600.0)
    with store:
        for block in chain[1:101]:
            chainstate.accept_block(block)
        assert chainstate.coins.flushes == 1  # only genesis
        chainstate.flush_interval = 0.0  # as if an hour had passed
        chainstate.accept_block(chain[101])
        assert chainstate.coins.flushes == 2
        assert snapshot(store) == recompute_utxo(chain[1:102])


def test_reopening_resumes_from_the_flushed_tip_and_reconnects_stored_blocks(
        tmp_path: Path, chain: list[Block]) -> None:
    store, chainstate = open_chainstate(tmp_path, flush_every=10**9)
    with store:
        for block in chain[1:121]:
            chainstate.accept_block(block)
        assert chainstate.coins.flushes == 1  # only genesis reached the database
        # The store closes without a flush, as a crash would leave it.
    store, chainstate = open_chainstate(tmp_path)
    with store:
        assert chainstate.height == 120  # blocks 1..120 were stored, and opening connected them
        chainstate.flush()
        assert snapshot(store) == recompute_utxo(chain[1:121])
