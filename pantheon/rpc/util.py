"""Core's util RPCs: questions about addresses that need no chain (`rpc/output_script.cpp`) and
the state of the optional indexes (`getindexinfo`, `rpc/node.cpp`)."""

from __future__ import annotations

from typing import Any

from pantheon.chain.addresses import AddressError, address_to_script
from pantheon.chain.policy import output_type
from pantheon.chain.script import witness_program
from pantheon.rpc.arguments import check_types
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

    @rpc_method
    def getindexinfo(self, index_name: Any = None) -> dict[str, Any]:
        """The optional indexes this node keeps ("txindex", "basic block filter index",
        "txospenderindex"), each with `synced` and `best_block_height`; `index_name` picks one
        (an index not kept gives an empty object)."""
        check_types(("index_name", index_name, "string"))
        return {index.NAME: index.info() for index in self.node.indexes if index_name in (None, index.NAME)}
