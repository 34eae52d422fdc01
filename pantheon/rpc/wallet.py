"""Core's wallet RPCs (`wallet/rpc/*.cpp`) for holding and watching coins: creating, loading and
listing wallets, importing and listing descriptors, handing out addresses, balances and unspent
outputs. Sending (coin selection, signing) is not offered.

A wallet method acts on the wallet its request names by path, `/wallet/<name>` (Core's
GetWalletForJSONRPCRequest), or on the one wallet loaded when the path names none. The group is
served only when the node runs wallets (not under `-disablewallet`).
"""

from __future__ import annotations

import time
from typing import Any

from pantheon.chain.addresses import AddressError, address_to_script, script_to_address
from pantheon.chain.descriptors import DescriptorError, add_checksum, parse_descriptor
from pantheon.hashing import hash_to_hex
from pantheon.rpc.arguments import check_types, int_arg, json_type
from pantheon.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RPC_WALLET_ERROR,
    RPC_WALLET_INVALID_LABEL_NAME,
    RPC_WALLET_NOT_FOUND,
    RPC_WALLET_NOT_SPECIFIED,
    RpcError,
)
from pantheon.rpc.registry import RpcContext, RpcGroup, rpc_method
from pantheon.rpc.results import amount
from pantheon.rpc.server import request_uri
from pantheon.wallet.manager import WalletManager
from pantheon.wallet.wallet import ADDRESS_TYPES, RESCANNING, WALLET_VERSION, Wallet, WalletError, normalized_text

__all__ = ["WalletRpc"]

_WALLET_ENDPOINT = "/wallet/"
#: Core's RPC_METHOD_DEPRECATED, for getbalance's dummy argument.
_METHOD_DEPRECATED = -32
#: Core's default -addresstype (and change type).
_DEFAULT_ADDRESS_TYPE = "bech32"
_MAX_RANGE = 1_000_000
#: Core's wallet flags in the order of their bits (getwalletinfo lists them so).
_FLAG_ORDER = ("avoid_reuse", "key_origin_metadata", "last_hardened_xpub_cached", "disable_private_keys",
               "blank_wallet", "descriptor_wallet", "external_signer")


def _label(value: Any) -> str:
    """Core's LabelFromValue: a string other than "*" (none: "")."""
    if value is None:
        return ""
    check_types(("label", value, "string"))
    if value == "*":
        raise RpcError(RPC_WALLET_INVALID_LABEL_NAME, "Invalid label name")
    return str(value)


def _address_type(value: Any) -> str:
    if value is None:
        return _DEFAULT_ADDRESS_TYPE
    if value not in ADDRESS_TYPES:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Unknown address type '{value}'")
    return str(value)


def _range(value: Any) -> tuple[int, int]:
    """Core's ParseDescriptorRange: `end` or `[begin, end]`, inclusive."""
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = 0, value
    elif (isinstance(value, list) and len(value) == 2
          and all(isinstance(item, int) and not isinstance(item, bool) for item in value)):
        low, high = value
    else:
        raise RpcError(RPC_INVALID_PARAMETER, "Range must be specified as end or as [begin,end]")
    if low > high:
        raise RpcError(RPC_INVALID_PARAMETER, "Range specified as [begin,end] must not have begin after end")
    if low < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Range should be greater or equal than 0")
    if high >> 31:
        raise RpcError(RPC_INVALID_PARAMETER, "End of range is too high")
    if high >= low + _MAX_RANGE:
        raise RpcError(RPC_INVALID_PARAMETER, "Range is too large")
    return low, high


def _import_timestamp(request: dict[str, Any], now: int) -> int:
    """Core's GetImportTimestamp: a number or "now"."""
    if "timestamp" not in request:
        raise RpcError(RPC_TYPE_ERROR, "Missing required timestamp field for key")
    timestamp = request["timestamp"]
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return timestamp
    if timestamp == "now":
        return now
    raise RpcError(RPC_TYPE_ERROR, f'Expected number or "now" timestamp value for key. got type '
                                   f"{json_type(timestamp)}")


