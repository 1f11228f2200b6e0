/* html.c — writes the `--html` page: the template embedded at build time (cmake/embed.cmake
 * turns src/html_page.html into html_page.h) with the trace events put in at its marker,
 * streamed to the file. */
#include "html.h"

#include "fileio.h"
#include "html_page.h"
#include "strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Where the template takes the events: inside `[` `]` of a JavaScript array literal. */
#define HTML_MARKER "/*NN_EVENTS*/"

/* The page is written as it is made, through a small buffer, so that writing it takes no
 * memory in proportion to the trace. */
typedef struct PageOut {
    AtomicFile f;
    StrBuf buf;
    bool ok;
    int code;               /* errno of the write that failed */
} PageOut;

static void page_flush(PageOut *o)
{
    if (o->ok && o->buf.len && !afile_write(&o->f, o->buf.data, o->buf.len)) {
        o->ok = false;
        o->code = errno;
    }
    sb_clear(&o->buf);
}

static void page_put(PageOut *o, const char *s, size_t n)
{
    sb_append(&o->buf, s, n);
    if (o->buf.len >= 1 << 16) page_flush(o);
}

/* Writes the events of the JSON Lines text, separated by commas: one object per line that
 * starts with '{', with trailing blanks (and a CR) dropped. '<' becomes \u003c: it can only
 * occur inside a JSON string, where that escape means the same character. */
static void put_events(PageOut *o, const char *events, size_t len)
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
        if (!first) page_put(o, ",\n", 2);
        first = false;
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
            if (line[i] != '<') continue;
            page_put(o, line + start, i - start);
            page_put(o, "\\u003c", 6);
            start = i + 1;
        }
        page_put(o, line + start, n - start);
    }
}

bool html_write(const char *path, const char *events, size_t len, char *err, size_t errlen)
{
    const char *marker = strstr(html_page, HTML_MARKER);
    NN_ASSERT(marker != NULL);   /* the template is ours: cmake/embed.cmake checks it too */
    NN_ASSERT(events != NULL || len == 0);

    PageOut o = { .ok = true };
    if (!afile_open(&o.f, path, err, errlen)) return false;
    sb_init(&o.buf);
    page_put(&o, html_page, (size_t)(marker - html_page));
    put_events(&o, events, len);
    const char *rest = marker + strlen(HTML_MARKER);
    page_put(&o, rest, strlen(rest));
    page_flush(&o);
    sb_free(&o.buf);
    if (!o.ok) {
        errno = o.code;     /* afile_fail's message is the write's */
        afile_fail(&o.f, err, errlen);
        return false;
    }
    return afile_commit(&o.f, err, errlen);
}
