/* nn.y — the grammar of the nn language (bison: pure, with locations, LAC and custom
 * syntax errors that name what was expected). Builds the AST in the unit's arena; names and
 * shapes are checked afterwards by sema. */
%code requires {
#include "parse.h"
#ifndef NN_YYSCAN_T
#define NN_YYSCAN_T
typedef void *yyscan_t;
#endif
}

%code provides {
int yylex(YYSTYPE *yylval, YYLTYPE *yylloc, yyscan_t scanner);
}

%code {
#include <string.h>

/* A rule's span runs from its first symbol's start to its last symbol's end; an empty rule
 * sits at the end of what came before. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                                          \
    do {                                                                                     \
        if (N) {                                                                             \
            (Cur).source = YYRHSLOC(Rhs, 1).source;                                          \
            (Cur).start = YYRHSLOC(Rhs, 1).start;                                            \
            (Cur).end = YYRHSLOC(Rhs, N).end;                                                \
        } else {                                                                             \
            (Cur).source = YYRHSLOC(Rhs, 0).source;                                          \
            (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;                                  \
        }                                                                                    \
    } while (0)

#define YYLOCATION_PRINT(File, Loc) fprintf(File, "%u-%u", (Loc)->start, (Loc)->end)

static AstNode *binary(ParseCtx *ctx, int op, AstNode *a, AstNode *b, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_BINARY, at);
    n->u.op.op = op;
    n->u.op.a = a;
    n->u.op.b = b;
    return n;
}

static AstNode *bind(ParseCtx *ctx, AstKind k, const char *name, Span name_span, AstNode *v,
                     Span at)
{
    AstNode *n = ast_new(ctx->arena, k, at);
    n->u.bind.name = name;
    n->u.bind.name_span = name_span;
    n->u.bind.value = v;
    return n;
}

static AstNode *unary_stmt(ParseCtx *ctx, AstKind k, AstNode *e, Span at)
{
    AstNode *n = ast_new(ctx->arena, k, at);
    n->u.expr = e;
    return n;
}

/* Only called for "memory exhausted" (the parser stack's limit); syntax errors go through
 * yyreport_syntax_error. */
static void yyerror(const Span *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg)
{
    (void)scanner;
    ctx->errors++;
    (void)msg;      /* bison's "memory exhausted": its stack limit */
    diag_report(ctx->diag, DIAG_ERROR, *loc, "this expression is nested too deeply");
}

/* "net.layer1.W" for a chain of fields on a name; NULL (reported) for anything else. */
static const char *dotted_name(ParseCtx *ctx, const AstNode *e)
{
    if (e->kind == AST_NAME) return e->u.name;
    const char *inner = e->kind == AST_FIELD ? dotted_name(ctx, e->u.field.obj) : NULL;
    if (!inner) {
        if (e->kind != AST_FIELD && parse_count_error(ctx, e->span))
            diag_report(ctx->diag, DIAG_ERROR, e->span, "only a param can be assigned to, as "
                        "in w = 0.7 or net.layer1.b = 0");
        return NULL;
    }
    size_t a = strlen(inner), b = strlen(e->u.field.field);
    char *buf = arena_alloc(ctx->arena, a + b + 2);
    memcpy(buf, inner, a);
    buf[a] = '.';
    memcpy(buf + a + 1, e->u.field.field, b + 1);
    return intern(ctx->interner, buf, a + b + 1);
}

static AstNode *number(ParseCtx *ctx, double v, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_NUM, at);
    n->u.num = v;
    return n;
}

static AstNode *train(ParseCtx *ctx, AstNode *target, AstNode *x, AstNode *y, AstList settings,
                      Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_TRAIN, at);
    n->u.train.target = target;
    n->u.train.x = x;
    n->u.train.y = y;
    n->u.train.settings = settings;
    return n;
}

/* 'on' is a word only in train statements, so that it stays free as a name elsewhere. */
static bool expect_on(ParseCtx *ctx, const char *word, Span at)
{
    if (strcmp(word, "on") == 0) return true;
    if (parse_count_error(ctx, at))
        diag_report(ctx->diag, DIAG_ERROR, at, "expected 'on' before '%s': train MODEL on X, Y "
                    "{ ... }", word);
    return false;
}

/* `at` is a word only after `trace EXPR` and `trace step N`, so it stays free as a name. */
static bool expect_at(ParseCtx *ctx, const char *word, Span at)
{
    if (strcmp(word, "at") == 0) return true;
    if (parse_count_error(ctx, at))
        diag_report(ctx->diag, DIAG_ERROR, at, "expected 'at' before '%s': trace EXPR at "
                    "MODEL.layerN, or at one unit MODEL.layerN[i]", word);
    return false;
}

