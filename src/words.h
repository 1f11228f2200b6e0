/* words.h — "did you mean": the closest of a vocabulary's words to a misspelt one, for every
 * kind of word the language has (statements, functions, names, layers, settings, optimizers,
 * schedules, ...). The parser and the checker both use it; it knows nothing of either. */
#ifndef NN_WORDS_H
#define NN_WORDS_H

#include <stddef.h>

/* Offer every candidate word of a vocabulary to one Suggest, then ask for the closest. Close
 * means at most 1 edit for words of up to 4 letters and 2 for longer ones (an edit: a letter
 * inserted, deleted or changed, or two neighbours swapped; case is ignored), or else that one
 * word begins with the other and the shorter has at least 3 letters (batch_size, batch). Words
 * shorter than 3 letters get no suggestion: every short word is close to every other. */
typedef struct Suggest {
    const char *word;       /* the unknown word */
    const char *best;       /* the closest candidate so far, or NULL */
    size_t best_score;
} Suggest;

void suggest_init(Suggest *sg, const char *word);
/* Considers one candidate; on a tie the later one wins (a newer symbol shadows an older). */
void suggest_offer(Suggest *sg, const char *candidate);
/* The closest candidate offered, or NULL if none is close. */
const char *suggest_best(const Suggest *sg);
/* The distance: letters inserted, deleted or changed, and neighbours swapped, ignoring case;
 * words longer than 31 letters are far from everything. */
size_t suggest_distance(const char *a, const char *b);

#endif
