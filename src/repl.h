/* repl.h — the interactive session of the `nn` command (src/repl.c). */
#ifndef NN_REPL_H
#define NN_REPL_H

#include "nn.h"

/* Runs the read-eval-print loop on the terminal until :quit or Ctrl-D. Takes over `nn` (it
 * closes it; :reset makes new sessions). `trace` is --trace. Returns the exit status. */
int repl_run(NnState *nn, int trace);

#endif
