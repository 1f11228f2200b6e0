/* fpmode.h — the floating-point mode of the calling thread: whether denormal (subnormal)
 * numbers are flushed to zero. Training loops run with them flushed (train.c), because
 * arithmetic on denormals is up to 100 times slower on many x86 cores, and a network near
 * convergence can be full of them; everything else keeps IEEE denormals. On x86-64 this is
 * MXCSR's FTZ (results) and DAZ (inputs) bits, on aarch64 FPCR's FZ bit; elsewhere there is
 * no such mode and the functions do nothing. Per thread: a thread that computes for another
 * (the kernels' workers) takes the other's mode (kernels.c). */
#ifndef NN_FPMODE_H
#define NN_FPMODE_H

#include <stdbool.h>

/* A thread's floating-point control state, as the hardware holds it. */
typedef unsigned long FpMode;

/* The calling thread's mode. */
FpMode fp_mode_get(void);
/* Sets the calling thread's mode to one fp_mode_get returned (on this thread or another). */
void fp_mode_set(FpMode mode);
/* mode with denormals flushed to zero (on), or kept (off). */
FpMode fp_mode_flushing(FpMode mode, bool on);
/* Whether arithmetic on this thread really flushes in that mode: false without the mode, and
 * under emulators that compute with denormals whatever it says (valgrind). For tests. */
bool fp_mode_flushes(void);

#endif
