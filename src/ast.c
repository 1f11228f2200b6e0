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
    };
    return names[k];
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
        sb_printf(sb, " %c ", n->u.op.op);
        ast_dump(n->u.op.a, sb);
        break;
    case AST_BINARY:
        sb_printf(sb, " %c ", n->u.op.op);
        ast_dump(n->u.op.a, sb);
        sb_putc(sb, ' ');
        ast_dump(n->u.op.b, sb);
        break;
    case AST_CALL:
    case AST_STEP:
        sb_printf(sb, " %s", n->u.call.name);
        dump_list(&n->u.call.args, sb);
        break;
    case AST_ARG:
    case AST_LET:
    case AST_PARAM:
    case AST_ASSIGN:
        if (n->u.bind.name) sb_printf(sb, " %s", n->u.bind.name);
        sb_putc(sb, ' ');
        ast_dump(n->u.bind.value, sb);
        break;
    case AST_FIELD:
        sb_putc(sb, ' ');
        ast_dump(n->u.field.obj, sb);
        sb_printf(sb, " %s", n->u.field.field);
        break;
    case AST_BACKWARD:
    case AST_TRACE:
    case AST_EXPR:
    case AST_SEED:
        sb_putc(sb, ' ');
        ast_dump(n->u.expr, sb);
        break;
    default: break;
    }
    sb_putc(sb, ')');
}
