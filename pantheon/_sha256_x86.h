/* Double-SHA256 of two 80-byte block headers at once, with the x86 SHA extensions.
 *
 * One SHA256 compression is a chain of 32 dependent sha256rnds2 instructions: a single hash
 * runs at the instruction's latency and leaves the unit mostly idle. Hashing two headers in
 * lockstep fills it, roughly doubling the headers decoded per second (pantheon._wire's
 * decode_headers; OpenSSL, one header at a time, is used where this is unavailable).
 * A header's double hash is 3 compressions: its first 64 bytes, its last 16 with the padding
 * of an 80-byte message, then the 32-byte digest with its padding (kept in registers).
 *
 * pantheon_sha256d80_available() says whether the CPU has SHA, SSSE3 and SSE4.1 (cpuid); the
 * functions are compiled for those extensions only (target attribute), so the module itself
 * still runs on any x86-64. Elsewhere (other architectures, compilers) it returns 0.
 * The round structure follows Intel's SHA extensions reference (the sha256rnds2 / msg1 / msg2
 * schedule of "Intel SHA Extensions", 2013).
 */
#ifndef PANTHEON_SHA256_X86_H
#define PANTHEON_SHA256_X86_H

#include <stdint.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>

static int pantheon_sha256d80_available(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    if (!(ecx & (1u << 9)) || !(ecx & (1u << 19)))  /* SSSE3, SSE4.1 */
        return 0;
    if (__get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx & (1u << 29)) != 0;  /* SHA */
}

static const uint32_t pantheon_sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Four rounds of one lane: S0 = ABEF, S1 = CDGH, W = its message words for those rounds. */
#define PT_ROUNDS4(S0, S1, W, i) do {                                                           \
        __m128i k_ = _mm_add_epi32((W), _mm_load_si128((const __m128i *)&pantheon_sha256_k[4 * (i)])); \
        S1 = _mm_sha256rnds2_epu32(S1, S0, k_);                                                  \
        S0 = _mm_sha256rnds2_epu32(S0, S1, _mm_shuffle_epi32(k_, 0x0E));                         \
    } while (0)

/* Message schedule of one lane after the rounds of group i (W[4] holds the 16-word window). */
#define PT_SCHEDULE(W, i) do {                                                                  \
        if ((i) >= 3 && (i) <= 14)                                                               \
            W[((i) + 1) & 3] = _mm_sha256msg2_epu32(                                             \
                _mm_add_epi32(W[((i) + 1) & 3], _mm_alignr_epi8(W[(i) & 3], W[((i) + 3) & 3], 4)), \
                W[(i) & 3]);                                                                     \
        if ((i) >= 1 && (i) <= 12)                                                               \
            W[((i) + 3) & 3] = _mm_sha256msg1_epu32(W[((i) + 3) & 3], W[(i) & 3]);               \
    } while (0)

#define PT_GROUP(i) do {                                                                        \
        PT_ROUNDS4(a0, a1, wa[(i) & 3], i);                                                      \
        PT_ROUNDS4(b0, b1, wb[(i) & 3], i);                                                      \
        PT_SCHEDULE(wa, i);                                                                      \
        PT_SCHEDULE(wb, i);                                                                      \
    } while (0)

/* One compression of both lanes: (a0, a1) and (b0, b1) absorb the blocks in wa and wb. */
#define PT_COMPRESS2() do {                                                                     \
        __m128i sa0_ = a0, sa1_ = a1, sb0_ = b0, sb1_ = b1;                                      \
        PT_GROUP(0); PT_GROUP(1); PT_GROUP(2); PT_GROUP(3);                                      \
        PT_GROUP(4); PT_GROUP(5); PT_GROUP(6); PT_GROUP(7);                                      \
        PT_GROUP(8); PT_GROUP(9); PT_GROUP(10); PT_GROUP(11);                                    \
        PT_GROUP(12); PT_GROUP(13); PT_GROUP(14); PT_GROUP(15);                                  \
        a0 = _mm_add_epi32(a0, sa0_); a1 = _mm_add_epi32(a1, sa1_);                              \
        b0 = _mm_add_epi32(b0, sb0_); b1 = _mm_add_epi32(b1, sb1_);                              \
    } while (0)

