/* sandbox.h — the one policy for opening named files (`nn --sandbox`). Every place that reads
 * or writes a file a script or the command line names (csv, split's row file, images' folders
 * and files, load, resume, save, --plot, --html, nn_run_file, nn_save_session) asks here
 * first.
 *
 * Off (the default), everything is allowed, as the caller would open it; only the message for
 * a missing relative name gains a hint when the name exists beside the script.
 * On, a name is read only if it lies under a read folder (the current directory, the script's
 * folder, --allow-read DIR) and written only under a write folder (--allow-write DIR).
 *
 * How it holds against symbolic links and races: a name is made absolute (against the current
 * directory) and its "." and ".." are removed as text, so it is a plain list of names under
 * one allowed folder. From a descriptor of that folder, opened when it was allowed, each name
 * is opened with openat(O_PATH | O_NOFOLLOW) from the one before: a symbolic link anywhere on
 * the way stops the walk, so nothing the walk reaches can be outside the folder, whatever is
 * renamed or swapped in meanwhile. A name that goes through a symbolic link is then tried
 * once more by its real path (realpath): allowed only if that also lies under an allowed
 * folder, and walked the same way. The caller opens what the walk reached through
 * /proc/self/fd/N (the very file or folder, not a new lookup of the name): a read reopens the
 * file; a write creates its temporary file in, and renames it within, the folder the walk
 * reached. Outside a sandbox nothing is walked and the name is passed on unchanged.
 *
 * Messages never depend on what lies outside the allowed folders: a refused name is refused
 * by its text or by a link inside, before anything outside is opened. */
#ifndef NN_SANDBOX_H
#define NN_SANDBOX_H

#include "common.h"

typedef struct SandboxDir {
    char *path;             /* its real path (absolute, no links, no trailing '/'), owned */
    int fd;                 /* an O_PATH descriptor of it, owned */
} SandboxDir;

typedef struct Sandbox {
    bool on;
    bool broken;            /* sandbox_enable failed: on, with less allowed than it should */
    SandboxDir *read, *write;   /* allowed folders (owned arrays) */
    int n_read, cap_read, n_write, cap_write;
    const char *script;     /* the file being run by nn_run_file, as named (for the hint),
                               or NULL; borrowed for that run */
} Sandbox;

/* A name the policy let through, for one open. Open `path` as usual, but without O_NOFOLLOW on
 * its last part (/proc/self/fd/N is a link, to the very file); fileio's atomic write may use it
 * as the target: its temporary file and rename then stay in the folder the walk reached. */
typedef struct SandboxFile {
    const char *path;       /* what to open: the name itself, or /proc/self/fd/N[/LEAF] */
    const char *name;       /* the name as given (borrowed), for messages */
    int fd;                 /* held while `path` is used; -1 when none */
    char *own;              /* path's storage when made here, owned */
} SandboxFile;

void sandbox_init(Sandbox *sb);
/* Closes the folders' descriptors and frees everything; sb is then as after sandbox_init. */
void sandbox_free(Sandbox *sb);

/* Turns the sandbox on (for good) and allows reading under the current directory; a second
 * call only says whether the first succeeded. False with
 * a message (no prefix) if this system cannot enforce it (it needs Linux's /proc/self/fd) or
 * the current directory cannot be opened; the sandbox is on even then (with nothing more
 * allowed, so every open may fail), never off by a failure. */
bool sandbox_enable(Sandbox *sb, char *err, size_t errlen);
/* Allows reading (write false) or writing under the folder `dir` (borrowed), taken as it is
 * now: its real path, and a descriptor of it. Does not turn the sandbox on. False with "cannot
 * use 'DIR': reason" in err when it is not an existing folder. */
bool sandbox_allow(Sandbox *sb, const char *dir, bool write, char *err, size_t errlen);

/* May `name` be read? True with *f telling what to open (release it with sandbox_done). False
 * with the reason in `why` (to follow "cannot open 'NAME': "), and nothing to release: outside
 * the folders, a link out of them, not a regular file, or the system's reason, with the hint
 * when a missing relative name is beside the script. sb may be NULL (no policy, no hint). */
bool sandbox_read(const Sandbox *sb, const char *name, SandboxFile *f, char *why,
                  size_t whylen);
/* May `name` be written (replaced as a whole by fileio's atomic write)? As sandbox_read, but
 * on false `err` holds the whole message, "cannot write 'NAME': reason". */
bool sandbox_write(const Sandbox *sb, const char *name, SandboxFile *f, char *err,
                   size_t errlen);
/* Releases f. With msg (NULL when the use of f succeeded: no message was written), first puts
 * f's name back where the message, built from f->path, quotes that path. */
void sandbox_done(SandboxFile *f, char *msg, size_t msglen);

/* What an entry of a listed folder is, as opening it through the policy would find it. */
typedef enum SandboxKind {
    SANDBOX_FILE,           /* a regular file */
    SANDBOX_DIR,            /* a folder */
    SANDBOX_OTHER,          /* a device, a pipe, a socket, a link to nothing: `why` says */
    SANDBOX_REFUSED,        /* a symbolic link the policy does not follow: `why` says */
} SandboxKind;

typedef struct SandboxEntry {
    char *name;             /* the entry's name in its folder, owned */
    SandboxKind kind;
    char *why;              /* OTHER, REFUSED: the reason, to follow "cannot open 'PATH': "
                               (owned); else NULL */
} SandboxEntry;

typedef struct SandboxList {
    SandboxEntry *items;    /* owned, sorted by name in byte order (strcmp) */
    int count;
} SandboxList;

/* The entries of the folder `name` (all but "." and ".."), under the rules of sandbox_read: on,
 * the folder must lie under a read folder, reached without a link out; a symbolic link among
 * its entries is followed only as a read of it would be (else it is REFUSED, whatever it
 * points to, so nothing outside is looked at); off (or sb NULL), links are followed. True
 * with *out filled (free it with sandbox_list_free); false with the reason in `why` (to
 * follow "cannot open 'NAME': "), the hint for a missing relative name beside the script as
 * sandbox_read gives it, and *out empty. A file the listing named may be gone or changed
 * when it is read: open each entry with sandbox_read, which checks it again. */
bool sandbox_list(const Sandbox *sb, const char *name, SandboxList *out, char *why,
                  size_t whylen);
void sandbox_list_free(SandboxList *list);

/* `path` made absolute against `cwd` (absolute, ignored when path is), with empty and "."
 * names dropped and each ".." removing the name before it (none above "/"), as text: "/" or
 * "/a/b". False if it does not fit in outlen bytes. */
bool sandbox_normalize(const char *cwd, const char *path, char *out, size_t outlen);

#endif
