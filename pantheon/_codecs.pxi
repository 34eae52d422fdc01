# Payload codecs of the compiled twin; included by _wire.pyx, whose namespace (the OpenSSL
# helpers _dsha256/_dsha256_parts, the cimports, _errors, _limits) it shares.
#
# `pantheon._codecs_py` is the twin and the reference: the same public functions, the same
# read order, the same errors and messages (those of spec.py), the same values (the classes of
# `pantheon.primitives`). What is compiled here is what makes it fast:
#
# - Checking runs in C over a `_Cursor` (pointer, position, size) and never raises: a fault
#   records its kind, field and value in the cursor, and the decoder raises once, at its edge,
#   the error the pure twin raises at the same point. So a transaction is checked in full (counts,
#   caps, lengths, flags, witness rules) with no Python object made.
# - A decoded Tx is ONE object: its bytes (a bytes payload is kept as is; a tx in a block gets
#   its own copy, so no value pins the block's buffer) and the witness offset. `_CyTxReader`
#   is its lazy half: txid/wtxid hashed in place from the raw pieces with OpenSSL, records
#   built in C on first access.
# - Objects of the primitives' slotted classes are made the way object.__new__ makes them
#   (PyType_GenericAlloc) and their slots filled directly, at the offsets the class itself
#   publishes in tp_members (checked at import: object slots, writable, plain object base).
#   That skips PyObject_GenericSetAttr by interned name (object.__setattr__, which the frozen
#   classes need), the largest cost left in a decode once parsing is in C. (Untracking the new
#   objects from the GC gained nothing measurable and is not done.)
# - decode_headers hashes two headers at a time with the SHA extensions (_sha256_x86.h).

from cpython.bytes cimport PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.list cimport PyList_New
from cpython.long cimport PyLong_FromLongLong, PyLong_FromSsize_t, PyLong_FromUnsignedLongLong
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint16_t, uint64_t
from libc.string cimport strcmp

from pantheon import primitives as _primitives
from pantheon import protocol as _protocol


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char *name
        int type
        Py_ssize_t offset
        int flags
    enum:
        T_OBJECT_EX
        READONLY

cdef extern from "Python.h":
    ctypedef struct _TypeMembers "PyTypeObject":
        PyMemberDef *tp_members
    object PyType_GenericAlloc(PyTypeObject *cls, Py_ssize_t nitems)
    const Py_ssize_t PY_SSIZE_T_MAX


cdef extern from "_sha256_x86.h" nogil:
    int pantheon_sha256d80_available()
    void pantheon_sha256d80_x2(const unsigned char *header_a, const unsigned char *header_b,
                               unsigned char *out_a, unsigned char *out_b)

cdef bint _SHA_NI = pantheon_sha256d80_available()


# --- making primitives --------------------------------------------------------------------

cdef Py_ssize_t _slot(type cls, str name) except -1:
    """Offset of slot `name` in instances of `cls`, from the class's own member table."""
    if cls.__base__ is not object or cls.__new__ is not object.__new__ or cls.__itemsize__:
        raise TypeError(f"{cls.__name__} is not a plain slotted class")
    cdef bytes wanted = name.encode("ascii")
    cdef PyMemberDef *member = (<_TypeMembers *><PyObject *>cls).tp_members
    while member != NULL and member.name != NULL:
        if strcmp(member.name, wanted) == 0:
            if member.type != T_OBJECT_EX or member.flags & READONLY:
                raise TypeError(f"{cls.__name__}.{name} is not a writable object slot")
            return member.offset
        member += 1
    raise TypeError(f"{cls.__name__} has no slot {name!r}")


cdef inline void _put(object obj, Py_ssize_t offset, object value) noexcept:
    cdef PyObject **slot = <PyObject **>((<char *><PyObject *>obj) + offset)
    Py_INCREF(value)
    Py_XDECREF(slot[0])
    slot[0] = <PyObject *>value


cdef inline object _alloc(type cls):
    return PyType_GenericAlloc(<PyTypeObject *>cls, 0)


cdef type _InvVect = _primitives.InvVect
cdef type _NetAddress = _primitives.NetAddress
cdef type _TxIn = _primitives.TxIn
cdef type _TxOut = _primitives.TxOut
cdef type _Tx = _primitives.Tx
cdef type _BlockHeader = _primitives.BlockHeader
cdef type _Block = _primitives.Block

