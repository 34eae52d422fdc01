# Included by _wire.pyx (after _siphash.pxi and _codecs.pxi): BIP158's Golomb-coded sets, the
# compiled twin of pantheon._gcs_py, which documents the encoding, the checks and the errors;
# this file follows it step for step. Parameter checks are the pure module's (cold, once per
# call). Every name at module level starts with _gcs or pantheon_gcs: the other included areas
# share this namespace.

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t
from libc.stdlib cimport qsort

from pantheon import _gcs_py


cdef extern from *:
    """
    #include <stdint.h>

    /* Bits written most significant first; `acc` holds the `n` (< 8) bits not yet in a byte. */
    typedef struct { unsigned char *p; uint64_t acc; int n; } pantheon_gcs_writer;

    static inline void pantheon_gcs_put(pantheon_gcs_writer *w, uint64_t bits, int k) {  /* k <= 32 */
        w->acc = (w->acc << k) | (bits & ((1ULL << k) - 1));
        w->n += k;
        while (w->n >= 8) {
            w->n -= 8;
            *w->p++ = (unsigned char)(w->acc >> w->n);
        }
        w->acc &= (1ULL << w->n) - 1;
    }

    typedef struct { const unsigned char *p, *end; uint64_t acc; int n; } pantheon_gcs_reader;

    /* k (<= 32) bits into *out; 0 if the data ends first. */
    static inline int pantheon_gcs_get(pantheon_gcs_reader *r, int k, uint64_t *out) {
        while (r->n < k) {
            if (r->p == r->end) return 0;
            r->acc = (r->acc << 8) | *r->p++;
            r->n += 8;
        }
        r->n -= k;
        *out = (r->acc >> r->n) & ((1ULL << k) - 1);
        r->acc &= (1ULL << r->n) - 1;
        return 1;
    }

    /* One Golomb-Rice coded difference; 0 if the data ends inside it. */
    static inline int pantheon_gcs_value(pantheon_gcs_reader *r, int p, uint64_t *out) {
        uint64_t quotient = 0, bit, low;
        for (;;) {
            if (!pantheon_gcs_get(r, 1, &bit)) return 0;
            if (!bit) break;
            quotient++;
        }
        if (!pantheon_gcs_get(r, p, &low)) return 0;
        *out = (quotient << p) | low;
        return 1;
    }

    static int pantheon_gcs_order(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
    }
    """
    ctypedef struct _gcs_writer "pantheon_gcs_writer":
        unsigned char *p
        uint64_t acc
        int n
    ctypedef struct _gcs_reader "pantheon_gcs_reader":
        const unsigned char *p
        const unsigned char *end
        uint64_t acc
        int n
    void _gcs_put "pantheon_gcs_put" (_gcs_writer *w, uint64_t bits, int k) noexcept nogil
    int _gcs_value "pantheon_gcs_value" (_gcs_reader *r, int p, uint64_t *out) noexcept nogil
    int _gcs_order "pantheon_gcs_order" (const void *a, const void *b) noexcept nogil


cdef uint64_t _GCS_MAX_ELEMENTS = _gcs_py.MAX_ELEMENTS


cdef uint64_t *_gcs_hashed(uint64_t k0, uint64_t k1, object elements, Py_ssize_t n, uint64_t f) except NULL:
    """The sorted hashed values of `elements` (n of them), in a PyMem block the caller frees."""
    cdef uint64_t *values = <uint64_t *>PyMem_Malloc(<size_t>(n if n else 1) * sizeof(uint64_t))
    cdef Py_buffer view
    cdef Py_ssize_t i = 0
    if values is NULL:
        raise MemoryError()
    try:
        for element in elements:
            if i == n:
                raise RuntimeError("the elements changed size while they were hashed")
            PyObject_GetBuffer(element, &view, PyBUF_SIMPLE)
            values[i] = _siphash_reduce(_siphash24(k0, k1, <const unsigned char *>view.buf, <size_t>view.len), f)
            PyBuffer_Release(&view)
            i += 1
        if i != n:
            raise RuntimeError("the elements changed size while they were hashed")
    except BaseException:
        PyMem_Free(values)
        raise
    qsort(values, <size_t>n, sizeof(uint64_t), _gcs_order)
    return values


