/* ops_conv.h — the ops of images and of normalisation (ops.def's rows CONV2D, MAXPOOL2D,
 * AVGPOOL2D, LAYERNORM): their shape rules and kernels, for ops.c's table only. A batch of images is [N, C, H, W], row-major, as
 * PyTorch lays it out; a convolution's weight is [out channels, in channels, KH, KW] and its
 * bias [out channels], as torch.nn.Conv2d's are. */
#ifndef NN_OPS_CONV_H
#define NN_OPS_CONV_H

#include "ops.h"

struct GraphNode;

bool shape_conv2d(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err);
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

#endif
