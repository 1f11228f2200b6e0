/* state.c — implements nn.h: one session's sources, symbols and runtime, and the pipeline
 * parse → check → lower → run for each text it is given. */
#include "state.h"

#include "export_torch.h"
#include "kernels.h"
#include "lower.h"
#include "parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text that does not end a line (a progress line redrawn in place with \r) is flushed at
 * once: a terminal's stdout is line-buffered, and would show it only 1024 bytes later. */
static void write_stdout(void *ud, const char *text, size_t len)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    if (len && text[len - 1] != '\n') fflush(stdout);
}

static void write_stderr(void *ud, const char *text, size_t len)
{
    (void)ud;
    fflush(stdout);     /* keep output and messages in order on a shared terminal */
    fwrite(text, 1, len, stderr);
}

static void emit_out(void *ud, const char *text, size_t len)
{
    NnState *nn = ud;
    nn->out_fn(nn->out_ud, text, len);
}

static void emit_err(void *ud, const char *text, size_t len)
{
    NnState *nn = ud;
    nn->err_fn(nn->err_ud, text, len);
}

static void locate(void *ud, Span span, StrBuf *out)
{
    NnState *nn = ud;
    const Source *src = source_get(&nn->sources, span.source);
    int line, col;
    source_line_col(src, span.start, &line, &col);
    sb_printf(out, "%s:%d", src->name, line);
}

static void warn(void *ud, Span at, const char *msg, Span note_at, const char *note)
{
    NnState *nn = ud;
    diag_report(&nn->diag, DIAG_WARNING, at, "%s", msg);
    if (note) diag_report(&nn->diag, DIAG_NOTE, note_at, "%s", note);
}

static void source_text(void *ud, Span span, StrBuf *out)
{
    NnState *nn = ud;
    const Source *src = source_get(&nn->sources, span.source);
    if (span.end <= src->len && span.start < span.end)
        sb_append(out, src->text + span.start, span.end - span.start);
}

NnState *nn_new(void)
{
    NnState *nn = nn_calloc(1, sizeof *nn);
    intern_init(&nn->interner);
    source_table_init(&nn->sources);
    symtab_init(&nn->syms);
    rt_init(&nn->rt);
    nn->seed = NN_DEFAULT_SEED;
    sandbox_init(&nn->sandbox);
    nn->rt.files = &nn->sandbox;
    nn->out_fn = write_stdout;
    nn->err_fn = write_stderr;
    nn->rt.write = emit_out;
    nn->rt.write_ud = nn;
    nn->rt.locate = locate;
    nn->rt.source_text = source_text;
    nn->rt.locate_ud = nn;
    nn->rt.warn = warn;
    nn->rt.warn_ud = nn;
    nn->diag.sources = &nn->sources;
    nn->diag.emit = emit_err;
    nn->diag.ud = nn;
    return nn;
}

void nn_close(NnState *nn)
{
    if (!nn) return;
    nn_free(nn->defs);
    nn_free(nn->plot_path);
    sandbox_free(&nn->sandbox);
    rt_free(&nn->rt);
    symtab_free(&nn->syms);
    source_table_free(&nn->sources);
    intern_free(&nn->interner);
    nn_free(nn);
}

void nn_set_output(NnState *nn, NnWriteFn fn, void *userdata)
{
    nn->out_fn = fn ? fn : write_stdout;
    nn->out_ud = userdata;
}

void nn_set_errors(NnState *nn, NnWriteFn fn, void *userdata)
{
    nn->err_fn = fn ? fn : write_stderr;
    nn->err_ud = userdata;
}

void nn_set_seed(NnState *nn, uint64_t seed)
{
    nn->seed = seed;
    rng_seed(&nn->rt.rng, seed);
}

void nn_set_progress(NnState *nn, int on)
{
    nn->rt.progress = on != 0;
}

void nn_set_flush_denormals(NnState *nn, int on)
{
    nn->rt.keep_denormals = on == 0;
}

int nn_set_trace_format(NnState *nn, const char *format)
{
    if (strcmp(format, "text") == 0) nn->rt.trace_format = TRACE_TEXT;
    else if (strcmp(format, "dot") == 0) nn->rt.trace_format = TRACE_DOT;
    else if (strcmp(format, "json") == 0) nn->rt.trace_format = TRACE_JSON;
    else return 0;
    return 1;
}

void nn_set_trace_steps(NnState *nn, long from, long to)
{
    nn->rt.trace_from = from;
    nn->rt.trace_to = to;
}