def gcs_encode(key, elements, p, m):
    """The GCS of the distinct `elements` (bytes-like) under `key` with parameters P and M."""
    cdef uint64_t k0, k1, previous = 0, delta, quotient, f
    cdef int bits
    cdef Py_ssize_t n, i, bound
    cdef uint64_t *values
    cdef unsigned char *out
    cdef _gcs_writer w
    k0, k1, bits, f = _gcs_py._checked(key, p, m)
    n = len(elements)
    if <uint64_t>n > _GCS_MAX_ELEMENTS:
        raise ValueError(f"a GCS holds at most {_GCS_MAX_ELEMENTS} elements, got {n}")
    bound = _gcs_py._encoded_bound(n, bits, f * n)
    f *= <uint64_t>n
    values = _gcs_hashed(k0, k1, elements, n, f)
    try:
        out = <unsigned char *>PyMem_Malloc(<size_t>bound)
        if out is NULL:
            raise MemoryError()
        try:
            w.p = _put_compact(out, <uint64_t>n)
            w.acc = 0
            w.n = 0
            for i in range(n):
                delta = values[i] - previous
                previous = values[i]
                quotient = delta >> bits
                while quotient >= 32:
                    _gcs_put(&w, 0xFFFFFFFFULL, 32)
                    quotient -= 32
                _gcs_put(&w, ((1ULL << quotient) - 1) << 1, <int>quotient + 1)
                _gcs_put(&w, delta, bits)
            if w.n:
                w.p[0] = <unsigned char>(w.acc << (8 - w.n))
                w.p += 1
            return PyBytes_FromStringAndSize(<char *>out, w.p - out)
        finally:
            PyMem_Free(out)
    finally:
        PyMem_Free(values)


cdef Py_ssize_t _gcs_open(const unsigned char *data, Py_ssize_t size, object source, int p,
                          _gcs_reader *r) except -1:
    """N of the encoded GCS, with `r` at its first value (the checks of _gcs_py._open)."""
    n, start = read_compact_size(source)
    if n > _GCS_MAX_ELEMENTS:
        raise _errors.InvalidValue(f"GCS: N = {n} is not below 2**32")
    if n * (p + 1) > 8 * (size - start):
        raise _errors.Truncated(f"GCS: {n} values need more than the {size - start} bytes that follow")
    r.p = data + <Py_ssize_t>start
    r.end = data + size
    r.acc = 0
    r.n = 0
    return n


def gcs_values(data, p):
    """The sorted hashed values an encoded GCS holds (Truncated, InvalidValue, TrailingBytes)."""
    cdef Py_buffer view
    cdef _gcs_reader r
    cdef Py_ssize_t n, i
    cdef uint64_t value = 0, delta
    cdef int bits = _operator.index(p)
    if not 1 <= bits <= _gcs_py.MAX_P:
        raise ValueError(f"P must be between 1 and {_gcs_py.MAX_P}, got {p}")
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        n = _gcs_open(<const unsigned char *>view.buf, view.len, data, bits, &r)
        values = []
        for i in range(n):
            if not _gcs_value(&r, bits, &delta):
                raise _errors.Truncated("GCS: the filter ends inside a value")
            value += delta
            values.append(value)
        if r.p != r.end:
            raise _errors.TrailingBytes("GCS: bytes after the last value")
        return values
    finally:
        PyBuffer_Release(&view)


def gcs_match_any(key, data, elements, p, m):
    """Whether any of `elements` is (probably: 1/M false positives) in the encoded GCS `data`
    made under `key` with P and M. Only the values up to the answer are read: Truncated if the
    bits end before it."""
    cdef uint64_t k0, k1, f, value = 0, delta
    cdef int bits
    cdef Py_buffer view
    cdef _gcs_reader r
    cdef Py_ssize_t n, i, q = 0, count
    cdef uint64_t *queries
    k0, k1, bits, f = _gcs_py._checked(key, p, m)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        n = _gcs_open(<const unsigned char *>view.buf, view.len, data, bits, &r)
        count = len(elements)
        queries = _gcs_hashed(k0, k1, elements, count, f * <uint64_t>n)
        try:
            for i in range(n):
                if q == count:
                    return False
                if not _gcs_value(&r, bits, &delta):
                    raise _errors.Truncated("GCS: the filter ends inside a value")
                value += delta
                while queries[q] < value:
                    q += 1
                    if q == count:
                        return False
                if queries[q] == value:
                    return True
            return False
        finally:
            PyMem_Free(queries)
    finally:
        PyBuffer_Release(&view)
