"""How RPC methods are declared and gathered: each group of Core's (blockchain, network, …) is a
class whose methods marked `@rpc_method` are served under their own names, so adding a method
touches only its group's module.

A group is given an `RpcContext`: the node it answers for, how the process is asked to stop
(the `stop` RPC ends the service around the node, not only the node) and its wallets, if any. `MethodTable` gathers the
groups' methods, refuses a name served twice, and renders Core's `help` text from each method's
signature and docstring.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, TypeVar

if TYPE_CHECKING:
    from pantheon.node import Node
    from pantheon.wallet.manager import WalletManager

__all__ = ["RpcContext", "RpcGroup", "RpcMethod", "MethodTable", "rpc_method", "HIDDEN"]

F = TypeVar("F", bound=Callable[..., Any])
HIDDEN = "hidden"  # Core's category of test-only methods, served but not listed by `help`
_MARK = "__rpc_method__"


@dataclass(frozen=True)
class _Mark:
    regtest_only: bool
    category: str | None


def rpc_method(function: F | None = None, *, regtest_only: bool = False, category: str | None = None) -> Any:
    """Mark a group method as served by RPC. `regtest_only`: served on regtest alone, as Core's
    test-only methods; `category`: Core's help heading when it is not the group's (Core files
    sendrawtransaction, written in rpc/mempool.cpp, under rawtransactions)."""
    def mark(inner: F) -> F:
        setattr(inner, _MARK, _Mark(regtest_only, category))
        return inner

    return mark(function) if function is not None else mark


@dataclass
class RpcContext:
    """What every group is given."""

    node: Node
    shutdown: Callable[[], None]
    table: MethodTable | None = field(default=None, repr=False)
    #: the node's wallets (None: run with -disablewallet, and no wallet RPC is served)
    wallets: WalletManager | None = None


class RpcGroup:
    """A module's worth of RPC methods over a node, as Core groups them in its `rpc/*.cpp`;
    subclasses set `category`, the `help` heading of their methods (Core's lower-case name)."""

    category: ClassVar[str]

    def __init__(self, context: RpcContext) -> None:
        self.context = context
        self.node = context.node


@dataclass(frozen=True)
class RpcMethod:
    name: str
    category: str
    function: Callable[..., Any]

    @property
    def usage(self) -> str:
        """Core's one-line usage: the name, the required arguments, then `( optional … )`."""
        parameters = inspect.signature(self.function).parameters.values()
        required = [p.name for p in parameters if p.default is inspect.Parameter.empty]
        optional = [p.name for p in parameters if p.default is not inspect.Parameter.empty]
        return " ".join([self.name, *required, *([f"( {' '.join(optional)} )"] if optional else [])])

    @property
    def help(self) -> str:
        return f"{self.usage}\n\n{inspect.getdoc(self.function) or ''}".rstrip() + "\n"


class MethodTable:
    """Every method of the given groups, by name; on regtest, the regtest-only ones too."""

    def __init__(self, groups: Iterable[RpcGroup], *, regtest: bool) -> None:
        self.methods: dict[str, RpcMethod] = {}
        for group in groups:
            for name, member in inspect.getmembers(type(group), callable):
                mark = getattr(member, _MARK, None)
                if mark is None or (mark.regtest_only and not regtest):
                    continue
                if name in self.methods:
                    raise ValueError(f"RPC method {name} is served by two groups")
                self.methods[name] = RpcMethod(name, mark.category or group.category, getattr(group, name))

    def callables(self) -> dict[str, Callable[..., Any]]:
        return {name: method.function for name, method in self.methods.items()}

    def overview(self) -> str:
        """Core's `help` without arguments: each category's heading, then its methods' usage lines
        (Core's "hidden" ones, for tests, left out)."""
        sections: dict[str, list[str]] = {}
        for method in sorted(self.methods.values(), key=lambda m: (m.category, m.name)):
            if method.category != HIDDEN:
                sections.setdefault(method.category, []).append(method.usage)
        return "\n\n".join(f"== {category.capitalize()} ==\n" + "\n".join(lines)
                           for category, lines in sections.items())
