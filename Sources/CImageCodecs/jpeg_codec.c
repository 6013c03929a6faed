/* JPEG decoding and encoding in memory through libjpeg-turbo (the libjpeg 6b API). libjpeg
 * reports errors through error_exit, which must not return: ours records the text and a status
 * and longjmps back to the setjmp in jpeg_decode_body or jpeg_encode_body. As in png_codec.c,
 * each body is its own function and everything that must survive the jump lives in a context
 * struct owned by its caller. Warnings never reach stderr: the ones that mean the data is cut
 * short or damaged end the call like errors; the others are only recorded. */
#include "CImageCodecs.h"
#include "codec_common.h"

#include <stdio.h> /* jpeglib.h needs FILE */
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct codec_jpeg_error {
    struct jpeg_error_mgr pub; /* first: libjpeg sees only this part */
    jmp_buf jump;
    codec_message *message;
    int status;                /* the status to return after the jump */
    int decompressing;
    uint32_t width, height;    /* the frame header's dimensions, for NNRT_CODEC_TOO_LARGE */
};

static void codec_jpeg_record(j_common_ptr cinfo, int as_warning) {
    struct codec_jpeg_error *err = (struct codec_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (as_warning) codec_message_warn(err->message, text);
    else codec_message_set(err->message, text);
}

static void codec_jpeg_error_exit(j_common_ptr cinfo) {
    struct codec_jpeg_error *err = (struct codec_jpeg_error *)cinfo->err;
    codec_jpeg_record(cinfo, 0);
    switch (err->pub.msg_code) {
    case JERR_BAD_PRECISION:        /* 12- or 16-bit samples */
    case JERR_ARITH_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOTIMPL:
    case JERR_SOF_UNSUPPORTED:      /* lossless, hierarchical */
    case JERR_EMPTY_IMAGE:          /* height given by a DNL marker */
        err->status = NNRT_CODEC_UNSUPPORTED;
        break;
    case JERR_IMAGE_TOO_BIG:        /* over libjpeg's 65,500 pixels a side */
    case JERR_WIDTH_OVERFLOW:
        err->status = NNRT_CODEC_TOO_LARGE;
        if (err->decompressing) {
            j_decompress_ptr d = (j_decompress_ptr)cinfo;
            err->width = d->image_width;
            err->height = d->image_height;
        }
        break;
    case JERR_OUT_OF_MEMORY:
        err->status = NNRT_CODEC_OUT_OF_MEMORY;
        break;
    default:
        err->status = err->decompressing ? NNRT_CODEC_CORRUPT : NNRT_CODEC_INVALID_ARGUMENT;
        break;
    }
    longjmp(err->jump, 1);
}

/* level -1: a warning; 0 and up: trace messages, dropped. */
static void codec_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct codec_jpeg_error *err = (struct codec_jpeg_error *)cinfo->err;
    if (level >= 0) return;
    err->pub.num_warnings++;
    switch (err->pub.msg_code) {
    case JWRN_JPEG_EOF:
        /* The memory source ran out and inserted a fake EOI: the file was cut short. */
        codec_jpeg_record(cinfo, 0);
        err->status = NNRT_CODEC_TRUNCATED;
        longjmp(err->jump, 1);
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        /* libjpeg would go on with grey or stale blocks: a damaged image is not returned. */
        codec_jpeg_record(cinfo, 0);
        err->status = NNRT_CODEC_CORRUPT;
        longjmp(err->jump, 1);
    default:
        /* Harmless (unknown JFIF revision, extraneous bytes before a marker, bad ICC data). */
        codec_jpeg_record(cinfo, 1);
        break;
    }
}

static void codec_jpeg_output_message(j_common_ptr cinfo) { codec_jpeg_record(cinfo, 1); }

static void codec_jpeg_error_init(struct codec_jpeg_error *err, codec_message *message, int decompressing) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = codec_jpeg_error_exit;
    err->pub.emit_message = codec_jpeg_emit_message;
    err->pub.output_message = codec_jpeg_output_message;
    err->message = message;
    err->status = NNRT_CODEC_CORRUPT;
    err->decompressing = decompressing;
}

/* MARK: Decoding */

/* Progressive files may repeat a scan with no successive approximation any number of times
 * without a warning, and each scan costs a pass over the whole image: a small file could keep
 * the decoder busy for minutes. Real files have at most a few dozen scans. */
#define CODEC_JPEG_MAX_SCANS 500

static void codec_jpeg_progress(j_common_ptr cinfo) {
    struct codec_jpeg_error *err = (struct codec_jpeg_error *)cinfo->err;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > CODEC_JPEG_MAX_SCANS) {
        codec_message_set(err->message, "more than 500 scans");
        err->status = NNRT_CODEC_CORRUPT;
        longjmp(err->jump, 1);
    }
}