void nn_set_trace_full(NnState *nn, int on)
{
    nn->rt.trace_full = on != 0;
}

void nn_set_max_memory(NnState *nn, size_t bytes)
{
    nn->rt.graph.max_bytes = bytes;
}

NnStatus nn_sandbox(NnState *nn)
{
    char err[512];
    if (sandbox_enable(&nn->sandbox, err, sizeof err)) return NN_OK;
    diag_plain(&nn->diag, DIAG_ERROR, "%s", err);
    return NN_ERROR_IO;
}

NnStatus nn_sandbox_allow(NnState *nn, const char *dir, int write)
{
    NnStatus st = nn_sandbox(nn);      /* first: a host that ignores an error stays confined */
    char err[PATH_MAX + 64];
    if (st == NN_OK && !sandbox_allow(&nn->sandbox, dir, write != 0, err, sizeof err)) {
        diag_plain(&nn->diag, DIAG_ERROR, "%s", err);
        return NN_ERROR_IO;
    }
    return st;
}

void nn_set_threads(int n)
{
    kern_set_threads(n);
}

void nn_set_plot(NnState *nn, const char *path)
{
    nn_free(nn->plot_path);
    nn->plot_path = path ? nn_strndup(path, strlen(path)) : NULL;
    nn->rt.plot_path = nn->plot_path;
    nn->rt.plots = 0;
}

static bool on_break(void *ud, const char *why)
{
    NnState *nn = ud;
    return nn->break_fn(nn, why, nn->break_ud) == NN_BREAK_STOP;
}

void nn_set_break_handler(NnState *nn, NnBreakFn fn, void *userdata)
{
    nn->break_fn = fn;
    nn->break_ud = userdata;
    nn->rt.on_break = fn ? on_break : NULL;
    nn->rt.break_ud = nn;
}

int nn_set_breakpoint(NnState *nn, const char *spec)
{
    Runtime *rt = &nn->rt;
    char *end;
    if (strcmp(spec, "none") == 0) {
        rt->break_step = 0;
        rt->break_nonfinite = false;
        rt->break_grad_norm = 0;
    } else if (strcmp(spec, "nonfinite") == 0) {
        rt->break_nonfinite = true;
    } else if (strncmp(spec, "step=", 5) == 0) {
        errno = 0;
        long n = strtol(spec + 5, &end, 10);
        if (end == spec + 5 || *end || errno || n < 1) return 0;
        rt->break_step = n;
    } else if (strncmp(spec, "grad_norm=", 10) == 0) {
        double x = strtod(spec + 10, &end);
        if (end == spec + 10 || *end || !(x > 0) || !isfinite(x)) return 0;
        rt->break_grad_norm = x;
    } else {
        return 0;
    }
    return 1;
}

int nn_in_break(NnState *nn)
{
    return nn->rt.in_break;
}

void nn_set_trace(NnState *nn, int on)
{
    nn->rt.trace_all = on != 0;
}

const char *nn_version(void)
{
    return NN_VERSION;
}

/* A parser context for the source `id` (src), building into arena, reporting to diag. */
static void parse_ctx_init(ParseCtx *ctx, NnState *nn, Arena *arena, DiagSink *diag,
                           const Source *src, uint32_t id)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->arena = arena;
    ctx->interner = &nn->interner;
    ctx->diag = diag;
    ctx->source = id;
    ctx->text = src->text;
    ctx->len = src->len;
}

static void run_program(Runtime *rt, void *prog)
{
    rt_exec(rt, prog);
}

/* Runs the program, catching run-time errors, and reports one if raised. Returns the status.
 * Runs nest when a breakpoint's prompt runs statements inside a train block: rt_protect puts
 * the outer catch point back, and the statement the outer run is in is put back too, so that
 * an error it raises later is still noted at its own statement. */
/* "in iteration 3 (k = 2) of this loop": where in its loops an error happened. */
static void note_loop(NnState *nn, const Program *prog, size_t pc, bool interrupted)
{
    const LoopInfo *loop = program_loop_at(prog, pc);
    if (!loop) return;
    long i = prog->counters[loop->slot], n = i - loop->from + 1;
    char var[96] = "";
    if (loop->var) snprintf(var, sizeof var, " (%s = %ld)", loop->var, i);
    if (interrupted)        /* between two iterations, or in a train block of one */
        diag_report(&nn->diag, DIAG_NOTE, loop->span, "interrupted %s iteration %ld%s of this "
                    "loop; what ran before is kept",
                    prog->items[pc].kind == INS_INTERRUPT ? "after" : "in", n, var);
    else
        diag_report(&nn->diag, DIAG_NOTE, loop->span, "in iteration %ld%s of this loop", n, var);
}

