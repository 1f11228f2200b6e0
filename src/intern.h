/* intern.h — identifiers interned for the whole session, compared by pointer. */
#ifndef NN_INTERN_H
#define NN_INTERN_H

#include "common.h"

typedef struct Interner {
    const char **slots;     /* open addressing; NULL = empty */
    size_t cap;
    size_t count;
} Interner;

void intern_init(Interner *in);
void intern_free(Interner *in);
/* Returns the session's one copy of s[0..len); owned by the interner. */
const char *intern(Interner *in, const char *s, size_t len);

#endif