/* ABEF/CDGH state -> the digest's words H0..H3 and H4..H7, lane 0 first. */
#define PT_WORDS(S0, S1, W0, W1) do {                                                           \
        __m128i feba_ = _mm_shuffle_epi32(S0, 0x1B);                                             \
        __m128i dchg_ = _mm_shuffle_epi32(S1, 0xB1);                                             \
        W0 = _mm_blend_epi16(feba_, dchg_, 0xF0);                                                \
        W1 = _mm_alignr_epi8(dchg_, feba_, 8);                                                   \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void pantheon_sha256d80_x2(const unsigned char *ha, const unsigned char *hb,
                                  unsigned char *out_a, unsigned char *out_b)
{
    /* Byte order: message bytes are big-endian words; this swaps each 32-bit lane. */
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    /* The initial state as ABEF / CDGH (set_epi32 lists lanes 3..0). */
    const __m128i iv0 = _mm_set_epi32(0x6a09e667, (int)0xbb67ae85, 0x510e527f, (int)0x9b05688c);
    const __m128i iv1 = _mm_set_epi32(0x3c6ef372, (int)0xa54ff53a, 0x1f83d9ab, 0x5be0cd19);
    /* Padding: 0x80 after the data, zeros, then the message length in bits. */
    const __m128i pad_start = _mm_set_epi32(0, 0, 0, (int)0x80000000);
    const __m128i zero = _mm_setzero_si128();
    const __m128i len_80 = _mm_set_epi32(80 * 8, 0, 0, 0);
    const __m128i len_32 = _mm_set_epi32(32 * 8, 0, 0, 0);
    __m128i a0 = iv0, a1 = iv1, b0 = iv0, b1 = iv1;
    __m128i wa[4], wb[4];
    int j;

    for (j = 0; j < 4; j++) {  /* bytes 0..63 */
        wa[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(ha + 16 * j)), swap);
        wb[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(hb + 16 * j)), swap);
    }
    PT_COMPRESS2();

    wa[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(ha + 64)), swap);  /* bytes 64..79 */
    wb[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(hb + 64)), swap);
    wa[1] = wb[1] = pad_start;
    wa[2] = wb[2] = zero;
    wa[3] = wb[3] = len_80;
    PT_COMPRESS2();

    PT_WORDS(a0, a1, wa[0], wa[1]);  /* the first digest is the second message */
    PT_WORDS(b0, b1, wb[0], wb[1]);
    wa[2] = wb[2] = pad_start;
    wa[3] = wb[3] = len_32;
    a0 = b0 = iv0;
    a1 = b1 = iv1;
    PT_COMPRESS2();

    PT_WORDS(a0, a1, wa[0], wa[1]);
    PT_WORDS(b0, b1, wb[0], wb[1]);
    _mm_storeu_si128((__m128i *)out_a, _mm_shuffle_epi8(wa[0], swap));
    _mm_storeu_si128((__m128i *)(out_a + 16), _mm_shuffle_epi8(wa[1], swap));
    _mm_storeu_si128((__m128i *)out_b, _mm_shuffle_epi8(wb[0], swap));
    _mm_storeu_si128((__m128i *)(out_b + 16), _mm_shuffle_epi8(wb[1], swap));
}

#undef PT_ROUNDS4
#undef PT_SCHEDULE
#undef PT_GROUP
#undef PT_COMPRESS2
#undef PT_WORDS

#else  /* not x86 with GCC/Clang: the caller uses OpenSSL */

static int pantheon_sha256d80_available(void) { return 0; }

static void pantheon_sha256d80_x2(const unsigned char *ha, const unsigned char *hb,
                                  unsigned char *out_a, unsigned char *out_b)
{
    (void)ha; (void)hb; (void)out_a; (void)out_b;
}

#endif
#endif  /* PANTHEON_SHA256_X86_H */
