"""The wallet over the real JSON-RPC server (`pantheon/wallet/`, `rpc/wallet.py`), as Core's
framework and a user drive it: wallets created, listed, unloaded and loaded again across a
restart (settings.json), combo() keys imported with a rescan finding mined coinbases, balances
with immature coinbase, new addresses advancing the descriptor's index, `/wallet/<name>`
routing with Core's errors, payments pending in the mempool, confirmed, and pending again after a
reorganisation, and -disablewallet."""

from __future__ import annotations

import json
from decimal import Decimal
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from bitcoin.rpc import JSONRPCError, RawProxy

from helpers.node import rpc_url
from helpers.waiting import in_thread
from pantheon import wire
from pantheon.chain.addresses import address_to_script
from pantheon.chain.descriptors import add_checksum
from pantheon.chain.keys import ExtendedKey
from pantheon.chain.validation import COIN
from pantheon.hashing import hex_to_hash
from pantheon.params import REGTEST
from pantheon.primitives import Tx, TxIn, TxOut
from pantheon.service import NodeService
from pantheon.wallet.wallet import WalletError

#: The framework's deterministic key of node 0 and its P2PKH address (test_node.py PRIV_KEYS).
KEY = "cVpF924EspNh8KjYsfhgY96mmxvT6DgdWiTYMtMjuM74hJaU5psW"
ADDRESS = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z"
#: A regtest extended private key.
TPRV = ExtendedKey.from_seed(bytes(range(16))).encode(REGTEST, private=True)
Start = Callable[..., NodeService]


class Client:
    """python-bitcoinlib's RawProxy called from a native thread (the node's greenlets run meanwhile)."""

    def __init__(self, url: str) -> None:
        self._proxy = RawProxy(service_url=url)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return lambda *args: in_thread(getattr(self._proxy, method), *args)


def rpc(service: NodeService, wallet: str | None = None) -> Client:
    """A client of the node, at `/wallet/<wallet>` when a wallet is named."""
    url = rpc_url(service.node)
    if wallet is not None:
        url += "/wallet/" + urllib.parse.quote(wallet)
    return Client(url)


def error_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(JSONRPCError) as caught:
        call()
    return caught.value.error["code"], caught.value.error["message"]


def import_key(proxy: Client, timestamp: int | str = 0) -> list[dict[str, object]]:
    return proxy.importdescriptors([{"desc": add_checksum(f"combo({KEY})"), "timestamp": timestamp,
                                     "label": "coinbase"}])


def test_import_rescan_finds_mined_coinbases_and_balances_count_maturity(start_node: Start) -> None:
    service = start_node("a")
    node = rpc(service)
    node.generatetoaddress(3, ADDRESS)
    assert node.createwallet("w") == {"name": "w"}
    assert import_key(node) == [{"success": True}]
    balances = node.getbalances()
    assert balances["mine"] == {"trusted": 0, "untrusted_pending": 0, "immature": 150}
    assert balances["lastprocessedblock"]["height"] == 3
    assert node.listunspent() == []  # immature coinbase is not spendable
    node.generatetoaddress(100, ADDRESS)  # the first three coinbases reach 101 confirmations and more
    assert node.getbalance() == 150
    assert node.getbalances()["mine"]["immature"] == 50 * 100
    unspent = sorted(node.listunspent(), key=lambda coin: -coin["confirmations"])
    assert [(coin["address"], coin["label"], coin["confirmations"], coin["amount"]) for coin in unspent] == [
        (ADDRESS, "coinbase", depth, 50) for depth in (103, 102, 101)]
    assert unspent[0]["desc"].startswith("pkh([") and unspent[0]["spendable"] is True
    assert len(node.listunspent(102, 9999999, [ADDRESS])) == 2
    assert node.getwalletinfo()["txcount"] == 103


