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
#include "words.h"

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
        if (e->kind == AST_INDEX && parse_count_error(ctx, e->span))
            diag_report(ctx->diag, DIAG_ERROR, e->span, "elements are not assigned one by one: "
                        "give the whole param a new value, as in w = where(...) or w = [1, 2]");
        else if (e->kind != AST_FIELD && parse_count_error(ctx, e->span))
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

/* Words with a meaning in one statement only (`on` in train, `at` in trace, `in` in for, `per`
 * in a schedule) are names everywhere else: the grammar reads a name and checks it here. */
static bool expect_word(ParseCtx *ctx, const char *want, const char *word, Span at,
                        const char *example)
{
    if (strcmp(word, want) == 0) return true;
    if (parse_count_error(ctx, at))
        diag_report(ctx->diag, DIAG_ERROR, at, "expected '%s' before '%s': %s", want, word,
                    example);
    return false;
}

static bool expect_on(ParseCtx *ctx, const char *word, Span at)
{
    return expect_word(ctx, "on", word, at, "train MODEL on X, Y { ... }");
}

static bool expect_at(ParseCtx *ctx, const char *word, Span at)
{
    return expect_word(ctx, "at", word, at, "trace EXPR at MODEL.layerN, or at one unit "
                       "MODEL.layerN[i]");
}

/* `schedule S per update` and `schedule A then B`: anything else after a setting's value is
 * most likely the next setting, written on the same line without ';' (say so, as for any other
 * token there). With set NULL: only report that. */
static bool tail_word(ParseCtx *ctx, AstNode *set, const char *word, Span at, AstNode *unit)
{
    bool then = strcmp(word, "then") == 0;
    if (!set || (!then && strcmp(word, "per") != 0)) {
        if (parse_count_error(ctx, at))
            diag_report(ctx->diag, DIAG_ERROR, at, "expected end of line, ';' or '}' before name");
        return false;
    }
    if (then) {
        set->u.setting.then = unit;
        return true;
    }
    if (unit->kind != AST_NAME) {
        if (parse_count_error(ctx, unit->span))
            diag_report(ctx->diag, DIAG_ERROR, unit->span, "expected 'update' or 'epoch' after "
                        "'per': schedule cosine per update");
        return false;
    }
    set->u.setting.per = unit->u.name;
    set->u.setting.per_span = unit->span;
    return true;
}

static AstNode *loop(ParseCtx *ctx, AstKind k, AstNode *a, AstNode *b, AstList body, Span at)
{
    AstNode *n = ast_new(ctx->arena, k, at);
    n->u.loop.a = a;
    n->u.loop.b = b;
    n->u.loop.body = body;
    return n;
}

static AstNode *if_node(ParseCtx *ctx, AstNode *cond, AstList then, const AstList *els, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_IF, at);
    n->u.iff.cond = cond;
    n->u.iff.then = then;
    n->u.iff.has_else = els != NULL;
    if (els) n->u.iff.els = *els;
    return n;
}

static AstNode *name_at(ParseCtx *ctx, const char *name, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_NAME, at);
    n->u.name = name;
    return n;
}

/* a:b in a subscript; either end may be left out */
static AstNode *range(ParseCtx *ctx, AstNode *lo, AstNode *hi, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_RANGE, at);
    n->u.op.a = lo;
    n->u.op.b = hi;
    return n;
}

