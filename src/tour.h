/* tour.h — `nn --tour` and `:tour`: a guided walk through backpropagation for newcomers. Each
 * lesson is an ordinary .nn file with comments (examples/tour/, installed in share/nn/tour):
 *   # Title                 the first comment line; the comment lines before any code are
 *   # text ...              the lesson's text
 *   code                    run in a fresh session when the lesson opens, shown as it runs
 *   #? question             the exercise, and how it is checked: either
 *   #= EXPR                 ... an answer (`:answer X`) equal to EXPR's value, or
 *   #~ CONDITION            ... a condition, true after the learner's own statements
 *   #! hint                 what `:hint` says
 *   #> statement            a solution (tests/test_tour.py runs it; the learner never sees it)
 * Teachers can write their own: NN_TOUR_DIR names a folder of lessons. A client of nn.h only. */
#ifndef NN_TOUR_H
#define NN_TOUR_H

#include "nn.h"

#include <stdbool.h>

typedef struct TourLesson {
    char *path, *title, *text, *code, *question, *answer, *goal, *hint;
} TourLesson;

typedef struct Tour {
    TourLesson *lessons;
    int count;
    int at;                 /* the lesson open, -1: none */
    bool done;              /* its exercise is solved */
} Tour;

/* Finds and reads the lessons (NN_TOUR_DIR, else the installed ones, else the source tree's).
 * False, with a message on stderr, if there are none. */
bool tour_open(Tour *t);
void tour_close(Tour *t);
/* Opens lesson k (from 0) in `nn`, a fresh session: its text, its code run, its exercise. */
void tour_show(Tour *t, NnState *nn, int k);
/* `:answer EXPR`: right when EXPR's value is the lesson's answer (to 1e-4 relative). */
void tour_answer(Tour *t, NnState *nn, const char *expr);
/* After the learner's statements ran: a goal exercise that is now met says so, once. */
void tour_check(Tour *t, NnState *nn);
/* `:hint`. */
void tour_hint(const Tour *t);

#endif