struct jpeg_read_ctx {
    codec_message message;
    struct codec_jpeg_error err;
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    const uint8_t *data;
    size_t size;
    uint64_t max_dimension;
    uint64_t max_pixels;
    int grey;          /* decode colour images straight to their luma */
    unsigned min_side; /* 0, or reduce by 2, 4 or 8 while the shorter side stays >= this */
    uint8_t *pixels;  /* freed by the caller unless handed out */
    uint8_t *row;     /* a CMYK row; always freed by the caller */
    nnrt_codec_image *out;
};

/* One row of 8-bit CMYK (or YCCK converted to CMYK by libjpeg) to RGB. Adobe's files store the
 * inks inverted (0 = full ink), as Photoshop writes them; other files store them as they are. */
static void codec_cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t width, int inverted) {
    size_t x;
    for (x = 0; x < width; x++) {
        unsigned c = cmyk[4 * x], m = cmyk[4 * x + 1], yy = cmyk[4 * x + 2], k = cmyk[4 * x + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
        rgb[3 * x] = (uint8_t)((c * k + 127) / 255);
        rgb[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        rgb[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
    }
}

static int jpeg_decode_body(struct jpeg_read_ctx *ctx) {
    j_decompress_ptr cinfo = &ctx->cinfo;
    size_t channels, row_bytes, total;
    /* volatile only to quiet gcc's -Wclobbered: nothing here is read after a jump. */
    volatile int cmyk = 0, inverted = 0;
    int overflow = 0;

    if (setjmp(ctx->err.jump)) return ctx->err.status;
    /* The memory source takes an unsigned long size (64 bits on every supported platform). */
    if ((unsigned long)ctx->size != ctx->size) {
        codec_message_set(&ctx->message, "data too large");
        return NNRT_CODEC_TOO_LARGE;
    }
    ctx->progress.progress_monitor = codec_jpeg_progress;
    cinfo->progress = &ctx->progress;
    jpeg_mem_src(cinfo, ctx->data, (unsigned long)ctx->size);
    (void)jpeg_read_header(cinfo, TRUE);
    ctx->out->width = cinfo->image_width;
    ctx->out->height = cinfo->image_height;
    if (!codec_within_limits(cinfo->image_width, cinfo->image_height, ctx->max_dimension, ctx->max_pixels)) {
        codec_message_set(&ctx->message, "image too large");
        return NNRT_CODEC_TOO_LARGE;
    }
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        /* Grey output from YCbCr is the Y plane itself (BT.601 luma, as an RGB-to-grey
         * conversion computes it): libjpeg then skips the chroma's inverse DCT, upsampling and
         * colour conversion. */
        cinfo->out_color_space = ctx->grey ? JCS_GRAYSCALE : JCS_RGB;
        channels = ctx->grey ? 1 : 3;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        channels = 3;
        cmyk = 1;
        inverted = cinfo->saw_Adobe_marker ? 1 : 0;
        break;
    default:
        codec_message_set(&ctx->message, cinfo->num_components == 3 || cinfo->num_components == 4
                          ? "colour space with an unknown transform" : "unusual number of colour components");
        return NNRT_CODEC_UNSUPPORTED;
    }
    cinfo->dct_method = JDCT_ISLOW; /* the exact one: the same pixels with or without SIMD */
    if (ctx->min_side > 0) {
        /* Scaled decoding (libjpeg's reduced-size inverse DCT): the largest of 1/2, 1/4, 1/8 that
         * keeps the shorter side at least min_side pixels. */
        unsigned shorter = cinfo->image_width < cinfo->image_height ? cinfo->image_width : cinfo->image_height;
        unsigned denom = 1;
        while (denom < 8 && shorter / (denom * 2) >= ctx->min_side) denom *= 2;
        cinfo->scale_num = 1;
        cinfo->scale_denom = denom;
    }
    (void)jpeg_start_decompress(cinfo);
    ctx->out->width = cinfo->output_width;
    ctx->out->height = cinfo->output_height;
    if (cinfo->output_width == 0 || cinfo->output_height == 0 ||
        (cinfo->scale_denom == 1 && (cinfo->output_width != cinfo->image_width || cinfo->output_height != cinfo->image_height)) ||
        (size_t)cinfo->output_components != (cmyk ? 4 : channels)) {
        codec_message_set(&ctx->message, "unexpected output layout");
        return NNRT_CODEC_UNSUPPORTED;
    }
    row_bytes = codec_mul(cinfo->output_width, channels, &overflow);
    total = codec_mul(row_bytes, cinfo->output_height, &overflow);
    if (overflow) {
        codec_message_set(&ctx->message, "image too large for this machine");
        return NNRT_CODEC_TOO_LARGE;
    }
    ctx->pixels = (uint8_t *)malloc(total);
    if (cmyk) ctx->row = (uint8_t *)malloc((size_t)cinfo->output_width * 4);
    if (!ctx->pixels || (cmyk && !ctx->row)) {
        codec_message_set(&ctx->message, "out of memory");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        size_t y = cinfo->output_scanline;
        JSAMPROW row = cmyk ? ctx->row : ctx->pixels + y * row_bytes;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            codec_message_set(&ctx->message, "decoder returned no row");
            return NNRT_CODEC_CORRUPT;
        }
        if (cmyk) codec_cmyk_to_rgb(ctx->row, ctx->pixels + y * row_bytes, cinfo->output_width, inverted);
    }
    /* Reads on to EOI: a file cut after the last row still fails (JWRN_JPEG_EOF). */
    (void)jpeg_finish_decompress(cinfo);
    ctx->out->channels = (uint32_t)channels;
    ctx->out->bits = 8;
    return NNRT_CODEC_OK;
}

/* jpeg_create_decompress can fail (out of memory) and then jumps: it gets a setjmp of its own. */
static int jpeg_create_decompress_guarded(struct jpeg_read_ctx *ctx) {
    if (setjmp(ctx->err.jump)) return ctx->err.status;
    jpeg_create_decompress(&ctx->cinfo);
    return NNRT_CODEC_OK;
}

int nnrt_codec_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_dimension, uint64_t max_pixels,
                           int grey, unsigned min_side,
                           nnrt_codec_image *out, char *message, size_t message_capacity) {
    struct jpeg_read_ctx *ctx;
    int status;

    if (!out) return NNRT_CODEC_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (message && message_capacity > 0) message[0] = '\0';
    if (!data || size == 0) {
        if (message && message_capacity > 0) {
            codec_message m;
            codec_message_init(&m, message, message_capacity);
            codec_message_set(&m, "no data");
        }
        return NNRT_CODEC_INVALID_ARGUMENT;
    }
    /* The context holds a jmp_buf and libjpeg's structs (about 1 KB): on the heap, not the
     * host thread's stack. */
    ctx = (struct jpeg_read_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return NNRT_CODEC_OUT_OF_MEMORY;
    codec_message_init(&ctx->message, message, message_capacity);
    codec_jpeg_error_init(&ctx->err, &ctx->message, 1);
    ctx->cinfo.err = &ctx->err.pub;
    ctx->data = data;
    ctx->size = size;
    ctx->max_dimension = max_dimension;
    ctx->max_pixels = max_pixels;
    ctx->grey = grey;
    ctx->min_side = min_side;
    ctx->out = out;

    status = jpeg_create_decompress_guarded(ctx);
    if (status == NNRT_CODEC_OK) status = jpeg_decode_body(ctx);
    jpeg_destroy_decompress(&ctx->cinfo); /* frees everything libjpeg allocated; safe in any state */
    free(ctx->row);
    if (status == NNRT_CODEC_OK) {
        out->pixels = ctx->pixels;
    } else {
        free(ctx->pixels);
        if (status == NNRT_CODEC_TOO_LARGE && ctx->err.width != 0) {
            out->width = ctx->err.width;
            out->height = ctx->err.height;
        } else if (status != NNRT_CODEC_TOO_LARGE) {
            out->width = 0;
            out->height = 0;
        }
        out->channels = 0;
        out->bits = 0;
    }
    free(ctx);
    return status;
}

/* MARK: Encoding */

/* A destination manager writing into a malloc'd buffer that this file owns (libjpeg-turbo's own
 * jpeg_mem_dest would leak its buffer when compression fails halfway). */
struct codec_jpeg_destination {
    struct jpeg_destination_mgr pub; /* first */
    uint8_t *buffer;
    size_t capacity;
    size_t size;
};

static void codec_jpeg_init_destination(j_compress_ptr cinfo) {
    struct codec_jpeg_destination *d = (struct codec_jpeg_destination *)cinfo->dest;
    d->capacity = 16384;
    d->buffer = (uint8_t *)malloc(d->capacity);
    if (!d->buffer) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 100);
    d->pub.next_output_byte = d->buffer;
    d->pub.free_in_buffer = d->capacity;
}

