/* ops_conv.h — the ops of images and of normalisation (ops.def's rows CONV2D, MAXPOOL2D,
 * AVGPOOL2D, LAYERNORM, BATCHNORM, BATCHNORM_EVAL): their shape rules and kernels, for ops.c's table only. A batch of images is [N, C, H, W], row-major, as
 * PyTorch lays it out; a convolution's weight is [out channels, in channels, KH, KW] and its
 * bias [out channels], as torch.nn.Conv2d's are. */
#ifndef NN_OPS_CONV_H
#define NN_OPS_CONV_H

#include "ops.h"

struct GraphNode;

/* conv2d also takes a batch of sequences [N, C, L] with a weight [O, C, K] (conv1d): as images
 * one pixel high (stride and padding along the sequence: attrs index 1), giving [N, O, L']. */
bool shape_conv2d(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err);
/* A sequence shape [N, C, L] (or a weight [O, C, K]) seen as images [N, C, 1, L]; any other
 * shape as it is. */
Shape conv_view(const Shape *s);
void fwd_conv2d(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
void bwd_conv2d(struct GraphNode *n, struct GraphNode *const *in);

bool shape_pool2d(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err);
void fwd_maxpool2d(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
void bwd_maxpool2d(struct GraphNode *n, struct GraphNode *const *in);
void fwd_avgpool2d(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
void bwd_avgpool2d(struct GraphNode *n, struct GraphNode *const *in);

/* layernorm(x, W, b): each example (the trailing dims of x that W and b have) standardised
 * with its own mean and variance (biased, + 1e-5 under the root, as torch.nn.LayerNorm), then
 * times W plus b, elementwise. */
#define LAYERNORM_EPS 1e-5
bool shape_layernorm(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err);
void fwd_layernorm(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
void bwd_layernorm(struct GraphNode *n, struct GraphNode *const *in);

/* batchnorm(x, W, b, running_mean, running_var) (BATCHNORM while training, BATCHNORM_EVAL
 * after): x [N, C] or [N, C, ...] standardised per channel c, over the batch and the positions
 * after the channel axis, times W[c] plus b[c]; eps and momentum as torch.nn.BatchNorm2d's
 * defaults. Training passes move the running statistics (buffers), as torch's do. */
#define BATCHNORM_EPS 1e-5
#define BATCHNORM_MOMENTUM 0.1
bool shape_batchnorm(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err);
void fwd_batchnorm(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
void bwd_batchnorm(struct GraphNode *n, struct GraphNode *const *in);
void fwd_batchnorm_eval(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
void bwd_batchnorm_eval(struct GraphNode *n, struct GraphNode *const *in);
/* Channel c's batch mean and biased variance (what a training pass standardises with). */
void batchnorm_stats(const struct GraphNode *x, size_t c, double *mean, double *var);

#endif
