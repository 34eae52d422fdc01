"""Bitcoin Core's JSON-RPC for a node: the HTTP server (`server.py`), the error codes
(`errors.py`), and the methods in Core's groups, one module each: blockchain, mempool, network,
rawtransactions, mining, control, util, fees, and wallet when the node runs wallets.
`node_methods(node, shutdown, wallets)` gathers them into the table the server serves; a new method
is a decorated method in its group's module and nothing else.

Clients written for Core work unchanged. Differences, on purpose and visible: `getmempoolinfo`
adds `scripts_verified` (whether scripts are executed: see chain/scripts.py); `getsyncstatus` is
ours (with `scripts_verified` too); scripts are shown with Core's `asm`, `hex`, `type` and `address` but
without its output descriptors (`desc`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from pantheon.rpc.blockchain import BlockchainRpc
from pantheon.rpc.control import ControlRpc
from pantheon.rpc.fees import FeesRpc
from pantheon.rpc.mempool import MempoolRpc
from pantheon.rpc.mining import MiningRpc
from pantheon.rpc.network import NetworkRpc
from pantheon.rpc.rawtransactions import RawTransactionsRpc
from pantheon.rpc.registry import MethodTable, RpcContext, RpcGroup
from pantheon.rpc.util import UtilRpc
from pantheon.rpc.wallet import WalletRpc

if TYPE_CHECKING:
    from pantheon.node import Node
    from pantheon.wallet.manager import WalletManager

__all__ = ["GROUPS", "node_methods"]

GROUPS: tuple[type[RpcGroup], ...] = (
    BlockchainRpc, MempoolRpc, NetworkRpc, RawTransactionsRpc, MiningRpc, ControlRpc, UtilRpc, FeesRpc,
)


def node_methods(node: Node, shutdown: Callable[[], None],
                 wallets: WalletManager | None = None) -> dict[str, Callable[..., Any]]:
    """Every RPC method the node serves, by Core's name; `stop` calls `shutdown`; the wallet
    methods only with `wallets` (Core's -disablewallet leaves them unknown: "Method not found")."""
    context = RpcContext(node, shutdown, wallets=wallets)
    groups = (*GROUPS, WalletRpc) if wallets is not None else GROUPS
    table = MethodTable((group(context) for group in groups), regtest=node.network.name == "regtest")
    context.table = table
    return table.callables()
