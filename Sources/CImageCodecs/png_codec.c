/* PNG decoding and encoding in memory through libpng 1.6. libpng reports errors by calling the
 * error function, which must not return: ours records the text and longjmps back (png_longjmp)
 * to the setjmp in png_decode_body or png_encode_body. Each of those bodies is its own function
 * and keeps everything that must survive the jump in a context struct that belongs to its
 * caller, so no local variable of the function that called setjmp is read after a jump. */
#include "CImageCodecs.h"
#include "codec_common.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CODEC_LITTLE_ENDIAN 1
#else
#define CODEC_LITTLE_ENDIAN 0
#endif

static void codec_png_error(png_structp png, png_const_charp text) {
    codec_message *m = (codec_message *)png_get_error_ptr(png);
    codec_message_set(m, text);
    png_longjmp(png, 1);
}

static void codec_png_warning(png_structp png, png_const_charp text) {
    codec_message *m = (codec_message *)png_get_error_ptr(png);
    codec_message_warn(m, text);
}

/* MARK: Decoding */

struct png_read_ctx {
    codec_message message; /* first: the error pointer given to libpng */
    const uint8_t *data;
    size_t size;
    size_t offset;
    size_t max_alloc; /* the largest single allocation libpng may make (codec_png_malloc) */
    int truncated;    /* the read function ran out of data */
    int status;       /* a status set before a deliberate png_error, else 0 */
    uint64_t max_dimension;
    uint64_t max_pixels;
    png_structp png;
    png_infop info;
    uint8_t *pixels;  /* freed by the caller unless handed out */
    png_bytep *rows;  /* always freed by the caller */
    nnrt_codec_image *out;
};

/* libpng's allocator for decoding. libpng allocates a whole ancillary chunk before reading it,
 * as large as its length field says (libpng 1.6.39 reads an sPLT chunk so, whatever
 * png_set_chunk_malloc_max says): a 122-byte file made it ask for 1.8 GB (found by fuzzing). Its
 * own needs are a few rows and zlib's window, so one allocation over max_alloc (16 MiB, or 8
 * bytes per pixel of the widest row the limits allow, if more) is refused: libpng then skips the
 * chunk, and the file ends before the bytes it declares. */
static png_voidp codec_png_malloc(png_structp png, png_alloc_size_t size) {
    const struct png_read_ctx *ctx = (const struct png_read_ctx *)png_get_mem_ptr(png);
    if (ctx != NULL && size > ctx->max_alloc) return NULL;
    return malloc(size);
}

static void codec_png_free(png_structp png, png_voidp pointer) {
    (void)png;
    free(pointer);
}

static void codec_png_read(png_structp png, png_bytep destination, size_t length) {
    struct png_read_ctx *ctx = (struct png_read_ctx *)png_get_io_ptr(png);
    if (length > ctx->size - ctx->offset) {
        ctx->truncated = 1;
        png_error(png, "unexpected end of data");
    }
    memcpy(destination, ctx->data + ctx->offset, length);
    ctx->offset += length;
}

