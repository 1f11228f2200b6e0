/* onnx.h — `save MODEL "FILE.onnx"`: a model's inference graph as an ONNX file (opset 13), for
 * serving outside nn (onnxruntime, and anything that reads ONNX). Written by nn's own protobuf
 * writer (pb.h); nothing is needed at run time. */
#ifndef NN_ONNX_H
#define NN_ONNX_H

#include "program.h"
#include "runtime.h"

/* The ONNX opset the files declare, and the IR version (ONNX 1.12's). */
#define ONNX_OPSET 13
#define ONNX_IR_VERSION 8

/* Writes the graph of `plan` from the leaf `x` (the model's input, one row of it: [1, features])
 * to `out` as FILE.onnx: the input "input" and the output "output" with a dynamic first
 * dimension "batch", each op of the plan as its ONNX operator (src/onnx.def), the params as
 * initializers named as in the model ("layer1.W"), float32. The checker has refused models
 * with ops that have no ONNX operator. Raises at `at` if the file cannot be written. */
void rt_save_onnx(Runtime *rt, const Instr *ins, Span at);

#endif
