/* onnx.c — a model's inference graph as ONNX (onnx.h). The messages and field numbers are those
 * of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto). */
#include "onnx.h"

#include "fileio.h"
#include "nn.h"
#include "pb.h"
#include "sandbox.h"

#include <stdio.h>
#include <string.h>

typedef enum OnnxAttr { ONNX_NONE, ONNX_ALPHA, ONNX_AXIS_LAST, ONNX_WINDOW, ONNX_AXIS_ONE } OnnxAttr;

typedef struct OnnxRow {
    const char *name;
    OnnxAttr attr;
} OnnxRow;

static const OnnxRow *onnx_row(OpKind op)
{
    static const OnnxRow rows[OP_COUNT] = {
#define ONNX(o, onnx, attr) [o] = { onnx, attr },
#include "onnx.def"
#undef ONNX
    };
    return (unsigned)op < OP_COUNT && rows[op].name ? &rows[op] : NULL;
}

enum {
    TENSOR_FLOAT = 1,           /* TensorProto.DataType */
    ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7,    /* AttributeProto.AttributeType */
};

/* The name of node `id` in the file: "input", "output", a param's or buffer's name, else
 * "t<id>". */
static void value_name(const Instr *ins, const GraphNode *n, char *buf, size_t cap)
{
    const ModelParams *mp = ins->ckpt;
    if (n->id == ins->value) snprintf(buf, cap, "input");
    else if (n->id == ins->node) snprintf(buf, cap, "output");
    else {
        for (int i = 0; i < mp->count + mp->n_buffers; i++)
            if (mp->nodes[i] == n->id) {
                snprintf(buf, cap, "%s", mp->names[i]);
                return;
            }
        snprintf(buf, cap, "t%u", n->id);
    }
}

/* ValueInfoProto of a float tensor [batch, dims 1.. of s]: [batch, width], or images. */
static void value_info(StrBuf *graph, int field, const char *name, const Shape *s)
{
    StrBuf batch, features, shape, tensor, type, info;
    sb_init(&batch), sb_init(&features), sb_init(&shape), sb_init(&tensor), sb_init(&type);
    sb_init(&info);
    pb_string(&batch, 2, "batch");              /* Dimension.dim_param */
    pb_message(&shape, 1, &batch);              /* TensorShapeProto.dim */
    for (int d = 1; d < s->rank; d++) {
        sb_clear(&features);
        pb_int(&features, 1, s->dim[d]);        /* Dimension.dim_value */
        pb_message(&shape, 1, &features);
    }
    pb_int(&tensor, 1, TENSOR_FLOAT);           /* TypeProto.Tensor.elem_type */
    pb_message(&tensor, 2, &shape);             /* ... shape */
    pb_message(&type, 1, &tensor);              /* TypeProto.tensor_type */
    pb_string(&info, 1, name);                  /* ValueInfoProto.name */
    pb_message(&info, 2, &type);                /* ... type */
    pb_message(graph, field, &info);
    sb_free(&batch), sb_free(&features), sb_free(&shape), sb_free(&tensor), sb_free(&type);
    sb_free(&info);
}

/* TensorProto of a param: its dims, float32, its values as raw little-endian bytes. */
static void initializer(StrBuf *graph, const GraphNode *p, const char *name)
{
    StrBuf t, raw;
    sb_init(&t), sb_init(&raw);
    for (int d = 0; d < p->shape.rank; d++) pb_int(&t, 1, p->shape.dim[d]);     /* dims */
    pb_int(&t, 2, TENSOR_FLOAT);                                                 /* data_type */
    pb_string(&t, 8, name);                                                      /* name */
    for (size_t i = 0; i < p->size; i++) {
        uint32_t bits;
        memcpy(&bits, &p->value[i], sizeof bits);
        for (int b = 0; b < 4; b++) sb_putc(&raw, (char)((bits >> (8 * b)) & 0xff));
    }
    pb_message(&t, 9, &raw);                                                     /* raw_data */
    pb_message(graph, 5, &t);                                   /* GraphProto.initializer */
    sb_free(&t), sb_free(&raw);
}

/* An attribute of n ints from v[0], v[1] in turn: (a, b), pads (a, b, a, b): the begins of
 * the axes, then their ends; a 1-D window's (a), pads (a, a). */
static void ints_attr(StrBuf *nd, const char *name, const int *v, int n)
{
    StrBuf at;
    sb_init(&at);
    pb_string(&at, 1, name);                                        /* AttributeProto.name */
    for (int i = 0; i < n; i++) pb_int(&at, 8, v[i % 2]);           /* ints */
    pb_int(&at, 20, ATTR_INTS);                                     /* type */
    pb_message(nd, 5, &at);                                         /* NodeProto.attribute */
    sb_free(&at);
}