static AstNode *trace_stmt(ParseCtx *ctx, AstNode *e, const AstList *places, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_TRACE, at);
    n->u.trace.expr = e;
    if (places) n->u.trace.places = *places;
    return n;
}

static AstNode *place(ParseCtx *ctx, AstNode *path, const double *unit, Span unit_span, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_PLACE, at);
    n->u.place.path = path;
    n->u.place.has_unit = unit != NULL;
    n->u.place.unit = unit ? *unit : 0;
    n->u.place.unit_span = unit_span;
    return n;
}

static AstNode *setting(ParseCtx *ctx, const char *name, Span name_span, const char *word,
                        AstNode *value, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_SETTING, at);
    n->u.setting.name = name;
    n->u.setting.name_span = name_span;
    n->u.setting.word = word;
    n->u.setting.value = value;
    return n;
}

static AstNode *file_stmt(ParseCtx *ctx, AstKind k, const char *name, Span name_span,
                          AstNode *path, Span at)
{
    AstNode *n = ast_new(ctx->arena, k, at);
    n->u.file.name = name;
    n->u.file.name_span = name_span;
    n->u.file.path = path;
    return n;
}

static void push_stmt(ParseCtx *ctx, AstNode *s)
{
    if (s) ast_list_push(ctx->arena, &ctx->stmts, s);
}
}

%define api.pure full
%define api.token.prefix {TOK_}
%define api.location.type {Span}
%define parse.error custom
%define parse.lac full
%define parse.trace
%locations
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {ParseCtx *ctx}
%expect 0

%union {
    double num;
    const char *name;
    struct { const char *text; size_t len; } str;
    AstNode *node;
    AstList list;
}

%token END 0            "end of input"
%token NEWLINE          "end of line"
%token <num> NUMBER     "number"
%token <name> IDENT     "name"
%token <str> STRING     "string"
%token LET              "'let'"
%token PARAM            "'param'"
%token PRINT            "'print'"
%token BACKWARD         "'backward'"
%token TRACE            "'trace'"
%token STEP             "'step'"
%token ZERO_GRAD        "'zero_grad'"
%token SEED             "'seed'"
%token MODEL            "'model'"
%token FORWARD          "'forward'"
%token RESIDUAL         "'residual'"
%token TRAIN            "'train'"
%token SAVE             "'save'"
%token LOAD             "'load'"
%token GRADCHECK        "'gradcheck'"

%type <node> stmt expr postfix primary arg print_item model_item setting string name_node
%type <node> place_item
%type <list> args args_opt elems print_items model_body model_lines settings setting_lines
%type <list> names places

%printer { fprintf(yyo, "%g", $$); } <num>
%printer { fprintf(yyo, "%s", $$); } <name>

/* operator precedence, lowest first */
%left '+' '-'               /* addition, subtraction */
%left '*' '/'               /* elementwise product, quotient */
%left '@'                   /* matrix product */
%precedence UMINUS          /* unary minus: -x @ y is (-x) @ y */
%right '^'                  /* power, right-associative: -x^2 is -(x^2) */

%%

program
    : %empty
    | program line
    ;

line
    : stmt sep                  { push_stmt(ctx, $1); }
    | sep
    | error sep                 { yyerrok; }
    ;

sep
    : NEWLINE
    | ';'
    ;

