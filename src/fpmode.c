/* fpmode.c — the thread's floating-point mode (fpmode.h). */
#include "fpmode.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

/* MXCSR: FTZ (bit 15) flushes denormal results to zero, DAZ (bit 6) reads denormal inputs as
 * zero. */
#define FLUSH_BITS (0x8000u | 0x0040u)

FpMode fp_mode_get(void)
{
    return _mm_getcsr();
}

void fp_mode_set(FpMode mode)
{
    if (_mm_getcsr() != (unsigned)mode) _mm_setcsr((unsigned)mode);
}

#elif defined(__aarch64__)

/* FPCR: FZ (bit 24) flushes denormal inputs and results to zero. */
#define FLUSH_BITS (1ul << 24)

FpMode fp_mode_get(void)
{
    unsigned long r;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(r));
    return r;
}

void fp_mode_set(FpMode mode)
{
    if (fp_mode_get() != mode) __asm__ __volatile__("msr fpcr, %0" : : "r"(mode));
}

#else

#define FLUSH_BITS 0ul

FpMode fp_mode_get(void)
{
    return 0;
}

void fp_mode_set(FpMode mode)
{
    (void)mode;
}

#endif

FpMode fp_mode_flushing(FpMode mode, bool on)
{
    return on ? mode | FLUSH_BITS : mode & ~(FpMode)FLUSH_BITS;
}

/* Whether this target has a flush-to-zero mode at all. */
static bool fp_mode_can_flush(void)
{
    return FLUSH_BITS != 0;
}

/* a - b, in a call of its own: compilers do not know that a change of mode orders the
 * arithmetic around it (no FENV_ACCESS), but they keep a call between two changes in place. */
static __attribute__((noinline)) float subtract(const volatile float *a, const volatile float *b)
{
    return *a - *b;
}

bool fp_mode_flushes(void)
{
    if (!fp_mode_can_flush()) return false;
    const FpMode outer = fp_mode_get();
    volatile float a = 3e-38f, b = 2.5e-38f, d;
    fp_mode_set(fp_mode_flushing(outer, true));
    d = subtract(&a, &b);   /* the denormal 5e-39, unless flushed */
    fp_mode_set(outer);
    return d == 0.0f;
}
