/* lower.h — translates a checked AST into graph nodes and program instructions. */
#ifndef NN_LOWER_H
#define NN_LOWER_H

#include "ast.h"
#include "program.h"
#include "sema.h"

/* Cannot fail: sema has checked everything. Adds nodes to g, instructions to p, and binds
 * the unit's symbols to their nodes. */
void lower_unit(const AstList *stmts, Graph *g, Program *p);

#endif