cdef Py_ssize_t _INV_TYPE = _slot(_InvVect, "type")
cdef Py_ssize_t _INV_HASH = _slot(_InvVect, "hash")
cdef Py_ssize_t _ADDR_TIME = _slot(_NetAddress, "time")
cdef Py_ssize_t _ADDR_SERVICES = _slot(_NetAddress, "services")
cdef Py_ssize_t _ADDR_IP = _slot(_NetAddress, "ip")
cdef Py_ssize_t _ADDR_PORT = _slot(_NetAddress, "port")
cdef Py_ssize_t _TXIN_PREV_TXID = _slot(_TxIn, "prev_txid")
cdef Py_ssize_t _TXIN_PREV_INDEX = _slot(_TxIn, "prev_index")
cdef Py_ssize_t _TXIN_SCRIPT_SIG = _slot(_TxIn, "script_sig")
cdef Py_ssize_t _TXIN_SEQUENCE = _slot(_TxIn, "sequence")
cdef Py_ssize_t _TXIN_WITNESS = _slot(_TxIn, "witness")
cdef Py_ssize_t _TXOUT_VALUE = _slot(_TxOut, "value")
cdef Py_ssize_t _TXOUT_SCRIPT = _slot(_TxOut, "script_pubkey")
cdef Py_ssize_t _TX_RAW = _slot(_Tx, "_raw")
cdef Py_ssize_t _TX_WIT = _slot(_Tx, "_wit")
cdef Py_ssize_t _TX_READER = _slot(_Tx, "_reader")
cdef Py_ssize_t _TX_INPUTS = _slot(_Tx, "_inputs")
cdef Py_ssize_t _TX_OUTPUTS = _slot(_Tx, "_outputs")
cdef Py_ssize_t _TX_TXID = _slot(_Tx, "_txid")
cdef Py_ssize_t _TX_WTXID = _slot(_Tx, "_wtxid")
cdef Py_ssize_t _TX_LEGACY_SIGOPS = _slot(_Tx, "legacy_sigops")
cdef Py_ssize_t _HEADER_RAW = _slot(_BlockHeader, "_raw")
cdef Py_ssize_t _HEADER_HASH = _slot(_BlockHeader, "hash")
cdef Py_ssize_t _HEADER_FIELDS = _slot(_BlockHeader, "_fields")
cdef Py_ssize_t _HEADER_TX_COUNT = _slot(_BlockHeader, "tx_count")
cdef Py_ssize_t _BLOCK_HEADER = _slot(_Block, "header")
cdef Py_ssize_t _BLOCK_TXS = _slot(_Block, "transactions")

cdef object _SEQUENCE_FINAL = 0xFFFFFFFF  # most inputs' sequence: one shared int


# --- sizes and caps, from limits ----------------------------------------------------------

cdef uint64_t _CEILING = _limits.MAX_MESSAGE_SIZE_CEILING
cdef uint64_t _MAX_INV = _limits.MAX_INV_ENTRIES
cdef uint64_t _MAX_HEADERS = _limits.MAX_HEADERS
cdef uint64_t _MAX_ADDR = _limits.MAX_ADDR
cdef uint64_t _U64_MAX = 0xFFFFFFFFFFFFFFFFULL
cdef Py_ssize_t _HASH_SIZE = 32
cdef Py_ssize_t _BLOCK_HEADER_SIZE = _protocol.BLOCK_HEADER_SIZE
cdef Py_ssize_t _INV_SIZE = 4 + 32
cdef Py_ssize_t _ADDR_SIZE = 4 + 8 + 16 + 2
cdef Py_ssize_t _NO_CAP = PY_SSIZE_T_MAX
cdef Py_ssize_t _CAP_INV = _limits.max_payload("inv")
cdef Py_ssize_t _CAP_GETDATA = _limits.max_payload("getdata")
cdef Py_ssize_t _CAP_NOTFOUND = _limits.max_payload("notfound")
cdef Py_ssize_t _CAP_HEADERS = _limits.max_payload("headers")
cdef Py_ssize_t _CAP_TX = _limits.max_payload("tx")
cdef Py_ssize_t _CAP_BLOCK = _limits.max_payload("block")
cdef Py_ssize_t _CAP_ADDR = _limits.max_payload("addr")


# --- the cursor: checked reads that record a fault instead of raising ---------------------

cdef enum _Fault:
    _TRUNCATED = 1
    _OVERSIZED
    _NONCANONICAL
    _SUPERFLUOUS_WITNESS
    _UNKNOWN_FLAGS

# Field names, as spec.py spells them in OversizedMessage; a cursor records an index.
cdef enum _Field:
    _F_INPUTS
    _F_OUTPUTS
    _F_SCRIPT_SIG
    _F_SCRIPT_PUBKEY
    _F_WITNESS
    _F_WITNESS_ITEM
    _F_BLOCK_TXS
    _F_INV
    _F_GETDATA
    _F_NOTFOUND
    _F_HEADERS
    _F_TX_COUNT
    _F_ADDR
    _F_COMPACT

cdef tuple _FIELD_NAMES = (
    "tx.inputs", "tx.outputs", "tx.script_sig", "tx.script_pubkey", "tx.witness",
    "tx.witness_item", "block.transactions", "inv.inventory", "getdata.inventory",
    "notfound.inventory", "headers.headers", "headers.tx_count", "addr.addresses", "CompactSize",
)


