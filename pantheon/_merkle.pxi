# Included by _wire.pyx: merkle roots, the compiled twin of pantheon._merkle_py (see it for the
# definition and Core's mutation flag). The leaves are copied into one buffer and every level is
# hashed in place (a pair's double hash overwrites the slot of the pair's first half, already
# read), with the GIL released for large trees. Every name at module level starts with _merkle:
# the other included areas share this namespace.

from cpython.mem cimport PyMem_Free, PyMem_Malloc

from pantheon import _merkle_py

cdef Py_ssize_t _MERKLE_HASH = _merkle_py.HASH_SIZE
if _MERKLE_HASH != SHA256_DIGEST_LENGTH:
    raise RuntimeError(f"merkle nodes are SHA256 digests, HASH_SIZE is {_MERKLE_HASH}")
cdef Py_ssize_t _MERKLE_NOGIL_LEAVES = NOGIL_MIN_SIZE // SHA256_DIGEST_LENGTH  # trees hashed without the GIL


cdef int _merkle_levels(unsigned char *level, Py_ssize_t count, bint *mutated) noexcept nogil:
    """Hash `count` leaves at `level` (room for count + 1) down to the root at its start; 0 on
    success."""
    cdef Py_ssize_t i
    while count > 1:
        i = 0
        while i + 1 < count:
            if memcmp(level + i * _MERKLE_HASH, level + (i + 1) * _MERKLE_HASH, _MERKLE_HASH) == 0:
                mutated[0] = True
            i += 2
        if count & 1:
            memcpy(level + count * _MERKLE_HASH, level + (count - 1) * _MERKLE_HASH, _MERKLE_HASH)
            count += 1
        for i in range(count // 2):
            if _dsha256(level + i * 2 * _MERKLE_HASH, 2 * _MERKLE_HASH, level + i * _MERKLE_HASH) != 0:
                return -1
        count //= 2
    return 0


def merkle_root(leaves):
    """The merkle root of `leaves` (32-byte hashes, in order) and whether the tree is mutated;
    32 zero bytes (not mutated) for no leaves, as Core's ComputeMerkleRoot."""
    cdef list items = leaves if type(leaves) is list else list(leaves)
    cdef Py_ssize_t count = len(items), index
    cdef bint mutated = False
    cdef int rc
    cdef Py_buffer view
    if count == 0:
        return bytes(_MERKLE_HASH), False
    cdef unsigned char *level = <unsigned char *>PyMem_Malloc((count + 1) * _MERKLE_HASH)
    if level == NULL:
        raise MemoryError()
    try:
        for index in range(count):
            PyObject_GetBuffer(items[index], &view, PyBUF_SIMPLE)
            try:
                if view.len != _MERKLE_HASH:
                    raise ValueError(f"merkle leaf {index} is {view.len} bytes, not {_MERKLE_HASH}")
                memcpy(level + index * _MERKLE_HASH, view.buf, _MERKLE_HASH)
            finally:
                PyBuffer_Release(&view)
        if count >= _MERKLE_NOGIL_LEAVES:
            with nogil:
                rc = _merkle_levels(level, count, &mutated)
        else:
            rc = _merkle_levels(level, count, &mutated)
        if rc != 0:
            raise MemoryError("OpenSSL SHA256 failed")
        return PyBytes_FromStringAndSize(<char *>level, _MERKLE_HASH), mutated
    finally:
        PyMem_Free(level)