/* The statement of the unit's top level that instruction pc belongs to is a loop or an if, and
 * pc is in the block itself: at or after its first control instruction, not in the copies of
 * the names it carries that come before it (stopped there, the statement is undone whole). */
static bool in_block(const Program *prog, size_t pc)
{
    const StmtEnd *end = program_stmt_at(prog, pc);
    if (!end) return false;
    for (size_t i = end == prog->stmts ? 0 : end[-1].pc; i <= pc && i < end->pc; i++)
        if (prog->items[i].kind >= INS_LOOP_INIT) return true;
    return false;
}

/* Where Ctrl-C stopped the run, as notes (the CLI's "where it stopped"). */
static void note_interrupt(NnState *nn, const Program *prog, size_t pc)
{
    Runtime *rt = &nn->rt;
    Span at = prog->items[pc].span;
    switch (rt->stop_at) {
    case RT_STOP_LOOP: break;
    case RT_STOP_STATEMENT:
        diag_report(&nn->diag, DIAG_NOTE, at, "interrupted before this statement; what ran "
                    "before it is kept");
        break;
    case RT_STOP_TRAIN:
        if (!program_loop_at(prog, pc))
            diag_report(&nn->diag, DIAG_NOTE, at, "interrupted in this train block; the run "
                        "stops here");
        break;
    case RT_STOP_INSIDE:
        diag_report(&nn->diag, DIAG_NOTE, at, "interrupted while running this statement, which "
                    "is undone; what ran before it is kept%s", program_loop_at(prog, pc)
                    ? " (names the loop carries keep the values this iteration began with)"
                    : in_block(prog, pc) ? " (names the if carries keep their values from "
                    "before it)" : "");
        break;
    }
    note_loop(nn, prog, pc, true);
}

static NnStatus execute(NnState *nn, Program *prog)
{
    Runtime *rt = &nn->rt;
    Span outer_stmt = rt->err_stmt;
    const Program *outer_prog = rt->prog;
    size_t outer_pc = rt->pc;
    bool outermost = rt->catch_point == NULL;   /* runs nest at breakpoints */
    if (outermost) rt_run_start(rt);
    RtStatus status = rt_protect(rt, run_program, prog);
    if (outermost) rt_run_end(rt);
    if (status != RT_INTERRUPT || rt->stop_at != RT_STOP_INSIDE) rt->pass_params = NULL;
    if (status == RT_INTERRUPT) {
        if (rt->stop_at == RT_STOP_INSIDE) {
            sb_clear(&rt->out);     /* what the abandoned statement was writing is undone too */
            rt_undo_statement(rt, !in_block(prog, rt->pc));
        }
        rt_flush(rt);
        note_interrupt(nn, prog, rt->pc);
    } else if (status != RT_OK) {
        sb_clear(&rt->out);         /* a half-built line is not output */
        Span at = rt->err_span, stmt = rt->err_stmt;
        diag_report(&nn->diag, DIAG_ERROR, at, "%s", rt->err_msg);
        if (at.source != stmt.source || at.start < stmt.start || at.end > stmt.end)
            diag_report(&nn->diag, DIAG_NOTE, stmt, "while running this statement");
        note_loop(nn, prog, rt->pc, false);
    }
    rt->err_stmt = outer_stmt;
    rt->prog = outer_prog;
    rt->pc = outer_pc;
    return status == RT_OK ? NN_OK : status == RT_INTERRUPT ? NN_INTERRUPTED : NN_ERROR_RUNTIME;
}

/* After an interrupt: the unit ends with the statement of its top level that was running (a
 * loop, an if, a train block: what ran of it stays), or before it when it did not run or was
 * undone (`start`: the unit's own start). What lowering made for the statements after that
 * end (their names and nodes) goes. */
static void end_unit_at(NnState *nn, const Program *prog, const StmtEnd *start)
{
    size_t pc = nn->rt.pc;
    const StmtEnd *end = program_stmt_at(prog, pc);
    if (!end) return;
    RtStopAt at = nn->rt.stop_at;
    if (at == RT_STOP_STATEMENT || (at == RT_STOP_INSIDE && !in_block(prog, pc)))
        end = end == prog->stmts ? start : end - 1;
    symtab_truncate(&nn->syms, end->syms);
    rt_truncate(&nn->rt, end->nodes);
    nn->n_defs = end->defs;
}