cdef struct _Cursor:
    const unsigned char *data
    Py_ssize_t pos
    Py_ssize_t size
    int fault
    int field
    int width
    uint64_t value
    uint64_t cap


cdef inline int _short(_Cursor *c) noexcept nogil:
    c.fault = _TRUNCATED
    return -1


cdef inline int _skip(_Cursor *c, uint64_t n) noexcept nogil:
    if n > <uint64_t>(c.size - c.pos):
        return _short(c)
    c.pos += <Py_ssize_t>n
    return 0


cdef inline uint64_t _le(const unsigned char *p, int width) noexcept nogil:
    cdef uint64_t value = 0
    cdef int i
    for i in range(width - 1, -1, -1):
        value = (value << 8) | p[i]
    return value


cdef inline uint32_t _le32(const unsigned char *p) noexcept nogil:
    return (<uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
            | (<uint32_t>p[3] << 24))


cdef inline int _compact(_Cursor *c, uint64_t *out) noexcept nogil:
    """A canonical CompactSize (Core's ReadCompactSize without its MAX_SIZE check)."""
    cdef Py_ssize_t pos = c.pos
    cdef unsigned char first
    cdef int width
    cdef uint64_t value, smallest
    if pos >= c.size:
        return _short(c)
    first = c.data[pos]
    if first < 0xFD:
        out[0] = first
        c.pos = pos + 1
        return 0
    if first == 0xFD:
        width = 2
        smallest = 0xFD
    elif first == 0xFE:
        width = 4
        smallest = 0x10000
    else:
        width = 8
        smallest = 0x100000000ULL
    if c.size - pos <= width:
        return _short(c)
    value = _le(c.data + pos + 1, width)
    if value < smallest:
        c.fault = _NONCANONICAL
        c.value = value
        c.width = width
        return -1
    out[0] = value
    c.pos = pos + 1 + width
    return 0


cdef inline int _count(_Cursor *c, uint64_t *out, int field, uint64_t cap) noexcept nogil:
    """A count or length held to `cap` before anything is read or made for it."""
    if _compact(c, out) < 0:
        return -1
    if out[0] > cap:
        c.fault = _OVERSIZED
        c.field = field
        c.value = out[0]
        c.cap = cap
        return -1
    return 0


cdef int _raise_fault(_Cursor *c, str what) except -1:
    if c.fault == _TRUNCATED:
        raise _errors.Truncated(f"{what}: data ends early ({c.size} bytes)")
    if c.fault == _OVERSIZED:
        raise _errors.OversizedMessage(_FIELD_NAMES[c.field], c.value, c.cap)
    if c.fault == _NONCANONICAL:
        raise _errors.InvalidValue(f"non-canonical CompactSize {c.value} in {c.width + 1} bytes")
    if c.fault == _SUPERFLUOUS_WITNESS:
        raise _errors.InvalidValue("superfluous witness record")
    if c.fault == _UNKNOWN_FLAGS:
        raise _errors.InvalidValue(f"unknown transaction optional data (flags {c.value:#04x})")
    raise SystemError(f"{what}: cursor fault {c.fault}")


cdef int _finish(_Cursor *c, str what) except -1:
    if c.pos != c.size:
        raise _errors.TrailingBytes(f"{what}: {c.size - c.pos} bytes after the last field")
    return 0


# --- input buffers: a bytes object is read in place, anything else through the buffer protocol

cdef struct _Input:
    Py_buffer view
    bint has_view


cdef int _open(_Cursor *c, _Input *source, object data, str command, Py_ssize_t cap) except -1:
    """Point `c` at `data` and check the payload against its command's cap."""
    source.has_view = False
    if PyBytes_CheckExact(data):
        c.data = <const unsigned char *>PyBytes_AS_STRING(data)
        c.size = PyBytes_GET_SIZE(data)
    else:
        PyObject_GetBuffer(data, &source.view, PyBUF_SIMPLE)
        source.has_view = True
        c.data = <const unsigned char *>source.view.buf
        c.size = source.view.len
    c.pos = 0
    c.fault = 0
    if c.size > cap:
        _close(source)
        raise _errors.OversizedMessage(f"{command} payload", c.size, cap)
    return 0


cdef inline void _close(_Input *source) noexcept:
    if source.has_view:
        PyBuffer_Release(&source.view)
        source.has_view = False


# --- CompactSize ----------------------------------------------------------------------------

