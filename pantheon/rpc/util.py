"""Core's util RPCs (`rpc/output_script.cpp`): questions about addresses that need no chain."""

from __future__ import annotations

from typing import Any

from pantheon.chain.addresses import AddressError, address_to_script
from pantheon.chain.policy import output_type
from pantheon.chain.script import witness_program
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
        program = witness_program(script)
        result: dict[str, Any] = {"isvalid": True, "address": address, "scriptPubKey": script.hex(),
                                  "isscript": output_type(script) in _SCRIPT_HASH_TYPES,
                                  "iswitness": program is not None}
        if program is not None:
            result.update({"witness_version": program[0], "witness_program": program[1].hex()})
        return result
