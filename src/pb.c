/* pb.c — the protocol buffers wire format (pb.h): a field is a key, (field << 3) | wire type, as
 * a varint, then the value: a varint, 4 little-endian bytes, or a varint length and the bytes. */
#include "pb.h"

#include <string.h>

enum { WIRE_VARINT = 0, WIRE_BYTES = 2, WIRE_FIXED32 = 5 };

static void varint(StrBuf *sb, uint64_t v)
{
    while (v >= 0x80) {
        sb_putc(sb, (char)(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    sb_putc(sb, (char)v);
}

static void key(StrBuf *sb, int field, int wire)
{
    varint(sb, ((uint64_t)field << 3) | (uint64_t)wire);
}

void pb_int(StrBuf *sb, int field, int64_t v)
{
    key(sb, field, WIRE_VARINT);
    varint(sb, (uint64_t)v);        /* two's complement: -1 is ten bytes, as protobuf has it */
}

void pb_float(StrBuf *sb, int field, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    key(sb, field, WIRE_FIXED32);
    for (int i = 0; i < 4; i++) sb_putc(sb, (char)((bits >> (8 * i)) & 0xff));
}

void pb_bytes(StrBuf *sb, int field, const void *data, size_t len)
{
    key(sb, field, WIRE_BYTES);
    varint(sb, len);
    sb_append(sb, data, len);
}

void pb_string(StrBuf *sb, int field, const char *s)
{
    pb_bytes(sb, field, s, strlen(s));
}

void pb_message(StrBuf *sb, int field, const StrBuf *msg)
{
    pb_bytes(sb, field, msg->data ? msg->data : "", msg->len);
}
