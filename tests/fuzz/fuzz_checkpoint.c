/* fuzz_checkpoint.c — libFuzzer harness for `load` and `resume` (src/checkpoint.c): the
 * checks of a checkpoint's header, metadata and values against a model and its optimizer.
 *
 * The input is a safetensors header (its JSON text), a NUL byte, and the data that follows the
 * header (without a NUL, the data is empty); the harness puts the 8-byte length in front, so
 * mutations of the header keep the file's framing and reach the metadata and the values. The
 * seeds (corpus/checkpoint, made by make_checkpoint_seeds.sh) are checkpoints of the model
 * below, trained with each optimizer.
 *
 * Each input is given to `load net` and to a train block that resumes from it, once with each
 * optimizer, in a fresh session with a 16 MiB memory limit. Checks, besides the sanitizers':
 * every call ends with NN_OK or NN_ERROR_RUNTIME; a refused file ("cannot load", "cannot
 * resume from") leaves every param as it was, to the bit; a file that is taken leaves every
 * param finite (a load), or is trained from (a resume, which may still diverge: the values
 * are the file's). */
#include "fuzz_common.h"

#include "nn.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT "ck.safetensors"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The model and data of the seeds (make_checkpoint_seeds.sh writes the same). */
static const char SETUP[] =
    "seed 1\n"
    "let points = moons(16, noise = 0.1)\n"
    "model net {\n  dense(2, 3)\n  tanh\n  dense(1)\n}\n";

static const char *const PARAMS[] = { "net.layer1.W", "net.layer1.b", "net.layer2.W",
                                      "net.layer2.b" };
enum { N_PARAMS = sizeof PARAMS / sizeof PARAMS[0], MAX_VALUES = 64 };

static const char *const OPTIMIZERS[] = { "sgd(lr = 0.1, momentum = 0.9)", "adam(lr = 0.05)",
                                          "rmsprop(lr = 0.01, momentum = 0.5)" };

typedef struct Values {
    size_t n[N_PARAMS];
    float v[N_PARAMS][MAX_VALUES];
} Values;

/* The last error message, to tell a refused file from a run that went wrong after. */
static char errors[4096];

static void keep_errors(void *ud, const char *text, size_t len)
{
    (void)ud;
    size_t have = strlen(errors);
    if (len > sizeof errors - 1 - have) len = sizeof errors - 1 - have;
    memcpy(errors + have, text, len);
    errors[have + len] = '\0';
}

static void params(NnState *nn, Values *out)
{
    for (int i = 0; i < N_PARAMS; i++) {
        NnTensorView view;
        if (nn_get(nn, PARAMS[i], &view) != NN_OK) fuzz_fail("no param %s", PARAMS[i]);
        if (view.size > MAX_VALUES) fuzz_fail("%s: %zu values", PARAMS[i], view.size);
        out->n[i] = view.size;
        memcpy(out->v[i], view.data, view.size * sizeof(float));
    }
}

static NnStatus run(NnState *nn, const char *code)
{
    errors[0] = '\0';
    NnStatus st = nn_run_string(nn, "<fuzz>", code);
    if (st != NN_OK && st != NN_ERROR_RUNTIME)
        fuzz_fail("status %d for\n%s\n%s", (int)st, code, errors);
    return st;
}

/* Runs code, which uses the checkpoint; checks what a refusal or an acceptance promises. */
static void use(const char *code, bool finite_after)
{
    NnState *nn = nn_new();
    nn_set_output(nn, fuzz_discard, NULL);
    nn_set_errors(nn, keep_errors, NULL);
    nn_set_max_memory(nn, 16 << 20);
    if (nn_run_string(nn, "<setup>", SETUP) != NN_OK) fuzz_fail("the setup failed: %s", errors);
    Values before, after;
    params(nn, &before);
    NnStatus st = run(nn, code);
    params(nn, &after);
    bool refused = st != NN_OK
                   && (strstr(errors, "cannot load") || strstr(errors, "cannot resume"));
    for (int i = 0; i < N_PARAMS; i++)
        for (size_t k = 0; k < after.n[i]; k++) {
            if (refused && memcmp(&before.v[i][k], &after.v[i][k], sizeof(float)) != 0)
                fuzz_fail("%s[%zu] changed by a refused file:\n%s", PARAMS[i], k, errors);
            if (st == NN_OK && finite_after && !isfinite(after.v[i][k]))
                fuzz_fail("%s[%zu] is %g after\n%s", PARAMS[i], k, after.v[i][k], code);
        }
    nn_close(nn);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_workdir(0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t header = nul ? (size_t)(nul - data) : size;
    size_t rest = nul ? size - header - 1 : 0;
    uint8_t *file = malloc(8 + header + rest + 1);
    if (!file) return 0;
    for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)header >> (8 * i));
    memcpy(file + 8, data, header);
    if (rest) memcpy(file + 8 + header, nul + 1, rest);
    fuzz_write_file(CKPT, file, 8 + header + rest);
    free(file);

    use("load net \"" CKPT "\"", true);
    for (size_t o = 0; o < sizeof OPTIMIZERS / sizeof OPTIMIZERS[0]; o++) {
        char code[512];
        snprintf(code, sizeof code, "train net on points {\n  loss bce_logits\n  optimizer %s\n"
                 "  epochs 3\n  batch 8\n  resume \"" CKPT "\"\n}\n", OPTIMIZERS[o]);
        use(code, false);
    }
    return 0;
}
