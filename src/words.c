/* words.c — edit distances and the closest word, for "did you mean" hints. */
#include "words.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

size_t suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31) return 99;
    size_t d[32][32];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ai != bj);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2])
                && tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;     /* two neighbours swapped: adma, adam */
            d[i][j] = best;
        }
    return d[la][lb];
}

void suggest_init(Suggest *sg, const char *word)
{
    sg->word = word;
    sg->best = NULL;
    sg->best_score = 0;
}

/* Whether the shorter of a and b, at least 3 letters long, begins the longer (ignoring case). */
static bool begins(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
    if (n < 3) return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return false;
    return true;
}

void suggest_offer(Suggest *sg, const char *candidate)
{
    size_t len = strlen(sg->word);
    if (len < 3) return;    /* every short word is close to every other */
    size_t limit = len <= 4 ? 1 : 2;
    size_t score = suggest_distance(sg->word, candidate);
    if (score > limit) {
        if (!begins(sg->word, candidate)) return;
        score = limit + 1;  /* after every word within the limit */
    }
    if (!sg->best || score <= sg->best_score) {
        sg->best = candidate;
        sg->best_score = score;
    }
}

const char *suggest_best(const Suggest *sg)
{
    return sg->best;
}
