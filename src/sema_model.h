/* sema_model.h — the checker of model definitions (sema_model.c), for statement dispatch. */
#ifndef NN_SEMA_MODEL_H
#define NN_SEMA_MODEL_H

#include "sema_core.h"

/* model NAME { ... }: checks the layers or the params and formula, and defines the model and
 * its params (as poisoned symbols when it fails, so uses are not reported again). */
void sema_check_model(Sema *s, AstNode *st);

#endif
