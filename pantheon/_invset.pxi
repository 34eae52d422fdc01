# Included by _wire.pyx: InventorySet, the compiled twin of pantheon._invset_py. The pure module
# documents the algorithm and the layout; this file follows it step for step, so both twins give
# the same answers and hold the same table for the same seed. SipHash and the 64x64->128 reduction
# are _siphash.pxi's; capacity checks, table sizing and the key come from the pure module (cold,
# run once per set). Every name at module level starts with
# _invset or pantheon_invset: the other included areas share this namespace.

cimport cython
from cpython.buffer cimport PyObject_CheckBuffer
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t

from pantheon import _invset_py


cdef extern from *:
    """
    #include <stdint.h>

    static inline uint32_t pantheon_invset_u32le(const unsigned char *p) {
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    }

    /* SipHash-2-4 of the 32 bytes at m under the key (k0, k1), with 0 read as 1: 0 marks an
       empty table slot. */
    static inline uint64_t pantheon_invset_fingerprint(uint64_t k0, uint64_t k1,
                                                       const unsigned char *m) {
        uint64_t fp = pantheon_siphash24(k0, k1, m, 32);
        return fp ? fp : 1;
    }
    """
    uint64_t _invset_fingerprint "pantheon_invset_fingerprint" (
        uint64_t k0, uint64_t k1, const unsigned char *m) noexcept nogil
    uint32_t _invset_u32le "pantheon_invset_u32le" (const unsigned char *p) noexcept nogil


cdef Py_ssize_t _INVSET_HASH_SIZE = _invset_py.HASH_SIZE
cdef Py_ssize_t _INVSET_TYPE_SIZE = sizeof(uint32_t)
cdef Py_ssize_t _INVSET_ENTRY_SIZE = _INVSET_TYPE_SIZE + _INVSET_HASH_SIZE
if _INVSET_HASH_SIZE != 4 * sizeof(uint64_t):
    raise RuntimeError(f"InventorySet hashes four 64-bit words, HASH_SIZE is {_INVSET_HASH_SIZE}")
# filter_new keeps its per-call scratch (a table of the payload's distinct new fingerprints and
# their order) on the stack up to this many words, on the heap beyond.
cdef enum:
    _INVSET_STACK_WORDS = 384


cdef const unsigned char *_invset_hash_ptr(object item) except NULL:
    if not isinstance(item, bytes):
        raise TypeError(f"hash must be bytes, not {type(item).__name__}")
    if PyBytes_GET_SIZE(item) != _INVSET_HASH_SIZE:
        raise ValueError(f"hash must be {_INVSET_HASH_SIZE} bytes, got {PyBytes_GET_SIZE(item)}")
    return <const unsigned char *>PyBytes_AS_STRING(item)


