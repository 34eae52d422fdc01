# Included by _wire.pyx: SipHash-2-4, the compiled twin of pantheon._siphash_py (see it for the
# definition and the users). One C function for messages of any length; the inventory sets and
# BIP158's filters call it directly, Python code through `siphash24`. Every name at module level
# starts with _siphash or pantheon_siphash: the other included areas share this namespace.

from libc.stdint cimport uint64_t

from pantheon import _siphash_py


cdef extern from *:
    """
    #include <stddef.h>
    #include <stdint.h>

    #define PANTHEON_SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
    #define PANTHEON_SIPHASH_ROUND do {                                              \\
        v0 += v1; v1 = PANTHEON_SIPHASH_ROTL(v1, 13); v1 ^= v0; v0 = PANTHEON_SIPHASH_ROTL(v0, 32); \\
        v2 += v3; v3 = PANTHEON_SIPHASH_ROTL(v3, 16); v3 ^= v2;                       \\
        v0 += v3; v3 = PANTHEON_SIPHASH_ROTL(v3, 21); v3 ^= v0;                       \\
        v2 += v1; v1 = PANTHEON_SIPHASH_ROTL(v1, 17); v1 ^= v2; v2 = PANTHEON_SIPHASH_ROTL(v2, 32); \\
    } while (0)

    static inline uint64_t pantheon_siphash_u64le(const unsigned char *p) {
        return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16)
            | ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40)
            | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
    }

    /* SipHash-2-4 of the `len` bytes at m under the key (k0, k1). */
    static inline uint64_t pantheon_siphash24(uint64_t k0, uint64_t k1,
                                              const unsigned char *m, size_t len) {
        uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
        uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
        uint64_t w;
        size_t full = len & ~(size_t)7, i;
        for (i = 0; i < full; i += 8) {
            w = pantheon_siphash_u64le(m + i);
            v3 ^= w;
            PANTHEON_SIPHASH_ROUND;
            PANTHEON_SIPHASH_ROUND;
            v0 ^= w;
        }
        w = (uint64_t)(len & 0xff) << 56;
        for (i = full; i < len; i++)
            w |= (uint64_t)m[i] << (8 * (i - full));
        v3 ^= w;
        PANTHEON_SIPHASH_ROUND;
        PANTHEON_SIPHASH_ROUND;
        v0 ^= w;
        v2 ^= 0xff;
        PANTHEON_SIPHASH_ROUND;
        PANTHEON_SIPHASH_ROUND;
        PANTHEON_SIPHASH_ROUND;
        PANTHEON_SIPHASH_ROUND;
        return v0 ^ v1 ^ v2 ^ v3;
    }

    /* A 64-bit hash mapped onto 0 .. n-1 by (h * n) >> 64 (the high word of a 64x64->128 product):
       the inventory sets' home slot, BIP158's hash-to-range. */
    static inline uint64_t pantheon_siphash_reduce(uint64_t h, uint64_t n) {
    #if defined(__SIZEOF_INT128__)
        return (uint64_t)(((unsigned __int128)h * n) >> 64);
    #else
        uint64_t a_lo = h & 0xffffffffULL, a_hi = h >> 32;
        uint64_t b_lo = n & 0xffffffffULL, b_hi = n >> 32;
        uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
        uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + lo_hi;
        return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
    #endif
    }
    """
    uint64_t _siphash24 "pantheon_siphash24" (
        uint64_t k0, uint64_t k1, const unsigned char *m, size_t len) noexcept nogil
    uint64_t _siphash_reduce "pantheon_siphash_reduce" (uint64_t h, uint64_t n) noexcept nogil


def siphash24(k0, k1, data):
    """SipHash-2-4 of `data` (any bytes-like object) under the key (k0, k1), as an integer."""
    cdef Py_buffer view
    cdef uint64_t key0, key1
    key0, key1 = _siphash_py._checked_key(k0, k1)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _siphash24(key0, key1, <const unsigned char *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
