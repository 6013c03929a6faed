/* PNG (libpng 1.6) and JPEG (libjpeg-turbo) decoding and encoding in memory, for NNImaging.
 * Internal to nnrt: none of these names is exported from libnnrt.so (Sources/NNRuntime/exports.map
 * lists the exports one by one). Swift reaches them only through Sources/NNImaging/Codecs.swift.
 *
 * Every function here is re-entrant: all state lives in the call, so any number of threads may
 * call them at once. None prints, aborts or exits: libpng's and libjpeg's errors (reported with
 * longjmp) are caught inside these functions, every setjmp and longjmp stays in C, and their text
 * goes into the caller's `message` buffer (always NUL-terminated when `message_capacity` > 0).
 * Nothing is left allocated on any error path. */
#ifndef NNRT_IMAGE_CODECS_H
#define NNRT_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes of every function below. */
#define NNRT_CODEC_OK 0
/* The data ends before the image does. */
#define NNRT_CODEC_TRUNCATED 1
/* The data is damaged or violates its format; `message` has the library's words. */
#define NNRT_CODEC_CORRUPT 2
/* The header declares more pixels than the caller's limits; nothing big was allocated. The
 * declared width and height are in the result struct. */
#define NNRT_CODEC_TOO_LARGE 3
/* A valid file using something not handled here (12-bit or lossless JPEG, ...). */
#define NNRT_CODEC_UNSUPPORTED 4
#define NNRT_CODEC_OUT_OF_MEMORY 5
/* A NULL pointer, a zero size or an impossible layout was passed in. */
#define NNRT_CODEC_INVALID_ARGUMENT 6

/* Pixels decoded by nnrt_codec_png_decode or nnrt_codec_jpeg_decode. */
typedef struct nnrt_codec_image {
    /* width * height * channels samples, row-major, top row first, channels interleaved (grey;
     * grey, alpha; R, G, B; R, G, B, A). One byte per sample when bits == 8; a uint16_t in the
     * host's byte order when bits == 16. Allocated with malloc: release with nnrt_codec_free.
     * NULL on every failure. */
    void *pixels;
    /* The header's dimensions: set on success, and on NNRT_CODEC_TOO_LARGE (else 0). */
    uint32_t width;
    uint32_t height;
    /* 1..4, and 8 or 16 (JPEG: always 8). */
    uint32_t channels;
    uint32_t bits;
} nnrt_codec_image;

/* Decodes a whole PNG file held in memory: any colour type and bit depth, interlaced or not.
 * Palette images become RGB, or RGBA when they have a tRNS chunk; a tRNS colour key in a grey or
 * RGB image becomes an alpha channel; 1, 2 and 4-bit grey is scaled to 8-bit values 0..255
 * (1-bit 1 -> 255); 16-bit samples stay 16-bit. The IHDR chunk is checked against `max_dimension`
 * (width and height) and `max_pixels` (width * height) before any pixel memory is allocated.
 * Requires the whole file: missing IEND is NNRT_CODEC_TRUNCATED.
 * `data`, `out` must not be NULL; `message` may be NULL when `message_capacity` is 0. On
 * success the caller owns out->pixels. */
int nnrt_codec_png_decode(const uint8_t *data, size_t size, uint64_t max_dimension, uint64_t max_pixels,
                          nnrt_codec_image *out, char *message, size_t message_capacity);

/* Decodes a JPEG (JFIF or Adobe) held in memory, baseline, extended or progressive, Huffman or
 * arithmetic coded, 8-bit precision: greyscale to 1 channel; YCbCr and RGB to 3 channels (R, G,
 * B); CMYK and YCCK to 3 channels through a naive conversion (Adobe files store CMYK inverted, as
 * Photoshop writes it). The frame header is checked against the limits before any pixel memory is
 * allocated. Data that ends before the image does is NNRT_CODEC_TRUNCATED, not padded with grey;
 * damaged entropy-coded data (bad Huffman code, missing restart marker) is NNRT_CODEC_CORRUPT,
 * and so is a progressive file of more than 500 scans (each scan is a pass over the image).
 * grey != 0: colour (YCbCr, RGB) files come out as 1 channel, their BT.601 luma (faster: the
 * chroma is not reconstructed). min_side > 0: decode at 1/2, 1/4 or 1/8 size (libjpeg's scaled
 * inverse DCT), the smallest that keeps the shorter side at least min_side pixels; out->width
 * and out->height are then the reduced size. The limits apply to the full size.
 * Pointers and ownership as for nnrt_codec_png_decode. */
int nnrt_codec_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_dimension, uint64_t max_pixels,
                           int grey, unsigned min_side,
                           nnrt_codec_image *out, char *message, size_t message_capacity);

/* How nnrt_codec_png_encode writes a file. PNG colour types: 0 grey, 2 RGB, 3 palette, 4 grey +
 * alpha, 6 RGBA. */
typedef struct nnrt_codec_png_options {
    int color_type;
    /* 1, 2, 4, 8 or 16, as the colour type allows (grey: all; palette: up to 8; others: 8, 16). */
    int bit_depth;
    /* 1 for Adam7 interlacing. */
    int interlaced;
    /* Colour type 3: `palette_entries` RGB triples (1..256), and optionally `trns_count` (0..
     * palette_entries) alpha values for the first entries. */
    const uint8_t *palette;
    int palette_entries;
    const uint8_t *trns;
    int trns_count;
    /* Colour types 0 and 2: when has_trns_color is 1, a tRNS colour key (grey in [0]; R, G, B). */
    int has_trns_color;
    uint16_t trns_color[3];
    /* zlib level 0..9; -1 for libpng's default. */
    int compression_level;
} nnrt_codec_png_options;

/* Encodes width * height pixels to a PNG file in a new malloc'd buffer (*out, *out_size; release
 * with nnrt_codec_free). `pixels` holds width * height * channels samples, channels being 1, 3,
 * 1, 2, 4 for colour types 0, 2, 3, 4, 6: one byte per sample (values below 2^bit_depth; palette
 * indices below palette_entries) for bit depths up to 8, a host-order uint16_t for 16.
 * On failure *out is NULL and *out_size 0. */
int nnrt_codec_png_encode(const void *pixels, uint32_t width, uint32_t height,
                          const nnrt_codec_png_options *options,
                          uint8_t **out, size_t *out_size, char *message, size_t message_capacity);

/* Encodes 8-bit pixels to a JPEG (JFIF) in a new malloc'd buffer (*out, *out_size; release with
 * nnrt_codec_free). channels: 1 (grey), 3 (RGB; stored as YCbCr 4:2:0) or 4 (CMYK stored as is,
 * with an Adobe marker: for tests of the decoder). quality 1..100; progressive 1 for a
 * progressive file (libjpeg's standard script), 2 for grey only (else as 1): two scans, DC then
 * AC 1-63, for tests of the decoder's scan limit. On failure *out is NULL and *out_size 0. */
int nnrt_codec_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
                           int quality, int progressive,
                           uint8_t **out, size_t *out_size, char *message, size_t message_capacity);

/* Releases memory returned by the functions above; NULL is a no-op. */
void nnrt_codec_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
