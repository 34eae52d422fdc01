"""Core's util RPCs (`rpc/output_script.cpp`): questions about addresses that need no chain."""

from __future__ import annotations

from typing import Any

from pantheon.chain.addresses import AddressError, address_to_script
from pantheon.chain.mempool import output_type
from pantheon.rpc.registry import RpcGroup, rpc_method

__all__ = ["UtilRpc"]

#: Core's IsScript: destinations that commit to a script hash.
_SCRIPT_HASH_TYPES = frozenset({"scripthash", "witness_v0_scripthash"})


class UtilRpc(RpcGroup):
    category = "util"

    @rpc_method
    def validateaddress(self, address: Any) -> dict[str, Any]:
        """Whether `address` is valid on this network, and the output script it pays to."""
        try:
            script = address_to_script(str(address), self.node.network)
        except AddressError as error:
            return {"isvalid": False, "error_locations": [], "error": str(error)}
        kind = output_type(script)
        result: dict[str, Any] = {"isvalid": True, "address": address, "scriptPubKey": script.hex(),
                                  "isscript": kind in _SCRIPT_HASH_TYPES, "iswitness": kind.startswith("witness_")}
        if result["iswitness"]:
            version = script[0] - 0x50 if script[0] else 0
            result.update({"witness_version": version, "witness_program": script[2:].hex()})
        return result