/* The program's tensors would pass the memory limit: said at the first tensor past it, before
 * anything runs (the caller undoes the compilation). */
static NnStatus over_memory(NnState *nn)
{
    Graph *g = &nn->rt.graph;
    const GraphNode *n = graph_node(g, g->over_node);
    char shape[64], size[32];
    diag_report(&nn->diag, DIAG_ERROR, n->span, "this tensor %s (%s) would take the "
                "program's tensors past the memory limit of %zu MiB; raise it with --max-memory",
                shape_str(&n->shape, shape, sizeof shape),
                graph_bytes_str(n->size * sizeof(float), size),
                g->max_bytes >> 20);
    return NN_ERROR_COMPILE;
}

static void add_def(NnState *nn, Span span, const Symbol *carried)
{
    if (nn->n_defs == nn->cap_defs) {
        nn->cap_defs = nn->cap_defs ? 2 * nn->cap_defs : 16;
        nn->defs = nn_realloc(nn->defs, nn->cap_defs * sizeof *nn->defs);
    }
    nn->defs[nn->n_defs++] = (SessionDef){ span, carried };
}

/* Keeps the statements that define something, so nn_save_session can write a script that
 * recreates the session: their text, and for a block the values it left in the names it
 * carried (a loop is not run again). */
static void remember_definitions(NnState *nn, const AstList *stmts, Program *prog)
{
    for (size_t i = 0; i < stmts->count; i++) {
        if (i > 0) prog->stmts[i - 1].defs = nn->n_defs;
        const AstNode *st = stmts->items[i];
        switch (st->kind) {
        case AST_LET:
        case AST_LET_MANY:
        case AST_PARAM:
        case AST_ASSIGN:
        case AST_MODEL:
        case AST_SEED:
        case AST_FN: add_def(nn, st->span, NULL); break;
        case AST_FOR:
        case AST_REPEAT:
        case AST_WHILE:
        case AST_IF:
            for (int k = 0; k < st->sema.extra->block.n_carries; k++)
                add_def(nn, st->span, st->sema.extra->block.carries[k].sym);
            break;
        default: break;
        }
    }
    if (stmts->count) prog->stmts[stmts->count - 1].defs = nn->n_defs;
}

/* What the data files read while checking may take: the memory left under the limit, and the
 * time until Ctrl-C. */
static DataLimits data_limits(NnState *nn)
{
    DataLimits lim = { graph_room(&nn->rt.graph), nn->rt.interrupt };
    return lim;
}

/* What run_source does with a text once it is checked. */
typedef enum Mode { MODE_CHECK, MODE_RUN, MODE_EXPORT_TORCH } Mode;

/* The checked unit as a PyTorch program, on the output. */
static NnStatus export_unit(NnState *nn, const AstList *stmts, const char *name)
{
    StrBuf sb;
    sb_init(&sb);
    NnStatus st = NN_OK;
    if (export_torch(stmts, name, nn->seed, &nn->diag, &sb) > 0) st = NN_ERROR_COMPILE;
    else nn->out_fn(nn->out_ud, sb.data, sb.len);
    sb_free(&sb);
    return st;
}