def read_compact_size(data, offset=0):
    """(value, offset after it) of the canonical CompactSize at `offset` in `data`.

    Raises Truncated if `data` ends inside it and InvalidValue if it is not the shortest
    encoding (Core's ReadCompactSize); any value up to 2**64-1 is returned, unchecked.
    """
    cdef _Cursor c
    cdef _Input source
    cdef uint64_t value = 0
    _open(&c, &source, data, "CompactSize", _NO_CAP)
    try:
        start = _operator.index(offset)
        if not 0 <= start <= c.size:
            raise ValueError(f"offset {start} outside the {c.size} bytes of data")
        c.pos = start
        if _count(&c, &value, _F_COMPACT, _U64_MAX) < 0:
            _raise_fault(&c, "CompactSize")
        return value, c.pos
    finally:
        _close(&source)


cdef Py_ssize_t _compact_len(uint64_t value) noexcept nogil:
    if value < 0xFD:
        return 1
    if value <= 0xFFFF:
        return 3
    if value <= 0xFFFFFFFFULL:
        return 5
    return 9


cdef unsigned char *_put_compact(unsigned char *p, uint64_t value) noexcept nogil:
    cdef int width, i
    if value < 0xFD:
        p[0] = <unsigned char>value
        return p + 1
    if value <= 0xFFFF:
        p[0] = 0xFD
        width = 2
    elif value <= 0xFFFFFFFFULL:
        p[0] = 0xFE
        width = 4
    else:
        p[0] = 0xFF
        width = 8
    for i in range(width):
        p[1 + i] = <unsigned char>(value >> (8 * i))
    return p + 1 + width


def write_compact_size(value):
    """The canonical (shortest) CompactSize of `value`; InvalidValue outside 0..2**64-1."""
    value = _operator.index(value)
    if not 0 <= value <= _U64_MAX:
        raise _errors.InvalidValue(f"CompactSize out of range: {value}")
    cdef uint64_t n = value
    cdef unsigned char buf[9]
    cdef unsigned char *end = _put_compact(buf, n)
    return PyBytes_FromStringAndSize(<char *>buf, end - buf)


# --- encoding helpers -----------------------------------------------------------------------

cdef bytes _new_bytes(Py_ssize_t size, unsigned char **out):
    cdef bytes result = PyBytes_FromStringAndSize(NULL, size)
    out[0] = <unsigned char *>PyBytes_AS_STRING(result)
    return result


cdef bytes _checked_payload(str command, bytes payload, Py_ssize_t cap):
    if PyBytes_GET_SIZE(payload) > cap:
        raise _errors.OversizedMessage(f"{command} payload", PyBytes_GET_SIZE(payload), cap)
    return payload


cdef object _items(str command, str field, uint64_t cap, object items, type kind):
    if not isinstance(items, (list, tuple)):
        items = list(items)
    cdef Py_ssize_t count = len(items)
    if <uint64_t>count > cap:
        raise _errors.OversizedMessage(field, count, cap)
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"{command}: expected {kind.__name__}, not {type(item).__name__}")
    return items


cdef inline void _put_le(unsigned char *p, uint64_t value, int width) noexcept nogil:
    cdef int i
    for i in range(width):
        p[i] = <unsigned char>(value >> (8 * i))


cdef inline bytes _digest_of(const unsigned char *data, Py_ssize_t size):
    cdef unsigned char *out
    cdef bytes digest = _new_bytes(_HASH_SIZE, &out)
    cdef int rc
    if size >= NOGIL_MIN_SIZE:
        with nogil:
            rc = _dsha256(data, <size_t>size, out)
    else:
        rc = _dsha256(data, <size_t>size, out)
    if rc != 0:
        raise MemoryError("OpenSSL SHA256 failed")
    return digest


# --- inv, getdata, notfound -----------------------------------------------------------------

cdef Py_ssize_t _inventory_span(const unsigned char *data, Py_ssize_t size, str command, int field,
                                Py_ssize_t cap, Py_ssize_t *count) except -1:
    """Offset of the first entry of an inv/getdata/notfound payload, its entry count into
    count[0]: payload cap, canonical count held to MAX_INV_ENTRIES, exact length, in the spec's
    order and words. Shared by the decoders and InventorySet.filter_new."""
    cdef _Cursor c
    cdef uint64_t value = 0
    if size > cap:
        raise _errors.OversizedMessage(f"{command} payload", size, cap)
    c.data, c.size, c.pos, c.fault = data, size, 0, 0
    if _count(&c, &value, field, _MAX_INV) < 0 or _skip(&c, value * <uint64_t>_INV_SIZE) < 0:
        _raise_fault(&c, command)
    _finish(&c, command)
    count[0] = <Py_ssize_t>value
    return c.pos - count[0] * _INV_SIZE


