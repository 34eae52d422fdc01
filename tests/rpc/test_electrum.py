"""Issue 17's proof with real programs: ElectrumX 2.0.0 (e-x), unmodified, indexes a
`pantheon-gevent` process over JSON-RPC (it refuses a node below Core 31's interface or without the
txindex and txospenderindex), and the Electrum wallet (Debian's, headless, regtest), whose only server
is that ElectrumX, restores a wallet from its seed, sees the coins Pantheon mined to it and pays.

One scenario, built once for the module (each program takes seconds to start): Pantheon mines 3
blocks to the wallet and 101 more elsewhere; the wallet pays 1.25 BTC (Pantheon mines it: a spent
output and a mined transaction), then signs 0.5 BTC more, which this test broadcasts through
ElectrumX (it stays in the mempool). Each test then checks one side of what the programs saw."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpers.electrum import ElectrumError, ElectrumWallet, ElectrumX, NodeProcess, require_electrum, \
    require_electrumx
from helpers.waiting import wait_for
from pantheon.chain.addresses import address_to_script
from pantheon.params import REGTEST

#: An Electrum segwit seed (made once with `electrum make_seed --seed_type segwit`): a fixed
#: wallet, so a failure reproduces.
SEED = "evidence hand giraffe delay fish bus easily trick pyramid usual kiwi cram"
ELSEWHERE = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"  # not the wallet's
FIRST_PAYMENT, SECOND_PAYMENT = Decimal("1.25"), Decimal("0.5")
MINED_TO_WALLET = 3
WAIT = 120.0


@dataclass
class Scenario:
    node: NodeProcess
    server: ElectrumX
    wallet: ElectrumWallet
    address: str
    coinbase_txids: list[str]
    balance_before: dict[str, str]
    mined_txid: str
    mined_block: str
    mempool_txid: str


def script_hash(address: str) -> str:
    """The Electrum protocol's key for an address: SHA-256 of its scriptPubKey, byte-reversed, hex."""
    return hashlib.sha256(address_to_script(address, REGTEST)).digest()[::-1].hex()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    require_electrumx()
    require_electrum()
    root: Path = tmp_path_factory.mktemp("electrum")
    with NodeProcess(root / "node", "--txindex", "--txospenderindex") as node, \
            ElectrumX(root / "electrumx", node) as server, \
            ElectrumWallet(root / "wallet", server, SEED) as wallet:
        address = wallet.first_address()
        mined = node.rpc("generatetoaddress", MINED_TO_WALLET, address)
        coinbase_txids = [node.rpc("getblock", block_hash)["tx"][0] for block_hash in mined]
        node.rpc("generatetoaddress", 101, ELSEWHERE)  # every coinbase of the wallet's is mature
        server.wait_for_height(104)
        wallet.wait_for_height(104)
        balance_before = wallet.command("getbalance")

        signed = wallet.command("payto", ELSEWHERE, str(FIRST_PAYMENT), "--feerate", "2")
        mined_txid = wallet.command("broadcast", signed)
        wait_for(lambda: mined_txid in node.rpc("getrawmempool"), WAIT, what="the wallet's payment in the mempool")
        mined_block = node.rpc("generatetoaddress", 1, ELSEWHERE)[0]
        server.wait_for_height(105)
        wallet.wait_for_height(105)

        signed = wallet.command("payto", ELSEWHERE, str(SECOND_PAYMENT), "--feerate", "2", "--addtransaction")
        with server.session() as session:
            mempool_txid = session.call("blockchain.transaction.broadcast", signed)
        wait_for(lambda: mempool_txid in node.rpc("getrawmempool"), WAIT, what="the broadcast in the mempool")
        yield Scenario(node, server, wallet, address, coinbase_txids, balance_before, mined_txid, mined_block,
                       mempool_txid)


def test_the_wallet_restored_from_its_seed_sees_its_coins_and_its_payment_is_mined(scenario: Scenario) -> None:
    assert Decimal(scenario.balance_before["confirmed"]) == MINED_TO_WALLET * 50
    assert scenario.mined_txid in scenario.node.rpc("getblock", scenario.mined_block)["tx"]
    status = scenario.wallet.command("get_tx_status", scenario.mined_txid)
    assert status["confirmations"] == 1
    wait_for(lambda: scenario.wallet.command("get_tx_status", scenario.mempool_txid)["confirmations"] == 0, WAIT,
             what="the wallet seeing its second payment in the mempool")
    history = {item["txid"]: item for item in scenario.wallet.command("onchain_history")["transactions"]}
    assert history[scenario.mined_txid]["height"] == 105
    assert {scenario.mined_txid, scenario.mempool_txid, *scenario.coinbase_txids} <= history.keys()
    # What the wallet holds now is what Pantheon says the chain and mempool left it.
    balance = scenario.wallet.command("getbalance")
    held = Decimal(balance["confirmed"]) + Decimal(balance.get("unconfirmed", "0"))
    fees = (Decimal(str(scenario.node.rpc("getrawtransaction", scenario.mined_txid, 2)["fee"]))
            + Decimal(str(scenario.node.rpc("getmempoolentry", scenario.mempool_txid)["fees"]["base"])))
    assert held == MINED_TO_WALLET * 50 - FIRST_PAYMENT - SECOND_PAYMENT - fees


