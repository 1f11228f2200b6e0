/* embed.c — nn inside a C program, through nn.h alone: train a model from a script, then feed
 * it new inputs from C and read its predictions. Build against an installed nn with
 *     cc embed.c $(pkg-config --cflags --libs nn) -o embed
 * (tests/test_embed.sh does exactly this). */
#include <nn.h>
#include <stdio.h>
#include <string.h>

/* Printed output (print, train's log lines) goes to the FILE given as userdata. */
static void to_file(void *userdata, const char *text, size_t len)
{
    fwrite(text, 1, len, (FILE *)userdata);
}

/* Diagnostics arrive one complete rendered message per call (an error, then any notes);
 * collect them, to show them our own way. */
typedef struct Messages { char text[4096]; size_t len; } Messages;
static void to_messages(void *userdata, const char *text, size_t len)
{
    Messages *m = userdata;
    if (len > sizeof m->text - 1 - m->len) len = sizeof m->text - 1 - m->len;
    memcpy(m->text + m->len, text, len);
    m->len += len;
    m->text[m->len] = '\0';
}

int main(void)
{
    NnState *nn = nn_new();                 /* one session; never NULL */
    Messages err = { "", 0 };
    nn_set_output(nn, to_file, stdout);
    nn_set_errors(nn, to_messages, &err);
    nn_set_seed(nn, 1);                     /* the same weights on every run */

    /* Learn y = 2x - 1 from four points. `x` is a param so that C can set it later, and
     * `y` a formula of it: nn_get recomputes y from the current x. */
    const char *script =
        "let X = [[0], [1], [2], [3]]\n"
        "let Y = [[-1], [1], [3], [5]]\n"
        "model net { dense(1, 1) }\n"
        "train net on X, Y { loss mse; optimizer adam(lr = 0.1); epochs 400 }\n"
        "param x = zeros(1)\n"
        "let y = net(x)\n";
    if (nn_run_string(nn, "train.nn", script) != NN_OK) {
        fprintf(stderr, "training failed:\n%s", err.text);
        nn_close(nn);
        return 1;
    }

    /* New inputs: assign the param, then read the prediction (valid until the next run). */
    for (int i = 4; i <= 6; i++) {
        char code[64];
        NnTensorView v;
        snprintf(code, sizeof code, "x = %d", i);
        if (nn_run_string(nn, "input", code) != NN_OK || nn_get(nn, "y", &v) != NN_OK) break;
        printf("net(%d) = %.2f  (shape [%d])\n", i, v.data[0], v.shape[0]);
    }

    /* A mistake is reported, not fatal: nothing of the bad text runs, the session lives on. */
    err.len = 0;
    NnStatus st = nn_run_string(nn, "bad", "print net(x) @ [1, 2]");
    printf("status %d, message:\n%s", (int)st, err.text);

    nn_close(nn);                           /* frees everything the session owns */
    return 0;
}
