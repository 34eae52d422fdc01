# Included by _wire.pyx: signature-operation counts, the compiled twin of pantheon._sigops_py
# (see it for Core's rules). A script's bytes are walked in C as Core's GetOp walks them. Every
# name at module level starts with _sigops: the other included areas share this namespace.

from pantheon import _sigops_py

cdef unsigned char _SIGOPS_PUSHDATA1 = _sigops_py.OP_PUSHDATA1
cdef unsigned char _SIGOPS_PUSHDATA2 = _sigops_py.OP_PUSHDATA2
cdef unsigned char _SIGOPS_PUSHDATA4 = _sigops_py.OP_PUSHDATA4
cdef unsigned char _SIGOPS_OP_1 = _sigops_py.OP_1
cdef unsigned char _SIGOPS_OP_16 = _sigops_py.OP_16
cdef unsigned char _SIGOPS_CHECKSIG = _sigops_py.OP_CHECKSIG
cdef unsigned char _SIGOPS_CHECKSIGVERIFY = _sigops_py.OP_CHECKSIGVERIFY
cdef unsigned char _SIGOPS_CHECKMULTISIG = _sigops_py.OP_CHECKMULTISIG
cdef unsigned char _SIGOPS_CHECKMULTISIGVERIFY = _sigops_py.OP_CHECKMULTISIGVERIFY
cdef Py_ssize_t _SIGOPS_MULTISIG_KEYS = _sigops_py.MAX_PUBKEYS_PER_MULTISIG
cdef unsigned char _SIGOPS_INVALID = _sigops_py.OP_INVALIDOPCODE


cdef Py_ssize_t _sigops_count(const unsigned char *p, Py_ssize_t end, bint accurate) noexcept nogil:
    cdef Py_ssize_t pos = 0, count = 0
    cdef uint64_t size
    cdef unsigned char opcode, last = _SIGOPS_INVALID
    while pos < end:
        opcode = p[pos]
        pos += 1
        if opcode <= _SIGOPS_PUSHDATA4:
            if opcode < _SIGOPS_PUSHDATA1:
                size = opcode
            elif opcode == _SIGOPS_PUSHDATA1:
                if end - pos < 1:
                    break
                size = p[pos]
                pos += 1
            elif opcode == _SIGOPS_PUSHDATA2:
                if end - pos < 2:
                    break
                size = _le(p + pos, 2)
                pos += 2
            else:
                if end - pos < 4:
                    break
                size = _le(p + pos, 4)
                pos += 4
            if <uint64_t>(end - pos) < size:
                break
            pos += <Py_ssize_t>size
        elif opcode == _SIGOPS_CHECKSIG or opcode == _SIGOPS_CHECKSIGVERIFY:
            count += 1
        elif opcode == _SIGOPS_CHECKMULTISIG or opcode == _SIGOPS_CHECKMULTISIGVERIFY:
            if accurate and _SIGOPS_OP_1 <= last <= _SIGOPS_OP_16:
                count += last - _SIGOPS_OP_1 + 1
            else:
                count += _SIGOPS_MULTISIG_KEYS
        last = opcode
    return count


cdef Py_ssize_t _sigops_of(object script, bint accurate) except -1:
    cdef Py_buffer view
    if type(script) is bytes:
        return _sigops_count(<const unsigned char *>PyBytes_AS_STRING(script), PyBytes_GET_SIZE(script), accurate)
    PyObject_GetBuffer(script, &view, PyBUF_SIMPLE)
    try:
        return _sigops_count(<const unsigned char *>view.buf, view.len, accurate)
    finally:
        PyBuffer_Release(&view)


def script_sigops(script, accurate=False):
    """Core's `CScript::GetSigOpCount(fAccurate)` of `script`."""
    return _sigops_of(script, bool(accurate))


def tx_legacy_sigops(tx):
    """Core's `GetLegacySigOpCount`: `script_sigops` (not accurate) of every scriptSig and
    scriptPubKey of `tx`, the coinbase's included."""
    if not isinstance(tx, _Tx):
        raise TypeError(f"tx: expected Tx, not {type(tx).__name__}")
    cdef Py_ssize_t count = 0
    for entry in <tuple>tx.inputs:
        count += _sigops_of(entry.script_sig, False)
    for entry in <tuple>tx.outputs:
        count += _sigops_of(entry.script_pubkey, False)
    return count