stmt
    : LET IDENT '=' expr        { $$ = bind(ctx, AST_LET, $2, @2, $4, @$); }
    | PARAM IDENT '=' expr      { $$ = bind(ctx, AST_PARAM, $2, @2, $4, @$); }
    | postfix '=' expr          {   /* w = 0.7, or a model's param: net.layer1.W = ... */
                                  const char *name = dotted_name(ctx, $1);
                                  $$ = name ? bind(ctx, AST_ASSIGN, name, @1, $3, @$) : NULL;
                                }
    | PRINT print_items         { $$ = ast_new(ctx->arena, AST_PRINT, @$); $$->u.list = $2; }
    | BACKWARD expr             { $$ = unary_stmt(ctx, AST_BACKWARD, $2, @$); }
    | TRACE expr                { $$ = trace_stmt(ctx, $2, NULL, @$); }
    | TRACE expr IDENT places   { $$ = expect_at(ctx, $3, @3) ? trace_stmt(ctx, $2, &$4, @$) : NULL; }
    | GRADCHECK expr            { $$ = unary_stmt(ctx, AST_GRADCHECK, $2, @$); }
    | STEP IDENT '(' args_opt ')' {
                                  $$ = ast_new(ctx->arena, AST_STEP, @$);
                                  $$->u.call.name = $2;
                                  $$->u.call.name_span = @2;
                                  $$->u.call.args = $4;
                                }
    | ZERO_GRAD                 { $$ = ast_new(ctx->arena, AST_ZERO_GRAD, @$); }
    | SEED expr                 { $$ = unary_stmt(ctx, AST_SEED, $2, @$); }
    | expr                      { $$ = unary_stmt(ctx, AST_EXPR, $1, @$); }
    | LET name_node ',' names '=' expr {
                                  $$ = ast_new(ctx->arena, AST_LET_MANY, @$);
                                  ast_list_push(ctx->arena, &$$->u.many.names, $2);
                                  for (size_t i = 0; i < $4.count; i++)
                                      ast_list_push(ctx->arena, &$$->u.many.names, $4.items[i]);
                                  $$->u.many.value = $6;
                                }
    | MODEL IDENT model_body    {
                                  $$ = ast_new(ctx->arena, AST_MODEL, @$);
                                  $$->u.block.name = $2;
                                  $$->u.block.name_span = @2;
                                  $$->u.block.items = $3;
                                }
    | TRAIN expr settings       { $$ = train(ctx, $2, NULL, NULL, $3, @$); }
    | TRAIN name_node IDENT expr settings {
                                  $$ = train(ctx, $2, $4, NULL, $5, @$);
                                  if (!expect_on(ctx, $3, @3)) $$ = NULL;
                                }
    | TRAIN name_node IDENT expr ',' expr settings {
                                  $$ = train(ctx, $2, $4, $6, $7, @$);
                                  if (!expect_on(ctx, $3, @3)) $$ = NULL;
                                }
    | SAVE IDENT string         { $$ = file_stmt(ctx, AST_SAVE, $2, @2, $3, @$); }
    | LOAD IDENT string         { $$ = file_stmt(ctx, AST_LOAD, $2, @2, $3, @$); }
    ;

name_node
    : IDENT                     { $$ = ast_new(ctx->arena, AST_NAME, @$); $$->u.name = $1; }
    ;

