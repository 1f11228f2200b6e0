/* html.h — `nn --html`: one self-contained HTML page (inline SVG, CSS and script) that steps
 * through the traced passes of a run, drawn from the JSON Lines trace (docs/trace-json.md). */
#ifndef NN_HTML_H
#define NN_HTML_H

#include "common.h"

/* Writes the page to `path`: the compiled-in template (src/html_page.html) with the events
 * inserted as a JavaScript array. `events` is the JSON Lines text of `--trace=json`, `len`
 * bytes, not necessarily NUL-terminated: each line that starts with '{' is one event, other
 * lines are ignored. Every '<' is written as the JSON escape \u003c, so no string in the
 * trace can close the page's <script> element. The page goes to a unique temporary file in
 * the same directory, which is then renamed over `path`; it is removed on failure. The page
 * is written as it is made, through a 64 KiB buffer: no copy of the events is made. Allocates
 * nothing it does not free; never raises. A last event {"event": "dropped", "first_pass",
 * "last_pass", "max_bytes"} (the CLI's, when its buffer was full) makes the page say which
 * passes are missing. On failure returns false with a lower-case message
 * in err ("cannot write 'out.html': Permission denied"); err may be NULL when errlen is 0. */
bool html_write(const char *path, const char *events, size_t len, char *err, size_t errlen);

#endif
