/* export_torch.h — `nn --export=pytorch SCRIPT.nn > train.py`: a checked script written out as
 * one standalone PyTorch program. A back end beside lowering: it reads the checked AST (the
 * models' layers, the data functions, the train blocks' settings) and writes Python; nothing
 * runs. The program starts with nn's helpers (src/export_torch.py, compiled in), then a class
 * per model and a main() that follows the script statement by statement. */
#ifndef NN_EXPORT_TORCH_H
#define NN_EXPORT_TORCH_H

#include "ast.h"
#include "diag.h"
#include "strbuf.h"

/* Writes the program for the checked statements `stmts` of the script `name` into `out`.
 * `seed` is the random numbers' seed before the script's first `seed` statement. What has
 * no PyTorch counterpart here is reported to `diag` as an error at the construct, naming it;
 * returns the number of errors (out is then incomplete). */
int export_torch(const AstList *stmts, const char *name, uint64_t seed, DiagSink *diag,
                 StrBuf *out);

#endif
