/* repl.h — the interactive session of the `nn` command (src/repl.c). */
#ifndef NN_REPL_H
#define NN_REPL_H

#include "nn.h"

/* Runs the read-eval-print loop on the terminal until :quit or Ctrl-D. Takes over `nn` (it
 * closes it; :reset makes new sessions). `trace` is --trace; `tour` (--tour) opens the guided
 * tour's first lesson. `setup` (may be NULL) is called with each session the REPL makes, the
 * first and each :reset's, and `ud`: what the options set in every one. Returns the exit
 * status. */
int repl_run(NnState *nn, int trace, int tour, void (*setup)(NnState *nn, void *ud), void *ud);
/* A breakpoint handler (nn_set_break_handler) for `nn FILE` runs: a "break>" prompt on
 * standard input, with line editing on a terminal, that runs statements and commands until
 * :continue, :stop or the end of input (which continues). `userdata` is NULL. */
NnBreakAction repl_on_break(NnState *nn, const char *why, void *userdata);
/* Ends the process by `sig`, as the signal's default action would (so that whoever started it
 * sees it killed by the signal), after removing the temporary files of saves in progress
 * (nn_remove_temp_files). Async-signal-safe: for a signal handler, and the signal may be the
 * one being handled. */
_Noreturn void repl_die_by(int sig);

#endif