/* Called when the buffer is full. */
static boolean codec_jpeg_empty_output_buffer(j_compress_ptr cinfo) {
    struct codec_jpeg_destination *d = (struct codec_jpeg_destination *)cinfo->dest;
    uint8_t *grown;
    if (d->capacity > SIZE_MAX / 2) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 101);
    grown = (uint8_t *)realloc(d->buffer, d->capacity * 2);
    if (!grown) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 102);
    d->buffer = grown;
    d->pub.next_output_byte = grown + d->capacity;
    d->pub.free_in_buffer = d->capacity;
    d->capacity *= 2;
    return TRUE;
}

static void codec_jpeg_term_destination(j_compress_ptr cinfo) {
    struct codec_jpeg_destination *d = (struct codec_jpeg_destination *)cinfo->dest;
    d->size = d->capacity - d->pub.free_in_buffer;
}

struct jpeg_write_ctx {
    codec_message message;
    struct codec_jpeg_error err;
    struct jpeg_compress_struct cinfo;
    struct codec_jpeg_destination dest; /* dest.buffer freed by the caller unless handed out */
};

static int jpeg_encode_body(struct jpeg_write_ctx *ctx, const uint8_t *pixels, uint32_t width, uint32_t height,
                            uint32_t channels, int quality, int progressive) {
    j_compress_ptr cinfo = &ctx->cinfo;
    size_t row_bytes = (size_t)width * channels;

    if (setjmp(ctx->err.jump)) return ctx->err.status;
    jpeg_create_compress(cinfo);
    ctx->dest.pub.init_destination = codec_jpeg_init_destination;
    ctx->dest.pub.empty_output_buffer = codec_jpeg_empty_output_buffer;
    ctx->dest.pub.term_destination = codec_jpeg_term_destination;
    cinfo->dest = &ctx->dest.pub;
    cinfo->image_width = width;
    cinfo->image_height = height;
    cinfo->input_components = (int)channels;
    cinfo->in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(cinfo);
    if (channels == 4) jpeg_set_colorspace(cinfo, JCS_CMYK); /* also turns on the Adobe marker */
    jpeg_set_quality(cinfo, quality, TRUE);
    if (progressive == 2 && channels == 1) {
        /* For tests: spectral selection only (DC, then AC 1-63, at full precision), the one
         * progression whose last scan a decoder accepts again and again. */
        static const jpeg_scan_info script[2] = {{1, {0}, 0, 0, 0, 0}, {1, {0}, 1, 63, 0, 0}};
        cinfo->scan_info = script;
        cinfo->num_scans = 2;
    } else if (progressive) {
        jpeg_simple_progression(cinfo);
    }
    cinfo->dct_method = JDCT_ISLOW;
    jpeg_start_compress(cinfo, TRUE);
    while (cinfo->next_scanline < cinfo->image_height) {
        /* libjpeg only reads the rows it is given. */
        JSAMPROW row = (JSAMPROW)((uintptr_t)pixels + (size_t)cinfo->next_scanline * row_bytes);
        if (jpeg_write_scanlines(cinfo, &row, 1) != 1) {
            codec_message_set(&ctx->message, "encoder took no row");
            return NNRT_CODEC_INVALID_ARGUMENT;
        }
    }
    jpeg_finish_compress(cinfo);
    return NNRT_CODEC_OK;
}