static uint32_t codec_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int png_decode_body(struct png_read_ctx *ctx) {
    png_structp png = ctx->png;
    png_infop info = ctx->info;
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    size_t channels, bytes_per_sample, row_bytes, total;
    int overflow = 0;
    png_uint_32 y;

    if (setjmp(png_jmpbuf(png))) {
        if (ctx->truncated) return NNRT_CODEC_TRUNCATED;
        return ctx->status ? ctx->status : NNRT_CODEC_CORRUPT;
    }
    /* Our own limits decide what is too large (with a status of its own); libpng's defaults
     * (1,000,000 per side) would only call such a file broken. */
    png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
    png_set_read_fn(png, ctx, codec_png_read);
    png_read_info(png, info);
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    ctx->out->width = width;
    ctx->out->height = height;
    if (!codec_within_limits(width, height, ctx->max_dimension, ctx->max_pixels)) {
        codec_message_set(&ctx->message, "image too large");
        return NNRT_CODEC_TOO_LARGE;
    }

    /* Palette to RGB, tRNS to an alpha channel, 1/2/4-bit grey scaled to 8 bits. */
    png_set_expand(png);
    if (bit_depth == 16 && CODEC_LITTLE_ENDIAN) png_set_swap(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);

    channels = png_get_channels(png, info);
    bytes_per_sample = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    if (channels < 1 || channels > 4 || (png_get_bit_depth(png, info) != 8 && png_get_bit_depth(png, info) != 16)) {
        codec_message_set(&ctx->message, "unexpected layout after expansion");
        return NNRT_CODEC_UNSUPPORTED;
    }
    row_bytes = codec_mul(codec_mul(width, channels, &overflow), bytes_per_sample, &overflow);
    total = codec_mul(row_bytes, height, &overflow);
    if (overflow || png_get_rowbytes(png, info) != row_bytes) {
        codec_message_set(&ctx->message, "image too large for this machine");
        return NNRT_CODEC_TOO_LARGE;
    }
    ctx->pixels = (uint8_t *)malloc(total);
    ctx->rows = (png_bytep *)malloc((size_t)height * sizeof(png_bytep));
    if (!ctx->pixels || !ctx->rows) {
        codec_message_set(&ctx->message, "out of memory");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    for (y = 0; y < height; y++) ctx->rows[y] = ctx->pixels + (size_t)y * row_bytes;
    png_read_image(png, ctx->rows);
    /* Reads the chunks after the image data through IEND: a file cut anywhere fails. */
    png_read_end(png, NULL);

    ctx->out->channels = (uint32_t)channels;
    ctx->out->bits = (uint32_t)(bytes_per_sample * 8);
    return NNRT_CODEC_OK;
}

int nnrt_codec_png_decode(const uint8_t *data, size_t size, uint64_t max_dimension, uint64_t max_pixels,
                          nnrt_codec_image *out, char *message, size_t message_capacity) {
    struct png_read_ctx ctx;
    int status;

    memset(&ctx, 0, sizeof ctx);
    codec_message_init(&ctx.message, message, message_capacity);
    if (!out) return NNRT_CODEC_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!data || size == 0) {
        codec_message_set(&ctx.message, "no data");
        return NNRT_CODEC_INVALID_ARGUMENT;
    }
    /* Fail fast on a hostile IHDR (always the first chunk) before libpng reads further. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t w = codec_be32(data + 16), h = codec_be32(data + 20);
        if (w > 0 && h > 0 && w <= 0x7fffffffU && h <= 0x7fffffffU &&
            !codec_within_limits(w, h, max_dimension, max_pixels)) {
            out->width = w;
            out->height = h;
            codec_message_set(&ctx.message, "image too large");
            return NNRT_CODEC_TOO_LARGE;
        }
    }
    ctx.data = data;
    ctx.size = size;
    ctx.max_dimension = max_dimension;
    ctx.max_pixels = max_pixels;
    ctx.out = out;
    {
        uint64_t widest = max_dimension < max_pixels ? max_dimension : max_pixels;
        uint64_t row = widest < ((uint64_t)1 << 40) ? widest * 8 + 4096 : (uint64_t)1 << 43;
        uint64_t cap = row > ((uint64_t)16 << 20) ? row : ((uint64_t)16 << 20);
        ctx.max_alloc = cap < (uint64_t)SIZE_MAX ? (size_t)cap : SIZE_MAX;
    }
    ctx.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx.message, codec_png_error, codec_png_warning,
                                       &ctx, codec_png_malloc, codec_png_free);
    if (!ctx.png) {
        codec_message_set(&ctx.message, "out of memory (libpng)");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    ctx.info = png_create_info_struct(ctx.png);
    if (!ctx.info) {
        png_destroy_read_struct(&ctx.png, NULL, NULL);
        codec_message_set(&ctx.message, "out of memory (libpng)");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    status = png_decode_body(&ctx);
    png_destroy_read_struct(&ctx.png, &ctx.info, NULL);
    free(ctx.rows);
    if (status == NNRT_CODEC_OK) {
        out->pixels = ctx.pixels;
    } else {
        free(ctx.pixels);
        if (status != NNRT_CODEC_TOO_LARGE) {
            out->width = 0;
            out->height = 0;
        }
        out->channels = 0;
        out->bits = 0;
    }
    return status;
}

/* MARK: Encoding */

struct png_write_ctx {
    codec_message message; /* first: the error pointer given to libpng */
    int status;            /* a status set before a deliberate png_error, else 0 */
    uint8_t *buffer;       /* the file so far; freed by the caller unless handed out */
    size_t size;
    size_t capacity;
    png_structp png;
    png_infop info;
    png_bytep *rows;       /* always freed by the caller */
};

static void codec_png_write(png_structp png, png_bytep bytes, size_t length) {
    struct png_write_ctx *ctx = (struct png_write_ctx *)png_get_io_ptr(png);
    if (length > ctx->capacity - ctx->size) {
        size_t capacity = ctx->capacity ? ctx->capacity : 4096;
        uint8_t *grown;
        while (length > capacity - ctx->size) {
            if (capacity > SIZE_MAX / 2) { ctx->status = NNRT_CODEC_OUT_OF_MEMORY; png_error(png, "out of memory"); }
            capacity *= 2;
        }
        grown = (uint8_t *)realloc(ctx->buffer, capacity);
        if (!grown) { ctx->status = NNRT_CODEC_OUT_OF_MEMORY; png_error(png, "out of memory"); }
        ctx->buffer = grown;
        ctx->capacity = capacity;
    }
    memcpy(ctx->buffer + ctx->size, bytes, length);
    ctx->size += length;
}

static void codec_png_flush(png_structp png) { (void)png; }

static int png_channels_of(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_PALETTE: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 0;
    }
}

