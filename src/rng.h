/* rng.h — the session's seeded random numbers (PCG32), identical on every platform. */
#ifndef NN_RNG_H
#define NN_RNG_H

#include "common.h"

typedef struct Rng {
    uint64_t state;
    uint64_t inc;
    bool has_spare;
    float spare;
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint32_t rng_u32(Rng *r);
float rng_uniform(Rng *r);   /* [0, 1) with 24 random bits */
/* dst[0..n) = n calls of rng_uniform, the same numbers and the same state after, faster. */
void rng_fill_uniform(Rng *r, float *dst, size_t n);
float rng_normal(Rng *r);    /* standard normal, Box-Muller */

#endif
