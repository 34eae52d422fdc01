"""Bitcoin Core's JSON-RPC error codes (`rpc/protocol.h`) and the exception that carries one.

A method raises `RpcError(code, message)` to answer with an error; the server turns anything
else a method raises into -32603 with the exception's text (the traceback goes to the log).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RpcError",
    "RPC_INVALID_REQUEST", "RPC_METHOD_NOT_FOUND", "RPC_INVALID_PARAMS", "RPC_INTERNAL_ERROR", "RPC_PARSE_ERROR",
    "RPC_MISC_ERROR", "RPC_TYPE_ERROR", "RPC_INVALID_ADDRESS_OR_KEY", "RPC_INVALID_PARAMETER",
    "RPC_DESERIALIZATION_ERROR", "RPC_VERIFY_ERROR", "RPC_VERIFY_REJECTED", "RPC_VERIFY_ALREADY_IN_CHAIN",
    "RPC_IN_WARMUP", "RPC_CLIENT_NODE_ALREADY_ADDED", "RPC_CLIENT_NODE_NOT_ADDED", "RPC_CLIENT_NODE_NOT_CONNECTED",
    "RPC_CLIENT_INVALID_IP_OR_SUBNET", "RPC_CLIENT_NODE_CAPACITY_REACHED", "RPC_CLIENT_NOT_CONNECTED",
    "RPC_CLIENT_IN_INITIAL_DOWNLOAD", "RPC_WALLET_ERROR", "RPC_WALLET_INVALID_LABEL_NAME", "RPC_WALLET_NOT_FOUND",
    "RPC_WALLET_NOT_SPECIFIED",
]

# Core's error codes (`rpc/protocol.h`): the JSON-RPC standard ones, then Core's own.
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_INVALID_PARAMS = -32602
RPC_INTERNAL_ERROR = -32603
RPC_PARSE_ERROR = -32700
RPC_MISC_ERROR = -1
RPC_TYPE_ERROR = -3
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_INVALID_PARAMETER = -8
RPC_DESERIALIZATION_ERROR = -22
RPC_VERIFY_ERROR = -25
RPC_VERIFY_REJECTED = -26
RPC_VERIFY_ALREADY_IN_CHAIN = -27
RPC_IN_WARMUP = -28
RPC_CLIENT_NOT_CONNECTED = -9
RPC_CLIENT_IN_INITIAL_DOWNLOAD = -10
RPC_CLIENT_NODE_ALREADY_ADDED = -23
RPC_CLIENT_NODE_NOT_ADDED = -24
RPC_CLIENT_NODE_NOT_CONNECTED = -29
RPC_CLIENT_INVALID_IP_OR_SUBNET = -30
RPC_CLIENT_NODE_CAPACITY_REACHED = -34
# Core's wallet codes
RPC_WALLET_ERROR = -4
RPC_WALLET_INVALID_LABEL_NAME = -11
RPC_WALLET_NOT_FOUND = -18
RPC_WALLET_NOT_SPECIFIED = -19


class RpcError(Exception):
    """A JSON-RPC error with Core's code: what a method raises to answer with an error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}