def test_new_addresses_advance_the_active_descriptor(start_node: Start) -> None:
    node = rpc(start_node("a"))
    node.createwallet("w")
    descriptors = node.listdescriptors()["descriptors"]
    assert len(descriptors) == 8
    assert {entry["desc"].split("(")[0] for entry in descriptors} == {"pkh", "sh", "wpkh", "tr"}
    assert all("/84h/1h/0h]tpub" in entry["desc"] for entry in descriptors if entry["desc"].startswith("wpkh"))
    first, second = node.getnewaddress(), node.getnewaddress("", "bech32")
    assert first.startswith("bcrt1q") and second != first
    assert node.getnewaddress("", "bech32m").startswith("bcrt1p")
    assert node.getnewaddress("", "legacy")[0] in "mn"
    assert node.getnewaddress("", "p2sh-segwit")[0] == "2"
    assert node.getrawchangeaddress().startswith("bcrt1q")
    wpkh = next(entry for entry in node.listdescriptors()["descriptors"]
                if entry["desc"].startswith("wpkh") and not entry["internal"])
    assert wpkh["next_index"] == 2 and wpkh["range"] == [0, 4]  # -keypool=3 past the next index
    assert error_of(lambda: node.getnewaddress("", "p2pk")) == (-5, "Unknown address type 'p2pk'")
    node.generatetoaddress(1, first)
    assert node.getbalances()["mine"]["immature"] == 50


def test_wallets_reload_across_a_restart(start_node: Start) -> None:
    service = start_node("a")
    node = rpc(service)
    node.createwallet("kept", False, False, None, False, True, True)
    node.createwallet("dropped")
    address = rpc(service, "kept").getnewaddress()
    assert error_of(lambda: node.createwallet("kept")) == (
        -4, f"Wallet file verification failed. Failed to create database path "
            f"'{service.node.datadir / 'wallets' / 'kept'}'. Database already exists.")
    assert sorted(node.listwallets()) == ["dropped", "kept"]
    assert json.loads((service.node.datadir / "settings.json").read_text()) == {"wallet": ["kept"]}
    service.stop()
    service = start_node("a")
    node = rpc(service)
    assert node.listwallets() == ["kept"]
    assert node.listwalletdir()["wallets"] == [{"name": "dropped", "warnings": []}, {"name": "kept", "warnings": []}]
    assert node.getnewaddress() != address  # the next index survived the restart
    assert node.loadwallet("dropped") == {"name": "dropped"}
    assert error_of(lambda: node.loadwallet("dropped")) == (-35, 'Wallet "dropped" is already loaded.')
    assert error_of(lambda: node.loadwallet("nowhere"))[0] == -18
    assert rpc(service, "dropped").unloadwallet(None, False) == {}
    assert node.listwallets() == ["kept"]


def test_wallet_endpoints_and_their_errors(start_node: Start) -> None:
    service = start_node("a")
    node = rpc(service)
    assert error_of(node.getwalletinfo)[0] == -18  # none loaded
    node.createwallet("one")
    assert node.getwalletinfo()["walletname"] == "one"  # the only wallet answers at /
    node.createwallet("two words")
    assert error_of(node.getbalance) == (
        -19, "Wallet file not specified (must request wallet RPC through /wallet/<filename> uri-path).")
    assert rpc(service, "two words").getwalletinfo()["walletname"] == "two words"
    assert error_of(rpc(service, "missing").getbalance) == (-18, "Requested wallet does not exist or is not loaded")
    assert rpc(service, "one").getblockcount() == 0  # node methods answer at a wallet endpoint too
    assert error_of(lambda: rpc(service, "one").unloadwallet("two words")) == (
        -8, "RPC endpoint wallet and wallet_name parameter specify different wallets")


def test_import_errors_are_cores(start_node: Start) -> None:
    service = start_node("a")
    node = rpc(service)
    node.createwallet("w")
    result = node.importdescriptors([{"desc": f"combo({KEY})", "timestamp": "now"}])
    assert result == [{"success": False, "error": {"code": -5, "message": "Missing checksum"}}]
    result = node.importdescriptors([{"desc": add_checksum(f"combo({KEY})"), "timestamp": "now", "active": True}])
    assert result[0]["error"] == {"code": -8, "message": "Active descriptors must be ranged"}
    assert error_of(lambda: node.importdescriptors([{"desc": add_checksum(f"pkh({KEY})")}])) == (
        -3, "Missing required timestamp field for key")
    pubkey_only = add_checksum("pkh(0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798)")
    assert node.importdescriptors([{"desc": pubkey_only, "timestamp": "now"}])[0]["error"]["message"] == (
        "Cannot import descriptor without private keys to a wallet with private keys enabled")
    node.createwallet("watch", True)
    watch = rpc(service, "watch")
    assert watch.listdescriptors()["descriptors"] == []  # watch-only: no seed, no default descriptors
    assert watch.importdescriptors([{"desc": pubkey_only, "timestamp": "now"}]) == [{"success": True}]
    assert watch.importdescriptors([{"desc": add_checksum(f"pkh({KEY})"), "timestamp": "now"}])[0]["error"] == {
        "code": -4, "message": "Cannot import private keys to a wallet with private keys disabled"}
    assert error_of(watch.getnewaddress) == (-4, "Error: This wallet has no available keys")


