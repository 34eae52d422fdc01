"""Core's mining RPCs (`rpc/mining.cpp`): on regtest, mining blocks on the node's own tip."""

from __future__ import annotations

from typing import Any

from pantheon import wire
from pantheon.chain.addresses import AddressError
from pantheon.chain.headers import HeaderRejected
from pantheon.chain.validation import BlockRejected
from pantheon.errors import ProtocolError
from pantheon.hashing import hash_to_hex
from pantheon.primitives import BlockHeader
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.rpc.arguments import hex_arg, int_arg
from pantheon.rpc.errors import RPC_DESERIALIZATION_ERROR, RPC_INVALID_ADDRESS_OR_KEY, RPC_VERIFY_ERROR, RpcError
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

    @rpc_method
    def submitblock(self, hexdata: Any, dummy: Any = None) -> str | None:
        """Offer a block to the chain. BIP22's answer, as Core gives it: null when this call
        connected it, "duplicate" when its data was here already, "inconclusive" when it was
        stored but not connected (off the best chain, or a pruned block stored again), else the
        reason it was rejected ("duplicate-invalid": known to be invalid). `dummy` is ignored."""
        raw = hex_arg(hexdata)
        try:
            if raw is None:
                raise ValueError
            block = wire.decode_block(raw)
        except (ValueError, ProtocolError):
            raise RpcError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
        node = self.node
        block_hash = block.hash
        stored_before = node.chain.has_block(block_hash)
        try:
            change = node.process_block(block)
        except (HeaderRejected, BlockRejected) as error:
            # a failure of another block on the way leaves this one stored, its fate unknown
            return error.reason if error.block_hash == block_hash else "inconclusive"
        if stored_before:
            return "duplicate"
        return None if change is not None and block_hash in change.connected else "inconclusive"

    @rpc_method
    def submitheader(self, hexdata: Any) -> None:
        """Add a block header (its first 80 bytes: a whole block's hex is taken too) to the
        header tree, without its block; raises Core's -25 with the reason it was refused."""
        raw = hex_arg(hexdata)
        if raw is None or len(raw) < BLOCK_HEADER_SIZE:
            raise RpcError(RPC_DESERIALIZATION_ERROR, "Block header decode failed")
        header = BlockHeader.from_bytes(raw[:BLOCK_HEADER_SIZE])
        node = self.node
        if header.prev_block not in node.chain.headers:
            raise RpcError(RPC_VERIFY_ERROR, f"Must submit previous header ({hash_to_hex(header.prev_block)}) first")
        try:
            node.submit_header(header)
        except HeaderRejected as error:
            raise RpcError(RPC_VERIFY_ERROR, error.reason) from None