/* NodeProto of op node n, its inputs named as the file names them. */
static void op_node(StrBuf *graph, const Instr *ins, Runtime *rt, const GraphNode *n)
{
    const OnnxRow *row = onnx_row(n->op);
    NN_ASSERT(row != NULL);     /* the checker refused the others */
    StrBuf nd, at;
    sb_init(&nd), sb_init(&at);
    char name[128];
    for (int i = 0; i < n->n_in; i++) {
        value_name(ins, graph_node(&rt->graph, n->in[i]), name, sizeof name);
        pb_string(&nd, 1, name);                                    /* NodeProto.input */
    }
    value_name(ins, n, name, sizeof name);
    pb_string(&nd, 2, name);                                        /* output */
    snprintf(name, sizeof name, "%s_%u", row->name, n->id);
    pb_string(&nd, 3, name);                                        /* name */
    pb_string(&nd, 4, row->name);                                   /* op_type */
    if (row->attr == ONNX_ALPHA) {
        pb_string(&at, 1, "alpha");                                 /* AttributeProto.name */
        pb_float(&at, 2, n->attrs.alpha);                           /* f */
        pb_int(&at, 20, ATTR_FLOAT);                                /* type */
    } else if (row->attr == ONNX_AXIS_LAST || row->attr == ONNX_AXIS_ONE) {
        pb_string(&at, 1, "axis");
        pb_int(&at, 3, row->attr == ONNX_AXIS_ONE ? 1 : -1);        /* i */
        pb_int(&at, 20, ATTR_INT);
    } else if (row->attr == ONNX_WINDOW && n->shape.rank == 3) {    /* conv1d: 1-D windows */
        ints_attr(&nd, "kernel_shape", &n->attrs.kernel[1], 1);
        ints_attr(&nd, "strides", &n->attrs.stride[1], 1);
        ints_attr(&nd, "pads", (const int[]){ n->attrs.pad[1], n->attrs.pad[1] }, 2);
    } else if (row->attr == ONNX_WINDOW) {
        ints_attr(&nd, "kernel_shape", n->attrs.kernel, 2);
        ints_attr(&nd, "strides", n->attrs.stride, 2);
        if (n->op == OP_CONV2D) ints_attr(&nd, "pads", n->attrs.pad, 4);
    }
    if (at.len) pb_message(&nd, 5, &at);                            /* attribute */
    pb_message(graph, 1, &nd);                                      /* GraphProto.node */
    sb_free(&nd), sb_free(&at);
}

/* The ModelProto, whole, in *model. */
static void encode(Runtime *rt, const Instr *ins, StrBuf *model)
{
    StrBuf graph, opset;
    sb_init(&graph), sb_init(&opset);
    const GraphNode *x = graph_node(&rt->graph, ins->value), *out = graph_node(&rt->graph, ins->node);
    char name[128];
    for (uint32_t k = 0; k < ins->plan.count; k++) {
        const GraphNode *n = graph_node(&rt->graph, ins->plan.ids[k]);
        bool leaf = n->op == OP_PARAM || n->op == OP_BUFFER;   /* the model's state */
        if (n->id <= x->id && !leaf) continue;                  /* not the model's */
        value_name(ins, n, name, sizeof name);
        if (leaf) initializer(&graph, n, name);
        else if (n->id != x->id) op_node(&graph, ins, rt, n);
    }
    pb_string(&graph, 2, ins->ckpt->model);                     /* GraphProto.name */
    value_info(&graph, 11, "input", &x->shape);                 /* input */
    value_info(&graph, 12, "output", &out->shape);              /* output */
    pb_int(model, 1, ONNX_IR_VERSION);                          /* ModelProto.ir_version */
    pb_string(model, 2, "nn");                                  /* producer_name */
    pb_string(model, 3, NN_VERSION);                            /* producer_version */
    pb_message(model, 7, &graph);                               /* graph */
    pb_string(&opset, 1, "");                                   /* OperatorSetIdProto.domain */
    pb_int(&opset, 2, ONNX_OPSET);                              /* version */
    pb_message(model, 8, &opset);                               /* opset_import */
    sb_free(&graph), sb_free(&opset);
}

void rt_save_onnx(Runtime *rt, const Instr *ins, Span at)
{
    StrBuf model;
    sb_init(&model);
    encode(rt, ins, &model);
    char err[512];
    SandboxFile file;
    bool ok = sandbox_write(rt->files, ins->path, &file, err, sizeof err)
              && afile_write_all(file.path, model.data, model.len, err, sizeof err);
    sandbox_done(&file, ok ? NULL : err, sizeof err);
    sb_free(&model);
    if (!ok) rt_error(rt, at, "%s", err);
}