/* The whole pipeline for one text: parse and check, then run, or only that, or export. */
static NnStatus run_source(NnState *nn, const char *name, const char *text, size_t len, Mode mode)
{
    bool run = mode == MODE_RUN;
    rt_call_start(&nn->rt);
    uint32_t id = source_add(&nn->sources, name, text, len);
    const Source *src = source_get(&nn->sources, id);
    Arena arena;
    arena_init(&arena);
    ParseCtx ctx;
    parse_ctx_init(&ctx, nn, &arena, &nn->diag, src, id);

    size_t nsyms = nn->syms.count;
    NnStatus status = NN_OK;
    DataLimits limits = data_limits(nn);
    if (parse_unit(&ctx) > 0
        || sema_check(&ctx.stmts, &nn->syms, &nn->diag, &nn->interner, &arena,
                      &nn->sandbox, &limits) > 0) {
        status = NN_ERROR_COMPILE;
    } else if (mode == MODE_EXPORT_TORCH) {
        status = export_unit(nn, &ctx.stmts, name);
    } else if (run) {
        /* a run that fails part-way changes nothing: keep what it could change */
        RtSnapshot before;
        rt_snapshot_take(&nn->rt, &before);
        Program prog;
        program_init(&prog);
        lower_unit(&ctx.stmts, &nn->rt.graph, &prog);
        size_t n_defs = nn->n_defs;
        remember_definitions(nn, &ctx.stmts, &prog);
        arena_free(&arena);     /* the AST is not needed once the graph is built */
        status = nn->rt.graph.over ? over_memory(nn) : execute(nn, &prog);
        if (status == NN_INTERRUPTED)
            end_unit_at(nn, &prog, &(StmtEnd){ 0, nsyms, before.nodes, n_defs });
        program_free(&prog);
        if (status != NN_OK && status != NN_INTERRUPTED) {
            rt_snapshot_restore(&nn->rt, &before);
            symtab_truncate(&nn->syms, nsyms);
            nn->n_defs = n_defs;
        }
        rt_snapshot_free(&before);
        nn->rt.began = 0;
        return status;
    }
    symtab_truncate(&nn->syms, nsyms);  /* failed, or only checked: define nothing */
    arena_free(&arena);
    nn->rt.began = 0;
    return status;
}

static NnStatus with_file(NnState *nn, const char *path, Mode mode)
{
    bool std_in = strcmp(path, "-") == 0;
    SandboxFile file;
    char why[PATH_MAX + 256];
    if (!std_in && !sandbox_read(&nn->sandbox, path, &file, why, sizeof why)) {
        diag_plain(&nn->diag, DIAG_ERROR, "cannot open '%s': %s", path, why);
        return NN_ERROR_IO;
    }
    FILE *f = std_in ? stdin : fopen(file.path, "rb");
    if (!f) {
        int e = errno;
        sandbox_done(&file, NULL, 0);
        diag_plain(&nn->diag, DIAG_ERROR, "cannot open '%s': %s", path, strerror(e));
        return NN_ERROR_IO;
    }
    StrBuf sb;
    sb_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_append(&sb, buf, n);
    bool failed = ferror(f);
    if (!std_in) {
        fclose(f);
        sandbox_done(&file, NULL, 0);
    }
    if (failed) {
        diag_plain(&nn->diag, DIAG_ERROR, "cannot read '%s'", path);
        sb_free(&sb);
        return NN_ERROR_IO;
    }
    const char *outer = nn->sandbox.script;    /* names in the text may be beside it */
    nn->sandbox.script = std_in ? NULL : path;
    NnStatus st = run_source(nn, std_in ? "<stdin>" : path, sb.data ? sb.data : "", sb.len, mode);
    nn->sandbox.script = outer;
    sb_free(&sb);
    return st;
}

NnStatus nn_run_string(NnState *nn, const char *name, const char *code)
{
    return run_source(nn, name, code, strlen(code), MODE_RUN);
}

NnStatus nn_check_string(NnState *nn, const char *name, const char *code)
{
    return run_source(nn, name, code, strlen(code), MODE_CHECK);
}

NnStatus nn_run_file(NnState *nn, const char *path)
{
    return with_file(nn, path, MODE_RUN);
}

NnStatus nn_check_file(NnState *nn, const char *path)
{
    return with_file(nn, path, MODE_CHECK);
}

NnStatus nn_export_file(NnState *nn, const char *path, const char *format)
{
    if (strcmp(format, "pytorch") != 0) {
        diag_plain(&nn->diag, DIAG_ERROR, "cannot export to '%s': the formats are pytorch "
                   "(and ONNX, with `save MODEL \"FILE.onnx\"`)", format);
        return NN_ERROR_COMPILE;
    }
    return with_file(nn, path, MODE_EXPORT_TORCH);
}

NnStatus nn_set(NnState *nn, const char *name, const float *data, size_t size)
{
    Symbol *sym = symtab_find(&nn->syms, intern(&nn->interner, name, strlen(name)));
    if (!sym || sym->kind != SYM_PARAM || !sym->has_node) {
        diag_plain(&nn->diag, DIAG_ERROR, "nn_set: '%s' is not a param", name);
        return NN_ERROR_COMPILE;
    }
    GraphNode *n = graph_node(&nn->rt.graph, sym->node);
    if (size != n->size) {
        char shape[64];
        diag_plain(&nn->diag, DIAG_ERROR, "nn_set: '%s' has shape %s, %zu values, not %zu", name,
                   shape_str(&n->shape, shape, sizeof shape), n->size, size);
        return NN_ERROR_COMPILE;
    }
    memcpy(n->value, data, size * sizeof(float));
    return NN_OK;
}

