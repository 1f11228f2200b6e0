/* data.h — data sets for training: CSV files with a header line, folders of images (one
 * sub-folder per class), row-index files, subsets, seeded splits, feature normalisation, and
 * seeded toy sets (xor, circles, moons, spirals, blobs). Engine code: knows nothing of the
 * language; user errors come back as a DataError. */
#ifndef NN_DATA_H
#define NN_DATA_H

#include "common.h"
#include "rng.h"
#include "sandbox.h"

#include <signal.h>

/* A data set in memory. X is rows x features and Y is rows x targets, both row-major.
 *
 * The target is one of three kinds:
 *   - k classes, one-hot:  n_classes = k > 0, targets = k, each Y row has a single 1.
 *     CSV class columns are always one-hot, even with exactly 2 classes (so cross_entropy
 *     works on every CSV class column the same way).
 *   - binary 0/1 column:   n_classes = 2, targets = 1, Y holds 0 or 1 (for bce). Only the
 *     binary toy sets (xor, circles, moons) produce this. Test it as
 *     `n_classes > 0 && targets == 1`.
 *   - numeric (regression): n_classes = 0, targets = 1, class_names NULL.
 * class_names[c] names class c: the one-hot column c, or the value c of a binary column. */
/* The ways a script makes a data set (csv and images are read when the script is checked; the
 * others run when their statement does). */
typedef enum DataFn {
    DATA_CSV, DATA_IMAGES, DATA_XOR, DATA_CIRCLES, DATA_MOONS, DATA_SPIRALS, DATA_BLOBS,
    DATA_SPLIT, DATA_SPLIT_ROWS, DATA_NORMALIZE
} DataFn;

typedef struct Dataset {
    int rows, features;      /* X is rows x features, row-major */
    int targets;             /* columns of Y: number of classes when one-hot, else 1 */
    float *X, *Y;            /* owned */
    char **feature_names;    /* features entries, owned */
    char *target_name;       /* owned, may be NULL for generated sets */
    char **class_names;      /* n_classes entries, owned; NULL for a numeric target */
    int n_classes;           /* 0 for a numeric (regression) target */
} Dataset;

/* Where a data file is wrong and why. line and col are 1-based (col counts bytes, and on the
 * first line it starts after a UTF-8 byte order mark); line 0 (col 0) means the whole file,
 * e.g. it cannot be opened or has no rows. msg is lower case without a trailing period. */
typedef struct DataError {
    int line, col;
    char msg[1024];
} DataError;

/* What reading a data file may take: at most `room` bytes of memory (the memory limit less
 * what the program holds already; SIZE_MAX: no limit), and the time until *stop becomes
 * nonzero (Ctrl-C; NULL: no flag), which is looked at before each block of the file is read
 * and cleared when it stops the reading. The readers take NULL for no limits. */
typedef struct DataLimits {
    size_t room;
    volatile sig_atomic_t *stop;
} DataLimits;