int nnrt_codec_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
                           int quality, int progressive,
                           uint8_t **out, size_t *out_size, char *message, size_t message_capacity) {
    struct jpeg_write_ctx *ctx;
    codec_message m;
    int status;

    codec_message_init(&m, message, message_capacity);
    if (!out || !out_size) return NNRT_CODEC_INVALID_ARGUMENT;
    *out = NULL;
    *out_size = 0;
    if (!pixels || width == 0 || height == 0 || (channels != 1 && channels != 3 && channels != 4) ||
        quality < 1 || quality > 100) {
        codec_message_set(&m, "bad pixels, dimensions, channel count or quality");
        return NNRT_CODEC_INVALID_ARGUMENT;
    }
    if (width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        codec_message_set(&m, "JPEG files hold at most 65,500 pixels a side");
        return NNRT_CODEC_TOO_LARGE;
    }
    ctx = (struct jpeg_write_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return NNRT_CODEC_OUT_OF_MEMORY;
    ctx->message = m;
    codec_jpeg_error_init(&ctx->err, &ctx->message, 0);
    ctx->err.status = NNRT_CODEC_INVALID_ARGUMENT;
    ctx->cinfo.err = &ctx->err.pub;
    status = jpeg_encode_body(ctx, pixels, width, height, channels, quality, progressive);
    jpeg_destroy_compress(&ctx->cinfo);
    if (status == NNRT_CODEC_OK) {
        *out = ctx->dest.buffer;
        *out_size = ctx->dest.size;
    } else {
        free(ctx->dest.buffer);
    }
    free(ctx);
    return status;
}