def test_electrumx_serves_mined_and_mempool_transactions_as_pantheon_has_them(scenario: Scenario) -> None:
    with scenario.server.session() as session:
        for txid in (scenario.coinbase_txids[0], scenario.mined_txid, scenario.mempool_txid):
            assert session.call("blockchain.transaction.get", txid) == scenario.node.rpc("getrawtransaction", txid)
        branch = session.call("blockchain.transaction.get_merkle", scenario.mined_txid, 105)
        assert branch["block_height"] == 105
        assert session.call("blockchain.transaction.id_from_pos", 105, branch["pos"]) == scenario.mined_txid
        header = session.call("blockchain.block.header", 105)
        assert header == scenario.node.rpc("getblockheader", scenario.mined_block, False)
        with pytest.raises(ElectrumError):
            session.call("blockchain.transaction.get", "00" * 32)


def test_electrumx_history_balance_and_coins_match_pantheons_chain(scenario: Scenario) -> None:
    key = script_hash(scenario.address)
    with scenario.server.session() as session:
        history = session.call("blockchain.scripthash.get_history", key)
        confirmed = [(item["tx_hash"], item["height"]) for item in history if item["height"] > 0]
        assert confirmed[:MINED_TO_WALLET] == list(zip(scenario.coinbase_txids, range(1, MINED_TO_WALLET + 1)))
        assert (scenario.mined_txid, 105) in confirmed
        coins = session.call("blockchain.scripthash.listunspent", key)
        balance = session.call("blockchain.scripthash.get_balance", key)
    # Each coin ElectrumX lists is one Pantheon says is unspent, with the same value.
    for coin in coins:
        out = scenario.node.rpc("gettxout", coin["tx_hash"], coin["tx_pos"], False)
        assert out is not None and round(Decimal(str(out["value"])) * 100_000_000) == coin["value"]
    spent = scenario.node.rpc("getrawtransaction", scenario.mined_txid, True)["vin"][0]
    assert (spent["txid"], spent["vout"]) not in {(coin["tx_hash"], coin["tx_pos"]) for coin in coins}
    assert balance["confirmed"] == sum(coin["value"] for coin in coins if coin["height"] > 0)


def test_electrumx_finds_the_spender_of_a_spent_output_through_pantheons_index(scenario: Scenario) -> None:
    spent = scenario.node.rpc("getrawtransaction", scenario.mined_txid, True)["vin"][0]
    answer = scenario.node.rpc("gettxspendingprevout", [{"txid": spent["txid"], "vout": spent["vout"]}])
    assert answer[0]["spendingtxid"] == scenario.mined_txid
    funded_at = scenario.node.rpc("getrawtransaction", spent["txid"], True)
    script = funded_at["vout"][spent["vout"]]["scriptPubKey"]["hex"]
    with scenario.server.session("1.7") as session:
        status = session.call("blockchain.outpoint.subscribe", spent["txid"], spent["vout"], script)
        assert status == {"funder_height": scenario.node.rpc("getblockheader", funded_at["blockhash"])["height"],
                          "spender_txhash": scenario.mined_txid, "spender_height": 105}
        pending = scenario.node.rpc("getrawtransaction", scenario.mempool_txid, True)["vout"][0]
        unspent = session.call("blockchain.outpoint.subscribe", scenario.mempool_txid, 0, pending["scriptPubKey"]["hex"])
        assert unspent == {"funder_height": 0}


def test_electrumx_fee_answers_come_from_pantheons_mempool_and_estimator(scenario: Scenario) -> None:
    info = scenario.node.rpc("getmempoolinfo")
    with scenario.server.session("1.7") as session:
        answer = session.call("mempool.get_info")
        estimate = session.call("blockchain.estimatefee", 2)
    assert answer == {key: float(info[key]) for key in ("mempoolminfee", "minrelaytxfee", "incrementalrelayfee")}
    node_estimate: dict[str, Any] = scenario.node.rpc("estimatesmartfee", 2)
    assert estimate == float(node_estimate.get("feerate", -1))


def test_a_bad_broadcast_gets_the_nodes_reason(scenario: Scenario) -> None:
    """ElectrumX passes on Pantheon's answer, which is Core's: bytes that do not decode, and ten
    zero bytes, which do (a version-0 transaction with no inputs and no outputs) but are refused."""
    with scenario.server.session() as session:
        with pytest.raises(ElectrumError) as undecodable:
            session.call("blockchain.transaction.broadcast", "0100")
        with pytest.raises(ElectrumError) as empty:
            session.call("blockchain.transaction.broadcast", "00" * 10)
    assert "TX decode failed" in undecodable.value.error["message"]
    assert "bad-txns-vin-empty" in empty.value.error["message"]
