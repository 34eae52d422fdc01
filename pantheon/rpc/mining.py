"""Core's mining RPCs (`rpc/mining.cpp`): on regtest, mining blocks on the node's own tip."""

from __future__ import annotations

from typing import Any

from pantheon.chain.addresses import AddressError
from pantheon.chain.descriptors import DescriptorError, parse_descriptor
from pantheon.chain.headers import HeaderRejected
from pantheon.chain.validation import BlockRejected
from pantheon.hashing import hash_to_hex
from pantheon.rpc.arguments import int_arg
from pantheon.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_VERIFY_ERROR, RpcError
from pantheon.rpc.registry import RpcGroup, rpc_method

__all__ = ["MiningRpc"]


class MiningRpc(RpcGroup):
    category = "mining"

    @rpc_method(regtest_only=True, category="generating")
    def generatetoaddress(self, nblocks: Any, address: Any, maxtries: Any = 1_000_000) -> list[str]:
        """Mine `nblocks` blocks from the mempool to `address`, now; returns their hashes."""
        count = int_arg(nblocks, "nblocks")
        try:
            hashes = self.node.generate(count, address)
        except AddressError:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None
        except (BlockRejected, HeaderRejected) as error:
            raise RpcError(RPC_VERIFY_ERROR, f"generated block rejected: {error.reason}") from None
        return [hash_to_hex(block_hash) for block_hash in hashes]

    @rpc_method(regtest_only=True, category="generating")
    def generatetodescriptor(self, num_blocks: Any, descriptor: Any, maxtries: Any = 1_000_000) -> list[str]:
        """Mine `num_blocks` blocks from the mempool to the script of `descriptor`, now; returns
        their hashes. Only `raw(HEX)` and `addr(ADDRESS)` descriptors (Pantheon has no keys)."""
        count = int_arg(num_blocks, "num_blocks")
        try:
            script = parse_descriptor(str(descriptor), self.node.network).script
        except DescriptorError as error:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, str(error)) from None
        try:
            hashes = self.node.generate(count, script)
        except (BlockRejected, HeaderRejected) as error:
            raise RpcError(RPC_VERIFY_ERROR, f"generated block rejected: {error.reason}") from None
        return [hash_to_hex(block_hash) for block_hash in hashes]