/* Checks the options and, for packed and palette images, every sample; a message on failure. */
static const char *png_check_options(const void *pixels, uint32_t width, uint32_t height,
                                     const nnrt_codec_png_options *o) {
    int channels = png_channels_of(o->color_type);
    int d = o->bit_depth;
    if (!channels) return "bad colour type";
    if (width == 0 || height == 0 || width > 0x7fffffffU || height > 0x7fffffffU) return "bad dimensions";
    if (o->color_type == PNG_COLOR_TYPE_GRAY) {
        if (d != 1 && d != 2 && d != 4 && d != 8 && d != 16) return "bad bit depth for grey";
    } else if (o->color_type == PNG_COLOR_TYPE_PALETTE) {
        if (d != 1 && d != 2 && d != 4 && d != 8) return "bad bit depth for a palette";
        if (!o->palette || o->palette_entries < 1 || o->palette_entries > 256 ||
            o->palette_entries > (1 << d)) return "bad palette";
        if (o->trns_count < 0 || o->trns_count > o->palette_entries || (o->trns_count > 0 && !o->trns))
            return "bad palette transparency";
    } else if (d != 8 && d != 16) {
        return "bad bit depth";
    }
    if (o->has_trns_color && o->color_type != PNG_COLOR_TYPE_GRAY && o->color_type != PNG_COLOR_TYPE_RGB)
        return "a tRNS colour key needs a grey or RGB image";
    if (d < 8) {
        const uint8_t *p = (const uint8_t *)pixels;
        size_t n = (size_t)width * height, i;
        unsigned limit = o->color_type == PNG_COLOR_TYPE_PALETTE ? (unsigned)o->palette_entries : (1u << d);
        for (i = 0; i < n; i++)
            if (p[i] >= limit) return "sample out of range for the bit depth or palette";
    } else if (o->color_type == PNG_COLOR_TYPE_PALETTE) {
        const uint8_t *p = (const uint8_t *)pixels;
        size_t n = (size_t)width * height, i;
        for (i = 0; i < n; i++)
            if (p[i] >= (unsigned)o->palette_entries) return "palette index out of range";
    }
    return NULL;
}