/* Reads a CSV file into *out (zeroed first; free it with data_free). Returns false with *err
 * filled in on a user error, and then *out holds nothing (data_free on it is harmless).
 *
 * Memory: the file is read a block at a time (64 KiB, more only for a longer record), never
 * whole, and everything the reader allocates (the buffer, the rows' numbers, the target's
 * texts, the classes, Y) is counted before it is allocated: past lim->room bytes it stops
 * with "reading this file would take more than the 10 MiB of memory left under the limit (at
 * line 81234 of the file); raise the limit with --max-memory" (0:0). So a file without an end
 * (a pipe) stops there too; a NUL byte (/dev/zero) is an error at once. When *lim->stop is
 * set, it stops before the next block with "reading was interrupted at line 81234 of the
 * file" (0:0).
 *
 * Format: RFC 4180 basics. The first non-blank line holds the column names. Fields are
 * separated by commas; records end with LF or CRLF; blank lines (empty or only spaces and
 * tabs) are skipped anywhere; a UTF-8 BOM at the start is skipped. A field whose first
 * non-space byte is '"' is quoted: it runs to the next lone '"', "" stands for one quote,
 * commas and newlines inside are data, and only spaces or tabs may follow the closing quote.
 * Unquoted fields lose their surrounding spaces and tabs; quoted fields keep their content
 * as is. Column names must be non-empty and distinct.
 *
 * `target` names the target column (anywhere in the header); every other column is a
 * feature, in file order. Features must be finite numbers: strtod must take the whole field
 * apart from surrounding spaces (numbers are read in the C locale's format). The kind of
 * target is decided from all its values (which must not be empty):
 *   - every value is written as an integer (optional sign, digits only): classes, ordered by
 *     numeric value, each named by its text as first written (e.g. "0".."9");
 *   - every value is a number but some are not written as integers ("2.5", "1e3", "3.0"):
 *     a numeric target, Y rows x 1;
 *   - some value is not a number: classes, the distinct texts in byte order (strcmp), e.g.
 *     setosa, versicolor, virginica; numeric-looking values then count as texts.
 * Classes give one-hot Y (rows x n_classes), also for 2 classes.
 *
 * Errors (line:col of the offending field, or as noted):
 *   "cannot open 'x.csv': No such file or directory" (0:0), "cannot read ..." (0:0),
 *   "the file is empty" (0:0), "the file has a header but no rows" (0:0),
 *   "the file has a NUL byte here (is it a text file?)", "the file has more than 2147483646
 *   rows",
 *   "no column named 'specis'; the columns are a, b, ..." (header line, col 1; a long list
 *   is cut in the middle), "the target 'y' is the only column; there are no feature
 *   columns" (header line, col 1), "column 3 of the header has no name", "the column name
 *   'x' appears twice in the header" (at the second), "row has 4 fields, the header has 5"
 *   (at the first extra field, or at the end of a short row), "'abc' in column
 *   'sepal_width' is not a number", "'inf' in column 'x' is not a finite number", "empty
 *   field in column 'p3'", "the quote that opens this field is never closed" (at the quote),
 *   "text after the closing quote of a field; a quote inside a quoted field is written \"\""
 *   (at the text). Long field texts are shortened with "..." in messages. */
bool data_read_csv(const char *path, const char *target, const DataLimits *lim, Dataset *out,
                   DataError *err);

/* Reads a folder of images into *out (zeroed first; free it with data_free), as torchvision's
 * ImageFolder with ToTensor does: each sub-folder of `folder` is a class, in byte order of
 * the names (strcmp), named by the sub-folder; each file in a class folder is one example of
 * that class (image.h: PNG, PGM or PPM, told by its bytes), the rows ordered by class, then by
 * file name. X holds each image's C x H x W samples in [0, 1], channel first; Y is one-hot
 * (targets = n_classes, also for 1 or 2 classes), feature and target names NULL. *dims gets
 * [C, H, W]. Names that start with '.' (hidden files, .DS_Store) are skipped, and so are
 * files, pipes and links to nothing directly in `folder` (but a link the sandbox refuses is an
 * error there too: what it leads to is not looked at).
 *
 * Everything is opened through sb (sandbox.h: the folder, each class folder and each file, as
 * sandbox_read would, sb NULL: no policy). Messages name files as `folder` (less trailing
 * slashes) + "/CLASS/FILE".
 * The files are read one at a time, each counted against lim->room with the list of files,
 * X and Y (past it: "reading these images would take more than the 10 MiB of memory left
 * under the limit; raise the limit with --max-memory"); lim->stop is looked at before each
 * file ("reading was interrupted at image 12 of 40").
 *
 * Errors (all at 0:0, the folder as a whole): "cannot open 'F': REASON" (sandbox_list's), "'F'
 * has no class folders: ...", "the class folder 'F/C' has no images", "'F/C/D' is a folder:
 * ...", "cannot open 'F/C/X': REASON" (a device, a pipe, a link refused), "cannot read the
 * image 'F/C/X': REASON" (image_decode's), "'F/C/X' is 1 x 8 x 6 (channels x height x
 * width), but 'F/A/Y' is 1 x 8 x 8: all images must have the same size", "'F' holds more than
 * 2147483646 images". */
bool data_read_images(const Sandbox *sb, const char *folder, const DataLimits *lim,
                      Dataset *out, int dims[3], DataError *err);

/* Reads whitespace-separated row indices (decimal digits only, 0-based), each < max_row and
 * none twice; a UTF-8 BOM is skipped. On success *out is a new array (free with nn_free) of
 * *count indices in file order. On failure *out is NULL, *count 0, and *err says, with the
 * token's line:col, "'x' is not a row index", "row 2000 is out of range: the data set has
 * 1797 rows", "row 5 is listed twice" (at the second); or at 0:0 "cannot open ...",
 * "cannot read ...", "the file is empty" (no indices at all), or the memory message of
 * data_read_csv (the file is read whole, counted against lim->room, stopped by lim->stop as
 * data_read_csv is); a NUL byte is an error. */
