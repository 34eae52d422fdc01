"""Pure-Python twin of the compiled signature-operation counts (`_sigops.pxi`): Core's
`CScript::GetSigOpCount` over one script, and `GetLegacySigOpCount` over a transaction's
scriptSigs and scriptPubKeys.

CheckBlock counts every script of every transaction of a block (MAX_BLOCK_SIGOPS_COST), the
connect counts P2SH redeem scripts and P2WSH witness scripts, and the mempool counts each
transaction it accepts. Parsed in Python, this is most of a dense block's CheckBlock, so the
compiled twin walks the script bytes in C.

A script is read as Core's `GetOp` reads it: a push's data is skipped (a 0xac inside a signature
is not an opcode) and a truncated push ends the count. CHECKSIG(VERIFY) counts 1 and
CHECKMULTISIG(VERIFY) 20, or, when `accurate`, the key count an OP_1..OP_16 just before it states.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pantheon.chain.script import (  # the script vocabulary; it imports nothing
    MAX_PUBKEYS_PER_MULTISIG,
    OP_1,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKMULTISIGVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    OP_INVALIDOPCODE,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    OP_PUSHDATA4,
)
from pantheon.primitives import Tx

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["script_sigops", "tx_legacy_sigops"]

_PUSH_WIDTH = {OP_PUSHDATA1: 1, OP_PUSHDATA2: 2, OP_PUSHDATA4: 4}
# A script without any of the four sigop bytes counts none: most scripts, found without a parse.
_SIGOP_BYTES = re.compile(b"[%c-%c]" % (OP_CHECKSIG, OP_CHECKMULTISIGVERIFY))


def script_sigops(script: Buffer, accurate: bool = False) -> int:
    """Core's `CScript::GetSigOpCount(fAccurate)` of `script`."""
    if type(script) is not bytes:
        with memoryview(script) as view:  # any bytes-like; an int or a str is refused (TypeError)
            script = view.tobytes()
    if _SIGOP_BYTES.search(script) is None:
        return 0
    count = 0
    last = OP_INVALIDOPCODE  # Core's lastOpcode before the first
    pos, end = 0, len(script)
    while pos < end:
        opcode = script[pos]
        pos += 1
        if opcode <= OP_PUSHDATA4:
            width = _PUSH_WIDTH.get(opcode, 0)
            if end - pos < width:
                break
            size = int.from_bytes(script[pos:pos + width], "little") if width else opcode
            pos += width
            if end - pos < size:
                break
            pos += size
        elif opcode == OP_CHECKSIG or opcode == OP_CHECKSIGVERIFY:
            count += 1
        elif opcode == OP_CHECKMULTISIG or opcode == OP_CHECKMULTISIGVERIFY:
            count += last - OP_1 + 1 if accurate and OP_1 <= last <= OP_16 else MAX_PUBKEYS_PER_MULTISIG
        last = opcode
    return count


def tx_legacy_sigops(tx: Tx) -> int:
    """Core's `GetLegacySigOpCount`: `script_sigops` (not accurate) of every scriptSig and
    scriptPubKey of `tx`, the coinbase's included."""
    if not isinstance(tx, Tx):
        raise TypeError(f"tx: expected Tx, not {type(tx).__name__}")
    return (sum(script_sigops(txin.script_sig) for txin in tx.inputs)
            + sum(script_sigops(txout.script_pubkey) for txout in tx.outputs))
