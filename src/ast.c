/* ast.c — making and dumping syntax tree nodes. */
#include "ast.h"

#include <string.h>

AstNode *ast_new(Arena *a, AstKind kind, Span span)
{
    AstNode *n = arena_alloc(a, sizeof *n);
    n->kind = kind;
    n->span = span;
    return n;
}

void ast_list_push(Arena *a, AstList *l, AstNode *n)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        AstNode **items = arena_alloc(a, cap * sizeof *items);
        if (l->count) memcpy(items, l->items, l->count * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = n;
}

const char *ast_kind_name(AstKind k)
{
    static const char *const names[] = {
        [AST_NUM] = "num", [AST_STRING] = "string", [AST_TENSOR] = "tensor",
        [AST_NAME] = "name", [AST_UNARY] = "unary", [AST_BINARY] = "binary",
        [AST_CALL] = "call", [AST_ARG] = "arg", [AST_FIELD] = "field", [AST_LET] = "let",
        [AST_PARAM] = "param", [AST_ASSIGN] = "assign", [AST_PRINT] = "print",
        [AST_BACKWARD] = "backward", [AST_TRACE] = "trace", [AST_STEP] = "step",
        [AST_ZERO_GRAD] = "zero_grad", [AST_SEED] = "seed", [AST_EXPR] = "expr",
        [AST_LET_MANY] = "let", [AST_MODEL] = "model", [AST_RESIDUAL] = "residual",
        [AST_FORWARD] = "forward", [AST_TRAIN] = "train", [AST_SETTING] = "setting",
        [AST_SAVE] = "save", [AST_LOAD] = "load", [AST_GRADCHECK] = "gradcheck",
        [AST_PLACE] = "place", [AST_INDEX] = "index", [AST_RANGE] = "range",
        [AST_FOR] = "for", [AST_REPEAT] = "repeat", [AST_WHILE] = "while", [AST_IF] = "if",
        [AST_BREAK] = "break", [AST_CONTINUE] = "continue", [AST_FN] = "fn",
    };
    return names[k];
}

const char *ast_op_text(int op)
{
    static const char *const words[] = {
        [AST_OP_LE - AST_OP_LE] = "<=", [AST_OP_GE - AST_OP_LE] = ">=",
        [AST_OP_EQ - AST_OP_LE] = "==", [AST_OP_NE - AST_OP_LE] = "!=",
        [AST_OP_AND - AST_OP_LE] = "and", [AST_OP_OR - AST_OP_LE] = "or",
        [AST_OP_NOT - AST_OP_LE] = "not",
    };
    static const char chars[] = "+-*/%^@<>";
    if (op >= AST_OP_LE && op <= AST_OP_NOT) return words[op - AST_OP_LE];
    const char *c = op > 0 && op < 256 ? strchr(chars, op) : NULL;
    NN_ASSERT(c && *c);
    static const char *const one[] = { "+", "-", "*", "/", "%", "^", "@", "<", ">" };
    return one[c - chars];
}

static void dump_list(const AstList *l, StrBuf *sb)
{
    for (size_t i = 0; i < l->count; i++) {
        sb_putc(sb, ' ');
        ast_dump(l->items[i], sb);
    }
}