/* x.f(...) is not nn: say what to write instead, in the statement's own words. */
static void method_hint(ParseCtx *ctx, const AstNode *obj, const char *method,
                        const AstList *args, Span at)
{
    if (!parse_count_error(ctx, at)) return;
    const char *text = ctx->text + obj->span.start;
    int len = (int)(obj->span.end - obj->span.start);
    if (strcmp(method, "backward") == 0)
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write 'backward %.*s'", len,
                    text);
    else if (strcmp(method, "zero_grad") == 0)
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write 'zero_grad' (every "
                    "param) or 'zero_grad NAME'");
    else if (strcmp(method, "step") == 0)
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write 'step sgd(lr = 0.1)' "
                    "(or another optimizer)");
    else if (strcmp(method, "item") == 0)
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write '%.*s'; a scalar is a "
                    "number already", len, text);
    else if (strcmp(method, "t") == 0)
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write '%.*s.T'", len, text);
    else if (strcmp(method, "size") == 0 || strcmp(method, "dim") == 0)
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write '%.*s.shape'", len,
                    text);
    else if (op_lookup(strcmp(method, "view") == 0 ? "reshape" : method))
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: write it as a function, "
                    "%s(%.*s%s)", strcmp(method, "view") == 0 ? "reshape" : method, len, text,
                    args->count ? ", ..." : "");
    else
        diag_report(ctx->diag, DIAG_ERROR, at, "nn has no methods: '.%s(...)' is not nn",
                    method);
}

/* A place of `trace ... at`: net.layer1, one unit net.layer1[3], or one pixel of a conv
 * layer's output net.layer1[c, i, j]. */
static AstNode *place_of(ParseCtx *ctx, AstNode *path)
{
    AstNode *n = ast_new(ctx->arena, AST_PLACE, path->span);
    n->u.place.path = path;
    n->u.place.unit_span = path->span;
    size_t count = path->kind == AST_INDEX ? path->u.index.subs.count : 0;
    if (count >= 1 && count <= 3) {
        AstNode *const *subs = path->u.index.subs.items;
        n->u.place.path = path->u.index.obj;
        n->u.place.unit_span = span_join(subs[0]->span, subs[count - 1]->span);
        n->u.place.n_units = (int)count;
        for (size_t i = 0; i < count; i++) n->u.place.unit[i] = subs[i];
    }
    return n;
}