def _bool(request: dict[str, Any], key: str) -> bool:
    value = request.get(key, False)
    check_types((key, value, "bool"))
    return bool(value)


class WalletRpc(RpcGroup):
    category = "wallet"

    def __init__(self, context: RpcContext) -> None:
        super().__init__(context)
        assert context.wallets is not None, "the wallet group is served only with wallets"
        self.wallets: WalletManager = context.wallets

    def _wallet(self) -> Wallet:
        """Core's GetWalletForJSONRPCRequest."""
        uri = request_uri.get()
        loaded = self.wallets.wallets
        if uri.startswith(_WALLET_ENDPOINT):
            wallet = loaded.get(uri[len(_WALLET_ENDPOINT):])
            if wallet is None:
                raise RpcError(RPC_WALLET_NOT_FOUND, "Requested wallet does not exist or is not loaded")
            return wallet
        if len(loaded) == 1:
            return next(iter(loaded.values()))
        if not loaded:
            raise RpcError(RPC_WALLET_NOT_FOUND, "No wallet is loaded. Load a wallet using loadwallet or create a "
                           "new one with createwallet. (Note: A default wallet is no longer automatically created)")
        raise RpcError(RPC_WALLET_NOT_SPECIFIED,
                       "Wallet file not specified (must request wallet RPC through /wallet/<filename> uri-path).")

    def _last_processed_block(self, wallet: Wallet) -> dict[str, Any]:
        chain = self.node.chain
        best = wallet.best_block or chain.tip
        return {"hash": hash_to_hex(best), "height": chain.headers.height_of(best)}

    # --- wallets -------------------------------------------------------------------------------

    @rpc_method
    def createwallet(self, wallet_name: Any, disable_private_keys: Any = False, blank: Any = False,
                     passphrase: Any = None, avoid_reuse: Any = False, descriptors: Any = True,
                     load_on_startup: Any = None, external_signer: Any = False) -> dict[str, Any]:
        """Create and load a descriptor wallet: a fresh HD seed and Core's eight default
        descriptors, unless `blank` or `disable_private_keys`. Pantheon does not encrypt wallets
        (`passphrase` must be empty) and has no external signers."""
        check_types(("wallet_name", wallet_name, "string"), ("disable_private_keys", disable_private_keys, "bool"),
                    ("blank", blank, "bool"), ("passphrase", passphrase, "string"),
                    ("avoid_reuse", avoid_reuse, "bool"), ("descriptors", descriptors, "bool"),
                    ("load_on_startup", load_on_startup, "bool"), ("external_signer", external_signer, "bool"))
        warnings = []
        if passphrase is not None:
            if passphrase:
                raise RpcError(RPC_WALLET_ERROR, "Wallet encryption is not supported by Pantheon: create the wallet "
                               "without a passphrase")
            warnings.append("Empty string given as passphrase, wallet will not be encrypted.")
        if descriptors is False:
            raise RpcError(RPC_WALLET_ERROR, 'descriptors argument must be set to "true"; it is no longer possible '
                           "to create a legacy wallet.")
        if external_signer:
            raise RpcError(RPC_WALLET_ERROR, "Compiled without external signing support (required for external "
                           "signing)")
        try:
            wallet = self.wallets.create(wallet_name, disable_private_keys=bool(disable_private_keys),
                                         blank=bool(blank), avoid_reuse=bool(avoid_reuse),
                                         load_on_startup=load_on_startup)
        except WalletError as error:
            raise RpcError(error.code, error.message) from None
        return {"name": wallet.name, **({"warnings": warnings} if warnings else {})}

    @rpc_method
    def loadwallet(self, filename: Any, load_on_startup: Any = None) -> dict[str, Any]:
        """Load a wallet from the wallets directory; it catches up with the chain."""
        check_types(("filename", filename, "string"), ("load_on_startup", load_on_startup, "bool"))
        try:
            wallet = self.wallets.load(filename, load_on_startup)
        except WalletError as error:
            raise RpcError(error.code, error.message) from None
        return {"name": wallet.name}

    @rpc_method
    def unloadwallet(self, wallet_name: Any = None, load_on_startup: Any = None) -> dict[str, Any]:
        """Unload the wallet the endpoint names, else `wallet_name`."""
        check_types(("wallet_name", wallet_name, "string"), ("load_on_startup", load_on_startup, "bool"))
        uri = request_uri.get()
        if uri.startswith(_WALLET_ENDPOINT):
            name = uri[len(_WALLET_ENDPOINT):]
            if wallet_name is not None and wallet_name != name:
                raise RpcError(RPC_INVALID_PARAMETER,
                               "RPC endpoint wallet and wallet_name parameter specify different wallets")
        elif wallet_name is None:
            raise RpcError(RPC_INVALID_PARAMETER, "Either the RPC endpoint wallet or the wallet name parameter "
                           "must be provided")
        else:
            name = wallet_name
        wallet = self.wallets.wallets.get(name)
        if wallet is None:
            raise RpcError(RPC_WALLET_NOT_FOUND, "Requested wallet does not exist or is not loaded")
        if wallet.scan is not None:
            raise RpcError(RPC_WALLET_ERROR, RESCANNING)
        self.wallets.unload(name, load_on_startup)
        return {}

    @rpc_method
    def listwallets(self) -> list[str]:
        """The names of the loaded wallets."""
        return list(self.wallets.wallets)

    @rpc_method
    def listwalletdir(self) -> dict[str, Any]:
        """The wallets in the wallets directory."""
        return {"wallets": [{"name": name, "warnings": []} for name in self.wallets.wallet_dir_names()]}

    @rpc_method
    def getwalletinfo(self) -> dict[str, Any]:
        """The wallet's state. `format` is "leveldb": Pantheon keeps each wallet in a LevelDB."""
        wallet = self._wallet()
        info: dict[str, Any] = {
            "walletname": wallet.name, "walletversion": WALLET_VERSION, "format": "leveldb",
            "txcount": wallet.tx_count, "keypoolsize": wallet.keypool_size(False),
            "keypoolsize_hd_internal": wallet.keypool_size(True),
            "private_keys_enabled": wallet.has_private_keys, "avoid_reuse": "avoid_reuse" in wallet.flags,
            "scanning": False if wallet.scan is None else {"duration": int(time.monotonic() - wallet.scan.started),
                                                           "progress": wallet.scan.progress},
            "descriptors": True, "external_signer": False,
            "blank": "blank_wallet" in wallet.flags,
        }
        if wallet.birthtime is not None:
            info["birthtime"] = wallet.birthtime
        info["flags"] = [flag for flag in _FLAG_ORDER if flag in wallet.flags]
        info["lastprocessedblock"] = self._last_processed_block(wallet)
        return info

    # --- descriptors ---------------------------------------------------------------------------

    @rpc_method
    def importdescriptors(self, requests: Any) -> list[dict[str, Any]]:
        """Import descriptors (`desc` with its checksum, `timestamp` a time or "now", `range`,
        `next_index`, `active`, `internal`, `label`), then rescan the active chain from the
        earliest timestamp (less two hours) and the mempool."""
        check_types(("requests", requests, "array"))
        wallet = self._wallet()
        if wallet.scan is not None:
            raise RpcError(RPC_WALLET_ERROR, RESCANNING)
        chain = self.node.chain
        now = chain.median_time_past
        lowest = chain.headers.header(chain.tip).timestamp
        responses = []
        rescan = False
        for request in requests:
            if not isinstance(request, dict):
                raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(request)} is not of expected type "
                               "object")
            timestamp = max(_import_timestamp(request, now), 1)
            response = self._import_one(wallet, request, timestamp)
            responses.append(response)
            lowest = min(lowest, timestamp)
            rescan = rescan or response["success"]
        if rescan:
            wallet.rescan(lowest)
        return responses

    def _import_one(self, wallet: Wallet, request: dict[str, Any], timestamp: int) -> dict[str, Any]:
        """Core's ProcessDescriptorImport: {success, warnings?, error?} for one request."""
        warnings: list[str] = []
        try:
            if "desc" not in request:
                raise RpcError(RPC_INVALID_PARAMETER, "Descriptor not found.")
            check_types(("desc", request["desc"], "string"))
            active = _bool(request, "active")
            label = _label(request.get("label"))
            try:
                descriptor = parse_descriptor(request["desc"], self.node.network, require_checksum=True)
            except DescriptorError as error:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, str(error)) from None
            internal = _bool(request, "internal")
            range_start, range_end, next_index = 0, 1, 0
            if not descriptor.is_range and "range" in request:
                raise RpcError(RPC_INVALID_PARAMETER, "Range should not be specified for an un-ranged descriptor")
            if descriptor.is_range:
                if "range" in request:
                    range_start, last = _range(request["range"])
                    range_end = last + 1
                else:
                    warnings.append("Range not given, using default keypool range")
                    range_start, range_end = 0, wallet.keypool
                next_index = range_start
                if "next_index" in request:
                    next_index = int_arg(request["next_index"], "next_index")
                    if not range_start <= next_index < range_end:
                        raise RpcError(RPC_INVALID_PARAMETER, "next_index is out of range")
            if active and not descriptor.is_range:
                raise RpcError(RPC_INVALID_PARAMETER, "Active descriptors must be ranged")
            if "range" in request and "label" in request:
                raise RpcError(RPC_INVALID_PARAMETER, "Ranged descriptors should not have a label")
            if internal and "label" in request:
                raise RpcError(RPC_INVALID_PARAMETER, "Internal addresses should not have a label")
            if active and not descriptor.is_single_type:
                raise RpcError(RPC_WALLET_ERROR, "Combo descriptors cannot be set to active")
            if not wallet.has_private_keys and descriptor.has_private_keys:
                raise RpcError(RPC_WALLET_ERROR, "Cannot import private keys to a wallet with private keys disabled")
            try:
                descriptor.expand(range_start)
            except DescriptorError:
                raise RpcError(RPC_WALLET_ERROR, "Cannot expand descriptor. Probably because of hardened derivations "
                               "without private keys provided") from None
            if wallet.has_private_keys and not descriptor.has_private_keys:
                raise RpcError(RPC_WALLET_ERROR,
                               "Cannot import descriptor without private keys to a wallet with private keys enabled")
            warnings += wallet.import_descriptor(descriptor, timestamp, range_start, range_end, next_index,
                                                 active=active, internal=internal, label=label)
            result: dict[str, Any] = {"success": True}
        except RpcError as error:
            result = {"success": False, "error": error.to_json()}
        if warnings:
            result["warnings"] = warnings
        return result

    @rpc_method
    def listdescriptors(self, private: Any = False) -> dict[str, Any]:
        """The wallet's descriptors (public, normalized as Core shows them; with `private`, with
        their private keys), each with its timestamp, whether active, its range and next index."""
        check_types(("private", private, "bool"))
        wallet = self._wallet()
        if private and not wallet.has_private_keys:
            raise RpcError(RPC_WALLET_ERROR, "Can't get private descriptor string for watch-only wallets")
        listed = []
        for entry in wallet.descriptors.values():
            active, internal = wallet.is_active(entry)
            item: dict[str, Any] = {"desc": entry.descriptor.to_string(private=True) if private
                                    else normalized_text(entry.descriptor),
                                    "timestamp": entry.timestamp, "active": active}
            if active:
                item["internal"] = internal
            if entry.descriptor.is_range:
                item.update({"range": [entry.range_start, entry.range_end - 1], "next": entry.next_index,
                             "next_index": entry.next_index})
            listed.append(item)
        return {"wallet_name": wallet.name, "descriptors": sorted(listed, key=lambda item: item["desc"])}

    # --- addresses -----------------------------------------------------------------------------

    def _new_address(self, wallet: Wallet, address_type: Any, internal: bool, label: str | None) -> str:
        check_types(("address_type", address_type, "string"))
        if not any(wallet.active_descriptor(kind, internal) for kind in ADDRESS_TYPES):
            raise RpcError(RPC_WALLET_ERROR, "Error: This wallet has no available keys")
        chosen = _address_type(address_type)
        try:
            return wallet.new_destination(chosen, internal, label)
        except WalletError as error:
            raise RpcError(error.code, error.message) from None

    @rpc_method
    def getnewaddress(self, label: Any = "", address_type: Any = None) -> str:
        """A new receiving address (the active descriptor's next index), with `label`."""
        wallet = self._wallet()
        return self._new_address(wallet, address_type, False, _label(label))

    @rpc_method
    def getrawchangeaddress(self, address_type: Any = None) -> str:
        """A new change address (the active internal descriptor's next index)."""
        wallet = self._wallet()
        return self._new_address(wallet, address_type, True, None)

    # --- coins ---------------------------------------------------------------------------------

    @rpc_method
    def getbalance(self, dummy: Any = None, minconf: Any = 0, include_watchonly: Any = None,
                   avoid_reuse: Any = None) -> float:
        """The trusted balance with at least `minconf` confirmations."""
        wallet = self._wallet()
        if dummy is not None and dummy != "*":
            raise RpcError(_METHOD_DEPRECATED, 'dummy first argument must be excluded or set to "*".')
        check_types(("include_watchonly", include_watchonly, "bool"), ("avoid_reuse", avoid_reuse, "bool"))
        if avoid_reuse and "avoid_reuse" not in wallet.flags:
            raise RpcError(RPC_WALLET_ERROR, 'wallet does not have the "avoid reuse" feature enabled')
        return amount(wallet.balances(int_arg(minconf, "minconf")).trusted)

    @rpc_method
    def getbalances(self) -> dict[str, Any]:
        """Balances: trusted, untrusted_pending, immature (coinbase before its 101st confirmation)."""
        wallet = self._wallet()
        balances = wallet.balances()
        return {"mine": {"trusted": amount(balances.trusted), "untrusted_pending": amount(balances.untrusted_pending),
                         "immature": amount(balances.immature)},
                "lastprocessedblock": self._last_processed_block(wallet)}

    @rpc_method
    def listunspent(self, minconf: Any = 1, maxconf: Any = 9999999, addresses: Any = None,
                    include_unsafe: Any = True, query_options: Any = None) -> list[dict[str, Any]]:
        """Unspent outputs with minconf..maxconf confirmations, optionally to `addresses`
        (immature coinbase outputs are left out, as Core does)."""
        wallet = self._wallet()
        low, high = int_arg(minconf, "minconf"), int_arg(maxconf, "maxconf")
        check_types(("addresses", addresses, "array"), ("include_unsafe", include_unsafe, "bool"),
                    ("query_options", query_options, "object"))
        wanted: set[bytes] | None = None
        if addresses is not None:
            wanted = set()
            for address in addresses:
                try:
                    script = address_to_script(str(address), self.node.network)
                except AddressError:
                    raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid Bitcoin address: {address}") from None
                if script in wanted:
                    raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {address}")
                wanted.add(script)
        network = self.node.network
        listed = []
        for coin in wallet.unspent():
            if not low <= coin.depth <= high or (wanted is not None and coin.script not in wanted):
                continue
            if not coin.safe and include_unsafe is False:
                continue
            entry: dict[str, Any] = {"txid": hash_to_hex(coin.outpoint.txid), "vout": coin.outpoint.index}
            address = script_to_address(coin.script, network)
            if address is not None:
                entry["address"] = address
                if coin.script in wallet.labels:
                    entry["label"] = wallet.labels[coin.script]
            if coin.owner.redeem_script is not None:
                entry["redeemScript"] = coin.owner.redeem_script.hex()
            entry.update({"scriptPubKey": coin.script.hex(), "amount": amount(coin.value),
                          "confirmations": coin.depth,
                          "spendable": coin.owner.key is not None and coin.owner.key.secret is not None,
                          "solvable": True, "desc": add_checksum(coin.owner.desc),
                          "parent_descs": [coin.descriptor_text], "safe": coin.safe})
            listed.append(entry)
        return listed