cdef list _decode_inventory(object data, str command, int field, Py_ssize_t cap):
    cdef _Cursor c
    cdef _Input source
    cdef Py_ssize_t count = 0, i
    cdef const unsigned char *p
    cdef list result
    _open(&c, &source, data, command, cap)
    try:
        p = c.data + _inventory_span(c.data, c.size, command, field, cap, &count)
        result = PyList_New(0)
        for i in range(count):
            entry = _alloc(_InvVect)
            _put(entry, _INV_TYPE, PyLong_FromUnsignedLongLong(_le32(p)))
            _put(entry, _INV_HASH, PyBytes_FromStringAndSize(<const char *>p + 4, _HASH_SIZE))
            result.append(entry)
            p += _INV_SIZE
        return result
    finally:
        _close(&source)


cdef bytes _encode_inventory(str command, str field, object items):
    items = _items(command, field, _MAX_INV, items, _InvVect)
    cdef Py_ssize_t count = len(items)
    cdef unsigned char *p
    cdef bytes payload = _new_bytes(_compact_len(count) + count * _INV_SIZE, &p)
    p = _put_compact(p, count)
    for item in items:
        _put_le(p, <uint32_t>item.type, 4)
        memcpy(p + 4, PyBytes_AS_STRING(item.hash), _HASH_SIZE)
        p += _INV_SIZE
    return payload


def decode_inv(data):
    """An `inv` payload: up to `limits.MAX_INV_ENTRIES` InvVect."""
    return _decode_inventory(data, "inv", _F_INV, _CAP_INV)


def encode_inv(items):
    return _checked_payload("inv", _encode_inventory("inv", "inv.inventory", items), _CAP_INV)


def decode_getdata(data):
    """A `getdata` payload: up to `limits.MAX_INV_ENTRIES` InvVect."""
    return _decode_inventory(data, "getdata", _F_GETDATA, _CAP_GETDATA)


def encode_getdata(items):
    return _checked_payload("getdata", _encode_inventory("getdata", "getdata.inventory", items), _CAP_GETDATA)


def decode_notfound(data):
    """A `notfound` payload: up to `limits.MAX_INV_ENTRIES` InvVect."""
    return _decode_inventory(data, "notfound", _F_NOTFOUND, _CAP_NOTFOUND)


def encode_notfound(items):
    return _checked_payload("notfound", _encode_inventory("notfound", "notfound.inventory", items), _CAP_NOTFOUND)


# --- headers --------------------------------------------------------------------------------

cdef object _new_header(const unsigned char *p, object tx_count):
    header = _alloc(_BlockHeader)
    _put(header, _HEADER_RAW, PyBytes_FromStringAndSize(<const char *>p, _BLOCK_HEADER_SIZE))
    _put(header, _HEADER_HASH, _digest_of(p, _BLOCK_HEADER_SIZE))
    _put(header, _HEADER_FIELDS, None)
    _put(header, _HEADER_TX_COUNT, tx_count)
    return header


def decode_headers(data):
    """A `headers` payload: up to `limits.MAX_HEADERS` BlockHeader, each hashed, each with the
    transaction count that followed it (Core ignores it) as `tx_count`."""
    cdef _Cursor c
    cdef _Input source
    cdef uint64_t count = 0, tx_count = 0, i
    cdef Py_ssize_t first, start
    cdef const unsigned char *pending = NULL
    cdef unsigned char *pending_out = NULL
    cdef unsigned char *out
    cdef unsigned char spare[32]
    cdef list result
    _open(&c, &source, data, "headers", _CAP_HEADERS)
    try:
        if _count(&c, &count, _F_HEADERS, _MAX_HEADERS) < 0:
            _raise_fault(&c, "headers")
        first = c.pos
        for i in range(count):  # check it all first: building cannot fail
            if _skip(&c, _BLOCK_HEADER_SIZE) < 0 or _count(&c, &tx_count, _F_TX_COUNT, _CEILING) < 0:
                _raise_fault(&c, "headers")
        _finish(&c, "headers")
        result = PyList_New(0)
        c.pos = first
        for i in range(count):
            start = c.pos
            c.pos += _BLOCK_HEADER_SIZE
            _compact(&c, &tx_count)
            header = _alloc(_BlockHeader)
            _put(header, _HEADER_RAW, PyBytes_FromStringAndSize(<const char *>c.data + start, _BLOCK_HEADER_SIZE))
            _put(header, _HEADER_HASH, _new_bytes(_HASH_SIZE, &out))
            _put(header, _HEADER_FIELDS, None)
            _put(header, _HEADER_TX_COUNT, PyLong_FromUnsignedLongLong(tx_count))
            result.append(header)
            # Hashes are written into the fresh digests before anyone can see them.
            if not _SHA_NI:
                _dsha256(c.data + start, _BLOCK_HEADER_SIZE, out)
            elif pending == NULL:
                pending, pending_out = c.data + start, out
            else:
                pantheon_sha256d80_x2(pending, c.data + start, pending_out, out)
                pending = NULL
        if pending != NULL:
            pantheon_sha256d80_x2(pending, pending, pending_out, spare)
        return result
    finally:
        _close(&source)


