/* runtime.h — executes compiled programs over the session's graph. Engine code: it knows
 * nothing of the syntax tree or of how messages are rendered; a run-time error records a span
 * and a message and longjmps to the caller's catch point. */
#ifndef NN_RUNTIME_H
#define NN_RUNTIME_H

#include <setjmp.h>

#include "graph.h"
#include "program.h"
#include "rng.h"
#include "strbuf.h"

typedef void (*RtWriteFn)(void *ud, const char *text, size_t len);
/* Writes "file:line" for a span (the front end knows the sources; the engine does not). */
typedef void (*RtLocateFn)(void *ud, Span span, StrBuf *out);

#define NN_DEFAULT_SEED 42

typedef struct Runtime {
    Graph graph;
    Rng rng;
    RtWriteFn write;
    void *write_ud;
    RtLocateFn locate;
    RtLocateFn source_text;     /* writes the source text a span covers */
    void *locate_ud;
    jmp_buf *catch_point;       /* set around each execution */
    Span err_span;
    Span err_stmt;              /* the statement that was running */
    char err_msg[1024];
    StrBuf out;                 /* output being built; reused, owned here */
    float *scratch;             /* reusable floats (trace snapshots); owned here */
    size_t scratch_cap;
    bool trace_all;             /* --trace: explain every backward and step */
    bool explain_step;          /* the last backward was traced: explain the next step */
} Runtime;

void rt_init(Runtime *rt);
void rt_free(Runtime *rt);
/* Raises a user error at span: records it and longjmps to rt->catch_point. */
_Noreturn void rt_error(Runtime *rt, Span span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs p's instructions in order. May raise. */
void rt_exec(Runtime *rt, const Program *p);
/* Writes rt->out through the write callback and clears it. */
void rt_flush(Runtime *rt);
float *rt_scratch(Runtime *rt, size_t n);

/* trace.c: the blackboard explanation of one backward pass and of one update. */
void trace_backward(Runtime *rt, const Plan *plan, uint32_t root, const float *before,
                    Span where);
void trace_update(Runtime *rt, float lr, const float *before);

#endif
