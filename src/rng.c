/* rng.c — PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good
 * Algorithms for Random Number Generation", 2014): 64-bit LCG state, XSH-RR output. */
#include "rng.h"

#include <math.h>
#include <string.h>

#define PCG_MULT 6364136223846793005u

void rng_seed(Rng *r, uint64_t seed)
{
    r->state = 0;
    r->inc = (seed << 1) | 1u;  /* stream from the seed too, so nearby seeds differ */
    rng_u32(r);
    r->state += seed ^ 0x853c49e6748fea9bu;
    rng_u32(r);
    r->has_spare = false;
    r->spare = 0;
}

/* PCG32's output function: the 32 random bits of the state `old`. */
static inline uint32_t pcg_output(uint64_t old)
{
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t rng_u32(Rng *r)
{
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    return pcg_output(old);
}

/* [0, 1) from 24 random bits. */
static inline float unit_float(uint32_t bits)
{
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}

float rng_uniform(Rng *r)
{
    return unit_float(rng_u32(r));
}

/* The lanes of rng_fill_uniform. */
#define FILL_LANES 8

/* Leapfrog (rng_fill_uniform): lane j holds the state j steps ahead and every lane steps
 * FILL_LANES at a time (state' = state * mult + add), so lane j makes numbers j, j + 8, ... of
 * the one sequence. `rounds` rounds fill dst[0 .. 8 rounds); the lanes are left at the state
 * after. The plain loop, for any processor: */
static void fill_lanes_plain(uint64_t *lane, uint64_t mult, uint64_t add, float *dst,
                             size_t rounds)
{
    for (size_t k = 0; k < rounds; k++, dst += FILL_LANES)
        for (int j = 0; j < FILL_LANES; j++) {
            dst[j] = unit_float(pcg_output(lane[j]));
            lane[j] = lane[j] * mult + add;
        }
}

/* (gcc builds only: clang builds take the plain loop, which CI's clang builds thus test) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FILL_AVX512 1
typedef uint64_t U64x8 __attribute__((vector_size(64)));
typedef uint32_t U32x8 __attribute__((vector_size(32)));
typedef float F32x8 __attribute__((vector_size(32)));

/* The same, eight lanes in one AVX-512 register (64-bit multiplies: AVX512DQ). */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static void
fill_lanes_avx512(uint64_t *lane, uint64_t mult, uint64_t add, float *dst, size_t rounds)
{
    U64x8 st;
    memcpy(&st, lane, sizeof st);
    const U64x8 m = { mult, mult, mult, mult, mult, mult, mult, mult };
    const U64x8 a = { add, add, add, add, add, add, add, add };
    for (size_t k = 0; k < rounds; k++, dst += FILL_LANES) {
        U32x8 x = __builtin_convertvector(((st >> 18) ^ st) >> 27, U32x8);
        U32x8 rot = __builtin_convertvector(st >> 59, U32x8);
        U32x8 bits = (x >> rot) | (x << ((-rot) & 31));
        F32x8 f = __builtin_convertvector(bits >> 8, F32x8) * (1.0f / 16777216.0f);
        memcpy(dst, &f, sizeof f);
        st = st * m + a;
    }
    memcpy(lane, &st, sizeof st);
}
#else
#define FILL_AVX512 0
#endif

void rng_fill_uniform(Rng *r, float *dst, size_t n)
{
    /* the same numbers as rng_uniform n times, without its one multiply-add chain */
    size_t i = 0;
    if (n >= 4 * FILL_LANES) {
        uint64_t lane[FILL_LANES], mult = 1, add = 0;
        for (int j = 0; j < FILL_LANES; j++) {
            lane[j] = r->state;
            r->state = r->state * PCG_MULT + r->inc;
            add = add * PCG_MULT + r->inc;      /* inc (M^7 + ... + 1) after eight */
            mult *= PCG_MULT;                   /* M^8 */
        }
        size_t rounds = n / FILL_LANES;
#if FILL_AVX512
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl"))
            fill_lanes_avx512(lane, mult, add, dst, rounds);
        else
#endif
            fill_lanes_plain(lane, mult, add, dst, rounds);
        i = rounds * FILL_LANES;
        r->state = lane[0];     /* the state after the last number made */
    }
    for (; i < n; i++) dst[i] = rng_uniform(r);
}

float rng_normal(Rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u1, u2;
    do u1 = (rng_u32(r) + 1.0) / 4294967296.0;   /* (0, 1]: log(u1) is finite */
    while (u1 <= 0);
    u2 = rng_u32(r) / 4294967296.0;
    double rad = sqrt(-2.0 * log(u1));
    double th = 2.0 * M_PI * u2;
    r->spare = (float)(rad * sin(th));
    r->has_spare = true;
    return (float)(rad * cos(th));
}
