"""Core's mempool.dat (`pantheon.chain.mempool_persist`): the pool and its fee deltas written and
read back, Core's byte layout (checked by reading the file by hand, and by loading a version 1
file built by hand), and what a load does with old, refused, duplicate and damaged records.

Transactions reach the pool through the twin under test (`submit`); the chain is
`helpers.chain.RegtestChain`, as for the pool's own tests."""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Callable

import pytest
from helpers.chain import P2WSH_TRUE, Prevout, RegtestChain, prevouts_of, spend
from helpers.clock import Clock

from pantheon.chain.mempool import Mempool
from pantheon.chain.mempool_persist import MEMPOOL_EXPIRY, LoadedMempool, dump_mempool, load_mempool
from pantheon.primitives import OutPoint, Tx, TxOut

ABSENT = b"\x42" * 32  # a txid the pool never sees, prioritised all the same


@pytest.fixture
def coins(chain: RegtestChain) -> list[Prevout]:
    return chain.mature_coinbases(3)


@pytest.fixture
def saved(pool: Mempool, coins: list[Prevout], submit: Callable[[Tx], Tx], clock: Clock,
          tmp_path: Path) -> tuple[Path, list[Tx]]:
    """A pool of a parent, its child and an unrelated transaction, entered at different times,
    with deltas on one pooled transaction and on an absent one, dumped to mempool.dat."""
    parent = submit(spend([coins[0]], fee=3_000))
    clock.now += 10
    child = submit(spend(prevouts_of(parent), fee=2_000))
    clock.now += 10
    other = submit(spend([coins[1]], fee=4_000))
    pool.prioritise(child.txid, 700)
    pool.prioritise(ABSENT, -11)
    path = tmp_path / "mempool.dat"
    dump_mempool(pool, path)
    return path, [parent, child, other]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the module logged (a new pool logs its own warning)."""
    return [record.getMessage() for record in caplog.records if record.name == "pantheon.chain.mempool_persist"]


def _plain(path: Path) -> bytes:
    """The file with its obfuscation undone by hand: Core's key (bytes 9-16, after the version
    and its CompactSize length 8) XORs every later byte at file offset p with key[p % 8]."""
    raw = path.read_bytes()
    assert struct.unpack_from("<Q", raw)[0] == 2 and raw[8] == 8
    key = raw[9:17]
    return raw[:17] + bytes(byte ^ key[(17 + i) % 8] for i, byte in enumerate(raw[17:]))


def _records(plain: bytes, txs: list[Tx]) -> list[tuple[Tx, int]]:
    """The transactions of a de-obfuscated file in file order, with where each record (the
    transaction, its time and delta) ends."""
    records, pos = [], 25  # after the version, the key and the count
    for _ in txs:
        tx = next(tx for tx in txs if plain.startswith(tx.serialize(), pos))
        pos += len(tx.serialize()) + 16
        records.append((tx, pos))
    return records


def test_the_file_has_cores_layout(saved: tuple[Path, list[Tx]], pool: Mempool) -> None:
    path, (parent, child, other) = saved
    plain = _plain(path)
    assert path.read_bytes()[17:] != plain[17:]  # obfuscated on disk
    assert struct.unpack_from("<Q", plain, 17)[0] == 3
    seen = []
    pos = 25
    for tx, end in _records(plain, [parent, child, other]):
        seen.append((tx.txid, *struct.unpack_from("<qq", plain, end - 16)))
        pos = end
    assert seen.index((child.txid, int(pool.get(child.txid).time), 700)) > seen.index(
        (parent.txid, int(pool.get(parent.txid).time), 0))  # parents first
    assert (other.txid, int(pool.get(other.txid).time), 0) in seen
    assert plain[pos:] == b"\x01" + ABSENT + struct.pack("<q", -11) + b"\x00"  # absent deltas, no unbroadcast
    assert not path.with_name("mempool.dat.new").exists()


def test_a_dumped_pool_loads_whole_with_its_times_and_deltas(saved: tuple[Path, list[Tx]], pool: Mempool,
                                                             chain: RegtestChain, clock: Clock,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path, txs = saved
    fresh = Mempool(chain, clock=clock)
    with caplog.at_level(logging.INFO, logger="pantheon.chain.mempool_persist"):
        assert load_mempool(fresh, path, clock()) == LoadedMempool(3, 0, 0, 0)
    assert _messages(caplog) == [
        "Loading 3 mempool transactions from file...",
        "Progress loading mempool transactions from file: 33% (tried 1, 2 remaining)",
        "Progress loading mempool transactions from file: 66% (tried 2, 1 remaining)",
        "Imported mempool transactions from file: 3 succeeded, 0 failed, 0 expired, 0 already there, "
        "0 waiting for initial broadcast"]
    assert {(e.tx.txid, int(e.time), e.fee, e.fee_delta) for e in fresh} == {
        (e.tx.txid, int(e.time), e.fee, e.fee_delta) for e in pool}
    assert fresh.deltas() == pool.deltas() == {txs[1].txid: 700, ABSENT: -11}
    fresh.remove_with_descendants(txs[1].txid)
    assert load_mempool(fresh, path, clock()) == LoadedMempool(1, 0, 0, 2)  # the two others were there


def test_old_transactions_expire_and_those_that_no_longer_fit_fail(saved: tuple[Path, list[Tx]], pool: Mempool,
                                                                   chain: RegtestChain, clock: Clock) -> None:
    path, (parent, child, other) = saved
    parent_time = pool.get(parent.txid).time
    fresh = Mempool(chain, clock=clock)
    # two weeks after the parent came: it has expired, and its child fails without it
    assert load_mempool(fresh, path, parent_time + MEMPOOL_EXPIRY) == LoadedMempool(1, 1, 1, 0)
    assert [entry.tx.txid for entry in fresh] == [other.txid]
    assert fresh.deltas() == {child.txid: 700, ABSENT: -11}  # kept for when the child comes back


def test_a_version_1_file_without_obfuscation_loads(pool: Mempool, chain: RegtestChain, coins: list[Prevout],
                                                    clock: Clock, tmp_path: Path) -> None:
    tx = spend([coins[2]], fee=0)  # below the relay minimum: its delta, applied first, lets it in
    path = tmp_path / "mempool.dat"
    path.write_bytes(struct.pack("<QQ", 1, 1) + tx.serialize() + struct.pack("<qq", int(clock()), 1_000)
                     + b"\x00\x00")
    assert load_mempool(pool, path, clock()) == LoadedMempool(1, 0, 0, 0)
    entry = pool.get(tx.txid)
    assert entry is not None and (entry.time, entry.modified_fee) == (int(clock()), 1_000)


def test_a_missing_unknown_or_damaged_file_is_logged_and_the_start_goes_on(
        saved: tuple[Path, list[Tx]], chain: RegtestChain, clock: Clock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    path, txs = saved
    fresh = Mempool(chain, clock=clock)
    with caplog.at_level(logging.INFO, logger="pantheon.chain.mempool_persist"):
        assert load_mempool(fresh, tmp_path / "absent.dat", clock()) is None
        unknown = tmp_path / "v3.dat"
        unknown.write_bytes(struct.pack("<QQ", 3, 0))
        assert load_mempool(fresh, unknown, clock()) is None
    assert _messages(caplog) == ["Failed to open mempool file. Continuing anyway."]
    raw = path.read_bytes()
    ends = [end for _, end in _records(_plain(path), txs)]
    for cut in (4, 12, 20, 30, ends[0] - 3, ends[0] + 5, ends[2] - 1, len(raw) - 1):
        damaged = tmp_path / f"cut{cut}.dat"
        damaged.write_bytes(raw[:cut])
        fresh = Mempool(chain, clock=clock)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="pantheon.chain.mempool_persist"):
            assert load_mempool(fresh, damaged, clock()) is None
        assert _messages(caplog)[-1].startswith("Failed to deserialize mempool data on file: "), cut
        assert _messages(caplog)[-1].endswith(". Continuing anyway."), cut
        assert len(fresh) == sum(end <= cut for end in ends)  # what came before the damage stays


def test_a_replaced_file_is_whole(saved: tuple[Path, list[Tx]], pool: Mempool, chain: RegtestChain,
                                  clock: Clock) -> None:
    path, _ = saved
    pool.remove_for_block(chain.mine_block(pool))
    dump_mempool(pool, path)
    fresh = Mempool(chain, clock=clock)
    assert load_mempool(fresh, path, clock()) == LoadedMempool(0, 0, 0, 0)
    assert len(fresh) == 0 and fresh.deltas() == {ABSENT: -11}


def test_a_transaction_spending_an_unknown_coin_fails(pool: Mempool, chain: RegtestChain, clock: Clock,
                                                      tmp_path: Path) -> None:
    stranger = spend([(OutPoint(b"\x07" * 32, 0), TxOut(10**6, P2WSH_TRUE))])
    path = tmp_path / "mempool.dat"
    path.write_bytes(struct.pack("<QQ", 1, 1) + stranger.serialize() + struct.pack("<qq", int(clock()), 0) + b"\x00\x00")
    assert load_mempool(pool, path, clock()) == LoadedMempool(0, 1, 0, 0)
    assert len(pool) == 0 and pool.orphan_count == 0
