/* pb.h — a writer of the protocol buffers wire format, as much of it as nn writes (ONNX):
 * varint integers, 32-bit floats, length-delimited bytes, strings and nested messages, each
 * appended to a StrBuf. A nested message is built in a StrBuf of its own, then appended whole
 * with its length (pb_message). No schema here: the callers know the field numbers. */
#ifndef NN_PB_H
#define NN_PB_H

#include "common.h"
#include "strbuf.h"

/* An integer field (wire type 0): int32, int64, enum (negative values take 10 bytes). */
void pb_int(StrBuf *sb, int field, int64_t v);
/* A float field (wire type 5). */
void pb_float(StrBuf *sb, int field, float v);
/* Bytes, a string or a message already encoded (wire type 2). */
void pb_bytes(StrBuf *sb, int field, const void *data, size_t len);
void pb_string(StrBuf *sb, int field, const char *s);
void pb_message(StrBuf *sb, int field, const StrBuf *msg);

#endif