def _header_hashing(sha_ni=None):
    """Which hash decode_headers uses: "sha-ni" (two headers at a time) or "openssl". A test
    hook: `sha_ni=False` forces OpenSSL, True restores SHA-NI where the CPU has it."""
    global _SHA_NI
    if sha_ni is not None:
        _SHA_NI = bool(sha_ni) and pantheon_sha256d80_available()
    return "sha-ni" if _SHA_NI else "openssl"


def encode_headers(headers):
    headers = _items("headers", "headers.headers", _MAX_HEADERS, headers, _BlockHeader)
    cdef Py_ssize_t size = _compact_len(len(headers))
    cdef uint64_t tx_count
    for header in headers:
        tx_count = header.tx_count
        size += _BLOCK_HEADER_SIZE + _compact_len(tx_count)
    cdef unsigned char *p
    cdef bytes payload = _new_bytes(size, &p)
    p = _put_compact(p, len(headers))
    for header in headers:
        memcpy(p, PyBytes_AS_STRING(header._raw), _BLOCK_HEADER_SIZE)
        p = _put_compact(p + _BLOCK_HEADER_SIZE, header.tx_count)
    return _checked_payload("headers", payload, _CAP_HEADERS)


# --- the lazy half of a Tx decoded here -----------------------------------------------------

cdef class _CyTxReader:
    """What a Tx decoded by this twin calls on first access (see pantheon.primitives.Tx)."""

    def txid(self, bytes raw not None, Py_ssize_t wit):
        cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(raw)
        cdef const unsigned char *pieces[3]
        cdef size_t sizes[3]
        cdef unsigned char *out
        cdef bytes digest
        cdef int rc
        if not wit:
            return _digest_of(p, size)
        if not 6 <= wit <= size - 4:
            raise ValueError(f"witness offset {wit} outside a {size}-byte transaction")
        # version | inputs, outputs | locktime: the txid skips marker, flag and witness.
        pieces[0] = p
        sizes[0] = 4
        pieces[1] = p + 6
        sizes[1] = <size_t>(wit - 6)
        pieces[2] = p + size - 4
        sizes[2] = 4
        digest = _new_bytes(_HASH_SIZE, &out)
        if size >= NOGIL_MIN_SIZE:
            with nogil:
                rc = _dsha256_parts(pieces, sizes, 3, out)
        else:
            rc = _dsha256_parts(pieces, sizes, 3, out)
        if rc != 0:
            raise MemoryError("OpenSSL SHA256 failed")
        return digest

    def wtxid(self, bytes raw not None, Py_ssize_t wit):
        return _digest_of(<const unsigned char *>PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))

    def parts(self, bytes raw not None, Py_ssize_t wit):
        """(inputs, outputs) built from `raw`, which a decoder has checked; any fault here means
        the Tx was tampered with, and is reported, never read past."""
        cdef _Cursor c
        cdef uint64_t count, items, length, i, j
        cdef Py_ssize_t start
        cdef const unsigned char *p
        cdef tuple inputs, outputs, stack
        c.data = <const unsigned char *>PyBytes_AS_STRING(raw)
        c.size = PyBytes_GET_SIZE(raw)
        c.pos = 6 if wit else 4
        c.fault = 0
        if _compact(&c, &count) < 0 or count > <uint64_t>c.size:
            raise ValueError("corrupt transaction layout")
        if count == 0 and not wit:
            return (), ()  # version, empty input vector, flags 0 (Core's empty tx), locktime
        inputs = PyTuple_New(<Py_ssize_t>count)
        for i in range(count):
            start = c.pos
            if _skip(&c, 36) < 0 or _compact(&c, &length) < 0 or _skip(&c, length) < 0 or _skip(&c, 4) < 0:
                raise ValueError("corrupt transaction layout")
            p = c.data + start
            entry = _alloc(_TxIn)
            _put(entry, _TXIN_PREV_TXID, PyBytes_FromStringAndSize(<const char *>p, _HASH_SIZE))
            _put(entry, _TXIN_PREV_INDEX, PyLong_FromUnsignedLongLong(_le32(p + 32)))
            _put(entry, _TXIN_SCRIPT_SIG, PyBytes_FromStringAndSize(<const char *>c.data + c.pos - 4 - length, <Py_ssize_t>length))
            if _le32(c.data + c.pos - 4) == 0xFFFFFFFFU:
                _put(entry, _TXIN_SEQUENCE, _SEQUENCE_FINAL)
            else:
                _put(entry, _TXIN_SEQUENCE, PyLong_FromUnsignedLongLong(_le32(c.data + c.pos - 4)))
            _put(entry, _TXIN_WITNESS, ())
            Py_INCREF(entry)
            PyTuple_SET_ITEM(inputs, <Py_ssize_t>i, entry)
        if _compact(&c, &count) < 0 or count > <uint64_t>c.size:
            raise ValueError("corrupt transaction layout")
        outputs = PyTuple_New(<Py_ssize_t>count)
        for i in range(count):
            start = c.pos
            if _skip(&c, 8) < 0 or _compact(&c, &length) < 0 or _skip(&c, length) < 0:
                raise ValueError("corrupt transaction layout")
            entry = _alloc(_TxOut)
            _put(entry, _TXOUT_VALUE, PyLong_FromLongLong(<int64_t>_le(c.data + start, 8)))
            _put(entry, _TXOUT_SCRIPT, PyBytes_FromStringAndSize(<const char *>c.data + c.pos - length, <Py_ssize_t>length))
            Py_INCREF(entry)
            PyTuple_SET_ITEM(outputs, <Py_ssize_t>i, entry)
        if wit:
            if c.pos != wit:
                raise ValueError("corrupt transaction layout")
            for entry in inputs:
                if _compact(&c, &items) < 0 or items > <uint64_t>c.size:
                    raise ValueError("corrupt transaction layout")
                if not items:
                    continue
                stack = PyTuple_New(<Py_ssize_t>items)
                for j in range(items):
                    if _compact(&c, &length) < 0 or _skip(&c, length) < 0:
                        raise ValueError("corrupt transaction layout")
                    item = PyBytes_FromStringAndSize(<const char *>c.data + c.pos - length, <Py_ssize_t>length)
                    Py_INCREF(item)
                    PyTuple_SET_ITEM(stack, <Py_ssize_t>j, item)
                _put(entry, _TXIN_WITNESS, stack)
        return inputs, outputs