static AstNode *trace_stmt(ParseCtx *ctx, AstNode *e, const AstList *places, Span at)
{
    AstNode *n = ast_new(ctx->arena, AST_TRACE, at);
    n->u.trace.expr = e;
    if (places) n->u.trace.places = *places;
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
%token FOR              "'for'"
%token REPEAT           "'repeat'"
%token WHILE            "'while'"
%token IF               "'if'"
%token ELSE             "'else'"
%token BREAK            "'break'"
%token CONTINUE         "'continue'"
%token FN               "'fn'"
%token AND              "'and'"
%token OR               "'or'"
%token NOT              "'not'"
%token LE               "'<='"
%token GE               "'>='"
%token EQ               "'=='"
%token NE               "'!='"
%token DOTDOT           "'..'"
%token ADD_EQ           "'+='"
%token SUB_EQ           "'-='"
%token MUL_EQ           "'*='"
%token DIV_EQ           "'/='"

%type <node> stmt expr postfix primary arg print_item model_item setting string name_node
%type <node> place_item if_stmt subscript
%type <list> args args_opt elems print_items model_body model_lines settings setting_lines
%type <list> names places lines block subscripts targets fn_params
%type <num> assign_op

%printer { fprintf(yyo, "%g", $$); } <num>
%printer { fprintf(yyo, "%s", $$); } <name>

/* operator precedence, lowest first */
%left OR                    /* a or b */
%left AND                   /* a and b */
%precedence NOT             /* not a: not x < y is not (x < y) */
%nonassoc '<' '>' LE GE EQ NE   /* comparisons; a < b < c is an error */
%left '+' '-'               /* addition, subtraction */
%left '*' '/' '%'           /* elementwise product, quotient, remainder */
%left '@'                   /* matrix product */
%precedence UMINUS          /* unary minus: -x @ y is (-x) @ y */
%right '^'                  /* power, right-associative: -x^2 is -(x^2) */

%%

program
    : lines                     { ctx->stmts = $1; }
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
    | postfix assign_op expr    {   /* w -= 0.1 * w.grad, c += 1 */
                                  const char *name = dotted_name(ctx, $1);
                                  $$ = name ? bind(ctx, AST_ASSIGN, name, @1, $3, @$) : NULL;
                                  if ($$) $$->u.bind.op = (int)$2;
                                }
    | FOR IDENT IDENT expr DOTDOT expr block {
                                  $$ = loop(ctx, AST_FOR, $4, $6, $7, @$);
                                  $$->u.loop.var = $2;
                                  $$->u.loop.var_span = @2;
                                  if (!expect_word(ctx, "in", $3, @3, "for k in 0..10 { ... }"))
                                      $$ = NULL;
                                }
    | REPEAT expr block         { $$ = loop(ctx, AST_REPEAT, $2, NULL, $3, @$); }
    | WHILE expr block          { $$ = loop(ctx, AST_WHILE, $2, NULL, $3, @$); }
    | if_stmt
    | BREAK                     { $$ = ast_new(ctx->arena, AST_BREAK, @$); }
    | CONTINUE                  { $$ = ast_new(ctx->arena, AST_CONTINUE, @$); }
    | FN IDENT '(' fn_params ')' '=' expr {
                                  $$ = ast_new(ctx->arena, AST_FN, @$);
                                  $$->u.fn.name = $2;
                                  $$->u.fn.name_span = @2;
                                  $$->u.fn.params = $4;
                                  $$->u.fn.body = $7;
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
    | STEP IDENT '(' args_opt ')' targets {     /* step sgd(lr = 0.1) net: only its params */
                                  $$ = ast_new(ctx->arena, AST_STEP, @$);
                                  $$->u.call.name = $2;
                                  $$->u.call.name_span = @2;
                                  $$->u.call.args = $4;
                                  $$->u.call.targets = $6;
                                }
    | ZERO_GRAD                 { $$ = ast_new(ctx->arena, AST_ZERO_GRAD, @$); }
    | ZERO_GRAD targets         {   /* zero_grad net, w */
                                  $$ = ast_new(ctx->arena, AST_ZERO_GRAD, @$);
                                  $$->u.list = $2;
                                }
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

assign_op
    : ADD_EQ                    { $$ = '+'; }
    | SUB_EQ                    { $$ = '-'; }
    | MUL_EQ                    { $$ = '*'; }
    | DIV_EQ                    { $$ = '/'; }
    ;

/* if c { ... } else if d { ... } else { ... }: `else` on the line of the '}' before it */
if_stmt
    : IF expr block             { $$ = if_node(ctx, $2, $3, NULL, @$); }
    | IF expr block ELSE block  { $$ = if_node(ctx, $2, $3, &$5, @$); }
    | IF expr block ELSE if_stmt {
                                  AstList one = { 0 };
                                  if ($5) ast_list_push(ctx->arena, &one, $5);
                                  $$ = if_node(ctx, $2, $3, &one, @$);
                                }
    ;

fn_params
    : IDENT                     { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, name_at(ctx, $1, @1)); }
    | fn_params ',' IDENT       { $$ = $1; ast_list_push(ctx->arena, &$$, name_at(ctx, $3, @3)); }
    ;

/* what zero_grad and step work on: params, models, layers (net.layer1) */
targets
    : postfix                   { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | targets ',' postfix       { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
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
    | IDENT expr IDENT expr     {   /* schedule cosine per update, schedule A then B */
                                  $$ = setting(ctx, $1, @1, NULL, $2, @$);
                                  if (!tail_word(ctx, $$, $3, @3, $4)) $$ = NULL;
                                }
    | IDENT expr IDENT expr IDENT expr {    /* schedule A then B per update */
                                  $$ = setting(ctx, $1, @1, NULL, $2, @$);
                                  if (strcmp($3, "then") != 0)
                                      $$ = tail_word(ctx, NULL, $3, @3, $4) ? $$ : NULL;
                                  else if (strcmp($5, "per") != 0)
                                      $$ = tail_word(ctx, NULL, $5, @5, $6) ? $$ : NULL;
                                  else if (!tail_word(ctx, $$, $3, @3, $4)
                                           || !tail_word(ctx, $$, $5, @5, $6))
                                      $$ = NULL;
                                }
    | BREAK expr                { $$ = setting(ctx, "break", @1, NULL, $2, @$); }
    | BREAK STEP NUMBER         { $$ = setting(ctx, "break", @1, "step", number(ctx, $3, @3), @$); }
    | BREAK IDENT NUMBER        { $$ = setting(ctx, "break", @1, $2, number(ctx, $3, @3), @$); }
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
    : postfix                   { $$ = place_of(ctx, $1); }
    ;

print_items
    : print_item                { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | print_items ',' print_item { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

print_item
    : expr
    ;

expr
    : expr OR expr              { $$ = binary(ctx, AST_OP_OR, $1, $3, @$); }
    | expr AND expr             { $$ = binary(ctx, AST_OP_AND, $1, $3, @$); }
    | NOT expr                  {
                                  $$ = ast_new(ctx->arena, AST_UNARY, @$);
                                  $$->u.op.op = AST_OP_NOT;
                                  $$->u.op.a = $2;
                                }
    | expr '<' expr             { $$ = binary(ctx, '<', $1, $3, @$); }
    | expr '>' expr             { $$ = binary(ctx, '>', $1, $3, @$); }
    | expr LE expr              { $$ = binary(ctx, AST_OP_LE, $1, $3, @$); }
    | expr GE expr              { $$ = binary(ctx, AST_OP_GE, $1, $3, @$); }
    | expr EQ expr              { $$ = binary(ctx, AST_OP_EQ, $1, $3, @$); }
    | expr NE expr              { $$ = binary(ctx, AST_OP_NE, $1, $3, @$); }
    | expr '+' expr             { $$ = binary(ctx, '+', $1, $3, @$); }
    | expr '-' expr             { $$ = binary(ctx, '-', $1, $3, @$); }
    | expr '*' expr             { $$ = binary(ctx, '*', $1, $3, @$); }
    | expr '/' expr             { $$ = binary(ctx, '/', $1, $3, @$); }
    | expr '%' expr             { $$ = binary(ctx, '%', $1, $3, @$); }
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
    | postfix '.' IDENT '(' args_opt ')' {  /* x.sum(): a habit from PyTorch */
                                  method_hint(ctx, $1, $3, &$5, @$);
                                  $$ = $1;
                                }
    | postfix '.' BACKWARD '(' args_opt ')' { method_hint(ctx, $1, "backward", &$5, @$); $$ = $1; }
    | postfix '.' ZERO_GRAD '(' args_opt ')' { method_hint(ctx, $1, "zero_grad", &$5, @$); $$ = $1; }
    | postfix '.' STEP '(' args_opt ')' { method_hint(ctx, $1, "step", &$5, @$); $$ = $1; }
    | postfix '[' subscripts ']' {
                                  $$ = ast_new(ctx->arena, AST_INDEX, @$);
                                  $$->u.index.obj = $1;
                                  $$->u.index.subs = $3;
                                }
    ;

/* X[i], X[a:b], X[:, j], X[-1], X[1:] */
subscripts
    : subscript                 { $$ = (AstList){ 0 }; ast_list_push(ctx->arena, &$$, $1); }
    | subscripts ',' subscript  { $$ = $1; ast_list_push(ctx->arena, &$$, $3); }
    ;

subscript
    : expr
    | expr ':' expr             { $$ = range(ctx, $1, $3, @$); }
    | expr ':'                  { $$ = range(ctx, $1, NULL, @$); }
    | ':' expr                  { $$ = range(ctx, NULL, $2, @$); }
    | ':'                       { $$ = range(ctx, NULL, NULL, @$); }
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

/* statements, one per line (or separated by ';'): the program, and the body of a block */
lines
    : %empty                    { $$ = (AstList){ 0 }; }
    | lines stmt sep            { $$ = $1; if ($2) ast_list_push(ctx->arena, &$$, $2); }
    | lines sep
    | lines error sep           { $$ = $1; yyerrok; }
    | lines error '{' skipped '}' sep   { $$ = $1; yyerrok; }  /* a bad line that opens a block
                                                                  (a misspelt train): skip it whole */
    ;

/* what a bad line's block holds, skipped: any tokens, braces balanced */
skipped
    : %empty
    | skipped skip_token
    | skipped '{' skipped '}'
    ;

skip_token
    : NEWLINE | NUMBER | IDENT | STRING | LET | PARAM | PRINT | BACKWARD | TRACE | STEP
    | ZERO_GRAD | SEED | MODEL | FORWARD | RESIDUAL | TRAIN | SAVE | LOAD | GRADCHECK | FOR
    | REPEAT | WHILE | IF | ELSE | BREAK | CONTINUE | FN | AND | OR | NOT | LE | GE | EQ | NE
    | DOTDOT | ADD_EQ | SUB_EQ | MUL_EQ | DIV_EQ | '+' | '-' | '*' | '/' | '%' | '^' | '@'
    | ','
    | '=' | '.' | ';' | ':' | '<' | '>' | '(' | ')' | '[' | ']'
    ;

/* { statements }: the body of a loop or an if; the last line needs no separator */
block
    : '{' lines '}'             { $$ = $2; }
    | '{' lines stmt '}'        { $$ = $2; if ($3) ast_list_push(ctx->arena, &$$, $3); }
    | '{' lines error '}'       { $$ = $2; yyerrok; }
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

/* Tokens that continue an expression or make an assignment: left out of "expected ..." lists,
 * which would otherwise name every operator after every complete expression. */
static bool is_operator(yysymbol_kind_t k)
{
    static const char *const ops[] = {
        "'+'", "'-'", "'*'", "'/'", "'%'", "'^'", "'@'", "'.'", "'<'", "'>'", "'['", "'<='", "'>='",
        "'=='", "'!='", "'and'", "'or'", "'+='", "'-='", "'*='", "'/='",
    };
    char buf[64];
    symbol_text(k, buf, sizeof buf);
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(buf, ops[i]) == 0) return true;
    return false;
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

/* The words a statement starts with, and the ones other languages use for them. */
static const char *const statement_words[] = {
    "let", "param", "print", "backward", "trace", "gradcheck", "step", "zero_grad", "seed",
    "model", "train", "save", "load", "for", "repeat", "while", "if", "break", "continue", "fn",
    "summary",
};
static const struct { const char *word, *hint; } foreign_statements[] = {
    { "def", "fn" }, { "function", "fn" }, { "func", "fn" }, { "elif", "else if" },
    { "var", "let" }, { "const", "let" }, { "local", "let" }, { "until", "while" },
};

/* Errors that are better said in words: a misspelt statement ("unknown statement 'parm'; did
 * you mean 'param'?"), a word from another language, and an `else` that starts a line. True
 * if reported. */
static bool statement_hint(ParseCtx *ctx, yysymbol_kind_t look, Span at)
{
    char text[16];
    symbol_text(look, text, sizeof text);
    if (strcmp(text, "'<'") == 0 || strcmp(text, "'>'") == 0 || look == YYSYMBOL_LE
        || look == YYSYMBOL_GE || look == YYSYMBOL_EQ || look == YYSYMBOL_NE) {
        diag_report(ctx->diag, DIAG_ERROR, at, "comparisons do not chain in nn: write a < b and "
                    "b < c, or put one in parentheses");
        return true;
    }
    if (look == YYSYMBOL_ELSE && ctx->stmt_tokens == 1) {
        diag_report(ctx->diag, DIAG_ERROR, at, "'else' goes on the line of the '}' that ends the "
                    "if block: } else {");
        return true;
    }
    /* the error is at the statement's second token, and the first was a name; or the line
     * opens a block no statement would (trian (w - 1)^2 { ... }) */
    bool brace = strcmp(text, "'{'") == 0;
    if (!ctx->stmt_word || (ctx->stmt_tokens != 2 && !brace) || look == YYSYMBOL_YYEOF)
        return false;
    const char *w = ctx->stmt_word;
    for (size_t i = 0; i < sizeof foreign_statements / sizeof *foreign_statements; i++)
        if (strcmp(foreign_statements[i].word, w) == 0) {
            diag_report(ctx->diag, DIAG_ERROR, ctx->stmt_word_span, "nn has no '%s' statement; "
                        "did you mean '%s'?", w, foreign_statements[i].hint);
            return true;
        }
    Suggest sg;
    suggest_init(&sg, w);
    for (size_t i = 0; i < sizeof statement_words / sizeof *statement_words; i++)
        suggest_offer(&sg, statement_words[i]);
    const char *best = suggest_best(&sg);
    if (!best) return false;
    diag_report(ctx->diag, DIAG_ERROR, ctx->stmt_word_span, "unknown statement '%s'; did you "
                "mean '%s'?", w, best);
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
    if (statement_hint(ctx, look, at)) return 0;

    enum { MAX_EXPECTED = 40 };
    yysymbol_kind_t exp[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(yyctx, exp, MAX_EXPECTED);
    if (n < 0) n = 0;
    bool expr_ok = false, name_ok = false, method_ok = false, subscript = false;
    bool after_expr = false, block = false, range = false;
    for (int i = 0; i < n; i++) {
        if (exp[i] == YYSYMBOL_NUMBER) expr_ok = true;
        if (exp[i] == YYSYMBOL_IDENT) name_ok = true;
        if (exp[i] == YYSYMBOL_BACKWARD) method_ok = true;
        char text[16];
        symbol_text(exp[i], text, sizeof text);
        if (strcmp(text, "']'") == 0) subscript = true;
        if (strcmp(text, "'{'") == 0) block = true;
        if (strcmp(text, "'..'") == 0) range = true;
        if (strcmp(text, "'+'") == 0) after_expr = true;    /* an operator could go on */
    }

    char look_text[64];
    symbol_text(look, look_text, sizeof look_text);
    if (after_expr && strcmp(look_text, "'='") == 0) {   /* if x = 1 { */
        diag_report(ctx->diag, DIAG_ERROR, at, "'=' gives a value only in let, param and "
                    "assignments; to compare, write ==");
        return 0;
    }
    if (strcmp(look_text, "':'") == 0) {     /* x[1:5:2], sum(0:2), if c:, for k in 0:3 */
        const char *msg = ctx->stmt_tokens == 1
            ? "a line starting with ':' is a command of the REPL: type it at the nn> prompt"
            : range ? "a loop's range is written a..b, as in for k in 0..10"
            : block ? "a block is written in braces, as in if x > 0 { ... }, not after ':'"
            : subscript ? "a slice is a:b, with no step: write X[a:b]"
            : "a range a:b is written only inside a subscript, as X[a:b]";
        diag_report(ctx->diag, DIAG_ERROR, at, "%s", msg);
        return 0;
    }
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
            /* after a '.', these keywords are only there to explain x.backward() */
            if (name_ok && !expr_ok && method_ok && (k == YYSYMBOL_BACKWARD
                                                     || k == YYSYMBOL_STEP
                                                     || k == YYSYMBOL_ZERO_GRAD))
                continue;
            if (expr_ok && (k == YYSYMBOL_NUMBER || k == YYSYMBOL_IDENT || k == YYSYMBOL_STRING
                            || k == YYSYMBOL_NOT
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
