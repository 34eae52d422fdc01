"""The chain's parts together, as the node runs them: LevelDB store, Chainstate, mempool and miner,
with Bitcoin Core's interpreter verifying every script (`scripts.ChainScriptChecks`).

- bcoin's 471-block regtest chain connects with every script verified; its 4 mempool transactions
  are accepted by our mempool at the tip; a block our miner makes of them connects and empties the
  pool; disconnecting it puts them back.
- A regtest chain our miner makes with P2TR key-path spends (signed by tests/helpers/taproot.py) connects;
  a corrupted signature is refused by the mempool and, mined anyway, rejects its block.
- `--assumevalid`: a block with a failing script connects when it is an ancestor of the assumed-valid
  block and of the best header with more than two weeks of work on top and the minimum chain work,
  as in Core; it is rejected when any of those is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Iterator

import pytest
from helpers.chain import CHAIN_JSON, read_chain
from helpers.taproot import sign_key_path, taproot_output

from pantheon import wire
from pantheon.chain import scripts
from pantheon.chain.chainstate import BCOIN_REGTEST, Chainstate
from pantheon.chain.mempool import Mempool
from pantheon.chain.miner import block_template, mine
from pantheon.chain.pow import block_work
from pantheon.chain.scripts import ChainScriptChecks
from pantheon.chain.validation import BlockRejected, TxRejected
from pantheon.hashing import hash_to_hex
from pantheon.params import REGTEST, Network
from pantheon.primitives import Block, OutPoint, Tx, TxIn, TxOut
from pantheon.store import Store

pytestmark = pytest.mark.skipif(not scripts.AVAILABLE, reason=scripts.UNAVAILABLE_REASON or "no kernel")

P2WPKH_OUT = bytes.fromhex("0014") + bytes(range(20))


class Chain:
    """A Chainstate on its own store with script checks, and a mempool on top, like the node's."""

    def __init__(self, path: Path, network: Network, *, assumevalid: bytes | None = None,
                 verify: bool = True, workers: int = 0) -> None:
        """`workers` > 0: every block's scripts go to that many worker processes as it connects."""
        self.store = Store.open(path)
        verifier = scripts.ScriptVerifier(workers=workers, min_parallel_inputs=1)
        self.checks = ChainScriptChecks(verifier, network, None, lambda: self.state.height + 1,
                                        assumevalid=assumevalid) if verify else None
        self.state = Chainstate(self.store, network, script_verifier=self.checks.block if self.checks else None)
        if self.checks is not None:
            self.checks.headers = self.state.headers
        self.mempool = Mempool(self.state, script_verifier=self.checks.mempool_tx if self.checks else None)
        self.state.on_connected.append(lambda block, height: self.mempool.remove_for_block(block))

    def mine(self, pay_to: bytes, count: int = 1) -> list[Block]:
        blocks = []
        for _ in range(count):
            block = mine(block_template(self.state, self.mempool, pay_to).block)
            self.state.accept_block(block)
            blocks.append(block)
        return blocks

    def close(self) -> None:
        if self.checks is not None:
            self.checks.verifier.close()
        self.store.close()


@pytest.fixture
def open_chain(tmp_path: Path) -> Iterator[type[Chain]]:
    opened: list[Chain] = []

    class Tracked(Chain):
        def __init__(self, name: str, network: Network, **options: object) -> None:
            super().__init__(tmp_path / name, network, **options)  # type: ignore[arg-type]
            opened.append(self)

    yield Tracked  # type: ignore[misc]
    for chain in opened:
        chain.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_bcoin_chain_and_its_mempool_with_every_script_verified(open_chain: type[Chain], workers: int) -> None:
    chain = open_chain("bcoin", BCOIN_REGTEST, workers=workers)
    assert chain.state.scripts_verified and chain.mempool.scripts_verified
    for block in read_chain(wire.decode_block)[1:]:
        chain.state.accept_block(block)
    assert hash_to_hex(chain.state.tip) == CHAIN_JSON["tip_hash"]
    pending = [wire.decode_tx(bytes.fromhex(entry["hex"])) for entry in CHAIN_JSON["mempool_at_tip"]]
    # bcoin's wallet paid 174 sat for 175 vB (0.994 sat/vB) and bcoin's mempool, with its
    # priority rule, took them; Core <= 29's minimum (1 sat/vB) refuses them...
    assert chain.checks is not None
    strict = Mempool(chain.state, script_verifier=chain.checks.mempool_tx, min_relay_fee=1_000)
    with pytest.raises(TxRejected) as refused:
        strict.accept(pending[0])
    assert (refused.value.reason, refused.value.detail) == ("min relay fee not met", "174 < 175")
    # ... and Core 30's (0.1 sat/vB) takes them.
    for tx in pending:
        assert chain.mempool.accept(tx).status == "accepted"
    assert len(chain.mempool) == 4
    block = chain.mine(P2WPKH_OUT)[0]
    assert {tx.txid for tx in block.transactions[1:]} == {tx.txid for tx in pending}
    assert len(chain.mempool) == 0 and chain.state.tip == block.hash
    disconnected = chain.state.disconnect_tip()
    chain.mempool.readd_for_disconnect(disconnected)
    assert {entry.tx.txid for entry in chain.mempool} == {tx.txid for tx in pending}


