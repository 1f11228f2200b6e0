/* sema_train.h — the checker of train blocks, optimizers, trace places and save/load
 * (sema_train.c), for statement dispatch. */
#ifndef NN_SEMA_TRAIN_H
#define NN_SEMA_TRAIN_H

#include "sema_core.h"

/* train MODEL on X, Y { ... } | train LOSS { ... }: checks the settings and the model's passes;
 * the results for lowering go to the statement's SemaExtra.train. */
void sema_check_train(Sema *s, AstNode *st);
/* step OPTIMIZER(...): checks the optimizer (into SemaExtra.train.optim). */
void sema_check_step(Sema *s, AstNode *st);
/* zero_grad [TARGETS]: the params named (SemaExtra.targets). */
void sema_check_zero_grad(Sema *s, AstNode *st);
/* save / load MODEL "FILE": the model must exist and have params. */
void sema_check_file(Sema *s, AstNode *st);
/* The places of `trace ... at PLACES` as layers of models; `model`: those of a train block,
 * where a bare `layer1` is a layer of that model (else NULL). Reports and returns false on a
 * bad place; the places are in the unit's arena. */
bool sema_trace_places(Sema *s, const AstList *places, Symbol *model, TraceFocus *out);

#endif