names
    : name_node                 { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | names ',' name_node       { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

string
    : STRING                    {
                                  $$ = ast_new(ctx->arena, AST_STRING, @$);
                                  $$->u.str.text = $1.text;
                                  $$->u.str.len = $1.len;
                                }
    ;

/* { one item per line }: the last line needs no separator before the '}' */
model_body
    : '{' model_lines '}'       { $$ = $2; }
    | '{' model_lines model_item '}' { $$ = $2; ast_list_push(ctx->arena, &$$, $3); }
    | '{' model_lines error '}' { $$ = $2; yyerrok; }   /* a bad last line: resume after '}' */
    ;

model_lines
    : %empty                    { $$ = (AstList){ 0 }; }
    | model_lines sep
    | model_lines model_item sep { $$ = $1; ast_list_push(ctx->arena, &$$, $2); }
    | model_lines error sep     { $$ = $1; yyerrok; }
    ;

model_item
    : expr                      /* a layer: dense(2, 8), relu, dropout(0.5), ... */
    | PARAM IDENT '=' expr      { $$ = bind(ctx, AST_PARAM, $2, @2, $4, @$); }
    | FORWARD '(' IDENT ')' '=' expr {
                                  $$ = ast_new(ctx->arena, AST_FORWARD, @$);
                                  $$->u.fwd.arg = $3;
                                  $$->u.fwd.arg_span = @3;
                                  $$->u.fwd.body = $6;
                                }
    | RESIDUAL model_body       {
                                  $$ = ast_new(ctx->arena, AST_RESIDUAL, @$);
                                  $$->u.block.items = $2;
                                }
    ;

settings
    : '{' setting_lines '}'     { $$ = $2; }
    | '{' setting_lines setting '}' { $$ = $2; ast_list_push(ctx->arena, &$$, $3); }
    | '{' setting_lines error '}' { $$ = $2; yyerrok; }
    ;

setting_lines
    : %empty                    { $$ = (AstList){ 0 }; }
    | setting_lines sep
    | setting_lines setting sep { $$ = $1; ast_list_push(ctx->arena, &$$, $2); }
    | setting_lines error sep   { $$ = $1; yyerrok; }
    ;

/* epochs 100 / optimizer adam(lr = 0.01) / log every 10 / trace step 1 / break step 5 */
setting
    : IDENT expr                { $$ = setting(ctx, $1, @1, NULL, $2, @$); }
    | IDENT IDENT NUMBER        { $$ = setting(ctx, $1, @1, $2, number(ctx, $3, @3), @$); }
    | TRACE STEP NUMBER         { $$ = setting(ctx, "trace", @1, "step", number(ctx, $3, @3), @$); }
    | IDENT STEP NUMBER         { $$ = setting(ctx, $1, @1, "step", number(ctx, $3, @3), @$); }
    | TRACE IDENT NUMBER        { $$ = setting(ctx, "trace", @1, $2, number(ctx, $3, @3), @$); }
    | TRACE STEP NUMBER IDENT places {
                                  $$ = setting(ctx, "trace", @1, "step", number(ctx, $3, @3), @$);
                                  $$->u.setting.places = $5;
                                  if (!expect_at(ctx, $4, @4)) $$ = NULL;
                                }
    | TRACE IDENT NUMBER IDENT places {
                                  $$ = setting(ctx, "trace", @1, $2, number(ctx, $3, @3), @$);
                                  $$->u.setting.places = $5;
                                  if (!expect_at(ctx, $4, @4)) $$ = NULL;
                                }
    ;

/* where a trace looks: net.layer1, layer2 (in a train block), net.layer1[3] */
places
    : place_item                { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | places ',' place_item     { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

place_item
    : postfix                   { $$ = place(ctx, $1, NULL, @1, @$); }
    | postfix '[' NUMBER ']'    { $$ = place(ctx, $1, &$3, @3, @$); }
    ;

print_items
    : print_item                { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | print_items ',' print_item { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

print_item
    : expr
    ;

expr
    : expr '+' expr             { $$ = binary(ctx, '+', $1, $3, @$); }
    | expr '-' expr             { $$ = binary(ctx, '-', $1, $3, @$); }
    | expr '*' expr             { $$ = binary(ctx, '*', $1, $3, @$); }
    | expr '/' expr             { $$ = binary(ctx, '/', $1, $3, @$); }
    | expr '@' expr             { $$ = binary(ctx, '@', $1, $3, @$); }
    | expr '^' expr             { $$ = binary(ctx, '^', $1, $3, @$); }
    | '-' expr %prec UMINUS     {
                                  $$ = ast_new(ctx->arena, AST_UNARY, @$);
                                  $$->u.op.op = '-';
                                  $$->u.op.a = $2;
                                }
    | postfix
    ;

postfix
    : primary
    | postfix '.' IDENT         {
                                  $$ = ast_new(ctx->arena, AST_FIELD, @$);
                                  $$->u.field.obj = $1;
                                  $$->u.field.field = $3;
                                  $$->u.field.field_span = @3;
                                }
    ;

primary
    : NUMBER                    { $$ = ast_new(ctx->arena, AST_NUM, @$); $$->u.num = $1; }
    | IDENT                     { $$ = ast_new(ctx->arena, AST_NAME, @$); $$->u.name = $1; }
    | IDENT '(' args_opt ')'    {
                                  $$ = ast_new(ctx->arena, AST_CALL, @$);
                                  $$->u.call.name = $1;
                                  $$->u.call.name_span = @1;
                                  $$->u.call.args = $3;
                                }
    | '(' expr ')'              { $$ = $2; $$->span = @$; }
    | string
    | '[' elems ']'             { $$ = ast_new(ctx->arena, AST_TENSOR, @$); $$->u.list = $2; }
    | '[' elems ',' ']'         { $$ = ast_new(ctx->arena, AST_TENSOR, @$); $$->u.list = $2; }
    ;

elems
    : expr                      { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | elems ',' expr            { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

args_opt
    : %empty                    { $$ = (AstList){ 0 }; }
    | args
    | args ','
    ;

args
    : arg                       { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | args ',' arg              { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

arg
    : expr                      { $$ = bind(ctx, AST_ARG, NULL, @1, $1, @$); }
    | IDENT '=' expr            { $$ = bind(ctx, AST_ARG, $1, @1, $3, @$); }
    ;

%%

/* A token's name for messages: "number" -> number, "'let'" -> 'let', '+' stays '+'. */
static void symbol_text(yysymbol_kind_t k, char *buf, size_t len)
{
    const char *s = yysymbol_name(k);
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        snprintf(buf, len, "%.*s", (int)(n - 2), s + 1);
    } else {
        snprintf(buf, len, "%s", s);
    }
}

static bool is_operator(yysymbol_kind_t k)
{
    const char *n = yysymbol_name(k);
    return strlen(n) == 3 && n[0] == '\'' && strchr("+-*/^@.", n[1]) != NULL;
}

/* A keyword's name is its quoted word, like 'step' (operators are one character). */
static bool is_keyword(yysymbol_kind_t k)
{
    char buf[64];
    symbol_text(k, buf, sizeof buf);
    size_t len = strlen(buf);
    if (len < 4 || buf[0] != '\'' || buf[len - 1] != '\'') return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!(buf[i] == '_' || (buf[i] >= 'a' && buf[i] <= 'z'))) return false;
    return true;
}

/* "expected A or B before C". Tokens that start an expression are named together as "an
 * expression", and operators that could continue one are left out, so the list stays short
 * and speaks the user's language. */
static int yyreport_syntax_error(const yypcontext_t *yyctx, yyscan_t scanner, ParseCtx *ctx)
{
    (void)scanner;
    Span at = *yypcontext_location(yyctx);
    yysymbol_kind_t look = yypcontext_token(yyctx);
    if (ctx->had_lex_error && ctx->last_lex_error.start == at.start)
        return 0;               /* the lexer already said (and counted) what is wrong here */
    if (look == YYSYMBOL_YYEOF || look == YYSYMBOL_NEWLINE) {
        /* point just after the last token, not at the start of an empty line */
        at.start = at.end = ctx->last_end;
    }
    if (!parse_count_error(ctx, at)) return 0;

    enum { MAX_EXPECTED = 40 };
    yysymbol_kind_t exp[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(yyctx, exp, MAX_EXPECTED);
    if (n < 0) n = 0;
    bool expr_ok = false, name_ok = false;
    for (int i = 0; i < n; i++) {
        if (exp[i] == YYSYMBOL_NUMBER) expr_ok = true;
        if (exp[i] == YYSYMBOL_IDENT) name_ok = true;
    }

    char look_text[64];
    symbol_text(look, look_text, sizeof look_text);
    if (look == YYSYMBOL_YYUNDEF)   /* a character the grammar does not know, like '{' */
        snprintf(look_text, sizeof look_text, "'%.*s'", (int)(at.end - at.start),
                 ctx->text + at.start);
    StrBuf msg;
    sb_init(&msg);
    if (name_ok && !expr_ok && is_keyword(look)) {
        sb_printf(&msg, "%s is a keyword and can't be a name", look_text);
    } else {
        const char *names[MAX_EXPECTED + 1];
        char store[MAX_EXPECTED][64];
        int shown = 0;
        if (expr_ok) names[shown++] = "an expression";
        for (int i = 0; i < n; i++) {
            yysymbol_kind_t k = exp[i];
            if (is_operator(k)) continue;
            if (expr_ok && (k == YYSYMBOL_NUMBER || k == YYSYMBOL_IDENT || k == YYSYMBOL_STRING
                            || strcmp(yysymbol_name(k), "'('") == 0
                            || strcmp(yysymbol_name(k), "'['") == 0))
                continue;
            symbol_text(k, store[shown], sizeof store[shown]);
            names[shown] = store[shown];
            shown++;
        }
        if (shown == 0 || shown > 6) {
            sb_printf(&msg, "unexpected %s", look_text);
        } else {
            sb_puts(&msg, "expected ");
            for (int i = 0; i < shown; i++) {
                if (i) sb_puts(&msg, i + 1 == shown ? " or " : ", ");
                sb_puts(&msg, names[i]);
            }
            sb_printf(&msg, " before %s", look_text);
        }
    }
    diag_report(ctx->diag, DIAG_ERROR, at, "%s", msg.data);
    sb_free(&msg);

    /* an open bracket from an earlier line is the likely culprit: say where it opened */
    if (ctx->depth > 0 && ctx->depth <= NN_MAX_NESTING) {
        Span open = ctx->open[ctx->depth - 1].span;
        const Source *src = source_get(ctx->diag->sources, open.source);
        int ol, oc, el, ec;
        source_line_col(src, open.start, &ol, &oc);
        source_line_col(src, at.start, &el, &ec);
        /* blocks span lines on purpose: only a '{' still open at the end is suspect */
        bool block = ctx->open[ctx->depth - 1].ch == '{';
        if (look == YYSYMBOL_YYEOF || (ol < el && !block))
            diag_report(ctx->diag, DIAG_NOTE, open, "the '%c' opened here is never closed",
                        ctx->open[ctx->depth - 1].ch);
    }
    return 0;
}