def test_disablewallet_serves_no_wallet_rpc(start_node: Start) -> None:
    service = start_node("a", "-disablewallet")
    assert service.wallets is None
    assert error_of(lambda: rpc(service).createwallet("w")) == (-32601, "Method not found")


def test_payments_pend_in_the_mempool_confirm_and_pend_again_after_a_reorg(start_node: Start) -> None:
    service = start_node("a", "-acceptnonstdtxn=1")
    node = rpc(service)
    anyone = add_checksum("raw(51)")  # OP_TRUE: its coinbases are spent without a signature
    node.generatetodescriptor(101, anyone)
    node.createwallet("w")
    address = node.getnewaddress()
    coinbase = hex_to_hash(node.getblock(node.getblockhash(1))["tx"][0])
    payment = Tx(2, [TxIn(coinbase, 0)], [TxOut(50 * COIN - 10_000, address_to_script(address, REGTEST))], 0)
    txid = node.sendrawtransaction(wire.encode_tx(payment).hex())
    paid = Decimal("49.9999")
    assert node.getbalances()["mine"] == {"trusted": 0, "untrusted_pending": paid, "immature": 0}
    assert node.listunspent() == []  # minconf 1
    pending = node.listunspent(0)
    assert [(coin["txid"], coin["confirmations"], coin["safe"]) for coin in pending] == [(txid, 0, False)]
    block = node.generatetodescriptor(1, anyone)[0]
    assert node.getbalances()["mine"]["trusted"] == paid
    assert node.listunspent()[0]["confirmations"] == 1
    node.invalidateblock(block)  # the payment leaves the chain and returns to the mempool
    assert node.getbalances()["mine"] == {"trusted": 0, "untrusted_pending": paid, "immature": 0}
    assert node.getbalances()["lastprocessedblock"]["height"] == 101


def test_a_wallet_loaded_behind_the_tip_catches_up(start_node: Start) -> None:
    service = start_node("a")
    node = rpc(service)
    node.createwallet("late")
    address = node.getnewaddress("", "bech32m")
    node.unloadwallet("late")
    node.generatetoaddress(2, address)  # while unloaded
    node.loadwallet("late")
    assert node.getbalances()["mine"]["immature"] == 100
    assert node.getwalletinfo()["lastprocessedblock"]["height"] == 2
    assert node.listwalletdir()["wallets"] == [{"name": "late", "warnings": []}]


def test_wallet_option_loads_at_start_and_a_missing_one_stops_it(start_node: Start) -> None:
    service = start_node("a")
    rpc(service).createwallet("named")
    service.stop()
    service = start_node("a", "-wallet=named")
    assert rpc(service).listwallets() == ["named"]
    service.stop()
    with pytest.raises(WalletError, match="Failed to load database path .* Path does not exist"):
        start_node("a", "-wallet=missing")


def test_getwalletinfo_describes_the_wallet(start_node: Start) -> None:
    node = rpc(start_node("a"))
    node.createwallet("blank", False, True)
    info = node.getwalletinfo()
    assert {key: info[key] for key in ("walletname", "txcount", "keypoolsize", "private_keys_enabled", "blank",
                                       "descriptors", "scanning", "flags")} == {
        "walletname": "blank", "txcount": 0, "keypoolsize": 0, "private_keys_enabled": True, "blank": True,
        "descriptors": True, "scanning": False, "flags": ["blank_wallet", "descriptor_wallet"]}
    ranged = add_checksum(f"wpkh({TPRV}/0/*)")
    assert node.importdescriptors([{"desc": ranged, "timestamp": "now", "active": True}]) == [
        {"success": True, "warnings": ["Range not given, using default keypool range"]}]
    info = node.getwalletinfo()
    assert (info["blank"], info["keypoolsize"], info["flags"]) == (False, 3, ["descriptor_wallet"])
    assert node.getnewaddress().startswith("bcrt1q")
    assert node.listdescriptors()["descriptors"][0]["next_index"] == 1
    assert node.listdescriptors(True)["descriptors"][0]["desc"] == ranged
