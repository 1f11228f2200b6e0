/* html.c — writes the `--html` page: the template embedded at build time (cmake/embed.cmake
 * turns src/html_page.html into html_page.h) with the trace events put in at its marker. */
#include "html.h"

#include "html_page.h"
#include "strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the template takes the events: inside `[` `]` of a JavaScript array literal. */
#define HTML_MARKER "/*NN_EVENTS*/"

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Appends the events of the JSON Lines text to sb, separated by commas: one object per line
 * that starts with '{', with trailing blanks (and a CR) dropped. '<' becomes \u003c: it can
 * only occur inside a JSON string, where that escape means the same character. */
static void append_events(StrBuf *sb, const char *events, size_t len)
{
    bool first = true;
    size_t at = 0;
    while (at < len) {
        const char *line = events + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + (nl != NULL);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
        if (n == 0 || line[0] != '{') continue;
        if (!first) sb_puts(sb, ",\n");
        first = false;
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
            if (line[i] != '<') continue;
            sb_append(sb, line + start, i - start);
            sb_puts(sb, "\\u003c");
            start = i + 1;
        }
        sb_append(sb, line + start, n - start);
    }
}

bool html_write(const char *path, const char *events, size_t len, char *err, size_t errlen)
{
    const char *marker = strstr(html_page, HTML_MARKER);
    NN_ASSERT(marker != NULL);   /* the template is ours: cmake/embed.cmake checks it too */
    NN_ASSERT(events != NULL || len == 0);

    StrBuf page, tmp;
    sb_init(&page);
    sb_init(&tmp);
    sb_append(&page, html_page, (size_t)(marker - html_page));
    append_events(&page, events, len);
    sb_puts(&page, marker + strlen(HTML_MARKER));

    /* A unique name in the same directory, so that rename() is atomic. */
    int fd = -1;
    bool ok = false;
    for (unsigned k = 0; fd < 0; k++) {
        sb_clear(&tmp);
        if (k == 0) sb_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
        else sb_printf(&tmp, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && (errno != EEXIST || k == 1000)) {
            fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));
            sb_clear(&tmp);
            goto done;
        }
    }
    struct stat old;
    if (stat(path, &old) == 0 && S_ISREG(old.st_mode)) (void)fchmod(fd, old.st_mode & 07777);
    if (!write_all(fd, page.data, page.len)) goto io_error;
    if (close(fd) != 0) {
        fd = -1;
        goto io_error;
    }
    fd = -1;
    if (rename(tmp.data, path) != 0) goto io_error;
    ok = true;
    goto done;

io_error:
    fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));
done:
    if (fd >= 0) close(fd);
    if (!ok && tmp.len) (void)unlink(tmp.data);
    sb_free(&page);
    sb_free(&tmp);
    return ok;
}
