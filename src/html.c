/* html.c — writes the `--html` page: the template embedded at build time (cmake/embed.cmake
 * turns src/html_page.html into html_page.h) with the trace events put in at its marker. */
#include "html.h"

#include "fileio.h"
#include "html_page.h"
#include "strbuf.h"

#include <stdio.h>
#include <string.h>

/* Where the template takes the events: inside `[` `]` of a JavaScript array literal. */
#define HTML_MARKER "/*NN_EVENTS*/"

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

    StrBuf page;
    sb_init(&page);
    sb_append(&page, html_page, (size_t)(marker - html_page));
    append_events(&page, events, len);
    sb_puts(&page, marker + strlen(HTML_MARKER));

    bool ok = afile_write_all(path, page.data, page.len, err, errlen);
    sb_free(&page);
    return ok;
}
