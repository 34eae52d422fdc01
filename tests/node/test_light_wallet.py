"""A real BIP157 light wallet against Pantheon: BDK (bdkpython 3.1.1, its light client Kyoto)
with Pantheon as its only peer, on Pantheon's own blocks and on blocks bcoin 1.0.2 mined (with
its wallet's spends) and Pantheon synced. Kyoto checks what it is served (filter headers against the
checkpoints and each other, filters against the blocks it then fetches), so the wallet finding its
coins is the proof that the filters, headers and BIP157 answers are right."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers.bcoin import BCOIN_RULE_ARGS, BcoinNode
from helpers.bdk import LightWallet, require_bdk
from helpers.node import proxy
from helpers.waiting import NODE_WAIT, in_thread, wait_for
from pantheon.chain.addresses import address_to_script
from pantheon.hashing import hash_to_hex
from pantheon.node import Node

SATS = 100_000_000
ELSEWHERE = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"  # not the wallet's



@pytest.mark.parametrize("transport", ["v1", "v2"])
def test_a_bdk_wallet_syncs_pays_and_sees_its_payment_confirmed(make_node: Callable[..., Node], tmp_path: Path,
                                                                transport: str) -> None:
    """Over v2 too: Kyoto's BIP324 (rust-bitcoin's bip324 crate, an independent implementation)
    completes the handshake with ours, and the whole exchange is encrypted."""
    bdk = require_bdk()
    node = make_node("pantheon", "--rpcuser", "u", "--rpcpassword", "p", "--blockfilterindex=basic",
                     "--peerblockfilters", rpc=True)
    client = proxy(node)

    def rpc(method: str, *args: object) -> Any:  # from a thread: the server runs in this one's hub
        return in_thread(getattr(client, method), *args)

    wallet = LightWallet(bdk, node.manager.address[1], tmp_path / "kyoto", v2_transport=transport == "v2")
    mined = rpc("generatetoaddress", 101, wallet.address)
    coinbase_total = sum(Decimal(str(rpc("getblock", block_hash, 2)["tx"][0]["vout"][0]["value"])) for block_hash in mined)
    try:
        wallet.start()
        in_thread(wallet.update)
        assert [peer["transport_protocol_type"] for peer in rpc("getpeerinfo")] == [transport]
        balance = wallet.wallet.balance()
        assert balance.total.to_sat() == int(coinbase_total * SATS) == 101 * 50 * SATS
        # Spendable in the next block (height 102): the coinbases of blocks 1 and 2, as Core counts maturity.
        assert balance.confirmed.to_sat() == 2 * 50 * SATS
        txid = in_thread(wallet.pay, ELSEWHERE, 1_000_000)
        wait_for(lambda: txid in rpc("getrawmempool"), NODE_WAIT, what="the wallet's payment in Pantheon's mempool")
        block_hash = rpc("generatetoaddress", 1, ELSEWHERE)[0]
        assert txid in rpc("getblock", block_hash)["tx"]
        in_thread(wallet.update)
        assert wallet.confirmation_height(txid) == 102
        spent = wallet.wallet.balance().total.to_sat()
        assert 101 * 50 * SATS - 1_000_000 - 1_000 < spent < 101 * 50 * SATS - 1_000_000
    finally:
        wallet.stop()


def test_the_wallet_finds_a_payment_bcoin_mined_through_pantheon(
        bcoin: BcoinNode, make_node: Callable[..., Node], tmp_path: Path) -> None:
    """bcoin mines a chain with its wallet's spends and pays the BDK wallet; Pantheon, fed only by
    bcoin, indexes those blocks, and the light wallet, fed only by Pantheon, finds the payment."""
    bdk = require_bdk()
    chain = bcoin.build_chain(150, tx_every=5)
    node = make_node("fed-by-bcoin", *BCOIN_RULE_ARGS, "--blockfilterindex", "--peerblockfilters",
                     "--addnode", f"127.0.0.1:{bcoin.p2p_port}")
    wallet = LightWallet(bdk, node.manager.address[1], tmp_path / "kyoto")
    paid = bcoin.send(address_to_script(wallet.address, node.network), 1_234_567)
    block_hash = bcoin.mine(1)[0]
    wait_for(lambda: hash_to_hex(node.chain.tip) == block_hash, NODE_WAIT, what="Pantheon at bcoin's tip")
    assert node.chain.height == chain.height + 1 and node.filter_index.best_height == node.chain.height
    try:
        wallet.start()
        in_thread(wallet.update)
        assert wallet.wallet.balance().total.to_sat() == 1_234_567
        assert wallet.confirmation_height(paid) == chain.height + 1
    finally:
        wallet.stop()