cdef _CyTxReader _CY_TX_READER = _CyTxReader()


# --- tx, block ------------------------------------------------------------------------------

cdef int _scan_tx(_Cursor *c, Py_ssize_t *witness) noexcept nogil:
    """Check the transaction at c.pos as spec.Transaction reads it; on success c.pos is its end
    and witness[0] where its witness starts (0 for a legacy tx)."""
    cdef uint64_t inputs, outputs, items, length, i, j
    cdef unsigned int flags = 0
    cdef bint has_outputs = True
    cdef bint carried = False
    witness[0] = 0
    if _skip(c, 4) < 0 or _count(c, &inputs, _F_INPUTS, _CEILING) < 0:  # version, inputs
        return -1
    if inputs == 0:
        # An empty input vector: the next byte is BIP144's flag, or 0 for Core's empty tx,
        # which then has no output vector either.
        if c.pos >= c.size:
            return _short(c)
        flags = c.data[c.pos]
        c.pos += 1
        if flags:
            if _count(c, &inputs, _F_INPUTS, _CEILING) < 0:
                return -1
        else:
            has_outputs = False
    for i in range(inputs):  # outpoint, script_sig, sequence
        if (_skip(c, 36) < 0 or _count(c, &length, _F_SCRIPT_SIG, _CEILING) < 0
                or _skip(c, length) < 0 or _skip(c, 4) < 0):
            return -1
    if has_outputs:
        if _count(c, &outputs, _F_OUTPUTS, _CEILING) < 0:
            return -1
        for i in range(outputs):  # value, script_pubkey
            if (_skip(c, 8) < 0 or _count(c, &length, _F_SCRIPT_PUBKEY, _CEILING) < 0
                    or _skip(c, length) < 0):
                return -1
    if flags & 1:
        witness[0] = c.pos
        flags ^= 1
        for i in range(inputs):
            if _count(c, &items, _F_WITNESS, _CEILING) < 0:
                return -1
            if items:
                carried = True
            for j in range(items):
                if _count(c, &length, _F_WITNESS_ITEM, _CEILING) < 0 or _skip(c, length) < 0:
                    return -1
        if not carried:
            c.fault = _SUPERFLUOUS_WITNESS
            return -1
    if flags:
        c.fault = _UNKNOWN_FLAGS
        c.value = flags
        return -1
    return _skip(c, 4)  # locktime


cdef object _new_tx(bytes raw, Py_ssize_t witness):
    tx = _alloc(_Tx)
    _put(tx, _TX_RAW, raw)
    _put(tx, _TX_WIT, PyLong_FromSsize_t(witness))
    _put(tx, _TX_READER, _CY_TX_READER)
    _put(tx, _TX_INPUTS, None)
    _put(tx, _TX_OUTPUTS, None)
    _put(tx, _TX_TXID, None)
    _put(tx, _TX_WTXID, None)
    _put(tx, _TX_LEGACY_SIGOPS, None)
    return tx


def decode_tx(data):
    """A `tx` payload, checked in full; the Tx builds its records and hashes on first use."""
    cdef _Cursor c
    cdef _Input source
    cdef Py_ssize_t witness
    _open(&c, &source, data, "tx", _CAP_TX)
    try:
        if _scan_tx(&c, &witness) < 0:
            _raise_fault(&c, "tx")
        _finish(&c, "tx")
        if source.has_view:
            data = PyBytes_FromStringAndSize(<const char *>c.data, c.size)
        return _new_tx(data, witness)
    finally:
        _close(&source)