void ast_dump(const AstNode *n, StrBuf *sb)
{
    char buf[32];
    if (!n) {
        sb_puts(sb, "nil");
        return;
    }
    switch (n->kind) {
    case AST_NUM: sb_puts(sb, fmt_num(n->u.num, buf)); return;
    case AST_STRING:
        sb_putc(sb, '"');
        sb_append(sb, n->u.str.text, n->u.str.len);
        sb_putc(sb, '"');
        return;
    case AST_NAME: sb_puts(sb, n->u.name); return;
    default: break;
    }
    sb_printf(sb, "(%s", ast_kind_name(n->kind));
    switch (n->kind) {
    case AST_TENSOR:
    case AST_PRINT: dump_list(&n->u.list, sb); break;
    case AST_UNARY:
        sb_printf(sb, " %s ", ast_op_text(n->u.op.op));
        ast_dump(n->u.op.a, sb);
        break;
    case AST_BINARY:
        sb_printf(sb, " %s ", ast_op_text(n->u.op.op));
        ast_dump(n->u.op.a, sb);
        sb_putc(sb, ' ');
        ast_dump(n->u.op.b, sb);
        break;
    case AST_RANGE:
        sb_putc(sb, ' ');
        ast_dump(n->u.op.a, sb);
        sb_putc(sb, ' ');
        ast_dump(n->u.op.b, sb);
        break;
    case AST_INDEX:
        sb_putc(sb, ' ');
        ast_dump(n->u.index.obj, sb);
        dump_list(&n->u.index.subs, sb);
        break;
    case AST_CALL:
    case AST_STEP:
        sb_printf(sb, " %s", n->u.call.name);
        dump_list(&n->u.call.args, sb);
        if (n->u.call.targets.count) {
            sb_puts(sb, " (on");
            dump_list(&n->u.call.targets, sb);
            sb_putc(sb, ')');
        }
        break;
    case AST_ZERO_GRAD: dump_list(&n->u.list, sb); break;
    case AST_ARG:
    case AST_LET:
    case AST_PARAM:
    case AST_ASSIGN:
        if (n->u.bind.name) sb_printf(sb, " %s", n->u.bind.name);
        if (n->u.bind.op) sb_printf(sb, " %s=", ast_op_text(n->u.bind.op));
        sb_putc(sb, ' ');
        ast_dump(n->u.bind.value, sb);
        break;
    case AST_FOR:
        sb_printf(sb, " %s ", n->u.loop.var);
        ast_dump(n->u.loop.a, sb);
        sb_putc(sb, ' ');
        ast_dump(n->u.loop.b, sb);
        dump_list(&n->u.loop.body, sb);
        break;
    case AST_REPEAT:
    case AST_WHILE:
        sb_putc(sb, ' ');
        ast_dump(n->u.loop.a, sb);
        dump_list(&n->u.loop.body, sb);
        break;
    case AST_IF:
        sb_putc(sb, ' ');
        ast_dump(n->u.iff.cond, sb);
        sb_puts(sb, " (then");
        dump_list(&n->u.iff.then, sb);
        sb_putc(sb, ')');
        if (n->u.iff.has_else) {
            sb_puts(sb, " (else");
            dump_list(&n->u.iff.els, sb);
            sb_putc(sb, ')');
        }
        break;
    case AST_FN:
        sb_printf(sb, " %s (", n->u.fn.name);
        for (size_t i = 0; i < n->u.fn.params.count; i++)
            sb_printf(sb, "%s%s", i ? " " : "", n->u.fn.params.items[i]->u.name);
        sb_puts(sb, ") ");
        ast_dump(n->u.fn.body, sb);
        break;
    case AST_FIELD:
        sb_putc(sb, ' ');
        ast_dump(n->u.field.obj, sb);
        sb_printf(sb, " %s", n->u.field.field);
        break;
    case AST_TRACE:
        sb_putc(sb, ' ');
        ast_dump(n->u.trace.expr, sb);
        dump_list(&n->u.trace.places, sb);
        break;
    case AST_PLACE:
        sb_putc(sb, ' ');
        ast_dump(n->u.place.path, sb);
        for (int i = 0; i < n->u.place.n_units; i++) {
            sb_putc(sb, ' ');
            ast_dump(n->u.place.unit[i], sb);
        }
        break;
    case AST_BACKWARD:
    case AST_GRADCHECK:
    case AST_EXPR:
    case AST_SEED:
        sb_putc(sb, ' ');
        ast_dump(n->u.expr, sb);
        break;
    case AST_LET_MANY:
        dump_list(&n->u.many.names, sb);
        sb_putc(sb, ' ');
        ast_dump(n->u.many.value, sb);
        break;
    case AST_MODEL:
    case AST_RESIDUAL:
        if (n->u.block.name) sb_printf(sb, " %s", n->u.block.name);
        dump_list(&n->u.block.items, sb);
        break;
    case AST_FORWARD:
        sb_printf(sb, " %s ", n->u.fwd.arg);
        ast_dump(n->u.fwd.body, sb);
        break;
    case AST_TRAIN:
        sb_putc(sb, ' ');
        ast_dump(n->u.train.target, sb);
        if (n->u.train.x) {
            sb_puts(sb, " on ");
            ast_dump(n->u.train.x, sb);
            if (n->u.train.y) {
                sb_putc(sb, ' ');
                ast_dump(n->u.train.y, sb);
            }
        }
        dump_list(&n->u.train.settings, sb);
        break;
    case AST_SETTING:
        sb_printf(sb, " %s", n->u.setting.name);
        if (n->u.setting.word) sb_printf(sb, " %s", n->u.setting.word);
        if (n->u.setting.value) {
            sb_putc(sb, ' ');
            ast_dump(n->u.setting.value, sb);
        }
        dump_list(&n->u.setting.places, sb);
        if (n->u.setting.then) {
            sb_puts(sb, " then ");
            ast_dump(n->u.setting.then, sb);
        }
        if (n->u.setting.per) sb_printf(sb, " per %s", n->u.setting.per);
        break;
    case AST_SAVE:
    case AST_LOAD:
        sb_printf(sb, " %s ", n->u.file.name);
        ast_dump(n->u.file.path, sb);
        break;
    default: break;
    }
    sb_putc(sb, ')');
}

static AstList clone_list(Arena *a, const AstList *l)
{
    AstList out = { 0 };
    for (size_t i = 0; i < l->count; i++) ast_list_push(a, &out, ast_clone(a, l->items[i]));
    return out;
}

AstNode *ast_clone(Arena *a, const AstNode *n)
{
    if (!n) return NULL;
    AstNode *c = ast_new(a, n->kind, n->span);
    c->u = n->u;
    switch (n->kind) {
    case AST_NUM:
    case AST_NAME: break;       /* names are interned: shared */
    case AST_STRING: c->u.str.text = arena_strndup(a, n->u.str.text, n->u.str.len); break;
    case AST_TENSOR: c->u.list = clone_list(a, &n->u.list); break;
    case AST_UNARY:
    case AST_BINARY:
    case AST_RANGE:
        c->u.op.a = ast_clone(a, n->u.op.a);
        c->u.op.b = ast_clone(a, n->u.op.b);
        break;
    case AST_INDEX:
        c->u.index.obj = ast_clone(a, n->u.index.obj);
        c->u.index.subs = clone_list(a, &n->u.index.subs);
        break;
    case AST_CALL: c->u.call.args = clone_list(a, &n->u.call.args); break;
    case AST_ARG: c->u.bind.value = ast_clone(a, n->u.bind.value); break;
    case AST_FIELD: c->u.field.obj = ast_clone(a, n->u.field.obj); break;
    default: NN_ASSERT(!"ast_clone copies expressions only");
    }
    return c;
}