NnStatus nn_get(NnState *nn, const char *name, NnTensorView *out)
{
    Symbol *sym = symtab_find(&nn->syms, intern(&nn->interner, name, strlen(name)));
    if (!sym || !sym->has_node) return NN_ERROR_COMPILE;
    Program prog;
    program_init(&prog);
    Instr *ins = program_add(&prog, INS_EVAL, graph_node(&nn->rt.graph, sym->node)->span);
    ins->plan = graph_plan(&nn->rt.graph, &sym->node, 1, &prog.arena);
    NnStatus st = execute(nn, &prog);
    program_free(&prog);
    if (st != NN_OK) return st;
    GraphNode *n = graph_node(&nn->rt.graph, sym->node);
    memset(out, 0, sizeof *out);
    out->rank = n->shape.rank;
    for (int i = 0; i < n->shape.rank && i < 6; i++) out->shape[i] = n->shape.dim[i];
    out->size = n->size;
    out->data = n->value;
    return NN_OK;
}

/* ---- for interactive hosts ------------------------------------------------------------------ */

static void discard(void *ud, const char *text, size_t len)
{
    (void)ud, (void)text, (void)len;
}

int nn_is_complete(NnState *nn, const char *code)
{
    /* parse in a scratch source table, saying nothing: only the bracket depth matters */
    SourceTable sources;
    source_table_init(&sources);
    DiagSink quiet = { &sources, discard, NULL, 0 };
    uint32_t id = source_add(&sources, "<probe>", code, strlen(code));
    const Source *src = source_get(&sources, id);
    Arena arena;
    arena_init(&arena);
    ParseCtx ctx;
    parse_ctx_init(&ctx, nn, &arena, &quiet, src, id);
    parse_unit(&ctx);
    arena_free(&arena);
    source_table_free(&sources);
    return !ctx.incomplete;
}

void nn_set_interrupt(NnState *nn, volatile sig_atomic_t *flag)
{
    rt_set_interrupt(&nn->rt, flag);
}

void nn_set_max_steps(NnState *nn, uint64_t steps)
{
    rt_set_limits(&nn->rt, steps, nn->rt.timeout);
}

void nn_set_timeout(NnState *nn, double seconds)
{
    rt_set_limits(&nn->rt, nn->rt.max_steps, seconds);
}

NnStatus state_eval(NnState *nn, const char *expr, uint32_t *root)
{
    uint32_t id = source_add(&nn->sources, "<expr>", expr, strlen(expr));
    const Source *src = source_get(&nn->sources, id);
    Arena arena;
    arena_init(&arena);
    ParseCtx ctx;
    parse_ctx_init(&ctx, nn, &arena, &nn->diag, src, id);
    size_t nsyms = nn->syms.count;
    NnStatus st = NN_ERROR_COMPILE;
    DataLimits limits = data_limits(nn);
    if (parse_unit(&ctx) > 0
        || sema_check(&ctx.stmts, &nn->syms, &nn->diag, &nn->interner, &arena,
                      &nn->sandbox, &limits) > 0) {
        symtab_truncate(&nn->syms, nsyms);
        arena_free(&arena);
        return st;
    }
    if (ctx.stmts.count != 1 || ctx.stmts.items[0]->kind != AST_EXPR
        || ctx.stmts.items[0]->u.expr->sema.extra) {
        diag_report(&nn->diag, DIAG_ERROR, ctx.stmts.count ? ctx.stmts.items[0]->span
                    : (Span){ id, 0, 0 }, "expected one expression, such as loss or w * x + b");
        symtab_truncate(&nn->syms, nsyms);
        arena_free(&arena);
        return st;
    }
    Program prog;
    program_init(&prog);
    lower_unit(&ctx.stmts, &nn->rt.graph, &prog);
    arena_free(&arena);
    if (nn->rt.graph.over) {
        st = over_memory(nn);
        graph_truncate(&nn->rt.graph, nn->rt.graph.over_node);
        program_free(&prog);
        return st;
    }
    for (size_t i = 0; i < prog.count; i++)
        if (prog.items[i].kind == INS_PRINT) {     /* compute it, print nothing */
            prog.items[i].kind = INS_EVAL;
            *root = prog.items[i].items[0].node;
        }
    st = execute(nn, &prog);
    program_free(&prog);
    return st;
}