bool data_read_indices(const char *path, int max_row, const DataLimits *lim, int **out,
                       int *count, DataError *err);

/* Frees everything d owns and zeroes it. Harmless on a zeroed Dataset. */
void data_free(Dataset *d);

/* Deep copy of rows[0..count) of d, in that order (repeats allowed), into *out, which the
 * caller frees with data_free. Each row index must be in [0, d->rows) (asserted). */
void data_subset(const Dataset *d, const int *rows, int count, Dataset *out);

/* Shuffles the row order (Fisher-Yates, unbiased bounded draws from rng_u32), then puts the
 * first round(fraction * rows) shuffled rows into *a and the rest into *b, both new (free
 * with data_free). fraction must be in (0, 1) (asserted); either part may end up empty for
 * tiny sets. */
void data_split(const Dataset *d, double fraction, Rng *rng, Dataset *a, Dataset *b);

/* Rows listed in idx go to *b (in idx order), all others to *a (in file order). The indices
 * must be in range and distinct (asserted; data_read_indices checks both). */
void data_split_rows(const Dataset *d, const int *idx, int count, Dataset *a, Dataset *b);

/* Per-feature mean and population standard deviation of stats_from's X, computed in double,
 * into mean[] and std[] (features floats each, caller allocated). A std of 0 (a constant
 * feature, or no rows) is stored as 1, so normalising never divides by zero. */
void data_feature_stats(const Dataset *stats_from, float *mean, float *std);
/* X[i][j] = (X[i][j] - mean[j]) / std[j] in place, e.g. with the training set's stats on both
 * the training and the test set. */
void data_apply_normalize(Dataset *d, const float *mean, const float *std);

/* Seeded toy sets, in the spirit of TensorFlow Playground and scikit-learn's generators.
 * Each makes n points with features "x1", "x2" (target_name NULL), classes as balanced as n
 * allows (class c gets n/k points, plus one for c < n % k), rows in shuffled order. The
 * clean points lie within about [-1, 1]^2 (scale 1); `noise` (>= 0) is the standard
 * deviation of Gaussian noise then added to each coordinate, in that unit, so 0.1 is a
 * little noise and 0.5 a lot. Labels come from the clean points. Preconditions (asserted;
 * the caller reports bad arguments): n >= 1, noise >= 0 and finite, 2 <= k <= 1000.
 *
 * Binary sets give Y n x 1 of 0/1 (targets 1, n_classes 2, class_names "0", "1"); k-class
 * sets give one-hot Y n x k (class names "0".."k-1"). Same seed, same set. */

/* Uniform in [-1, 1]^2; label 1 when x1 * x2 > 0 (first and third quadrants), else 0.
 * Each point is drawn in its label's quadrants, so the labels are exactly balanced. */
void data_xor(int n, double noise, Rng *rng, Dataset *out);
/* Label 1: radius uniform in [0, 0.5] (an inner disc); label 0: radius uniform in [0.7, 1]
 * (an outer ring); angle uniform. As in TensorFlow Playground's "circle". */
void data_circles(int n, double noise, Rng *rng, Dataset *out);
/* scikit-learn's make_moons: label 0 on the upper half circle (cos t, sin t), label 1 on
 * (1 - cos t, 0.5 - sin t), t evenly spaced over [0, pi] within each moon (noise is the
 * same as make_moons' noise). x1 spans [-1, 2], x2 [-0.5, 1]. */
void data_moons(int n, double noise, Rng *rng, Dataset *out);
/* k interleaved spiral arms (CS231n's spiral set, with evenly spaced arms): point i of the
 * m points of class c has radius r = i / (m - 1) and angle t = 2 pi c / k + 4 r (radians),
 * at (r cos t, r sin t). */
void data_spirals(int k, int n, double noise, Rng *rng, Dataset *out);
/* k Gaussian clusters (scikit-learn's make_blobs): centres uniform in [-1, 1]^2, drawn
 * first, in class order; each point is its centre plus the noise (so noise is the
 * clusters' standard deviation; noise 0 puts every point on its centre). */
void data_blobs(int k, int n, double noise, Rng *rng, Dataset *out);

#endif
