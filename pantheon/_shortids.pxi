# Included by _wire.pyx after _siphash.pxi and _invset.pxi: BIP152 short ids, the compiled twin of
# pantheon._shortids_py (see it for the definitions). SipHash is _siphash.pxi's. The receiver's
# table of short ids is a sorted array searched by bisection: the ids are the sender's choice,
# so no hash table keyed by them can be pushed into long probe runs. Every name at module level
# starts with _shortids: the other included areas share this namespace.

from libc.stdlib cimport qsort

from pantheon import _shortids_py

cdef Py_ssize_t _SHORTIDS_LENGTH = _shortids_py.SHORTTXIDS_LENGTH
cdef uint64_t _SHORTIDS_MASK = _shortids_py._SHORT_ID_MASK
cdef Py_ssize_t _SHORTIDS_NO_MATCH = _shortids_py.NO_MATCH
if _SHORTIDS_LENGTH != 6:
    raise RuntimeError(f"short ids are read as 6-byte words, SHORTTXIDS_LENGTH is {_SHORTIDS_LENGTH}")


ctypedef struct _shortids_entry:
    uint64_t id
    Py_ssize_t position


cdef int _shortids_compare(const void *a, const void *b) noexcept nogil:
    cdef uint64_t x = (<const _shortids_entry *>a).id, y = (<const _shortids_entry *>b).id
    return (x > y) - (x < y)


cdef uint64_t _shortids_read(object short_id) except? 0xFFFFFFFFFFFFFFFF:
    if not isinstance(short_id, bytes):
        raise TypeError(f"short id must be bytes, not {type(short_id).__name__}")
    if PyBytes_GET_SIZE(short_id) != _SHORTIDS_LENGTH:
        raise ValueError(f"short id must be {_SHORTIDS_LENGTH} bytes, got {PyBytes_GET_SIZE(short_id)}")
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(short_id)
    return (<uint64_t>p[0] | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16) | (<uint64_t>p[3] << 24)
            | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40))


def short_ids(k0, k1, wtxids):
    """The 6-byte short id of each 32-byte wtxid under the key (k0, k1), in order."""
    cdef uint64_t key0, key1, value
    cdef unsigned char out[8]
    cdef int b
    key0, key1 = _siphash_py._checked_key(k0, k1)
    result = []
    for wtxid in wtxids:
        value = _siphash24(key0, key1, _invset_hash_ptr(wtxid), 32)
        for b in range(6):
            out[b] = <unsigned char>((value >> (8 * b)) & 0xFF)
        result.append(PyBytes_FromStringAndSize(<char *>out, 6))
    return result


def match_short_ids(k0, k1, ids, wtxids):
    """For each short id in `ids`, the index in `wtxids` of the one candidate whose short id it
    is, -1 when none (or two different ones) is; None when two of `ids` are equal."""
    cdef uint64_t key0, key1, sid
    cdef Py_ssize_t n = len(ids), i, index, lo, hi, mid, position, previous, matched = 0
    cdef _shortids_entry *table
    cdef Py_ssize_t *found
    cdef unsigned char *ambiguous
    key0, key1 = _siphash_py._checked_key(k0, k1)
    table = <_shortids_entry *>PyMem_Malloc((n + 1) * sizeof(_shortids_entry))
    found = <Py_ssize_t *>PyMem_Malloc((n + 1) * sizeof(Py_ssize_t))
    ambiguous = <unsigned char *>PyMem_Calloc(n + 1, 1)
    if table is NULL or found is NULL or ambiguous is NULL:
        PyMem_Free(table)
        PyMem_Free(found)
        PyMem_Free(ambiguous)
        raise MemoryError(f"cannot allocate a table of {n} short ids")
    try:
        for i in range(n):
            table[i].id = _shortids_read(ids[i])
            table[i].position = i
            found[i] = _SHORTIDS_NO_MATCH
        qsort(table, n, sizeof(_shortids_entry), _shortids_compare)
        for i in range(1, n):
            if table[i].id == table[i - 1].id:
                return None
        index = 0
        for wtxid in wtxids:
            if matched == n:
                break
            sid = _siphash24(key0, key1, _invset_hash_ptr(wtxid), 32) & _SHORTIDS_MASK
            lo = 0
            hi = n
            while lo < hi:
                mid = (lo + hi) >> 1
                if table[mid].id < sid:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < n and table[lo].id == sid:
                position = table[lo].position
                if not ambiguous[position]:
                    previous = found[position]
                    if previous == _SHORTIDS_NO_MATCH:
                        found[position] = index
                        matched += 1
                    elif wtxids[previous] != wtxid:
                        found[position] = _SHORTIDS_NO_MATCH
                        ambiguous[position] = 1
                        matched -= 1
            index += 1
        return [found[i] for i in range(n)]
    finally:
        PyMem_Free(table)
        PyMem_Free(found)
        PyMem_Free(ambiguous)