def encode_tx(tx):
    if not isinstance(tx, _Tx):
        raise TypeError(f"tx: expected Tx, not {type(tx).__name__}")
    return _checked_payload("tx", tx._raw, _CAP_TX)


def decode_block(data):
    """A `block` payload: the header (hashed) and every transaction, checked in full."""
    cdef _Cursor c
    cdef _Input source
    cdef uint64_t count = 0, i
    cdef Py_ssize_t start, witness
    cdef list transactions
    _open(&c, &source, data, "block", _CAP_BLOCK)
    try:
        if _skip(&c, _BLOCK_HEADER_SIZE) < 0:
            _raise_fault(&c, "block")
        header = _new_header(c.data, 0)
        if _count(&c, &count, _F_BLOCK_TXS, _CEILING) < 0:
            _raise_fault(&c, "block")
        transactions = PyList_New(0)
        for i in range(count):
            start = c.pos
            if _scan_tx(&c, &witness) < 0:
                _raise_fault(&c, "block")
            transactions.append(_new_tx(
                PyBytes_FromStringAndSize(<const char *>c.data + start, c.pos - start),
                witness - start if witness else 0,
            ))
        _finish(&c, "block")
    finally:
        _close(&source)
    block = _alloc(_Block)
    _put(block, _BLOCK_HEADER, header)
    _put(block, _BLOCK_TXS, tuple(transactions))
    return block


def encode_block(block):
    if not isinstance(block, _Block):
        raise TypeError(f"block: expected Block, not {type(block).__name__}")
    cdef tuple transactions = block.transactions
    cdef Py_ssize_t size = _BLOCK_HEADER_SIZE + _compact_len(len(transactions))
    cdef bytes raw
    for tx in transactions:
        size += PyBytes_GET_SIZE(tx._raw)
    cdef unsigned char *p
    cdef bytes payload = _new_bytes(size, &p)
    memcpy(p, PyBytes_AS_STRING(block.header._raw), _BLOCK_HEADER_SIZE)
    p = _put_compact(p + _BLOCK_HEADER_SIZE, len(transactions))
    for tx in transactions:
        raw = tx._raw
        memcpy(p, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
        p += PyBytes_GET_SIZE(raw)
    return _checked_payload("block", payload, _CAP_BLOCK)


# --- addr -----------------------------------------------------------------------------------

def decode_addr(data):
    """An `addr` payload: up to `limits.MAX_ADDR` NetAddress (with time)."""
    cdef _Cursor c
    cdef _Input source
    cdef uint64_t count = 0
    cdef Py_ssize_t i
    cdef const unsigned char *p
    cdef list result
    _open(&c, &source, data, "addr", _CAP_ADDR)
    try:
        if _count(&c, &count, _F_ADDR, _MAX_ADDR) < 0:
            _raise_fault(&c, "addr")
        if _skip(&c, count * <uint64_t>_ADDR_SIZE) < 0:
            _raise_fault(&c, "addr")
        _finish(&c, "addr")
        result = PyList_New(0)
        p = c.data + c.pos - <Py_ssize_t>count * _ADDR_SIZE
        for i in range(<Py_ssize_t>count):
            entry = _alloc(_NetAddress)
            _put(entry, _ADDR_TIME, PyLong_FromUnsignedLongLong(_le32(p)))
            _put(entry, _ADDR_SERVICES, PyLong_FromUnsignedLongLong(_le(p + 4, 8)))
            _put(entry, _ADDR_IP, PyBytes_FromStringAndSize(<const char *>p + 12, 16))
            _put(entry, _ADDR_PORT, PyLong_FromUnsignedLongLong((<uint16_t>p[28] << 8) | p[29]))
            result.append(entry)
            p += _ADDR_SIZE
        return result
    finally:
        _close(&source)


def encode_addr(addresses):
    addresses = _items("addr", "addr.addresses", _MAX_ADDR, addresses, _NetAddress)
    cdef Py_ssize_t count = len(addresses)
    cdef unsigned char *p
    cdef bytes payload = _new_bytes(_compact_len(count) + count * _ADDR_SIZE, &p)
    cdef uint16_t port
    p = _put_compact(p, count)
    for address in addresses:
        _put_le(p, <uint32_t>address.time, 4)
        _put_le(p + 4, <uint64_t>address.services, 8)
        memcpy(p + 12, PyBytes_AS_STRING(address.ip), 16)
        port = address.port
        p[28] = port >> 8
        p[29] = port & 0xFF
        p += _ADDR_SIZE
    return _checked_payload("addr", payload, _CAP_ADDR)
