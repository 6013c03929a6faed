/* Helpers shared by png_codec.c and jpeg_codec.c (not part of the module's public header). */
#ifndef NNRT_CODEC_COMMON_H
#define NNRT_CODEC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The caller's message buffer. An error's text replaces whatever is there; a warning's text is
 * kept only while nothing else is (so a failure reports its own cause, not an earlier warning). */
typedef struct codec_message {
    char *text;
    size_t capacity;
} codec_message;

static inline void codec_message_init(codec_message *m, char *text, size_t capacity) {
    m->text = capacity > 0 ? text : NULL;
    m->capacity = m->text ? capacity : 0;
    if (m->text) m->text[0] = '\0';
}

static inline void codec_message_set(codec_message *m, const char *s) {
    size_t n;
    if (!m->text) return;
    if (!s) s = "";
    n = strlen(s);
    if (n >= m->capacity) n = m->capacity - 1;
    memcpy(m->text, s, n);
    m->text[n] = '\0';
}

static inline void codec_message_warn(codec_message *m, const char *s) {
    if (m->text && m->text[0] == '\0') codec_message_set(m, s);
}

/* a * b, or 0 with *overflow set when it does not fit a size_t. */
static inline size_t codec_mul(size_t a, size_t b, int *overflow) {
    if (a != 0 && b > SIZE_MAX / a) { *overflow = 1; return 0; }
    return a * b;
}

/* Whether width x height passes the caller's limits. */
static inline int codec_within_limits(uint64_t width, uint64_t height, uint64_t max_dimension, uint64_t max_pixels) {
    if (width > max_dimension || height > max_dimension) return 0;
    /* width, height < 2^32 here, so the product fits. */
    return width * height <= max_pixels;
}

#endif
