"""The bcoin side of the node's interop proofs (tests/node/test_node_bcoin.py), proven on bcoin alone (tests/helpers/bcoin.py; skipped without
bcoin, a failure under CI=true): two bcoins 1.0.2 on regtest sync, relay wallet transactions,
split, mine apart and converge, and the bcoin→bcoin sync baseline of the benchmark runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import pantheon.wire
from helpers.bcoin import BcoinChain, BcoinNode, bcoin_sync_baseline, crypto_backend, require_bcoin
from helpers.outside import missing
from helpers.p2p import RawPeer, our_version
from pantheon import hashing

CHAIN_BLOCKS = 130  # past coinbase maturity (100), so the wallet has coins to spend
# Bitcoin Core regtest addresses and the scriptPubKeys they stand for (what bcoin must be given)
CORE_BECH32, CORE_P2WPKH = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c", bytes.fromhex("0014" + "11" * 20)
CORE_BASE58, CORE_P2PKH = "midSACfDe3qAxJZZXA9gkwBZgPqJJUpy1w", bytes.fromhex("76a914" + "22" * 20 + "88ac")


@pytest.fixture(scope="module")
def alice(start_bcoin: Callable[..., BcoinNode]) -> BcoinNode:
    return start_bcoin("alice", index_tx=True)


@pytest.fixture(scope="module")
def bob(start_bcoin: Callable[..., BcoinNode]) -> BcoinNode:
    return start_bcoin("bob")


@pytest.fixture(scope="module")
def chain(alice: BcoinNode) -> BcoinChain:
    return alice.build_chain(CHAIN_BLOCKS, tx_every=5)


def block_hash(block_hex: str) -> str:
    return hashing.hash_to_hex(hashing.double_sha256(bytes.fromhex(block_hex)[:80]))


def test_build_chain_has_the_height_and_wallet_txs(alice: BcoinNode, chain: BcoinChain) -> None:
    assert alice.tip() == (CHAIN_BLOCKS, chain.tip)
    assert block_hash(alice.block_hex(chain.tip)) == chain.tip
    assert len(chain.txids) == (CHAIN_BLOCKS - 101) // 5 + 1  # one per 5th block after maturity
    mined = {txid for height in range(102, CHAIN_BLOCKS + 1)
             for txid in alice.rpc("getblock", alice.rpc("getblockhash", height))["tx"][1:]}
    assert mined == set(chain.txids)
    assert alice.mempool() == []
    assert alice.raw_tx(chain.txids[0])  # index_tx: confirmed transactions are found


def test_second_bcoin_dials_and_syncs(alice: BcoinNode, bob: BcoinNode, chain: BcoinChain) -> None:
    entry = bob.connect_to("127.0.0.1", alice.p2p_port)
    assert entry["subver"] == "/bcoin:v1.0.2/" and not entry["inbound"]
    assert bob.wait_for_height(CHAIN_BLOCKS) == chain.tip
    assert bob.block_hex(chain.tip) == alice.block_hex(chain.tip)
    assert [p["inbound"] for p in alice.peers()] == [True]


def test_wallet_tx_reaches_the_other_mempool_and_raw_tx_goes_back(
        alice: BcoinNode, bob: BcoinNode, chain: BcoinChain) -> None:
    bob.connect_to("127.0.0.1", alice.p2p_port)
    for core_address in ("bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3mnklw7", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"):
        with pytest.raises(RuntimeError):  # bcoin's regtest knows only its own formats
            alice.send(core_address, 100_000)
    txid = alice.send(CORE_P2WPKH, 100_000)
    bob.wait_for_mempool(txid, timeout=15)  # bcoin flushes its inv queue every 5 s
    assert bob.raw_tx(txid) == alice.raw_tx(txid)

    created, tx_hex = alice.create_tx(CORE_P2PKH, 200_000)
    assert created not in alice.mempool()
    assert bob.submit_raw_tx(tx_hex) == created
    alice.wait_for_mempool(created, timeout=15)
    with pytest.raises(TimeoutError):  # sendrawtransaction answers before validating
        bob.submit_raw_tx(tx_hex[:-8] + "01000000", timeout=1)  # a changed locktime breaks the signature


def test_partition_then_converge_on_the_most_work(alice: BcoinNode, bob: BcoinNode, chain: BcoinChain) -> None:
    bob.connect_to("127.0.0.1", alice.p2p_port)
    bob.wait_for_tip(alice.tip()[1])
    alice.disconnect_all()
    assert bob.peers() == []
    alice_side = alice.mine(3)
    bob_side = bob.mine(5)
    assert bob.peers() == [] and alice.tip()[1] == alice_side[-1]
    # bcoin syncs only from peers it dialled: to converge, the lighter side dials the heavier.
    alice.connect_to("127.0.0.1", bob.p2p_port)
    alice.wait_for_tip(bob_side[-1])
    alice.disconnect_all()
    alice_side = alice.mine(4)
    bob.connect_to("127.0.0.1", alice.p2p_port)
    bob.wait_for_tip(alice_side[-1])
    assert alice.tip() == bob.tip() == (chain.height + 9, alice_side[-1])


def test_selfish_bcoin_syncs_but_answers_getdata_with_notfound(
        alice: BcoinNode, chain: BcoinChain, tmp_path: Path) -> None:
    """`--selfish=true`: a peer for proof 5 that has the blocks and still answers notfound."""
    selfish = BcoinNode(tmp_path, args=["--selfish=true"], wallet=False).start()
    peer = None
    try:
        selfish.connect_to("127.0.0.1", alice.p2p_port)
        selfish.wait_for_tip(alice.tip()[1])
        peer = RawPeer(selfish.p2p_port, pantheon.wire)
        peer.send("version", our_version(selfish.p2p_port))
        peer.handshake()
        wanted = [{"type": 2, "hash": hashing.hex_to_hash(chain.tip)}]  # MSG_BLOCK
        peer.send("getdata", {"inventory": wanted})
        answer = peer.receive_until("notfound").payload.inventory
        assert [(entry.type, entry.hash) for entry in answer] == [(2, wanted[0]["hash"])]
        assert "block" not in {message.command for message in peer.received}
    finally:
        if peer is not None:
            peer.close()
        selfish.stop()


def test_bcoin_verifies_signatures_with_its_native_secp256k1() -> None:
    """The density benchmark compares with bcoin at its best (issue 19): npm install built the
    native secp256k1 binding bcoin's bcrypto loads (it needs g++, make and Node's headers), not
    the JavaScript fallback bcrypto uses when the build fails."""
    require_bcoin()
    if crypto_backend() != "native":
        missing("bcoin verifies with its JavaScript secp256k1: the native binding did not build at npm install")


def test_sync_baseline_measures_a_fresh_bcoin(tmp_path: Path) -> None:
    run = bcoin_sync_baseline(tmp_path, blocks=120, tx_every=5)
    assert (run.blocks, run.txs) == (120, 4)
    assert 0 < run.sync_seconds < 60 and run.build_seconds > 0
    assert 20_000 < run.peak_rss_kib < 2_000_000
