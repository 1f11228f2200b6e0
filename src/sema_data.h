/* sema_data.h — the checker of data sets and of printing models and data sets (sema_data.c),
 * for statement dispatch. */
#ifndef NN_SEMA_DATA_H
#define NN_SEMA_DATA_H

#include "sema_core.h"

/* let D = csv(...) | moons(...) | ...; let A, B = split(...) | normalize(...): checks the data
 * function (reading csv files and row lists now) and defines the data sets, or poisoned names
 * when it fails. `st` is a LET or LET_MANY whose value is a call of a data function. */
void sema_check_data_let(Sema *s, AstNode *st);
/* print net / print iris / summary(net): the text to print, or NULL (not such an item); *model
 * (may be NULL) is set to the model printed, or NULL. */
const char *sema_print_text(Sema *s, AstNode *item, const Symbol **model);
/* print labels(data, scores): checks it; true if the item is such a call. */
bool sema_print_labels(Sema *s, AstNode *item);

#endif