@cython.final
cdef class InventorySet:
    """A bounded set of 32-byte hashes with FIFO eviction at `capacity`: keyed 64-bit SipHash
    fingerprints in a ring (insertion order) and a linear-probing table (see pantheon._invset_py).

    `seed` is the 128-bit SipHash key as an integer; None (the default) draws a random one, as
    every set facing a peer must. Equal seeds give equal behaviour in both twins.
    """

    cdef uint64_t _k0, _k1
    cdef uint64_t *_ring  # capacity fingerprints in insertion order
    cdef uint64_t *_table  # size slots, 0 = empty
    cdef Py_ssize_t _capacity, _size, _count, _next

    def __cinit__(self, capacity, *, seed=None):
        checked, size = _invset_py._capacity_and_size(capacity)
        self._k0, self._k1 = _invset_py._key(seed)
        self._capacity = checked
        self._size = size
        self._count = 0
        self._next = 0
        self._ring = <uint64_t *>PyMem_Calloc(self._capacity, sizeof(uint64_t))
        self._table = <uint64_t *>PyMem_Calloc(self._size, sizeof(uint64_t))
        if self._ring is NULL or self._table is NULL:
            raise MemoryError(f"cannot allocate an InventorySet of capacity {self._capacity}")

    def __dealloc__(self):
        PyMem_Free(self._ring)
        PyMem_Free(self._table)

    @property
    def capacity(self):
        """How many hashes the set holds before the oldest is evicted."""
        return self._capacity

    @property
    def nbytes(self):
        """Bytes of storage (ring and table), all allocated at construction."""
        return (self._capacity + self._size) * <Py_ssize_t>sizeof(uint64_t)

    def __len__(self):
        return self._count

    def __repr__(self):
        return f"<InventorySet {self._count}/{self._capacity} entries>"

    def __reduce__(self):
        raise TypeError("an InventorySet cannot be pickled or copied: it holds a secret key")

    def __contains__(self, item):
        cdef uint64_t fp = _invset_fingerprint(self._k0, self._k1, _invset_hash_ptr(item))
        return self._table[self._slot(fp)] == fp

    def add(self, item):
        """Add a 32-byte hash; True if it was new, False if the set already knew it."""
        cdef uint64_t fp = _invset_fingerprint(self._k0, self._k1, _invset_hash_ptr(item))
        if self._table[self._slot(fp)] == fp:
            return False
        self._push(fp)
        return True

    def clear(self):
        """Forget every hash; the storage is kept."""
        memset(self._table, 0, <size_t>self._size * sizeof(uint64_t))
        self._count = 0
        self._next = 0

    def filter_new(self, payload, *, add=True):
        """The entries of an inv/getdata/notfound payload this set does not know, as
        (type, hash) tuples in payload order; a hash named twice counts once.

        The payload is checked whole before the set is touched (OversizedMessage, Truncated,
        InvalidValue, TrailingBytes, as `pantheon.spec.parse_payload("inv", ...)` raises them).
        With add=True the new entries are then added in order, evicting the oldest as needed.
        """
        cdef Py_buffer view
        cdef Py_ssize_t count, start
        if not PyObject_CheckBuffer(payload):
            raise TypeError(f"payload must be a bytes-like object, not {type(payload).__name__}")
        PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
        try:
            start = _inventory_span(<const unsigned char *>view.buf, view.len, "inv", _F_INV, _CAP_INV, &count)
            return self._filter(<const unsigned char *>view.buf + start, count, bool(add))
        finally:
            PyBuffer_Release(&view)

    def _fingerprint(self, item):
        """The stored fingerprint of a hash (tests check it against SipHash's vectors)."""
        return _invset_fingerprint(self._k0, self._k1, _invset_hash_ptr(item))

    def _table_snapshot(self):
        """The table's bytes (native order), to check that both twins lay it out the same."""
        return PyBytes_FromStringAndSize(<char *>self._table, self._size * <Py_ssize_t>sizeof(uint64_t))

    # --- the algorithm, step for step as in _invset_py -----------------------------------

    cdef list _filter(self, const unsigned char *entries, Py_ssize_t count, bint add):
        cdef list new = []
        cdef uint64_t stack[_INVSET_STACK_WORDS]
        cdef uint64_t *seen = stack  # open addressing on the top bits, a power-of-two size
        cdef uint64_t *fresh  # new fingerprints in payload order
        cdef Py_ssize_t seen_size = 2, shift = 63, found = 0, e, s
        cdef uint64_t fp
        cdef uint32_t kind, last_kind = 0
        cdef object kind_object = None
        cdef const unsigned char *entry
        if count == 0:
            return new
        while seen_size < 2 * count:
            seen_size *= 2
            shift -= 1
        if seen_size + count > _INVSET_STACK_WORDS:
            seen = <uint64_t *>PyMem_Malloc(<size_t>(seen_size + count) * sizeof(uint64_t))
            if seen is NULL:
                raise MemoryError()
        try:
            memset(seen, 0, <size_t>seen_size * sizeof(uint64_t))
            fresh = seen + seen_size
            for e in range(count):
                entry = entries + e * _INVSET_ENTRY_SIZE
                fp = _invset_fingerprint(self._k0, self._k1, entry + _INVSET_TYPE_SIZE)
                if self._table[self._slot(fp)] == fp:
                    continue
                s = <Py_ssize_t>(fp >> shift)
                while seen[s] != 0 and seen[s] != fp:
                    s = (s + 1) & (seen_size - 1)
                if seen[s] == fp:
                    continue
                seen[s] = fp
                fresh[found] = fp
                found += 1
                kind = _invset_u32le(entry)
                if kind_object is None or kind != last_kind:
                    kind_object = kind
                    last_kind = kind
                new.append((kind_object, PyBytes_FromStringAndSize(
                    <const char *>entry + _INVSET_TYPE_SIZE, _INVSET_HASH_SIZE)))
            if add:
                for e in range(found):
                    self._push(fresh[e])
        finally:
            if seen != &stack[0]:
                PyMem_Free(seen)
        return new

    cdef inline Py_ssize_t _slot(self, uint64_t fp) noexcept nogil:
        """The slot holding fp, or the empty slot that ends its probe run."""
        cdef Py_ssize_t slot = <Py_ssize_t>_siphash_reduce(fp, <uint64_t>self._size)
        cdef uint64_t value
        while True:
            value = self._table[slot]
            if value == fp or value == 0:
                return slot
            slot += 1
            if slot == self._size:
                slot = 0

    cdef void _push(self, uint64_t fp) noexcept nogil:
        """Add a fingerprint the table does not hold, evicting the oldest if the ring is full."""
        if self._count == self._capacity:
            self._delete(self._ring[self._next])  # full: _next holds the oldest
            self._count -= 1
        self._table[self._slot(fp)] = fp  # probed after the eviction, which may open a slot
        self._ring[self._next] = fp
        self._next = 0 if self._next + 1 == self._capacity else self._next + 1
        self._count += 1

    cdef void _delete(self, uint64_t fp) noexcept nogil:
        """Remove fp from the table, shifting the rest of its run back over the hole."""
        cdef Py_ssize_t size = self._size
        cdef Py_ssize_t hole = self._slot(fp)
        cdef Py_ssize_t slot = hole, home, to_hole, to_home
        cdef uint64_t value
        while True:
            slot = 0 if slot + 1 == size else slot + 1
            value = self._table[slot]
            if value == 0:
                break
            home = <Py_ssize_t>_siphash_reduce(value, <uint64_t>size)
            # The entry may fill the hole if the hole lies on its probe path, home .. slot.
            to_hole = slot - hole
            if to_hole < 0:
                to_hole += size
            to_home = slot - home
            if to_home < 0:
                to_home += size
            if to_hole <= to_home:
                self._table[hole] = value
                hole = slot
        self._table[hole] = 0