static int png_encode_body(struct png_write_ctx *ctx, const void *pixels, uint32_t width, uint32_t height,
                           const nnrt_codec_png_options *o) {
    png_structp png = ctx->png;
    png_infop info = ctx->info;
    size_t channels = (size_t)png_channels_of(o->color_type);
    size_t row_bytes = (size_t)width * channels * (o->bit_depth == 16 ? 2 : 1);
    png_color palette[256];
    png_color_16 key;
    uint32_t y;
    int i;

    if (setjmp(png_jmpbuf(png))) return ctx->status ? ctx->status : NNRT_CODEC_INVALID_ARGUMENT;
    png_set_write_fn(png, ctx, codec_png_write, codec_png_flush);
    if (o->compression_level >= 0 && o->compression_level <= 9) png_set_compression_level(png, o->compression_level);
    png_set_IHDR(png, info, width, height, o->bit_depth, o->color_type,
                 o->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (o->color_type == PNG_COLOR_TYPE_PALETTE) {
        for (i = 0; i < o->palette_entries; i++) {
            palette[i].red = o->palette[3 * i];
            palette[i].green = o->palette[3 * i + 1];
            palette[i].blue = o->palette[3 * i + 2];
        }
        png_set_PLTE(png, info, palette, o->palette_entries);
        if (o->trns_count > 0) png_set_tRNS(png, info, o->trns, o->trns_count, NULL);
    } else if (o->has_trns_color) {
        memset(&key, 0, sizeof key);
        key.gray = o->trns_color[0];
        key.red = o->trns_color[0];
        key.green = o->trns_color[1];
        key.blue = o->trns_color[2];
        png_set_tRNS(png, info, NULL, 0, &key);
    }
    png_write_info(png, info);
    /* Both transforms look at the bit depth that png_write_info just stored. */
    if (o->bit_depth < 8) png_set_packing(png);
    if (o->bit_depth == 16 && CODEC_LITTLE_ENDIAN) png_set_swap(png);

    ctx->rows = (png_bytep *)malloc((size_t)height * sizeof(png_bytep));
    if (!ctx->rows) {
        codec_message_set(&ctx->message, "out of memory");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    /* libpng copies each row before transforming it: the caller's pixels are only read. */
    for (y = 0; y < height; y++) ctx->rows[y] = (png_bytep)((uintptr_t)pixels + (size_t)y * row_bytes);
    png_write_image(png, ctx->rows);
    png_write_end(png, NULL);
    return NNRT_CODEC_OK;
}

int nnrt_codec_png_encode(const void *pixels, uint32_t width, uint32_t height,
                          const nnrt_codec_png_options *options,
                          uint8_t **out, size_t *out_size, char *message, size_t message_capacity) {
    struct png_write_ctx ctx;
    const char *problem;
    int status;

    memset(&ctx, 0, sizeof ctx);
    codec_message_init(&ctx.message, message, message_capacity);
    if (!out || !out_size) return NNRT_CODEC_INVALID_ARGUMENT;
    *out = NULL;
    *out_size = 0;
    if (!pixels || !options) {
        codec_message_set(&ctx.message, "no pixels or options");
        return NNRT_CODEC_INVALID_ARGUMENT;
    }
    problem = png_check_options(pixels, width, height, options);
    if (problem) {
        codec_message_set(&ctx.message, problem);
        return NNRT_CODEC_INVALID_ARGUMENT;
    }
    ctx.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx.message, codec_png_error, codec_png_warning);
    if (!ctx.png) {
        codec_message_set(&ctx.message, "out of memory (libpng)");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    ctx.info = png_create_info_struct(ctx.png);
    if (!ctx.info) {
        png_destroy_write_struct(&ctx.png, NULL);
        codec_message_set(&ctx.message, "out of memory (libpng)");
        return NNRT_CODEC_OUT_OF_MEMORY;
    }
    status = png_encode_body(&ctx, pixels, width, height, options);
    png_destroy_write_struct(&ctx.png, &ctx.info);
    free(ctx.rows);
    if (status != NNRT_CODEC_OK) {
        free(ctx.buffer);
        return status;
    }
    *out = ctx.buffer;
    *out_size = ctx.size;
    return NNRT_CODEC_OK;
}

void nnrt_codec_free(void *pointer) { free(pointer); }
