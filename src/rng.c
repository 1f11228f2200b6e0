/* rng.c — PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good
 * Algorithms for Random Number Generation", 2014): 64-bit LCG state, XSH-RR output. */
#include "rng.h"

#include <math.h>

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

uint32_t rng_u32(Rng *r)
{
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

float rng_uniform(Rng *r)
{
    return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f);
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
