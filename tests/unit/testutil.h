/* testutil.h — helpers shared by the cmocka unit tests. */
#ifndef NN_TESTUTIL_H
#define NN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* cmocka 1.1.5 has no assert_double_equal: |a - b| <= tol * max(1, |a|, |b|). */
void assert_close_impl(double a, double b, double tol, const char *file, int line);
#define assert_close(a, b, tol) assert_close_impl((a), (b), (tol), __FILE__, __LINE__)

/* What a session wrote, for nn_set_output / nn_set_errors(nn, test_text_write, &text): the
 * first 64 KiB of it, NUL-terminated (zero-initialise it first). */
typedef struct TestText {
    char buf[1 << 16];
    size_t len;
} TestText;
void test_text_write(void *ud, const char *text, size_t len);

/* Runs code in a fresh state, capturing output and diagnostics into the given buffers
 * (NUL-terminated, truncated to cap). Returns the NnStatus. */
int run_capture(const char *code, char *out, size_t out_cap, char *err, size_t err_cap);

#endif