def _p2tr_spend(coinbase: Tx, secret: int, script: bytes, corrupt: bool = False) -> Tx:
    value = coinbase.outputs[0].value
    draft = Tx(2, [TxIn(coinbase.txid, 0, b"", 0xFFFFFFFD)], [TxOut(value - 2_000, P2WPKH_OUT)], 0)
    signed = sign_key_path(draft, [(value, script)], [secret])
    if corrupt:
        signature = signed.inputs[0].witness[0]
        broken = signature[:10] + bytes([signature[10] ^ 1]) + signature[11:]
        signed = Tx(2, [TxIn(coinbase.txid, 0, b"", 0xFFFFFFFD, (broken,))], signed.outputs, 0)
    return wire.decode_tx(signed.serialize())


@pytest.mark.parametrize("workers", [0, 2])
def test_a_chain_with_p2tr_key_path_spends_connects_and_a_bad_signature_does_not(open_chain: type[Chain],
                                                                                 workers: int) -> None:
    chain = open_chain("p2tr", REGTEST, workers=workers)
    secret, script = taproot_output(0x5EED)
    funding = chain.mine(script, 3)
    chain.mine(P2WPKH_OUT, 100)
    good = [_p2tr_spend(block.transactions[0], secret, script) for block in funding[:2]]
    for tx in good:
        chain.mempool.accept(tx)
    block = chain.mine(P2WPKH_OUT)[0]
    assert {tx.txid for tx in block.transactions[1:]} == {tx.txid for tx in good}
    assert chain.state.get_coin(OutPoint(good[0].txid, 0)) is not None
    bad = _p2tr_spend(funding[2].transactions[0], secret, script, corrupt=True)
    with pytest.raises(TxRejected) as refused:
        chain.mempool.accept(bad)
    assert refused.value.reason.startswith("mempool-script-verify-flag-failed")
    # Mined anyway (by a miner whose mempool does not check scripts), the block is rejected.
    careless = Mempool(chain.state)
    careless.accept(bad)
    forged = mine(block_template(chain.state, careless, P2WPKH_OUT).block)
    tip = chain.state.tip
    coins = list(chain.state.unspent_coins())
    with pytest.raises(BlockRejected) as rejected:
        chain.state.accept_block(forged)
    assert rejected.value.reason.startswith("block-script-verify-flag-failed")
    assert chain.state.tip == tip and not chain.state.headers.is_valid(forged.hash)
    # The set took the block's changes while its scripts were checked, and gave them back.
    assert list(chain.state.unspent_coins()) == coins
    assert chain.state.get_coin(OutPoint(funding[2].transactions[0].txid, 0)) is not None
    assert chain.state.get_coin(OutPoint(forged.transactions[0].txid, 0)) is None


@pytest.fixture(scope="module")
def forged_chain(tmp_path_factory: pytest.TempPathFactory) -> list[Block]:
    """A regtest chain whose block 102 spends P2WSH(OP_FALSE), so it fails its script check,
    with 2,017 valid blocks on top: at regtest's constant difficulty, 2,017 x 10 minutes is just
    over the two weeks of work Core's -assumevalid wants above a block before skipping it."""
    author = Chain(tmp_path_factory.mktemp("author"), REGTEST, verify=False)  # no verifying node would
    try:
        false_program = bytes.fromhex("0020") + hashlib.sha256(b"\x00").digest()
        funding = author.mine(false_program)[0]
        author.mine(P2WPKH_OUT, 100)
        coinbase = funding.transactions[0]
        author.mempool.accept(Tx(2, [TxIn(coinbase.txid, 0, b"", 0xFFFFFFFE, (b"\x00",))],
                                 [TxOut(coinbase.outputs[0].value - 1_000, P2WPKH_OUT)], 0))
        author.mine(P2WPKH_OUT, 1 + 2_017)
        tree = author.state.headers
        return [author.state.read_block(tree.ancestor(author.state.tip, h)) for h in range(1, tree.height + 1)]
    finally:
        author.close()


def connect_through_forged_block(chain: Chain, blocks: list[Block], headers: int) -> None:
    """Headers first (the first `headers` of them), as a node syncs; then blocks 1..102."""
    chain.state.headers.add_headers([block.header for block in blocks[:headers]])
    for block in blocks[:102]:
        chain.state.accept_block(block)


def test_assumevalid_skips_the_scripts_of_buried_ancestors(open_chain: type[Chain],
                                                            forged_chain: list[Block]) -> None:
    trusting = open_chain("trusting", REGTEST, assumevalid=forged_chain[-1].hash)
    connect_through_forged_block(trusting, forged_chain, len(forged_chain))
    assert trusting.state.height == 102 and trusting.state.tip == forged_chain[101].hash
    assert trusting.checks is not None and trusting.checks.skipped == 102


@pytest.mark.parametrize("why", ["no assumevalid", "two weeks of work minus one block",
                                 "below the minimum chain work"])
def test_otherwise_the_forged_block_is_verified_and_rejected(open_chain: type[Chain], forged_chain: list[Block],
                                                            why: str) -> None:
    network, anchor, headers = REGTEST, forged_chain[-1].hash, len(forged_chain)
    if why == "no assumevalid":
        anchor = None  # type: ignore[assignment]
    elif why == "two weeks of work minus one block":
        headers -= 1
        anchor = forged_chain[headers - 1].hash
    elif why == "below the minimum chain work":  # one more than the best header's (genesis included)
        best_work = block_work(forged_chain[-1].header.bits) * (len(forged_chain) + 1)
        network = dataclasses.replace(REGTEST, minimum_chain_work=best_work + 1)
    chain = open_chain(why.replace(" ", "-"), network, assumevalid=anchor)
    with pytest.raises(BlockRejected) as rejected:
        connect_through_forged_block(chain, forged_chain, headers)
    assert rejected.value.reason.startswith("block-script-verify-flag-failed")
    assert chain.state.height == 101
